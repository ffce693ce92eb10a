//! Where each pane goes. One pure function of the terminal size and the state, used both to draw
//! and to map mouse clicks back to panes.
use std::ops::Range;

use ratatui::layout::{Constraint, Layout, Position, Rect};

use crate::tui::app::{App, Focus, LayerView};
use crate::tui::compare::Side;

/// Below this the explorer switches to a compact layout without borders.
pub const FULL: (u16, u16) = (60, 20);
/// Below this nothing readable fits; a message says so.
pub const MINIMUM: (u16, u16) = (30, 8);
/// From this size on, the one-layer view has the selected neuron's detail beside it.
pub const WIDE: (u16, u16) = (150, 30);
/// Width of one column in the side-by-side layer view.
pub const COLUMN_WIDTH: u16 = 34;
/// Width of compare mode's bars of A−B hits per layer.
pub const BARS_WIDTH: u16 = 30;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Regions {
    pub prompt: Rect,
    pub tokens: Rect,
    pub layers: Rect,
    pub detail: Rect,
    pub lens: Rect,
    /// Review mode: the whole body.
    pub review: Rect,
    /// Heatmap mode: the whole body.
    pub heatmap: Rect,
    /// Compare mode: run B's panes beside A's (which are `prompt`, `tokens` and `layers`), the
    /// per-layer bars and the per-concept summary.
    pub prompt_b: Rect,
    pub tokens_b: Rect,
    pub layers_b: Rect,
    pub bars: Rect,
    pub summary: Rect,
    pub status: Rect,
    /// The message / command line.
    pub line: Rect,
    /// The compact layout: panes without borders.
    pub compact: bool,
    pub too_small: bool,
}

impl Regions {
    pub fn pane_at(&self, at: Position) -> Option<Focus> {
        [
            (self.prompt, Focus::Prompt),
            (self.tokens, Focus::Tokens),
            (self.layers, Focus::Layers),
            (self.detail, Focus::Detail),
            (self.lens, Focus::Lens),
        ]
        .into_iter()
        .find(|(r, _)| r.contains(at))
        .map(|(_, f)| f)
    }

    pub fn of(&self, focus: Focus) -> Rect {
        match focus {
            Focus::Prompt => self.prompt,
            Focus::Tokens => self.tokens,
            Focus::Layers => self.layers,
            Focus::Detail => self.detail,
            Focus::Lens => self.lens,
        }
    }
}

pub fn regions(area: Rect, app: &App) -> Regions {
    let mut r = Regions::default();
    if area.width < MINIMUM.0 || area.height < MINIMUM.1 {
        r.too_small = true;
        return r;
    }
    let [body, status, line] =
        Layout::vertical([Constraint::Fill(1), Constraint::Length(1), Constraint::Length(1)]).areas(area);
    r.status = status;
    r.line = line;
    r.compact = area.width < FULL.0 || area.height < FULL.1;
    if app.heatmap().is_some() {
        r.heatmap = body;
        return r;
    }
    if app.review().is_some() {
        r.review = body;
        return r;
    }
    if app.compare.open {
        compare(&mut r, body, app);
        return r;
    }
    if r.compact {
        let [tokens, main] = Layout::vertical([Constraint::Length(2), Constraint::Fill(1)]).areas(body);
        r.tokens = tokens;
        match app.focus {
            Focus::Prompt => r.prompt = main,
            Focus::Detail if detail_shown(area, app) => r.detail = main,
            Focus::Lens if app.show_lens => r.lens = main,
            _ => r.layers = main,
        }
        return r;
    }
    if app.zoom {
        match app.focus {
            Focus::Detail if !detail_shown(area, app) => r.layers = body,
            Focus::Lens if !app.show_lens => r.layers = body,
            focus => match focus {
                Focus::Prompt => r.prompt = body,
                Focus::Tokens => r.tokens = body,
                Focus::Layers => r.layers = body,
                Focus::Detail => r.detail = body,
                Focus::Lens => r.lens = body,
            },
        }
        return r;
    }
    let prompt_height = if app.editing() == Some(Side::A) { (body.height / 3).max(5) } else { 5 };
    let [prompt, tokens, main] =
        Layout::vertical([Constraint::Length(prompt_height), Constraint::Length(5), Constraint::Fill(1)]).areas(body);
    r.prompt = prompt;
    r.tokens = tokens;
    let detail = detail_shown(area, app);
    if !detail && !app.show_lens {
        r.layers = main;
        return r;
    }
    // The detail that follows the selection gets half the width: its m over tokens and
    // projection use it.
    let share = if detail_follows(area, app) { 50 } else { 58 };
    let [layers, right] = Layout::horizontal([Constraint::Percentage(share), Constraint::Fill(1)]).areas(main);
    r.layers = layers;
    match (detail, app.show_lens) {
        (true, true) => {
            let [d, l] = Layout::vertical([Constraint::Percentage(55), Constraint::Fill(1)]).areas(right);
            r.detail = d;
            r.lens = l;
        }
        (true, false) => r.detail = right,
        _ => r.lens = right,
    }
    r
}

/// Whether the detail pane shows the layer pane's selected neuron without Enter: the terminal is
/// at least `WIDE` and the one-layer view is on screen with nothing in its place.
pub fn detail_follows(area: Rect, app: &App) -> bool {
    area.width >= WIDE.0
        && area.height >= WIDE.1
        && app.layer_view == LayerView::Single
        && !app.zoom
        && !app.compare.open
        && app.review().is_none()
        && app.heatmap().is_none()
}

/// Whether the detail pane is on screen (beside the layers, or in their place in the compact
/// layout): a neuron opened with Enter or `:goto`, or one followed while the screen is wide.
pub fn detail_shown(area: Rect, app: &App) -> bool {
    app.detail_neuron.is_some() && (app.detail_pinned || detail_follows(area, app))
}

/// Compare mode: A's panes on the left, B's on the right, the summary below.
fn compare(r: &mut Regions, body: Rect, app: &App) {
    let halves =
        |area: Rect| -> [Rect; 2] { Layout::horizontal([Constraint::Percentage(50), Constraint::Fill(1)]).areas(area) };
    // The concepts, the overall row, the header, the two one-side lines and the border.
    let summary = (app.compare.reasoning.concept_keys().len() as u16 + 6).min(body.height / 2);
    if r.compact {
        let [main, bottom] = Layout::vertical([Constraint::Fill(1), Constraint::Length(summary)]).areas(body);
        [r.layers, r.layers_b] = halves(main);
        r.summary = bottom;
        return;
    }
    let prompt_height = if app.editing().is_some() { (body.height / 3).max(5) } else { 4 };
    let [prompts, tokens, main, bottom] = Layout::vertical([
        Constraint::Length(prompt_height),
        Constraint::Length(5),
        Constraint::Fill(1),
        Constraint::Length(summary),
    ])
    .areas(body);
    [r.prompt, r.prompt_b] = halves(prompts);
    [r.tokens, r.tokens_b] = halves(tokens);
    let [lists, bars] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(BARS_WIDTH)]).areas(main);
    [r.layers, r.layers_b] = halves(lists);
    r.bars = bars;
    r.summary = bottom;
}

/// Number of layer columns that fit side by side in a pane of `width`.
pub fn columns(width: u16) -> usize {
    (width.saturating_sub(2) / COLUMN_WIDTH).max(1) as usize
}

/// The layers the layer pane shows in detail (whose projections it needs).
pub fn visible_layers(area: Rect, app: &App) -> Range<usize> {
    let layers = app.layers();
    if layers == 0 {
        return 0..0;
    }
    if app.compare.open {
        return app.layer..app.layer + 1;
    }
    match app.layer_view {
        LayerView::Single | LayerView::Grid => app.layer..app.layer + 1,
        LayerView::SideBySide => {
            let n = columns(regions(area, app).layers.width).min(layers);
            let start = first_column(app.layer, n, layers);
            start..start + n
        }
    }
}

/// The first layer shown side by side so that `layer` is visible: whole pages of `n`.
pub fn first_column(layer: usize, n: usize, layers: usize) -> usize {
    ((layer / n) * n).min(layers.saturating_sub(n))
}
