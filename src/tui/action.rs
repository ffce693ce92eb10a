//! Everything a key can do. The keymap file names these in snake_case (`run = "step_back"`), and
//! each variant's doc line is its description in the help overlay, except where a keymap entry's
//! `desc` says what the key means in that mode.
use serde::Deserialize;
use strum::{EnumIter, EnumMessage, IntoStaticStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, EnumIter, EnumMessage, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// Does nothing; binding a key to it unbinds the key
    Noop,
    /// Quit
    Quit,
    /// Cancel the running job; quit when idle
    Interrupt,
    /// Cancel the running job, close the popup
    Cancel,
    /// Keys (this help)
    Help,
    /// Next pane
    FocusNext,
    /// Previous pane
    FocusPrev,
    /// Zoom the focused pane
    Zoom,
    /// Command line (:goto :k :n :export :q)
    CommandLine,
    /// Search a neuron id or token
    Search,
    /// Next match
    SearchNext,
    /// Previous match
    SearchPrev,
    /// Edit the prompt
    EditPrompt,
    /// Pick a prompt
    PickPrompt,
    /// Run the prompt
    RunPrompt,
    /// Generate one token
    Step,
    /// Generate N tokens
    StepMany,
    /// Take back a token
    StepBack,
    /// Greedy / seeded sampling
    ToggleSampling,
    /// Stop at EOS / continue
    ToggleEos,
    /// Up
    Up,
    /// Down
    Down,
    /// Left: previous position or layer
    Left,
    /// Right: next position or layer
    Right,
    /// Page up
    PageUp,
    /// Page down
    PageDown,
    /// First item
    Top,
    /// Last item
    Bottom,
    /// Previous token position
    PrevPosition,
    /// Next token position
    NextPosition,
    /// Previous layer
    PrevLayer,
    /// Next layer
    NextLayer,
    /// One layer / side by side / grid
    CycleLayerView,
    /// Sort by s or |m|
    ToggleSort,
    /// All / positive / negative m
    CycleSignFilter,
    /// Neuron detail
    OpenNeuron,
    /// Logit lens of the position
    OpenLens,
    /// Dark / light / 16 colours
    CycleTheme,
    /// Undo
    Undo,
    /// Redo
    Redo,
    /// Accept: run the command line, finish a search, pick the highlighted entry
    Confirm,
    /// Review the labels passing the label filter
    Review,
    /// Agree: the neuron carries the concept
    Agree,
    /// Disagree: it does not
    Disagree,
    /// Unsure
    Unsure,
    /// Note for the next verdict
    Note,
    /// Correct the concept (saved as disagree)
    Correct,
    /// Review the labels the source said yes / no / both to
    CycleReviewAnswers,
    /// Operand-grid heatmap of the neuron (:grid picks the grid)
    OpenHeatmap,
    /// K map / KV map
    ToggleMap,
    /// Knockout: zero the neurons of each heuristic this neuron matches
    KnockoutHeuristics,
    /// Previous neuron of the list
    PrevNeuron,
    /// Next neuron of the list
    NextNeuron,
    /// Compare mode: run B beside run A
    Compare,
    /// Compare: edit prompt B
    EditPromptB,
    /// Compare: pick prompt B
    PickPromptB,
    /// Compare: keys drive A+B / A only / B only
    CycleDrive,
    /// Compare: reasoning neurons from every source / one source
    CycleReasoningSource,
    /// Mark / unmark the neuron for an intervention
    Mark,
    /// Zero the marked neurons in run B (A's prompt)
    AblateMarked,
    /// Clear run B's interventions
    ClearInterventions,
    /// Build the lexical labels in the background / stop building them
    BuildLabels,
    /// Exemplars: top m / most negative m / binned samples
    ExemplarList,
    /// Exemplars: next page (the next bin down)
    ExemplarsNext,
    /// Exemplars: previous page (the next bin up)
    ExemplarsPrev,
}

impl Action {
    /// The action's name as the keymap writes it.
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// The one-line description shown in help.
    pub fn doc(self) -> &'static str {
        self.get_documentation().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use strum::IntoEnumIterator;

    #[test]
    fn every_action_has_a_doc_line_and_round_trips_by_name() {
        for a in Action::iter() {
            assert!(!a.doc().trim().is_empty(), "{a:?} has no doc line");
            let parsed: Action = serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(a.name()))
            .unwrap();
            assert_eq!(parsed, a);
        }
        assert_eq!(Action::StepBack.name(), "step_back");
    }
}
