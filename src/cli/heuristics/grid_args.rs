//! The options that choose an operand grid and its maps, shared by every `heuristics` command.
use std::ops::Range;
use std::path::PathBuf;
use std::time::Instant;

use clap::{Args, ValueEnum};
use color_eyre::eyre::{bail, Result};
use indicatif::{ProgressBar, ProgressStyle};
use serde::Serialize;

use crate::engine::loader::LoadedModel;
use crate::engine::session::Control;
use crate::paths::Paths;
use crate::science::heuristics::cache;
use crate::science::heuristics::grid::{GridSpec, Operator};
use crate::science::heuristics::maps::{GridMaps, MapSettings};
use crate::science::heuristics::prompts::default_prefix;

/// Grid sizes: 900, 2,500 and 10,000 prompts for a CPU, 90,000 (the method's) for a GPU.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Preset {
    /// Operands 0..30
    Quick,
    /// Operands 0..50
    Standard,
    /// Operands 0..100 (keeps the upper half of the layers unless --layers says otherwise)
    Deep,
    /// Operands 0..300, the method's grid, for a GPU (the upper half of the layers, as deep)
    Gpu,
}

#[derive(Debug, Args, Clone)]
pub struct GridArgs {
    /// The operator: + - * / (division keeps exact quotients only)
    #[arg(long = "op", default_value = "+", value_parser = |s: &str| s.parse::<Operator>())]
    pub operator: Operator,
    /// Operand range of the grid's size
    #[arg(long, value_enum, default_value = "standard")]
    pub preset: Preset,
    /// Operands A..B for both op1 and op2 (half-open), instead of the preset
    #[arg(long, value_name = "A..B", value_parser = parse_range)]
    pub range: Option<Range<u32>>,
    /// Text before every grid prompt [default: four worked problems of the operator]
    #[arg(long)]
    pub prefix: Option<String>,
    /// No prefix: the bare "op1+op2=" prompts
    #[arg(long, conflicts_with = "prefix")]
    pub zero_shot: bool,
    /// Rows read per prompt: 1 = the "=" token; 2 adds the first answer token as input, ...
    #[arg(long, default_value_t = 1)]
    pub slots: usize,
    /// Layers kept, A..B [default: all; the upper half for --preset deep]
    #[arg(long, value_name = "A..B", value_parser = parse_range)]
    pub layers: Option<Range<u32>>,
}

pub fn parse_range(s: &str) -> Result<Range<u32>, String> {
    let (a, b) = s.split_once("..").ok_or_else(|| format!("{s:?} is not a range A..B"))?;
    let num = |x: &str| x.trim().parse::<u32>().map_err(|_| format!("{x:?} in {s:?} is not a number"));
    let range = num(a)?..num(b)?;
    if range.is_empty() {
        return Err(format!("{s:?} is empty"));
    }
    Ok(range)
}

impl GridArgs {
    pub fn settings(&self, n_layers: usize) -> Result<MapSettings> {
        let operands = self.range.clone().unwrap_or(match self.preset {
            Preset::Quick => 0..30,
            Preset::Standard => 0..50,
            Preset::Deep => 0..100,
            Preset::Gpu => 0..300,
        });
        let layers = match (&self.layers, self.preset) {
            (Some(r), _) => r.start as usize..r.end as usize,
            (None, Preset::Deep | Preset::Gpu) if self.range.is_none() => n_layers / 2..n_layers,
            (None, _) => 0..n_layers,
        };
        if layers.end > n_layers {
            bail!("--layers {layers:?} goes past the model's {n_layers} layers");
        }
        let spec = GridSpec { operator: self.operator, op1: operands.clone(), op2: operands };
        let prefix = match (&self.prefix, self.zero_shot) {
            (_, true) => String::new(),
            (Some(p), _) => p.replace("\\n", "\n"),
            (None, _) => default_prefix(self.operator).to_string(),
        };
        Ok(MapSettings { spec, prefix, slots: self.slots, layers: layers.collect() })
    }

    /// The grid's maps from the cache, or built now with a progress bar; reports which on
    /// standard error.
    pub fn maps(&self, loaded: &LoadedModel, paths: &Paths) -> Result<GridMaps> {
        let (maps, load) = self.load(loaded, paths)?;
        eprintln!("{}", load.line());
        Ok(maps)
    }

    /// The grid's maps, and how they were had.
    pub fn load(&self, loaded: &LoadedModel, paths: &Paths) -> Result<(GridMaps, GridLoad)> {
        let settings = self.settings(loaded.config.num_layers)?;
        let dir = &paths.cache;
        let legal = settings.spec.problems().count();
        let bar = ProgressBar::new(legal as u64).with_style(
            ProgressStyle::with_template("{msg} {bar:40} {pos}/{len} prompts, {eta} left").expect("valid template"),
        );
        bar.set_message(format!("grid {}", settings.spec));
        let progress = |done: usize, _: usize| bar.set_position(done as u64);
        let started = Instant::now();
        let control = Control { cancel: None, progress: Some(&progress) };
        let file = cache::path(dir, &loaded.fingerprint, &settings);
        let (maps, built) = cache::load_or_build(
            loaded.model.as_ref(),
            &loaded.tokenizer,
            dir,
            &loaded.fingerprint,
            settings,
            control,
        )?;
        bar.finish_and_clear();
        let load = GridLoad {
            grid: maps.settings.spec.to_string(),
            prompts: legal,
            accuracy: maps.accuracy(),
            layers: maps.settings.layers.clone(),
            slots: maps.settings.slots,
            built,
            seconds: started.elapsed().as_secs_f64(),
            path: file,
        };
        Ok((maps, load))
    }
}

/// What loading a grid did: `heuristics grid`'s report (docs/cli-json.md).
#[derive(Debug, Serialize)]
pub struct GridLoad {
    /// `op1 in 0..50 + op2 in 0..50`.
    pub grid: String,
    /// The grid's legal prompts.
    pub prompts: usize,
    /// The share of them the model answers correctly.
    pub accuracy: f64,
    pub layers: Vec<usize>,
    pub slots: usize,
    /// Built now, or read from the cache.
    pub built: bool,
    pub seconds: f64,
    /// The cache file.
    pub path: PathBuf,
}

impl GridLoad {
    pub fn line(&self) -> String {
        format!(
            "grid {} ({} prompts, accuracy {:.1}%) {} in {:.2} s: {}",
            self.grid,
            self.prompts,
            100.0 * self.accuracy,
            if self.built { "built" } else { "loaded" },
            self.seconds,
            self.path.display()
        )
    }
}
