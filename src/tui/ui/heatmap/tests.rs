//! The heatmap widget drawn into a test backend, checked cell by cell.
use ratatui::backend::TestBackend;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::{Color, Modifier};
use ratatui::Terminal;

use super::*;

const NAN: f32 = f32::NAN;
const WHITE: Color = Color::Rgb(255, 255, 255);

/// 3 rows × 4 columns, max |v| = 2: every combination of colour and NaN over a row pair.
const SMALL: [f32; 12] = [
    1.0, -1.0, NAN, 0.0, //
    0.5, NAN, 0.1, -0.5, //
    2.0, -2.0, NAN, 1.0,
];

fn small_view(cursor: (usize, usize)) -> HeatmapView {
    let mut v = HeatmapView::new(0..3, 0..4);
    v.set_cursor(cursor.0, cursor.1);
    v
}

fn palette(depth: ColorDepth, values: &[f32]) -> Palette {
    Palette { depth, scale: Scale::Max, max: Scale::Max.of(values), light: false }
}

fn draw(values: &[f32], view: &HeatmapView, palette: &Palette, w: u16, h: u16) -> Buffer {
    let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
    terminal.draw(|f| f.render_widget(Heatmap::new(values, view, palette), f.area())).unwrap();
    terminal.backend().buffer().clone()
}

fn text(buf: &Buffer, y: u16) -> String {
    (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string()
}

#[track_caller]
fn assert_cell(buf: &Buffer, (x, y): (u16, u16), symbol: &str, fg: Color, bg: Color) {
    let c = &buf[(x, y)];
    assert_eq!((c.symbol(), c.fg, c.bg), (symbol, fg, bg), "cell ({x}, {y})");
}

#[test]
fn fine_zoom_packs_two_rows_into_each_terminal_row() {
    let p = palette(ColorDepth::TrueColor, &SMALL);
    let c = |v| p.color(v);
    let buf = draw(&SMALL, &small_view((2, 3)), &p, 10, 4);
    // A 2-column op1 axis, the op2 ticks on row 0, the map from (2, 1), the legend on row 3.
    assert_eq!(c(2.0), Color::Rgb(230, 60, 45));
    assert_eq!(c(-2.0), Color::Rgb(55, 115, 235));
    assert_cell(&buf, (2, 1), "▀", c(1.0), c(0.5));
    assert_cell(&buf, (3, 1), "▀", c(-1.0), Color::Reset);
    assert_cell(&buf, (4, 1), "▄", c(0.1), Color::Reset);
    assert_cell(&buf, (5, 1), "▀", Color::Rgb(40, 40, 40), c(-0.5));
    assert_cell(&buf, (2, 2), "▀", c(2.0), Color::Reset);
    assert_cell(&buf, (3, 2), "▀", c(-2.0), Color::Reset);
    assert_cell(&buf, (4, 2), " ", Color::Reset, Color::Reset);
    assert_cell(&buf, (6, 1), " ", Color::Reset, Color::Reset);
    assert_eq!(text(&buf, 0), "  0");
    assert_eq!(text(&buf, 1).chars().next(), Some('0'));
    assert_eq!(buf[(0, 2)].symbol(), " ", "row 2 has no tick");
}

#[test]
fn the_cursor_half_is_drawn_in_a_contrasting_colour() {
    let p = palette(ColorDepth::TrueColor, &SMALL);
    let c = |v| p.color(v);
    let buf = draw(&SMALL, &small_view((2, 3)), &p, 10, 4);
    assert_cell(&buf, (5, 2), "▀", WHITE, Color::Reset);
    let buf = draw(&SMALL, &small_view((1, 0)), &p, 10, 4);
    assert_cell(&buf, (2, 1), "▀", c(1.0), WHITE);
    assert_cell(&buf, (5, 2), "▀", c(1.0), Color::Reset);
    // On an illegal cell the cursor still shows, and the NaN upper half no longer needs '▄'.
    let buf = draw(&SMALL, &small_view((0, 2)), &p, 10, 4);
    assert_cell(&buf, (4, 1), "▀", WHITE, c(0.1));
}

#[test]
fn coarse_zoom_gives_each_cell_two_columns_and_brackets_the_cursor() {
    let p = palette(ColorDepth::TrueColor, &SMALL);
    let mut view = small_view((2, 3));
    view.fit(Rect::new(0, 0, 12, 5), p.depth);
    view.zoom_in();
    let buf = draw(&SMALL, &view, &p, 12, 5);
    for x in [2, 3] {
        assert_cell(&buf, (x, 1), " ", Color::Reset, p.color(1.0));
        assert_cell(&buf, (x, 2), " ", Color::Reset, p.color(0.5));
    }
    assert_cell(&buf, (6, 1), " ", Color::Reset, Color::Reset);
    assert_cell(&buf, (8, 3), "[", WHITE, p.color(1.0));
    assert_cell(&buf, (9, 3), "]", WHITE, p.color(1.0));
    assert!(buf[(8, 3)].modifier.contains(Modifier::BOLD));
    assert_eq!(text(&buf, 0), "  0");
}

#[test]
fn a_large_map_pans_to_the_cursor_and_the_ticks_follow_the_visible_cells() {
    let values: Vec<f32> = (0..3600).map(|i| (i % 7) as f32 - 3.0).collect();
    let value = |r: usize, c: usize| values[r * 60 + c];
    let p = palette(ColorDepth::TrueColor, &values);
    let mut view = HeatmapView::new(0..60, 0..60);
    view.set_cursor(55, 58);
    let unfitted = draw(&values, &view, &p, 30, 20);
    view.fit(Rect::new(0, 0, 30, 20), p.depth);
    // A 3-column axis leaves 27 columns; 18 map rows hold 36 cell rows.
    assert_eq!(view.origin(), (20, 32));
    let buf = draw(&values, &view, &p, 30, 20);
    assert_eq!(buf, unfitted, "the widget pans by itself when the caller did not fit");
    assert_cell(&buf, (3, 1), "▀", p.color(value(20, 32)), p.color(value(21, 32)));
    assert_cell(&buf, (29, 18), "▀", p.color(value(54, 58)), WHITE);
    for ty in 0..18u16 {
        let label: String = (0..2).map(|x| buf[(x, 1 + ty)].symbol()).collect();
        let want = if ty % 5 == 0 { format!("{}", 20 + 2 * ty) } else { "  ".into() };
        assert_eq!(label, want, "op1 tick of terminal row {ty}");
    }
    assert_eq!(text(&buf, 0), format!("{}40{}50", " ".repeat(11), " ".repeat(8)));
}

#[test]
fn the_256_colour_fallback_uses_indexed_colours_only() {
    let p = palette(ColorDepth::Indexed, &SMALL);
    let buf = draw(&SMALL, &small_view((2, 3)), &p, 10, 4);
    assert!(matches!(p.color(1.0), Color::Indexed(_)));
    assert_cell(&buf, (2, 1), "▀", p.color(1.0), p.color(0.5));
    assert_cell(&buf, (4, 1), "▄", p.color(0.1), Color::Reset);
    assert_cell(&buf, (5, 2), "▀", Color::Indexed(231), Color::Reset);
    assert!(buf.content.iter().all(|c| !matches!(c.fg, Color::Rgb(..)) && !matches!(c.bg, Color::Rgb(..))));
}

#[test]
fn the_monochrome_fallback_draws_one_glyph_per_cell() {
    let p = palette(ColorDepth::Mono, &SMALL);
    let buf = draw(&SMALL, &small_view((2, 3)), &p, 10, 5);
    assert_eq!(text(&buf, 1), "0 ▒= ·");
    assert_eq!(text(&buf, 2), "  ░ ·-");
    assert_eq!(text(&buf, 3), "  █# X");
    assert_eq!(text(&buf, 4), "±2.00", "too narrow for both ends");
    assert!(buf.content.iter().all(|c| c.fg == Color::Reset && c.bg == Color::Reset));
    assert!(buf[(5, 3)].modifier.contains(Modifier::BOLD));
    let wide = draw(&SMALL, &small_view((2, 3)), &p, 40, 5);
    assert_eq!(text(&wide, 4), "-2.00 ##≡≡==--0░░▒▒▓▓██ +2.00");
}

#[test]
fn the_legend_shows_the_scale_and_the_gradient() {
    let p = palette(ColorDepth::TrueColor, &SMALL);
    let buf = draw(&SMALL, &small_view((2, 3)), &p, 40, 4);
    assert_eq!(text(&buf, 3), format!("-2.00 {0}0{0} +2.00", " ".repeat(8)));
    assert_eq!(buf[(6, 3)].bg, p.color(-2.0));
    assert_eq!(buf[(13, 3)].bg, p.color(-0.25));
    assert_eq!(buf[(15, 3)].bg, p.color(0.25));
    assert_eq!(buf[(22, 3)].bg, p.color(2.0));
    let p99 = Palette { scale: Scale::P99, max: 0.04, ..p };
    assert_eq!(
        text(&draw(&SMALL, &small_view((0, 0)), &p99, 40, 4), 3),
        format!("-0.040 {0}0{0} +0.040 p99", " ".repeat(8))
    );
    let zero = palette(ColorDepth::TrueColor, &[0.0, NAN]);
    assert_eq!(text(&draw(&[0.0, NAN], &HeatmapView::new(0..1, 0..2), &zero, 40, 4), 3), "every legal cell is 0");
}

#[test]
fn tiny_areas_render_without_panicking_and_keep_the_cursor_visible() {
    let values: Vec<f32> = (0..3600).map(|i| (i % 11) as f32 - 5.0).collect();
    let mut view = HeatmapView::new(0..60, 0..60);
    view.set_cursor(55, 58);
    for depth in [ColorDepth::TrueColor, ColorDepth::Indexed, ColorDepth::Mono] {
        let p = palette(depth, &values);
        for zoom_in in [false, true] {
            let mut view = view.clone();
            if zoom_in {
                view.zoom_in();
            }
            for (w, h) in [(1, 1), (2, 1), (5, 3), (3, 5), (5, 1), (4, 2), (1, 30)] {
                view.fit(Rect::new(0, 0, w, h), depth);
                draw(&values, &view, &p, w, h);
            }
        }
        draw(&[], &HeatmapView::new(0..0, 0..0), &p, 5, 3);
    }
    // 5×3: the axis takes 3 columns, leaving two cells; the cursor (row 55) is the lower half.
    let p = palette(ColorDepth::TrueColor, &values);
    let buf = draw(&values, &view, &p, 5, 3);
    assert_eq!(buf[(4, 1)].bg, WHITE);
}
