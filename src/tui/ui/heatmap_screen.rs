//! Heatmap mode's screen: the neuron's map over the operand grid, and the side panel with the cell
//! under the cursor, the neuron's answer-token logits and its matched heuristics.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::heatmap::{CellPanel, Heatmap, Palette, Scale};
use super::layout::Regions;
use crate::tui::app::App;
use crate::tui::heatmap::HeatmapMode;

/// Columns of the side panel, at most half the screen.
const PANEL_WIDTH: u16 = 36;

/// Where the map and the panel go.
pub struct Areas {
    pub map: Rect,
    pub panel: Rect,
}

/// The parts of the heatmap's body; the reducer sizes pages by `map` too.
pub fn areas(r: &Regions) -> Areas {
    let inner = if r.compact { r.heatmap } else { Block::bordered().inner(r.heatmap) };
    let panel = PANEL_WIDTH.min(inner.width / 2);
    let [map, _, panel] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(1), Constraint::Length(panel)]).areas(inner);
    Areas { map, panel }
}

pub fn draw(frame: &mut Frame, app: &App, r: &Regions) {
    let Some(mode) = &app.heatmap else { return };
    let t = &app.theme;
    if !r.compact {
        let block = Block::bordered().border_style(t.focus).title(Line::styled(title(mode), t.title));
        frame.render_widget(block, r.heatmap);
    }
    let a = areas(r);
    let Some(grid) = &mode.grid else {
        let text = format!("loading the maps of grid {} (Esc cancels)…", mode.settings.spec);
        frame.render_widget(Paragraph::new(Span::styled(text, t.dim)).wrap(Wrap { trim: true }), a.map);
        return;
    };
    if !mode.has_neuron() {
        let maps = &grid.maps;
        let layers = &maps.settings.layers;
        let (first, last) = (layers.first().copied().unwrap_or(0), layers.last().copied().unwrap_or(0));
        let text = format!(
            "{} is not in this grid's maps (layers {first}..={last}, {} neurons each); \
             :grid L{}..{} builds maps of its layer",
            mode.neuron,
            maps.d_ff,
            mode.neuron.layer,
            mode.neuron.layer + 1
        );
        frame.render_widget(Paragraph::new(Span::styled(text, t.error)).wrap(Wrap { trim: true }), a.map);
        return;
    }
    let palette = Palette::for_theme(t.name, &mode.values, Scale::P99);
    frame.render_widget(Heatmap::new(&mode.values, &mode.view, &palette), a.map);
    let cell = mode.readout();
    let panel = CellPanel {
        kind: mode.kind,
        sign: mode.sign,
        cell: cell.as_ref(),
        top_tokens: &mode.top_tokens,
        matches: &mode.matches,
        theme: t,
    };
    frame.render_widget(panel, a.panel);
}

/// ` L5N123 · K map · op1 in 0..50 + op2 in 0..50 · 3/20 `.
fn title(mode: &HeatmapMode) -> String {
    format!(" {} · {} map · {} · {}/{} ", mode.neuron, mode.kind, mode.settings.spec, mode.at + 1, mode.list.len())
}
