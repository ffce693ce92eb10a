//! Everything a key can do. The keymap file names these in snake_case (`run = "step_back"`), and
//! each variant's doc line is its description in the help overlay.
use serde::Deserialize;
use strum::{EnumIter, EnumMessage, IntoStaticStr};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Deserialize, EnumIter, EnumMessage, IntoStaticStr)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Action {
    /// Does nothing; binding a key to it unbinds the key
    Noop,
    /// Quit neuronav
    Quit,
    /// Cancel the running job, or quit when nothing runs
    Interrupt,
    /// Cancel the running job, close a popup or clear the search
    Cancel,
    /// Show or hide the key reference
    Help,
    /// Move focus to the next pane
    FocusNext,
    /// Move focus to the previous pane
    FocusPrev,
    /// Let the focused pane fill the screen, or restore the layout
    Zoom,
    /// Open the command line (:goto L21N7027, :k 10, :export f.json, :q)
    CommandLine,
    /// Search the current view for a neuron id or a token
    Search,
    /// Jump to the next search match
    SearchNext,
    /// Jump to the previous search match
    SearchPrev,
    /// Edit the prompt
    EditPrompt,
    /// Pick a prompt from the bundled examples and the method's variants
    PickPrompt,
    /// Run the prompt (prefill), replacing the text computed so far
    RunPrompt,
    /// Generate one token
    Step,
    /// Generate several tokens (:n sets how many)
    StepMany,
    /// Take back the last generated token
    StepBack,
    /// Switch between greedy and seeded sampling
    ToggleSampling,
    /// Stop generating at the end-of-sequence token, or continue past it
    ToggleEos,
    /// Move up in the focused pane
    Up,
    /// Move down in the focused pane
    Down,
    /// Move left in the focused pane (previous position or layer)
    Left,
    /// Move right in the focused pane (next position or layer)
    Right,
    /// Page up in the focused pane
    PageUp,
    /// Page down in the focused pane
    PageDown,
    /// Go to the first item of the focused pane
    Top,
    /// Go to the last item of the focused pane
    Bottom,
    /// Select the previous token position
    PrevPosition,
    /// Select the next token position
    NextPosition,
    /// Select the previous layer
    PrevLayer,
    /// Select the next layer
    NextLayer,
    /// Cycle the layer view: one layer, side by side, all-layers grid
    CycleLayerView,
    /// Sort neurons by score s or by |m|
    ToggleSort,
    /// Show all neurons, only positive m, or only negative m
    CycleSignFilter,
    /// Open the selected neuron's detail
    OpenNeuron,
    /// Show the logit lens of the selected position
    OpenLens,
    /// Switch theme: dark, light, 16 colours
    CycleTheme,
    /// Undo the last edit of the prompt
    Undo,
    /// Redo an undone edit of the prompt
    Redo,
    /// Accept: run the command line, finish a search, pick the highlighted entry
    Confirm,
    /// Review the labels passing the label filter, one by one (:review [source] [concept])
    Review,
    /// Review: the neuron carries the concept
    Agree,
    /// Review: the neuron does not carry the concept
    Disagree,
    /// Review: cannot tell
    Unsure,
    /// Review: type a note, saved with the next verdict on this label
    Note,
    /// Review: name the concept the neuron carries instead (saved as a disagree verdict)
    Correct,
    /// Open the selected neuron's operand-grid heatmap (:grid [OP] [A..B] [LA..B] picks the grid)
    OpenHeatmap,
    /// Heatmap: switch between the K map (activation) and the KV map (its effect on the answer)
    ToggleMap,
    /// Heatmap: zero the neurons of each heuristic this neuron matches and measure the grid's accuracy
    KnockoutHeuristics,
    /// Heatmap: the previous neuron of the list it was opened from
    PrevNeuron,
    /// Heatmap: the next neuron of the list it was opened from
    NextNeuron,
    /// Open or close compare mode: a second run B beside this one
    Compare,
    /// Compare: edit prompt B
    EditPromptB,
    /// Compare: pick prompt B from the bundled examples and the method's variants
    PickPromptB,
    /// Compare: run and step both sides, A only, or B only
    CycleDrive,
    /// Compare: count the labels of every source, or of one source (cycles through them)
    CycleReasoningSource,
    /// Mark or unmark the selected neuron for an intervention
    Mark,
    /// Zero the marked neurons in run B, which reruns A's prompt beside A (compare mode)
    AblateMarked,
    /// Remove run B's interventions and rerun it
    ClearInterventions,
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
