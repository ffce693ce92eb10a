//! The layer panes: per layer, the top neurons at the selected position.
use ratatui::layout::{Position, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::layout::{columns, first_column};
use super::pane_block;
use crate::engine::neuron::{NeuronHit, NeuronId};
use crate::tui::app::{App, Focus, LayerView, SignFilter, SortBy};

/// Width of one cell of the all-layers grid.
const GRID_CELL: usize = 14;
/// Width of a grid row's head: `L20  3 `, the layer and how many of its neurons are labelled.
const GRID_HEAD: usize = 8;

/// Rows above the first neuron inside the pane: the border and a column header.
const HEADER: u16 = 2;

fn promoted(app: &App, id: NeuronId, n: usize) -> String {
    app.projections
        .get(&id)
        .map(|p| p.top.iter().take(n).map(|t| t.token.text.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "…".into())
}

fn sign_style(app: &App, m: f32) -> Style {
    if m >= 0.0 {
        app.theme.positive
    } else {
        app.theme.negative
    }
}

/// The first row shown so that row `selected` fits in `height` rows.
fn scroll(selected: usize, height: usize) -> usize {
    selected.saturating_sub(height.saturating_sub(1))
}

fn describe(app: &App) -> String {
    let sort = match app.sort {
        SortBy::Score => "by s",
        SortBy::AbsM => "by |m|",
    };
    let sign = match app.sign {
        SignFilter::All => "",
        SignFilter::Positive => " · m>0",
        SignFilter::Negative => " · m<0",
    };
    let labels = match (&app.label_filter.concept, &app.label_filter.source) {
        (None, None) => String::new(),
        (c, s) => format!(
            " · label {}{}",
            c.as_deref().unwrap_or("*"),
            s.as_ref().map(|s| format!(" from {s}")).unwrap_or_default()
        ),
    };
    let token = app
        .snapshot
        .as_ref()
        .and_then(|s| s.tokens.get(app.position()))
        .map(|t| format!(" · pos {} '{}'", app.position(), t.text))
        .unwrap_or_default();
    format!("{sort}{sign}{labels}{token}")
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let layers = app.layers();
    if layers == 0 || app.snapshot.is_none() {
        let p = Paragraph::new(Span::styled("the layer panes fill once a prompt has run", app.theme.dim));
        frame.render_widget(if compact { p } else { p.block(pane_block(app, Focus::Layers, " layers ".into())) }, area);
        return;
    }
    match app.layer_view {
        LayerView::Single => single(frame, app, area, compact),
        LayerView::SideBySide => side_by_side(frame, app, area, compact),
        LayerView::Grid => grid(frame, app, area, compact),
    }
}

fn single(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let t = &app.theme;
    let l = app.layer;
    let rows = &app.rows[l];
    let height = area.height.saturating_sub(if compact { 1 } else { HEADER + 1 }) as usize;
    let first = scroll(app.row, height);
    let mut lines =
        vec![Line::styled(format!("{:<8} {:>7} {:>6}  {:<24} promotes", "neuron", "m", "s", "labels (source)"), t.dim)];
    for (i, h) in rows.iter().enumerate().skip(first).take(height) {
        let id = NeuronId { layer: l as u32, index: h.index };
        let selected = i == app.row && app.focus == Focus::Layers;
        let mut line = Line::from(vec![
            Span::raw(format!("{:<8} ", format!("N{}", h.index))),
            Span::styled(format!("{:>+7.2} ", h.m), sign_style(app, h.m)),
            Span::raw(format!("{:>6.2}  ", h.s)),
            Span::styled(format!("{:<24.24} ", app.labels.with_sources(id)), t.accent),
            Span::raw(promoted(app, id, 6)),
        ]);
        if selected {
            line = line.style(t.selected);
        }
        lines.push(line);
    }
    if rows.is_empty() {
        lines.push(Line::styled("no neuron passes the filter", t.dim));
    }
    let title = format!(" layer {l} · {} ", describe(app));
    let p = Paragraph::new(lines);
    frame.render_widget(if compact { p } else { p.block(pane_block(app, Focus::Layers, title)) }, area);
}

fn column_lines(app: &App, l: usize, height: usize, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines =
        vec![Line::styled(format!("{:─^width$}", format!(" L{l} ")), if l == app.layer { t.focus } else { t.dim })];
    let first = if l == app.layer { scroll(app.row, height) } else { 0 };
    for (i, h) in app.rows[l].iter().enumerate().skip(first).take(height) {
        let id = NeuronId { layer: l as u32, index: h.index };
        let head = format!("N{:<5} ", h.index);
        let m = format!("{:>+6.2} ", h.m);
        let rest = width.saturating_sub(head.len() + m.len());
        let tail: String =
            format!("{} {}", app.labels.short(id), promoted(app, id, 4)).trim().chars().take(rest).collect();
        let mut line = Line::from(vec![Span::raw(head), Span::styled(m, sign_style(app, h.m)), Span::raw(tail)]);
        if l == app.layer && i == app.row && app.focus == Focus::Layers {
            line = line.style(t.selected);
        }
        lines.push(line);
    }
    lines
}

fn side_by_side(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let block = pane_block(app, Focus::Layers, format!(" layers · {} ", describe(app)));
    let inner = if compact { area } else { block.inner(area) };
    if !compact {
        frame.render_widget(block, area);
    }
    let n = columns(area.width).min(app.layers());
    let start = first_column(app.layer, n, app.layers());
    let width = (inner.width / n as u16).max(1);
    for c in 0..n {
        let rect = Rect::new(inner.x + c as u16 * width, inner.y, width.saturating_sub(1), inner.height);
        let lines = column_lines(app, start + c, inner.height.saturating_sub(1) as usize, rect.width as usize);
        frame.render_widget(Paragraph::new(lines), rect);
    }
}

fn grid(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let t = &app.theme;
    let block = pane_block(app, Focus::Layers, format!(" all layers · {} ", describe(app)));
    let inner = if compact { area } else { block.inner(area) };
    let cells = (inner.width as usize).saturating_sub(GRID_HEAD) / GRID_CELL;
    let height = inner.height as usize;
    let first = app.layer.saturating_sub(height.saturating_sub(1));
    let lines: Vec<Line> = (first..app.layers())
        .take(height)
        .map(|l| {
            // How many of the layer's listed neurons carry a label (the reasoning neurons).
            let labelled = app.rows[l]
                .iter()
                .filter(|h| !app.labels.of(NeuronId { layer: l as u32, index: h.index }).is_empty())
                .count();
            let head = Span::styled(format!("L{l:<3}{labelled:>3} "), if l == app.layer { t.focus } else { t.dim });
            let row_first = if l == app.layer { app.row.saturating_sub(cells.saturating_sub(1)) } else { 0 };
            let spans =
                app.rows[l].iter().enumerate().skip(row_first).take(cells).map(|(i, h): (usize, &NeuronHit)| {
                    let text = format!("{:<width$}", format!("N{}{:+.1}", h.index, h.m), width = GRID_CELL);
                    let style = if l == app.layer && i == app.row && app.focus == Focus::Layers {
                        t.selected
                    } else {
                        sign_style(app, h.m)
                    };
                    Span::styled(text, style)
                });
            Line::from(std::iter::once(head).chain(spans).collect::<Vec<_>>())
        })
        .collect();
    let p = Paragraph::new(lines);
    frame.render_widget(if compact { p } else { p.block(block) }, area);
}

/// The (layer, row) under a click at `at` in the layer pane `area`.
pub fn hit_at(app: &App, area: Rect, at: Position) -> Option<(usize, usize)> {
    let layers = app.layers();
    if layers == 0 || !area.contains(at) {
        return None;
    }
    let compact = super::layout::regions(app.size, app).compact;
    let (x0, y0, h) = if compact { (area.x, area.y, area.height) } else { (area.x + 1, area.y + 1, area.height - 2) };
    let (x, y) = (at.x.checked_sub(x0)?, at.y.checked_sub(y0)? as usize);
    // Compare mode lists one layer per side, laid out as the single view.
    let view = if app.compare.open { LayerView::Single } else { app.layer_view };
    let (layer, row) = match view {
        LayerView::Single => {
            let first = scroll(app.row, (h - 1) as usize);
            (app.layer, (y.checked_sub(1)?) + first)
        }
        LayerView::SideBySide => {
            let n = columns(area.width).min(layers);
            let width = (area.width - if compact { 0 } else { 2 }) / n as u16;
            let layer = first_column(app.layer, n, layers) + (x / width.max(1)) as usize;
            let first = if layer == app.layer { scroll(app.row, (h - 1) as usize) } else { 0 };
            (layer, y.checked_sub(1)? + first)
        }
        LayerView::Grid => {
            let first = app.layer.saturating_sub((h as usize).saturating_sub(1));
            let layer = first + y;
            let col = (x as usize).checked_sub(GRID_HEAD)? / GRID_CELL;
            let cells = (area.width as usize).saturating_sub(GRID_HEAD + 2) / GRID_CELL;
            let row_first = if layer == app.layer { app.row.saturating_sub(cells.saturating_sub(1)) } else { 0 };
            (layer, row_first + col)
        }
    };
    (layer < layers && row < app.rows[layer].len()).then_some((layer, row))
}
