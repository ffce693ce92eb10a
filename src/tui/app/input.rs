//! Input: keys through the keymap, the mouse, pasted text, and what each action does.
use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};
use ratatui::layout::{Position, Rect};
use strum::IntoEnumIterator;
use tui_textarea::TextArea;

use super::{App, Focus, LayerView, SignFilter, SortBy};
use crate::science::analysis::ablation::AblationMode;
use crate::science::labels::label::VerdictKind;
use crate::science::labels::store::Answers;
use crate::tui::action::Action;
use crate::tui::compare::Side;
use crate::tui::cursor::Cursor;
use crate::tui::effect::Effect;
use crate::tui::key::Key;
use crate::tui::keymap::{Lookup, Mode};
use crate::tui::modes::{LineKind, Overlay};
use crate::tui::theme::Theme;
use crate::tui::ui::layout::{self, Regions};
use crate::tui::ui::{layers, tokens};

impl App {
    pub fn on_key(&mut self, event: KeyEvent) -> Vec<Effect> {
        let key = Key::from(event);
        let mode = self.mode();
        self.pending.push(key);
        match self.keymap.lookup(mode, &self.pending) {
            Lookup::Matched(action) => {
                self.pending.clear();
                self.update(action)
            }
            Lookup::Pending => Vec::new(),
            Lookup::NotFound => {
                let keys = std::mem::take(&mut self.pending);
                match mode {
                    Mode::Prompt if keys.len() == 1 => {
                        self.editor().input(event);
                    }
                    Mode::Line if keys.len() == 1 => {
                        if let Some(Overlay::Line(_, line)) = &mut self.modes.overlay {
                            line.input(event);
                        }
                    }
                    _ if keys.len() > 1 => {
                        let typed: Vec<String> = keys.iter().map(|k| k.to_string()).collect();
                        self.error(format!("'{}' is not bound", typed.join(" ")));
                    }
                    _ => {}
                }
                Vec::new()
            }
        }
    }

    /// Text pasted into the terminal (bracketed paste) goes to whichever editor is open.
    pub fn on_paste(&mut self, text: &str) {
        if let Some(Overlay::Line(_, line)) = &mut self.modes.overlay {
            line.insert_str(text.replace(['\n', '\r'], " "));
            return;
        }
        if self.editing().is_none() {
            self.modes.edit(Some(Side::A));
            self.focus = Focus::Prompt;
        }
        self.editor().insert_str(text.replace("\r\n", "\n").replace('\r', "\n"));
    }

    pub fn on_mouse(&mut self, event: MouseEvent) -> Vec<Effect> {
        let regions = layout::regions(self.size, self);
        let at = Position::new(event.column, event.row);
        let Some(focus) = regions.pane_at(at) else {
            return Vec::new();
        };
        match event.kind {
            MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
                self.focus = focus;
                let action = if event.kind == MouseEventKind::ScrollDown { Action::Down } else { Action::Up };
                self.update(action)
            }
            MouseEventKind::Down(MouseButton::Left) => {
                self.focus = focus;
                self.click(&regions, focus, at);
                self.refresh()
            }
            _ => Vec::new(),
        }
    }

    fn click(&mut self, regions: &Regions, focus: Focus, at: Position) {
        match focus {
            Focus::Tokens => {
                if let Some(p) = tokens::position_at(self, regions.tokens, at) {
                    self.position = Cursor::At(p);
                }
            }
            Focus::Layers => {
                if let Some((layer, row)) = layers::hit_at(self, regions.layers, at) {
                    self.layer = layer;
                    self.row = row;
                }
            }
            _ => {}
        }
    }

    pub fn on_resize(&mut self, width: u16, height: u16) -> Vec<Effect> {
        self.size = Rect::new(0, 0, width, height);
        self.refresh()
    }

    // ---- the reducer ----------------------------------------------------------------------------

    pub fn update(&mut self, action: Action) -> Vec<Effect> {
        let mut effects = self.apply(action);
        effects.extend(self.refresh());
        effects
    }

    fn apply(&mut self, action: Action) -> Vec<Effect> {
        let mode = self.mode();
        if mode == Mode::Heatmap {
            if let Some(effects) = self.heatmap_action(action) {
                return effects;
            }
        }
        match action {
            Action::Noop => {}
            Action::Quit => return vec![Effect::Quit],
            Action::Interrupt => {
                return if self.is_busy() { self.cancel_jobs() } else { vec![Effect::Quit] };
            }
            Action::Cancel => match mode {
                Mode::Help | Mode::Picker | Mode::Line => self.modes.overlay = None,
                Mode::Review => self.modes.close_review(),
                Mode::Heatmap => return self.close_heatmap(),
                Mode::Prompt => self.modes.edit(None),
                Mode::Normal => {
                    if self.is_busy() {
                        return self.cancel_jobs();
                    }
                    self.search = None;
                    self.message = None;
                    self.zoom = false;
                }
            },
            Action::Help => {
                self.modes.overlay = match self.modes.overlay {
                    Some(Overlay::Help { .. }) => None,
                    _ => Some(Overlay::Help { scroll: 0 }),
                }
            }
            Action::FocusNext | Action::FocusPrev => self.cycle_focus(action == Action::FocusNext),
            Action::Zoom => self.zoom = !self.zoom,
            Action::CommandLine => self.modes.overlay = Some(Overlay::Line(LineKind::Command, Box::default())),
            Action::Search => self.modes.overlay = Some(Overlay::Line(LineKind::Search, Box::default())),
            Action::SearchNext => self.search_step(1),
            Action::SearchPrev => self.search_step(-1),
            Action::EditPrompt => {
                self.modes.edit(Some(Side::A));
                self.focus = Focus::Prompt;
            }
            Action::PickPrompt | Action::PickPromptB => {
                if self.prompts.is_empty() {
                    self.error("no prompts to pick from");
                } else {
                    let side = if action == Action::PickPrompt { Side::A } else { Side::B };
                    self.modes.overlay = Some(Overlay::Picker { selected: 0, side });
                }
            }
            Action::RunPrompt => return self.run_driven(),
            Action::Step => return self.step_driven(1),
            Action::StepMany => return self.step_driven(self.settings.step_count),
            Action::StepBack => return self.step_back_driven(),
            Action::ToggleSampling => {
                self.settings.greedy = !self.settings.greedy;
                return self.sampling_changed();
            }
            Action::ToggleEos => {
                self.settings.stop_at_eos = !self.settings.stop_at_eos;
                self.say(if self.settings.stop_at_eos { "stops at EOS" } else { "continues past EOS" });
            }
            Action::Up | Action::Down | Action::Left | Action::Right => self.arrow(action),
            Action::PageUp | Action::PageDown => {
                let step = if action == Action::PageUp { Action::Up } else { Action::Down };
                for _ in 0..10 {
                    self.arrow(step);
                }
            }
            Action::Top | Action::Bottom => self.ends(action == Action::Top),
            Action::PrevPosition => self.move_position(-1),
            Action::NextPosition => self.move_position(1),
            Action::PrevLayer => self.layer = self.layer.saturating_sub(1),
            Action::NextLayer => self.layer += 1,
            Action::CycleLayerView => {
                self.layer_view = match self.layer_view {
                    LayerView::Single => LayerView::SideBySide,
                    LayerView::SideBySide => LayerView::Grid,
                    LayerView::Grid => LayerView::Single,
                }
            }
            Action::ToggleSort => {
                self.sort = if self.sort == SortBy::Score { SortBy::AbsM } else { SortBy::Score };
                self.row = 0;
            }
            Action::CycleSignFilter => {
                self.sign = match self.sign {
                    SignFilter::All => SignFilter::Positive,
                    SignFilter::Positive => SignFilter::Negative,
                    SignFilter::Negative => SignFilter::All,
                };
                self.row = 0;
            }
            Action::OpenNeuron => match self.selected_neuron() {
                Some(n) => self.open_neuron(n),
                None => self.error("no neuron selected"),
            },
            Action::OpenLens => {
                self.leave_compare();
                self.show_lens = !(self.show_lens && self.focus == Focus::Lens);
                self.focus = if self.show_lens { Focus::Lens } else { Focus::Layers };
            }
            Action::CycleTheme => self.theme = Theme::new(self.theme.name.next()),
            Action::Undo => {
                self.editor().undo();
            }
            Action::Redo => {
                self.editor().redo();
            }
            Action::Confirm => return self.confirm(),
            Action::Review => {
                let filter = self.label_filter.clone();
                return self.open_review(filter.source, filter.concept, Answers::Yes);
            }
            Action::CycleReviewAnswers => return self.cycle_review_answers(),
            Action::Agree => return self.judge(VerdictKind::Agree, None),
            Action::Disagree => return self.judge(VerdictKind::Disagree, None),
            Action::Unsure => return self.judge(VerdictKind::Unsure, None),
            Action::Note => self.open_review_line(LineKind::Note),
            Action::Correct => self.open_review_line(LineKind::Correct),
            Action::OpenHeatmap => return self.open_heatmap(),
            Action::ToggleMap | Action::PrevNeuron | Action::NextNeuron | Action::KnockoutHeuristics => {
                self.error("that key works in the heatmap (M opens it)")
            }
            Action::Compare => return self.toggle_compare(),
            Action::EditPromptB => return self.edit_prompt_b(),
            Action::CycleDrive => {
                self.compare.drive = self.compare.drive.next();
                self.say(format!("run and step keys drive {}", self.compare.drive.describe()));
            }
            Action::CycleReasoningSource => return self.cycle_reasoning_source(),
            Action::Mark => self.toggle_mark(),
            Action::AblateMarked => return self.ablate(AblationMode::Zero, Vec::new()),
            Action::ClearInterventions => return self.clear_changes(),
            Action::BuildLabels => return self.toggle_label_build(),
            Action::ExemplarList => self.page_exemplars(None),
            Action::ExemplarsNext => self.page_exemplars(Some(1)),
            Action::ExemplarsPrev => self.page_exemplars(Some(-1)),
        }
        Vec::new()
    }

    /// The prompt editor being typed into: B's while compare mode edits it, else A's.
    fn editor(&mut self) -> &mut TextArea<'static> {
        if self.editing() == Some(Side::B) {
            &mut self.compare.prompt
        } else {
            &mut self.prompt
        }
    }

    fn cycle_focus(&mut self, forward: bool) {
        let panes: Vec<Focus> = Focus::iter()
            .filter(|f| match f {
                // Compare mode shows neither.
                Focus::Detail => layout::detail_shown(self.size, self) && !self.compare.open,
                Focus::Lens => self.show_lens && !self.compare.open,
                _ => true,
            })
            .collect();
        let i = panes.iter().position(|&f| f == self.focus).unwrap_or(0);
        let n = panes.len();
        self.focus = panes[if forward { (i + 1) % n } else { (i + n - 1) % n }];
    }

    /// Moves the selected position by `by`; the refresh keeps it within the text.
    fn move_position(&mut self, by: isize) {
        self.position = Cursor::At(self.position().saturating_add_signed(by));
    }

    fn arrow(&mut self, action: Action) {
        let (up, down, left, right) =
            (action == Action::Up, action == Action::Down, action == Action::Left, action == Action::Right);
        match &mut self.modes.overlay {
            Some(Overlay::Help { scroll }) => {
                if up {
                    *scroll = scroll.saturating_sub(1);
                } else if down {
                    *scroll += 1;
                }
                return;
            }
            Some(Overlay::Picker { selected, .. }) => {
                if up {
                    *selected = selected.saturating_sub(1);
                } else if down {
                    *selected = (*selected + 1).min(self.prompts.len().saturating_sub(1));
                }
                return;
            }
            _ => {}
        }
        if let Some(review) = self.modes.review_mut() {
            review.step(if up || left { -1 } else { 1 });
            return;
        }
        match self.focus {
            Focus::Prompt | Focus::Tokens => self.move_position(if left || up { -1 } else { 1 }),
            Focus::Layers => {
                if up {
                    self.row = self.row.saturating_sub(1);
                } else if down {
                    self.row += 1;
                } else if left {
                    self.layer = self.layer.saturating_sub(1);
                } else if right {
                    self.layer += 1;
                }
            }
            Focus::Detail | Focus::Lens => {
                let scroll = if self.focus == Focus::Detail { &mut self.detail_scroll } else { &mut self.lens_scroll };
                if up {
                    *scroll = scroll.saturating_sub(1);
                } else if down {
                    *scroll += 1;
                } else {
                    self.move_position(if left { -1 } else { 1 });
                }
            }
        }
    }

    fn ends(&mut self, first: bool) {
        if let Some(review) = self.modes.review_mut() {
            review.step(if first { isize::MIN / 2 } else { isize::MAX / 2 });
            return;
        }
        match self.focus {
            // The refresh brings the row back within the layer's rows.
            Focus::Layers => self.row = if first { 0 } else { usize::MAX },
            Focus::Detail => self.detail_scroll = 0,
            Focus::Lens => self.lens_scroll = 0,
            _ => self.position = if first { Cursor::At(0) } else { Cursor::FollowEnd },
        }
    }
}
