//! The heatmap's view state: the grid's shape, the cursor, the viewport and the zoom. A grid larger
//! than the pane is panned, never pooled: averaging cells would hide the mod-2/3 stripes the maps
//! are read for.
use std::ops::Range;

use ratatui::layout::Rect;

use super::palette::ColorDepth;
use super::widget::regions;

/// Terminal space per grid cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zoom {
    /// One column and half a row per cell ('▀' packs two rows), so 50×50 cells take 50×25.
    /// In Mono a glyph cannot be split, so a cell takes a whole row.
    Fine,
    /// Two columns and one row per cell, for reading single cells.
    Coarse,
}

impl Zoom {
    /// (terminal columns per cell, cells per terminal row).
    pub(super) fn geometry(self, depth: ColorDepth) -> (u16, u16) {
        match (self, depth) {
            (Zoom::Fine, ColorDepth::Mono) => (1, 1),
            (Zoom::Fine, _) => (1, 2),
            (Zoom::Coarse, _) => (2, 1),
        }
    }
}

/// The view of one operand grid: rows are op1, columns op2, cells `(row, col)` from the top left.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeatmapView {
    op1: Range<u32>,
    op2: Range<u32>,
    cursor: (usize, usize),
    /// The top-left cell shown.
    origin: (usize, usize),
    zoom: Zoom,
    /// The widget area and depth of the last [`fit`](Self::fit): pages and zooms are sized by them.
    area: Rect,
    depth: ColorDepth,
}

impl HeatmapView {
    /// The view of the grid `op1 × op2` (the ranges of a `GridSpec`), cursor at the top left, Fine.
    pub fn new(op1: Range<u32>, op2: Range<u32>) -> HeatmapView {
        HeatmapView {
            op1,
            op2,
            cursor: (0, 0),
            origin: (0, 0),
            zoom: Zoom::Fine,
            area: Rect::ZERO,
            depth: ColorDepth::Indexed,
        }
    }

    pub fn rows(&self) -> usize {
        self.op1.len()
    }

    pub fn cols(&self) -> usize {
        self.op2.len()
    }

    /// The op1 value of a row.
    pub fn op1(&self, row: usize) -> u32 {
        self.op1.start + row as u32
    }

    /// The op2 value of a column.
    pub fn op2(&self, col: usize) -> u32 {
        self.op2.start + col as u32
    }

    /// The cursor's (row, col); its row-major index into the map is `row * cols + col`.
    pub fn cursor(&self) -> (usize, usize) {
        self.cursor
    }

    /// The top-left (row, col) shown since the last fit.
    pub fn origin(&self) -> (usize, usize) {
        self.origin
    }

    pub fn zoom(&self) -> Zoom {
        self.zoom
    }

    /// Puts the cursor on a cell, clamped to the grid.
    pub fn set_cursor(&mut self, row: usize, col: usize) {
        self.cursor = (row.min(self.rows().saturating_sub(1)), col.min(self.cols().saturating_sub(1)));
    }

    /// Moves the cursor by cells (down and right are positive), stopping at the edges.
    pub fn move_by(&mut self, rows: isize, cols: isize) {
        let (r, c) = self.cursor;
        self.set_cursor(r.saturating_add_signed(rows), c.saturating_add_signed(cols));
    }

    /// Moves the cursor by pages: as many cells as the last fit showed.
    pub fn page_by(&mut self, rows: isize, cols: isize) {
        let (h, w) = self.visible(self.area, self.depth);
        self.move_by(rows * h.max(1) as isize, cols * w.max(1) as isize);
    }

    /// The cursor to the top-left cell.
    pub fn home(&mut self) {
        self.cursor = (0, 0);
    }

    /// The cursor to the bottom-right cell.
    pub fn end(&mut self) {
        self.set_cursor(usize::MAX, usize::MAX);
    }

    /// Coarse: bigger cells, for reading.
    pub fn zoom_in(&mut self) {
        self.set_zoom(Zoom::Coarse);
    }

    /// Fine: more cells on screen.
    pub fn zoom_out(&mut self) {
        self.set_zoom(Zoom::Fine);
    }

    /// Changes the zoom keeping the cursor at the same fraction of the window, so the eye does
    /// not have to search for it.
    fn set_zoom(&mut self, zoom: Zoom) {
        if zoom == self.zoom {
            return;
        }
        let (old_h, old_w) = self.visible(self.area, self.depth);
        self.zoom = zoom;
        let (new_h, new_w) = self.visible(self.area, self.depth);
        let keep = |cursor: usize, origin: usize, old: usize, new: usize| {
            cursor - (cursor.saturating_sub(origin) * new / old.max(1)).min(cursor)
        };
        self.origin =
            (keep(self.cursor.0, self.origin.0, old_h, new_h), keep(self.cursor.1, self.origin.1, old_w, new_w));
        self.fit(self.area, self.depth);
    }

    /// Pans the viewport as little as needed for the cursor to be visible when the widget is drawn
    /// into `area` at `depth`; call before drawing whenever the cursor, the area or the depth changed.
    pub fn fit(&mut self, area: Rect, depth: ColorDepth) {
        self.area = area;
        self.depth = depth;
        self.origin = self.panned(self.visible(area, depth));
    }

    /// Cells (rows, cols) the widget shows in `area`.
    pub(super) fn visible(&self, area: Rect, depth: ColorDepth) -> (usize, usize) {
        let map = regions(self, area).map;
        let (cols_per_cell, cells_per_row) = self.zoom.geometry(depth);
        ((map.height * cells_per_row) as usize, (map.width / cols_per_cell) as usize)
    }

    /// The origin that shows the cursor in a window of `visible` cells, without empty space past
    /// the grid's end. The widget uses it too, so a missed fit cannot hide the cursor.
    pub(super) fn panned(&self, (h, w): (usize, usize)) -> (usize, usize) {
        (follow(self.origin.0, self.cursor.0, h, self.rows()), follow(self.origin.1, self.cursor.1, w, self.cols()))
    }
}

/// One axis of [`HeatmapView::panned`]: `n` cells, `visible` of them shown from `origin`.
fn follow(origin: usize, cursor: usize, visible: usize, n: usize) -> usize {
    let visible = visible.max(1);
    let origin = if cursor < origin {
        cursor
    } else if cursor >= origin + visible {
        cursor + 1 - visible
    } else {
        origin
    };
    origin.min(n.saturating_sub(visible))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A 100×100 view fitted to a 40×22 area: a 3-column axis, a tick row and a legend row leave
    /// 37 columns × 20 rows, i.e. 40 rows × 37 columns of cells in Fine colour.
    fn fitted() -> HeatmapView {
        let mut v = HeatmapView::new(0..100, 0..100);
        v.fit(Rect::new(0, 0, 40, 22), ColorDepth::TrueColor);
        assert_eq!(v.visible(v.area, v.depth), (40, 37));
        v
    }

    #[test]
    fn the_cursor_clamps_at_the_edges() {
        let mut v = fitted();
        v.move_by(-1, -3);
        assert_eq!(v.cursor(), (0, 0));
        v.move_by(1, 2);
        assert_eq!(v.cursor(), (1, 2));
        v.move_by(500, 99);
        assert_eq!(v.cursor(), (99, 99));
        v.home();
        assert_eq!(v.cursor(), (0, 0));
        v.end();
        assert_eq!(v.cursor(), (99, 99));
        v.set_cursor(7, 1000);
        assert_eq!(v.cursor(), (7, 99));
        let mut empty = HeatmapView::new(0..0, 3..3);
        empty.move_by(1, 1);
        empty.end();
        assert_eq!(empty.cursor(), (0, 0));
    }

    #[test]
    fn the_viewport_follows_the_cursor_minimally() {
        let mut v = fitted();
        v.set_cursor(39, 36);
        v.fit(v.area, v.depth);
        assert_eq!(v.origin(), (0, 0), "the last visible cell needs no pan");
        v.move_by(1, 1);
        v.fit(v.area, v.depth);
        assert_eq!(v.origin(), (1, 1));
        v.move_by(-5, 0);
        v.fit(v.area, v.depth);
        assert_eq!(v.origin(), (1, 1), "inside the window: no pan");
        v.end();
        v.fit(v.area, v.depth);
        assert_eq!(v.origin(), (60, 63), "the window ends at the grid's end");
        v.home();
        v.fit(v.area, v.depth);
        assert_eq!(v.origin(), (0, 0));
    }

    #[test]
    fn pages_move_by_the_visible_cells() {
        let mut v = fitted();
        v.page_by(1, 0);
        assert_eq!(v.cursor(), (40, 0));
        v.page_by(1, 1);
        assert_eq!(v.cursor(), (80, 37));
        v.page_by(1, -1);
        assert_eq!(v.cursor(), (99, 0));
        let mut unfitted = HeatmapView::new(0..10, 0..10);
        unfitted.page_by(1, 1);
        assert_eq!(unfitted.cursor(), (1, 1), "before any fit a page is one cell");
    }

    #[test]
    fn zoom_keeps_the_cursor_visible_at_the_same_place() {
        let mut v = fitted();
        v.set_cursor(70, 80);
        v.fit(v.area, v.depth);
        assert_eq!(v.origin(), (31, 44), "cursor on the window's last row and column");
        v.zoom_in();
        assert_eq!(v.zoom(), Zoom::Coarse);
        // Coarse shows 20 rows × 18 columns of cells; the cursor stays on the last ones.
        assert_eq!(v.visible(v.area, v.depth), (20, 18));
        assert_eq!(v.origin(), (51, 63));
        v.zoom_out();
        // Back in Fine the cursor is again near the bottom-right (integer scaling rounds down).
        assert_eq!(v.origin(), (32, 46));
        v.set_cursor(50, 50);
        v.fit(v.area, v.depth);
        v.zoom_in();
        let (o, (h, w)) = (v.origin(), v.visible(v.area, v.depth));
        assert!((o.0..o.0 + h).contains(&50) && (o.1..o.1 + w).contains(&50), "{o:?}");
        // A cursor moved off screen without a fit is still brought into view by the zoom.
        v.home();
        v.zoom_out();
        assert_eq!(v.origin(), (0, 0));
    }

    #[test]
    fn mono_fine_cells_take_a_whole_row_and_small_grids_do_not_pan() {
        let mut v = fitted();
        v.fit(v.area, ColorDepth::Mono);
        assert_eq!(v.visible(v.area, v.depth), (20, 37));
        let mut small = HeatmapView::new(5..10, 0..3);
        small.end();
        small.fit(Rect::new(0, 0, 40, 22), ColorDepth::Indexed);
        assert_eq!(small.origin(), (0, 0));
    }
}
