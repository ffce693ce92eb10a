//! Compare mode's state: a second run B beside the explorer's run A — another prompt, or A's
//! prompt with interventions — and what tells them apart. Activations are counted with the
//! functions `neuronav compare` uses, over the positions computed so far.
use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use tui_textarea::TextArea;

use super::app::Busy;
use super::snapshot::{ModelInfo, NextView, Snapshot};
use crate::engine::neuron::{NeuronHit, NeuronId};
use crate::science::analysis::changes::Changes;
use crate::science::analysis::counting::{method_positions, Activations, ReasoningNeurons, ReasoningSelection};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    A,
    B,
}

impl Side {
    pub fn index(self) -> usize {
        self as usize
    }

    pub fn name(self) -> &'static str {
        match self {
            Side::A => "A",
            Side::B => "B",
        }
    }
}

/// Which runs the run and step keys drive in compare mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Drive {
    Both,
    A,
    B,
}

impl Drive {
    pub fn next(self) -> Drive {
        match self {
            Drive::Both => Drive::A,
            Drive::A => Drive::B,
            Drive::B => Drive::Both,
        }
    }

    pub fn drives(self, side: Side) -> bool {
        matches!((self, side), (Drive::Both, _) | (Drive::A, Side::A) | (Drive::B, Side::B))
    }

    pub fn describe(self) -> &'static str {
        match self {
            Drive::Both => "A+B",
            Drive::A => "A only",
            Drive::B => "B only",
        }
    }
}

/// Side B's run and the comparison. Side A is the explorer's own run.
pub struct Compare {
    /// Whether the compare screen shows.
    pub open: bool,
    /// B's worker was asked to start its session over the model A loaded.
    pub adopted: bool,
    /// B's session exists.
    pub(in crate::tui) model: Option<Arc<ModelInfo>>,
    pub(in crate::tui) prompt: TextArea<'static>,
    pub snapshot: Option<Arc<Snapshot>>,
    pub busy: Option<Busy>,
    /// B's long jobs sent and not yet ended.
    pub(in crate::tui) in_flight: usize,
    /// B's rows of every layer at B's position, sorted and filtered as A's.
    pub rows: Vec<Vec<NeuronHit>>,
    /// The next-token candidates at each side's selected position.
    pub next: [Option<Arc<NextView>>; 2],
    pub(in crate::tui) requested_next: [Option<(usize, u64)>; 2],
    pub drive: Drive,
    pub(in crate::tui) reasoning: ReasoningSelection,
    /// The reasoning neurons of `reasoning`, once the label thread answered.
    pub neurons: Option<Arc<ReasoningNeurons>>,
    /// Each side's activations over the positions computed so far.
    pub activations: [Activations; 2],
    /// Neurons marked for the next intervention.
    pub marked: BTreeSet<NeuronId>,
    /// What B changes in its forward passes.
    pub changes: Changes,
    /// The prompt text of B's last run.
    pub(in crate::tui) last_prompt: String,
}

impl Default for Compare {
    fn default() -> Self {
        let mut prompt = TextArea::default();
        prompt.set_placeholder_text("prompt B: I edits it, P picks one, :b variant NAME builds one");
        Compare {
            open: false,
            adopted: false,
            model: None,
            prompt,
            snapshot: None,
            busy: None,
            in_flight: 0,
            rows: Vec::new(),
            next: [None, None],
            requested_next: [None, None],
            drive: Drive::Both,
            reasoning: ReasoningSelection::method_concepts(),
            neurons: None,
            activations: [Activations::default(), Activations::default()],
            marked: BTreeSet::new(),
            changes: Changes::default(),
            last_prompt: String::new(),
        }
    }
}

impl Compare {
    pub fn prompt_text(&self) -> String {
        self.prompt.lines().join("\n")
    }

    pub fn set_prompt(&mut self, text: &str) {
        let placeholder = self.prompt.placeholder_text().to_string();
        self.prompt = TextArea::from(text.lines().map(str::to_string).collect::<Vec<_>>());
        self.prompt.set_placeholder_text(placeholder);
    }
}

/// A position as its distance from the last prompt token, where the method starts counting.
pub fn offset(position: usize, s: &Snapshot) -> isize {
    position as isize - s.prompt_len as isize + 1
}

/// The position of `other` at the same offset as `position` of `s`, within what `other` computed:
/// both sides scroll together, aligned at their last prompt tokens.
pub fn aligned(position: usize, s: &Snapshot, other: &Snapshot) -> usize {
    let at = other.prompt_len as isize - 1 + offset(position, s);
    at.min(other.len() as isize - 1).max(0) as usize
}

/// The reasoning-neuron activations of `s` over the method's positions computed so far: the last
/// prompt token and every generated one.
pub fn counted(s: &Snapshot, neurons: &ReasoningNeurons) -> Activations {
    if s.prompt_len == 0 {
        return Activations::default();
    }
    let positions = method_positions(s.prompt_len, s.generated());
    Activations::count(s.top[positions].iter().map(Vec::as_slice), neurons)
}

/// The neurons of `these` that are not among `others`: listed on one side only.
pub fn only_in(these: &[NeuronHit], others: &[NeuronHit]) -> HashSet<u32> {
    let others: HashSet<u32> = others.iter().map(|h| h.index).collect();
    these.iter().map(|h| h.index).filter(|i| !others.contains(i)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::session::SessionSettings;
    use crate::tui::snapshot::TokenView;

    fn snapshot(prompt_len: usize, len: usize) -> Snapshot {
        let hit = |index| NeuronHit { index, m: 1.0, s: 2.0 };
        Snapshot {
            generation: 1,
            tokens: (0..len).map(|i| TokenView { id: i as u32, text: format!("t{i}") }).collect(),
            prompt_len,
            top: (0..len).map(|p| vec![vec![hit(p as u32), hit(100)]]).collect(),
            next: Vec::new(),
            settings: SessionSettings::default(),
            at_eos: false,
        }
    }

    #[test]
    fn positions_align_at_the_last_prompt_token() {
        let (a, b) = (snapshot(4, 7), snapshot(10, 11));
        assert_eq!(offset(3, &a), 0);
        assert_eq!(aligned(3, &a, &b), 9);
        assert_eq!(aligned(4, &a, &b), 10);
        assert_eq!(aligned(6, &a, &b), 10, "clamped to what B computed");
        assert_eq!(aligned(0, &a, &b), 6);
        assert_eq!(aligned(10, &b, &a), 4);
        assert_eq!(aligned(0, &b, &a), 0);
    }

    #[test]
    fn counts_the_method_positions_and_one_sided_neurons() {
        let s = snapshot(4, 7);
        let neurons = ReasoningNeurons::from_pairs([
            (NeuronId { layer: 0, index: 100 }, "add".to_string()),
            (NeuronId { layer: 0, index: 2 }, "add".to_string()),
        ]);
        let a = counted(&s, &neurons);
        // Positions 3..7: N100 at each, N2 at none of them (it is listed at position 2 only).
        assert_eq!(a.positions, 4);
        assert_eq!(a.concept("add").hits, 4);
        assert_eq!(a.overall.mean_s(), 2.0);
        let only = only_in(&s.top[3][0], &s.top[4][0]);
        assert_eq!(only, HashSet::from([3]));
        assert!(Drive::Both.drives(Side::B) && !Drive::A.drives(Side::B) && Drive::B.next() == Drive::Both);
    }
}
