//! Heatmap mode's screen: the neuron's map over the operand grid, and the side panel with the cell
//! under the cursor, the neuron's answer-token logits, importance and matched heuristics, and
//! under the map the latest knockout's table.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::heatmap::{CellPanel, Heatmap, Palette, Scale};
use super::layout::Regions;
use crate::tui::app::App;
use crate::tui::heatmap::HeatmapMode;

/// Columns of the side panel, at most half the screen.
const PANEL_WIDTH: u16 = 36;

/// Where the map, the panel and the knockout table go.
pub struct Areas {
    pub map: Rect,
    pub panel: Rect,
    pub knockout: Rect,
}

/// The parts of the heatmap's body; the reducer sizes pages by `map` too.
pub fn areas(r: &Regions, mode: &HeatmapMode) -> Areas {
    let inner = if r.compact { r.heatmap } else { Block::bordered().inner(r.heatmap) };
    // The table spans the width for its columns and takes at most a third of the height: the map
    // stays the screen's subject.
    let table = (knockout_lines(mode).len() as u16).min(inner.height / 3);
    let [top, knockout] = Layout::vertical([Constraint::Fill(1), Constraint::Length(table)]).areas(inner);
    let panel = PANEL_WIDTH.min(top.width / 2);
    let [map, _, panel] =
        Layout::horizontal([Constraint::Fill(1), Constraint::Length(1), Constraint::Length(panel)]).areas(top);
    Areas { map, panel, knockout }
}

pub fn draw(frame: &mut Frame, app: &App, r: &Regions) {
    let Some(mode) = app.heatmap() else { return };
    let t = &app.theme;
    if !r.compact {
        let block = Block::bordered().border_style(t.focus).title(Line::styled(title(mode), t.title));
        frame.render_widget(block, r.heatmap);
    }
    let a = areas(r, mode);
    let styled = |(line, dim): (String, bool)| Line::styled(line, if dim { t.dim } else { Style::new() });
    frame.render_widget(Paragraph::new(knockout_lines(mode).into_iter().map(styled).collect::<Vec<_>>()), a.knockout);
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
        importance: mode.importance(),
        matches: &mode.matches,
        theme: t,
    };
    frame.render_widget(panel, a.panel);
}

/// ` L5N123 · K map · op1 in 0..50 + op2 in 0..50 · 3/20 `.
fn title(mode: &HeatmapMode) -> String {
    format!(" {} · {} map · {} · {}/{} ", mode.neuron, mode.kind, mode.settings.spec, mode.at + 1, mode.list.len())
}

/// The knockout table as lines, each with whether it is drawn dim: a line while one runs, else the
/// latest result's header, column names and rows; nothing before the first knockout.
fn knockout_lines(mode: &HeatmapMode) -> Vec<(String, bool)> {
    if let Some(neuron) = mode.knockout_pending {
        return vec![(format!("knockout of {neuron}'s heuristics: running (Ctrl-C cancels)…"), true)];
    }
    let Some(k) = &mode.knockout else { return Vec::new() };
    let mut lines = vec![
        (
            format!("knockout: accuracy with the heuristic's neurons zeroed (1.0 before) · {}'s heuristics", k.neuron),
            true,
        ),
        (
            format!(
                "{:<28} {:>7} {:>16} {:>19} {:>14}",
                "heuristic", "neurons", "prompts per side", "associated accuracy", "other accuracy"
            ),
            true,
        ),
    ];
    if k.rows.is_empty() {
        lines.push(("no heuristic has enough member neurons and correct prompts to test".into(), true));
    }
    lines.extend(k.rows.iter().map(|r| {
        let row = format!(
            "{:<28} {:>7} {:>16} {:>19.2} {:>14.2}",
            r.heuristic, r.neurons, r.prompts, r.associated_accuracy, r.control_accuracy
        );
        (row, false)
    }));
    lines
}
