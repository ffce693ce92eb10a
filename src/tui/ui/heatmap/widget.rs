//! The heatmap widget: the visible window of the map, op1 ticks down the left, op2 ticks along
//! the top, the cursor cell marked, and a one-line colour scale at the bottom.
use ratatui::buffer::Buffer;
use ratatui::layout::{Position, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::widgets::Widget;

use super::palette::{ColorDepth, Palette, Scale};
use super::view::{HeatmapView, Zoom};

/// Swatches on each side of 0 in the legend, at most.
const LEGEND_SWATCHES: usize = 8;

/// A map drawn through its view: `values` is row-major, `view.rows() × view.cols()`, NaN for
/// illegal cells (missing values count as illegal).
pub struct Heatmap<'a> {
    values: &'a [f32],
    view: &'a HeatmapView,
    palette: &'a Palette,
}

impl<'a> Heatmap<'a> {
    pub fn new(values: &'a [f32], view: &'a HeatmapView, palette: &'a Palette) -> Heatmap<'a> {
        Heatmap { values, view, palette }
    }

    fn value(&self, row: usize, col: usize) -> f32 {
        if row < self.view.rows() && col < self.view.cols() {
            self.values.get(row * self.view.cols() + col).copied().unwrap_or(f32::NAN)
        } else {
            f32::NAN
        }
    }
}

/// Where the parts of the widget go.
#[derive(Debug, Default)]
pub(super) struct Regions {
    pub top: Rect,
    pub left: Rect,
    pub map: Rect,
    pub legend: Rect,
}

/// The widget's layout in `area`: ticks above and left of the map, the legend below. An area too
/// small for them is all map, so the cursor stays visible in any pane.
pub(super) fn regions(view: &HeatmapView, area: Rect) -> Regions {
    let axis = digits(view.op1(view.rows().saturating_sub(1))) + 1;
    if area.height < 3 || area.width <= axis {
        return Regions { map: area, ..Regions::default() };
    }
    let (x, y, w, h) = (area.x + axis, area.y + 1, area.width - axis, area.height - 2);
    Regions {
        top: Rect::new(x, area.y, w, 1),
        left: Rect::new(area.x, y, axis, h),
        map: Rect::new(x, y, w, h),
        legend: Rect::new(area.x, area.bottom() - 1, area.width, 1),
    }
}

fn digits(n: u32) -> u16 {
    n.checked_ilog10().map_or(1, |d| d as u16 + 1)
}

/// Cells between ticks: 10 terminal columns either way, room for a 3-digit label and a gap.
fn tick_step(zoom: Zoom) -> u32 {
    match zoom {
        Zoom::Fine => 10,
        Zoom::Coarse => 5,
    }
}

/// A scale number in at most 3 significant digits.
fn short(x: f32) -> String {
    match x.abs() {
        a if a >= 100.0 => format!("{x:.0}"),
        a if a >= 10.0 => format!("{x:.1}"),
        a if a >= 1.0 => format!("{x:.2}"),
        a if a >= 0.01 => format!("{x:.3}"),
        _ => format!("{x:.1e}"),
    }
}

fn put(buf: &mut Buffer, x: u16, y: u16, symbol: char, style: Style) {
    if let Some(cell) = buf.cell_mut(Position::new(x, y)) {
        cell.set_char(symbol).set_style(style);
    }
}

impl Widget for Heatmap<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let area = area.intersection(buf.area);
        let r = regions(self.view, area);
        let origin = self.view.panned(self.view.visible(area, self.palette.depth));
        self.cells(r.map, origin, buf);
        self.ticks(&r, origin, buf);
        for (x, (c, style)) in (r.legend.x..r.legend.right()).zip(self.legend(r.legend.width)) {
            put(buf, x, r.legend.y, c, style);
        }
    }
}

impl Heatmap<'_> {
    fn cells(&self, map: Rect, (row0, col0): (usize, usize), buf: &mut Buffer) {
        let p = self.palette;
        let (cols_per_cell, cells_per_row) = self.view.zoom().geometry(p.depth);
        let cursor = self.view.cursor();
        for ty in 0..map.height {
            let row = row0 + (ty * cells_per_row) as usize;
            if row >= self.view.rows() {
                break;
            }
            for tx in 0..map.width / cols_per_cell {
                let col = col0 + tx as usize;
                if col >= self.view.cols() {
                    break;
                }
                let (x, y) = (map.x + tx * cols_per_cell, map.y + ty);
                if cells_per_row == 2 {
                    self.half_blocks(buf, x, y, row, col);
                    continue;
                }
                let v = self.value(row, col);
                let (glyph, bg) = match p.depth {
                    ColorDepth::Mono => (p.glyph(v), Color::Reset),
                    _ => (' ', p.color(v)),
                };
                let style = Style::new().bg(bg);
                if (row, col) != cursor {
                    (0..cols_per_cell).for_each(|i| put(buf, x + i, y, glyph, style));
                    continue;
                }
                // The cursor: a bracket pair or a cross in a contrasting colour over the cell's own.
                let mark = style.fg(p.cursor(v)).add_modifier(Modifier::BOLD);
                if cols_per_cell == 2 {
                    put(buf, x, y, '[', mark);
                    put(buf, x + 1, y, ']', mark);
                } else {
                    put(buf, x, y, 'X', mark);
                }
            }
        }
    }

    /// Rows `row` and `row + 1` of a column in one terminal cell: '▀' with the upper colour as fg
    /// and the lower as bg. A blank (NaN) upper half needs '▄' instead, since a Reset fg would draw
    /// the terminal's foreground colour, not its background. The cursor's half is drawn in the
    /// contrasting colour.
    fn half_blocks(&self, buf: &mut Buffer, x: u16, y: u16, row: usize, col: usize) {
        let p = self.palette;
        let cursor = self.view.cursor();
        let half = |r: usize| {
            let v = self.value(r, col);
            if (r, col) == cursor {
                p.cursor(v)
            } else {
                p.color(v)
            }
        };
        let (upper, lower) = (half(row), half(row + 1));
        let (glyph, style) = match (upper, lower) {
            (Color::Reset, Color::Reset) => (' ', Style::new().bg(Color::Reset)),
            (Color::Reset, lower) => ('▄', Style::new().fg(lower).bg(Color::Reset)),
            (upper, lower) => ('▀', Style::new().fg(upper).bg(lower)),
        };
        put(buf, x, y, glyph, style);
    }

    fn ticks(&self, r: &Regions, (row0, col0): (usize, usize), buf: &mut Buffer) {
        let view = self.view;
        let step = tick_step(view.zoom());
        let (cols_per_cell, cells_per_row) = view.zoom().geometry(self.palette.depth);
        let mut free = r.top.x;
        for tx in 0..r.top.width / cols_per_cell {
            let col = col0 + tx as usize;
            let x = r.top.x + tx * cols_per_cell;
            if col >= view.cols() || !view.op2(col).is_multiple_of(step) || x < free {
                continue;
            }
            let label = view.op2(col).to_string();
            buf.set_stringn(x, r.top.y, &label, (r.top.right() - x) as usize, Style::new());
            free = x + label.len() as u16 + 1;
        }
        let width = r.left.width.saturating_sub(1) as usize;
        for ty in 0..r.left.height {
            let first = row0 + (ty * cells_per_row) as usize;
            let tick = (first..first + cells_per_row as usize)
                .take_while(|&row| row < view.rows())
                .find(|&row| view.op1(row).is_multiple_of(step));
            if let Some(row) = tick {
                let label = format!("{:>width$}", view.op1(row));
                buf.set_stringn(r.left.x, r.left.y + ty, label, width, Style::new());
            }
        }
    }

    /// `-max ▇▇▇▇0▇▇▇▇ +max`, swatches from -max to +max, with " p99" when the scale is a
    /// percentile; as (symbol, style) per column of a line `width` columns wide.
    fn legend(&self, width: u16) -> Vec<(char, Style)> {
        let p = self.palette;
        let text = |s: &str| s.chars().map(|c| (c, Style::new())).collect::<Vec<_>>();
        if p.max <= 0.0 {
            return text("every legal cell is 0");
        }
        let (low, high) = (format!("{} ", short(-p.max)), format!(" +{}", short(p.max)));
        let suffix = if p.scale == Scale::P99 { " p99" } else { "" };
        let fixed = low.len() + 1 + high.len() + suffix.len();
        if (width as usize) < fixed {
            // Too narrow for both ends: the scale alone, never a truncated number.
            return text(&format!("±{}{suffix}", short(p.max)));
        }
        let k = ((width as usize - fixed) / 2).min(LEGEND_SWATCHES);
        let mut line = text(&low);
        line.extend((0..k).map(|i| self.swatch(-((k - i) as f32) / k as f32)));
        line.push(('0', Style::new()));
        line.extend((1..=k).map(|i| self.swatch(i as f32 / k as f32)));
        line.extend(text(&format!("{high}{suffix}")));
        line
    }

    /// The legend's sample of `t × max`.
    fn swatch(&self, t: f32) -> (char, Style) {
        let p = self.palette;
        match p.depth {
            ColorDepth::Mono => (p.glyph(t * p.max), Style::new()),
            _ => (' ', Style::new().bg(p.color(t * p.max))),
        }
    }
}
