//! A neuron's corpus exemplars as the explorer shows them: the model's exemplar file (found by the
//! engine worker when the model loads), one neuron's lists read from it with their tokens' text
//! (no model needed), the list and page being read, and the m the worker recomputes at every
//! token of the shown contexts to shade them. Plain state; the reducer in `app/exemplars.rs`
//! drives it.
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use crate::engine::neuron::NeuronId;
use crate::engine::tokenizer::Tokenizer;
use crate::science::exemplars::context::{self, Context};
use crate::science::exemplars::file::{ExemplarFile, NeuronStats};
use crate::science::exemplars::{location, Record, BINS, BIN_EDGES, SAMPLES_PER_BIN};

/// What the explorer says where the model has no exemplar file.
pub const NO_EXEMPLARS: &str = "no exemplars for this model: run `neuronav exemplars build`";

/// Contexts a page shows: a bin's samples fill one.
pub const PAGE: usize = SAMPLES_PER_BIN;

/// The model's exemplar file and the tokenizer its tokens are read with.
pub struct ExemplarSource {
    file: ExemplarFile,
    tokenizer: Arc<Tokenizer>,
}

impl std::fmt::Debug for ExemplarSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ExemplarSource({})", self.file.path().display())
    }
}

/// The same open file.
impl PartialEq for ExemplarSource {
    fn eq(&self, other: &Self) -> bool {
        std::ptr::eq(self, other)
    }
}

/// What the worker found for the loaded model.
#[derive(Debug, Clone)]
pub enum Found {
    Nothing,
    /// A file of the model that does not open, and why.
    Broken(String),
    File(Arc<ExemplarSource>),
}

impl ExemplarSource {
    /// The model's most recent exemplar file in the cache directory `cache`.
    pub fn find(cache: &Path, fingerprint: &str, tokenizer: Arc<Tokenizer>) -> Found {
        match location::latest(cache, fingerprint) {
            Some(path) => match ExemplarFile::open(&path) {
                Ok(file) => Found::File(Arc::new(ExemplarSource { file, tokenizer })),
                Err(e) => Found::Broken(e.to_string()),
            },
            None => match location::broken(cache, fingerprint).into_iter().next() {
                Some(e) => Found::Broken(e.to_string()),
                None => Found::Nothing,
            },
        }
    }

    pub fn file(&self) -> &ExemplarFile {
        &self.file
    }

    /// One neuron's lists and statistics with their contexts' text; an error names the file.
    pub fn read(&self, neuron: NeuronId) -> Result<NeuronView, String> {
        let path = self.file.path().display();
        let n = self.file.neuron(neuron).ok_or_else(|| format!("{path}: {neuron} is not in this model"))?;
        let contexts = |records: &[Record]| -> Vec<ContextView> { records.iter().map(|&r| self.context(r)).collect() };
        let (top, bottom) = (contexts(&n.top), contexts(&n.bottom));
        let bins = n.bins.iter().map(|b| contexts(b)).collect();
        Ok(NeuronView { neuron, stats: n.stats, top, bottom, bins })
    }

    /// The context of `record` (the file checked when opened that it lies in the corpus).
    fn context(&self, record: Record) -> ContextView {
        let context = context::context(&self.file, record);
        // Spaces as spaces: a context is read as text, not token by token.
        let texts = context.tokens.iter().map(|&t| self.tokenizer.token_display(t).replace('␣', " ")).collect();
        ContextView { context, texts }
    }
}

/// One exemplar's context and its tokens as shown.
#[derive(Debug, Clone, PartialEq)]
pub struct ContextView {
    pub context: Context,
    pub texts: Vec<String>,
}

impl ContextView {
    /// The key its shading is kept under: its position in the corpus.
    pub fn key(&self) -> (u32, u32) {
        (self.context.record.doc, self.context.record.pos)
    }
}

/// A neuron's exemplars, read from the file.
#[derive(Debug, Clone, PartialEq)]
pub struct NeuronView {
    pub neuron: NeuronId,
    pub stats: NeuronStats,
    pub top: Vec<ContextView>,
    pub bottom: Vec<ContextView>,
    /// Per bin, its samples.
    pub bins: Vec<Vec<ContextView>>,
}

impl NeuronView {
    pub fn pages(&self, list: ExemplarList) -> usize {
        match list {
            ExemplarList::Top => self.top.len().div_ceil(PAGE).max(1),
            ExemplarList::Bottom => self.bottom.len().div_ceil(PAGE).max(1),
            ExemplarList::Bins => BINS,
        }
    }

    /// The contexts of `page` of `list` (a page of the bins is one bin, highest first).
    pub fn page(&self, list: ExemplarList, page: usize) -> &[ContextView] {
        fn of(v: &[ContextView], page: usize) -> &[ContextView] {
            let start = (page * PAGE).min(v.len());
            &v[start..(start + PAGE).min(v.len())]
        }
        match list {
            ExemplarList::Top => of(&self.top, page),
            ExemplarList::Bottom => of(&self.bottom, page),
            ExemplarList::Bins => self.bins.get(bin_of_page(page)).map_or(&[], Vec::as_slice),
        }
    }
}

/// The bin a page of the bins list shows: the most positive first.
pub fn bin_of_page(page: usize) -> usize {
    BINS - 1 - page.min(BINS - 1)
}

/// A bin's range in units of the layer's scale: `[low, high)`, open-ended at the outer bins.
pub fn bin_range(bin: usize) -> (Option<f32>, Option<f32>) {
    let low = bin.checked_sub(1).map(|i| BIN_EDGES[i]);
    (low, BIN_EDGES.get(bin).copied())
}

/// The lists of a neuron's exemplars.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExemplarList {
    /// The positions of largest m.
    #[default]
    Top,
    /// The positions of most negative m.
    Bottom,
    /// Samples of each activation bin.
    Bins,
}

impl ExemplarList {
    pub fn next(self) -> ExemplarList {
        match self {
            ExemplarList::Top => ExemplarList::Bottom,
            ExemplarList::Bottom => ExemplarList::Bins,
            ExemplarList::Bins => ExemplarList::Top,
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            ExemplarList::Top => "top m",
            ExemplarList::Bottom => "most negative m",
            ExemplarList::Bins => "binned samples",
        }
    }
}

/// The worker's answer to a shading request: the neuron's m at every token of some of the
/// requested contexts (NaN where it could not be computed).
#[derive(Debug, Clone, PartialEq)]
pub struct Shading {
    pub neuron: NeuronId,
    /// Each context's record and the m at its tokens.
    pub contexts: Vec<(Record, Vec<f32>)>,
}

/// The exemplars' part of the explorer's state.
#[derive(Debug, Default)]
pub struct Exemplars {
    /// What the worker found when the model loaded; None while it loads.
    pub found: Option<Found>,
    /// The shown neuron's exemplars as read, or why they could not be.
    pub view: Option<(NeuronId, Result<Arc<NeuronView>, String>)>,
    pub list: ExemplarList,
    pub page: usize,
    /// The neuron whose exemplars are being read.
    pub reading: Option<NeuronId>,
    /// m at every token of the contexts shaded so far, by record (doc, pos), of the view's neuron.
    pub shading: HashMap<(u32, u32), Vec<f32>>,
    /// The contexts of the latest shading request.
    pub requested: HashSet<(u32, u32)>,
    /// Stamp of the latest shading request.
    pub request: u64,
}

impl Exemplars {
    /// The shown neuron's exemplars, when read.
    pub fn view_of(&self, neuron: NeuronId) -> Option<&Result<Arc<NeuronView>, String>> {
        self.view.as_ref().filter(|(n, _)| *n == neuron).map(|(_, v)| v)
    }

    /// A new neuron's exemplars: its shading starts over and its lists from their first page.
    pub fn show(&mut self, neuron: NeuronId, view: Result<NeuronView, String>) {
        if self.reading == Some(neuron) {
            self.reading = None;
        }
        self.view = Some((neuron, view.map(Arc::new)));
        self.page = 0;
        self.shading.clear();
        self.requested.clear();
    }

    /// Forgets the file and what was read from it (a model is loading).
    pub fn reset(&mut self) {
        *self = Exemplars { list: self.list, request: self.request, ..Exemplars::default() };
    }

    pub fn next_list(&mut self) {
        self.list = self.list.next();
        self.page = 0;
    }

    /// Moves by `by` pages within the list, clamped to its pages.
    pub fn step_page(&mut self, by: isize) {
        let pages = match &self.view {
            Some((_, Ok(v))) => v.pages(self.list),
            _ => 1,
        };
        self.page = self.page.saturating_add_signed(by).min(pages - 1);
    }

    /// Keeps the m of an answer for the view's neuron; drops an answer for another.
    pub fn shaded(&mut self, shading: &Shading) {
        if self.view.as_ref().is_none_or(|(n, _)| *n != shading.neuron) {
            return;
        }
        for (r, m) in &shading.contexts {
            self.shading.insert((r.doc, r.pos), m.clone());
        }
    }
}
