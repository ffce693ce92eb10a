//! The options that choose which neurons are classified and how, shared by `classify` and
//! `knockout`.
use std::time::Instant;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{bail, Result};

use crate::science::heuristics::catalog::{BudgetRule, Catalog, CatalogSettings};
use crate::science::heuristics::classify::ClassifySettings;
use crate::science::heuristics::importance::rank_layer;
use crate::science::heuristics::labelling::{classify_all, NeuronMatches};
use crate::science::heuristics::maps::GridMaps;

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Budget {
    /// The released code's budgets in M and f
    Code,
    /// k = the number of prompts the heuristic holds on (the paper's Algorithm 1)
    SetSize,
}

#[derive(Debug, Args, Clone)]
pub struct ClassifyArgs {
    /// A neuron implements a heuristic when that share of its top-k prompts satisfies it
    #[arg(long, default_value_t = 0.6)]
    pub threshold: f32,
    /// How many top prompts each heuristic reads
    #[arg(long, value_enum, default_value = "code")]
    pub budget: Budget,
    /// Classify neurons of this layer and later [default: the upper half of the layers]
    #[arg(long)]
    pub from_layer: Option<usize>,
    /// Classify only the N most important neurons per layer (direct-logit importance); 0 = all
    #[arg(long, default_value_t = 0)]
    pub candidates: usize,
}

impl ClassifyArgs {
    /// Classifies the chosen neurons; prints what it did to stderr.
    pub fn classify(&self, maps: &GridMaps, n_layers: usize) -> Result<Vec<NeuronMatches>> {
        let from = self.from_layer.unwrap_or(n_layers / 2);
        if !maps.settings.layers.iter().any(|&l| l >= from) {
            bail!("the grid keeps layers {:?}, none from layer {from} on", maps.settings.layers);
        }
        let started = Instant::now();
        let budget = match self.budget {
            Budget::Code => BudgetRule::Code,
            Budget::SetSize => BudgetRule::SetSize,
        };
        let catalog = Catalog::new(&maps.settings.spec, &CatalogSettings { budget, ..CatalogSettings::default() });
        let settings = ClassifySettings { threshold: self.threshold, ..ClassifySettings::default() };
        let mut neurons: Vec<NeuronMatches> = classify_all(maps, &catalog, &settings, from);
        if self.candidates > 0 {
            let keep: std::collections::HashSet<_> = maps
                .settings
                .layers
                .iter()
                .filter(|&&l| l >= from)
                .flat_map(|&l| rank_layer(maps, l).expect("kept layer").into_iter().take(self.candidates))
                .map(|i| i.neuron)
                .collect();
            neurons.retain(|n| keep.contains(&n.neuron));
        }
        eprintln!(
            "classified {} neurons of layers {from}.. against {} candidate heuristics in {:.2} s",
            neurons.len(),
            catalog.candidates().len(),
            started.elapsed().as_secs_f64()
        );
        Ok(neurons)
    }
}
