//! What the explorer shows and where keys go: a screen (the panes, review mode, or a heatmap) and
//! at most one popup or line over it. Each state holds its own data, so states that cannot happen
//! together cannot be written together: only the panes have a prompt being typed into, and a
//! heatmap opened from review mode keeps that review below it to return to.
use tui_textarea::TextArea;

use super::compare::Side;
use super::heatmap::HeatmapMode;
use super::keymap::Mode;
use super::review::Review;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineKind {
    Command,
    Search,
    /// A note for the next verdict in review mode.
    Note,
    /// The concept a reviewed neuron carries instead.
    Correct,
}

#[derive(Debug)]
pub enum Screen {
    /// The panes (compare mode's when it is open), and the prompt keys type into, if any.
    Panes { editing: Option<Side> },
    /// Spot-checking labels.
    Review(Review),
    /// A neuron's operand-grid heatmap, over the review it was opened from, if any.
    Heatmap { heatmap: Box<HeatmapMode>, review: Option<Review> },
}

#[derive(Debug)]
pub enum Overlay {
    /// The `:` command line, the `/` search line, or review mode's note and correction lines.
    Line(LineKind, Box<TextArea<'static>>),
    /// The prompt picker: the highlighted entry, and the side whose prompt it loads.
    Picker { selected: usize, side: Side },
    /// The key reference, scrolled by this many lines.
    Help { scroll: u16 },
}

#[derive(Debug)]
pub struct Modes {
    pub screen: Screen,
    /// What is open over the screen: it takes the keys.
    pub overlay: Option<Overlay>,
}

impl Default for Modes {
    fn default() -> Self {
        Modes { screen: Screen::Panes { editing: None }, overlay: None }
    }
}

impl Modes {
    /// The keymap section in force.
    pub fn keymap_mode(&self) -> Mode {
        match (&self.overlay, &self.screen) {
            (Some(Overlay::Help { .. }), _) => Mode::Help,
            (Some(Overlay::Picker { .. }), _) => Mode::Picker,
            (Some(Overlay::Line(..)), _) => Mode::Line,
            (None, Screen::Heatmap { .. }) => Mode::Heatmap,
            (None, Screen::Review(_)) => Mode::Review,
            (None, Screen::Panes { editing: Some(_) }) => Mode::Prompt,
            (None, Screen::Panes { editing: None }) => Mode::Normal,
        }
    }

    /// The prompt being typed into.
    pub fn editing(&self) -> Option<Side> {
        match self.screen {
            Screen::Panes { editing } => editing,
            _ => None,
        }
    }

    /// Types into `side`'s prompt from now on (None: into neither). Only the panes have prompts.
    pub fn edit(&mut self, side: Option<Side>) {
        if let Screen::Panes { editing } = &mut self.screen {
            *editing = side;
        }
    }

    /// Stops typing into `side`'s prompt, if that is the one typed into.
    pub fn stop_editing(&mut self, side: Side) {
        if self.editing() == Some(side) {
            self.edit(None);
        }
    }

    /// The review under way: review mode's, or the one below a heatmap.
    pub fn review(&self) -> Option<&Review> {
        match &self.screen {
            Screen::Review(review) | Screen::Heatmap { review: Some(review), .. } => Some(review),
            _ => None,
        }
    }

    pub fn review_mut(&mut self) -> Option<&mut Review> {
        match &mut self.screen {
            Screen::Review(review) | Screen::Heatmap { review: Some(review), .. } => Some(review),
            _ => None,
        }
    }

    /// Starts `review`: review mode, or, under an open heatmap, the review it returns to.
    pub fn open_review(&mut self, review: Review) {
        match &mut self.screen {
            Screen::Heatmap { review: below, .. } => *below = Some(review),
            screen => *screen = Screen::Review(review),
        }
    }

    /// Leaves review mode for the panes.
    pub fn close_review(&mut self) {
        if let Screen::Review(_) = self.screen {
            self.screen = Screen::Panes { editing: None };
        }
    }

    pub fn heatmap(&self) -> Option<&HeatmapMode> {
        match &self.screen {
            Screen::Heatmap { heatmap, .. } => Some(heatmap),
            _ => None,
        }
    }

    pub fn heatmap_mut(&mut self) -> Option<&mut HeatmapMode> {
        match &mut self.screen {
            Screen::Heatmap { heatmap, .. } => Some(heatmap),
            _ => None,
        }
    }

    /// Opens `heatmap` over the screen; a review under way waits below it.
    pub fn open_heatmap(&mut self, heatmap: HeatmapMode) {
        let screen = std::mem::replace(&mut self.screen, Screen::Panes { editing: None });
        let review = match screen {
            Screen::Review(review) | Screen::Heatmap { review: Some(review), .. } => Some(review),
            _ => None,
        };
        self.screen = Screen::Heatmap { heatmap: Box::new(heatmap), review };
    }

    /// Closes the heatmap back to the review below it or to the panes, and returns it.
    pub fn close_heatmap(&mut self) -> Option<HeatmapMode> {
        match std::mem::replace(&mut self.screen, Screen::Panes { editing: None }) {
            Screen::Heatmap { heatmap, review } => {
                if let Some(review) = review {
                    self.screen = Screen::Review(review);
                }
                Some(*heatmap)
            }
            screen => {
                self.screen = screen;
                None
            }
        }
    }

    /// The help's scroll, while it is open.
    pub fn help(&self) -> Option<u16> {
        match self.overlay {
            Some(Overlay::Help { scroll }) => Some(scroll),
            _ => None,
        }
    }

    /// The picker's highlighted entry, while it is open.
    pub fn picker(&self) -> Option<usize> {
        match self.overlay {
            Some(Overlay::Picker { selected, .. }) => Some(selected),
            _ => None,
        }
    }

    /// The open line and what it is for.
    pub fn line(&self) -> Option<(LineKind, &TextArea<'static>)> {
        match &self.overlay {
            Some(Overlay::Line(kind, text)) => Some((*kind, &**text)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::science::heuristics::grid::{GridSpec, Operator};
    use crate::science::heuristics::maps::MapSettings;
    use crate::science::labels::store::Answers;

    fn heatmap() -> HeatmapMode {
        let spec = GridSpec::square(Operator::Add, 4);
        let settings = MapSettings { prefix: String::new(), spec, slots: 1, layers: vec![0] };
        HeatmapMode::new(vec!["L0N1".parse().unwrap()], 0, settings)
    }

    #[test]
    fn the_keymap_mode_is_the_overlays_then_the_screens_and_a_heatmap_returns_to_its_review() {
        let mut m = Modes::default();
        assert_eq!(m.keymap_mode(), Mode::Normal);
        m.edit(Some(Side::B));
        assert_eq!((m.keymap_mode(), m.editing()), (Mode::Prompt, Some(Side::B)));
        m.stop_editing(Side::A);
        assert_eq!(m.editing(), Some(Side::B), "A was not the prompt typed into");
        m.overlay = Some(Overlay::Help { scroll: 0 });
        assert_eq!(m.keymap_mode(), Mode::Help);
        m.overlay = None;
        m.open_review(Review::new(Some("gpt".into()), None, Answers::Yes));
        assert_eq!((m.keymap_mode(), m.editing()), (Mode::Review, None));
        m.open_heatmap(heatmap());
        assert_eq!(m.keymap_mode(), Mode::Heatmap);
        assert_eq!(m.review().and_then(|r| r.source.clone()).as_deref(), Some("gpt"), "the review waits below");
        m.overlay = Some(Overlay::Line(LineKind::Command, Box::default()));
        assert_eq!(m.keymap_mode(), Mode::Line);
        m.overlay = None;
        assert!(m.close_heatmap().is_some());
        assert_eq!(m.keymap_mode(), Mode::Review);
        assert!(m.close_heatmap().is_none());
        m.close_review();
        assert_eq!(m.keymap_mode(), Mode::Normal);
        m.open_heatmap(heatmap());
        m.close_heatmap();
        assert_eq!(m.keymap_mode(), Mode::Normal, "opened from the panes, closed back to them");
    }
}
