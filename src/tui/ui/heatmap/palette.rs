//! The diverging palette of the heatmap: blue below 0, a neutral near the background at 0, red
//! above, scaled per map; 24-bit colour, the nearest of the 256 indexed colours, or glyphs alone.
use ratatui::style::Color;

use crate::tui::theme::ThemeName;

/// How the terminal can show the palette.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColorDepth {
    /// 24-bit colour.
    TrueColor,
    /// The 256 indexed colours: the 6×6×6 cube and the grey ramp.
    Indexed,
    /// No colour: magnitude by glyph density, one glyph per cell.
    Mono,
}

impl ColorDepth {
    /// The depth for a theme in this terminal. Plain (NO_COLOR) and Basic are Mono: a gradient
    /// needs more than the 16 ANSI colours. The others get 24-bit colour where `COLORTERM` says so.
    pub fn for_theme(theme: ThemeName) -> ColorDepth {
        Self::detect(theme, std::env::var("COLORTERM").ok().as_deref())
    }

    fn detect(theme: ThemeName, colorterm: Option<&str>) -> ColorDepth {
        match theme {
            ThemeName::Plain | ThemeName::Basic => ColorDepth::Mono,
            _ if matches!(colorterm, Some("truecolor" | "24bit")) => ColorDepth::TrueColor,
            _ => ColorDepth::Indexed,
        }
    }
}

/// What ±1 of the palette stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scale {
    /// The map's max |value|.
    Max,
    /// The 99th percentile of |value|: a few outliers do not wash the rest out (they saturate).
    P99,
}

impl Scale {
    /// The scale of a map; NaN (illegal) cells are left out, and 0 for a map with no legal cell.
    pub fn of(self, values: &[f32]) -> f32 {
        let mut abs: Vec<f32> = values.iter().filter(|v| !v.is_nan()).map(|v| v.abs()).collect();
        if abs.is_empty() {
            return 0.0;
        }
        match self {
            Scale::Max => abs.iter().fold(0.0, |a, &b| a.max(b)),
            Scale::P99 => {
                // Nearest rank: the smallest value at or above 99% of the cells.
                let k = ((abs.len() as f64 * 0.99).ceil() as usize).clamp(1, abs.len()) - 1;
                *abs.select_nth_unstable_by(k, f32::total_cmp).1
            }
        }
    }
}

/// Ends and centre of the gradient.
const RED: [u8; 3] = [230, 60, 45];
const BLUE: [u8; 3] = [55, 115, 235];
const NEUTRAL_DARK: [u8; 3] = [40, 40, 40];
const NEUTRAL_LIGHT: [u8; 3] = [232, 232, 232];

/// Glyphs by magnitude level 0..=4 (level 0 is a legal cell near 0, distinct from a blank NaN).
const POSITIVE_GLYPHS: [char; 5] = ['·', '░', '▒', '▓', '█'];
const NEGATIVE_GLYPHS: [char; 5] = ['·', '-', '=', '≡', '#'];

/// A map's palette: `max` is the |value| drawn at full colour (see [`Scale::of`]).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Palette {
    pub depth: ColorDepth,
    /// How `max` was chosen, for the legend.
    pub scale: Scale,
    pub max: f32,
    /// A light terminal background: the neutral centre is light grey instead of dark.
    pub light: bool,
}

impl Palette {
    /// The palette of `values` (row-major, NaN = illegal) for a theme in this terminal.
    pub fn for_theme(theme: ThemeName, values: &[f32], scale: Scale) -> Palette {
        Palette { depth: ColorDepth::for_theme(theme), scale, max: scale.of(values), light: theme == ThemeName::Light }
    }

    /// `v / max` clamped to ±1; an all-zero map has every cell at 0.
    fn unit(&self, v: f32) -> f32 {
        if self.max > 0.0 {
            (v / self.max).clamp(-1.0, 1.0)
        } else {
            0.0
        }
    }

    /// The 24-bit colour of a value, None for NaN.
    fn rgb(&self, v: f32) -> Option<[u8; 3]> {
        if v.is_nan() {
            return None;
        }
        let t = self.unit(v);
        let neutral = if self.light { NEUTRAL_LIGHT } else { NEUTRAL_DARK };
        let end = if t < 0.0 { BLUE } else { RED };
        let mix = |i: usize| (neutral[i] as f32 + (end[i] as f32 - neutral[i] as f32) * t.abs()).round() as u8;
        Some([mix(0), mix(1), mix(2)])
    }

    fn encode(&self, [r, g, b]: [u8; 3]) -> Color {
        match self.depth {
            ColorDepth::TrueColor => Color::Rgb(r, g, b),
            ColorDepth::Indexed => Color::Indexed(nearest_indexed([r, g, b])),
            ColorDepth::Mono => Color::Reset,
        }
    }

    /// The colour of a cell: Reset (the terminal's own background) for NaN and in Mono.
    pub fn color(&self, v: f32) -> Color {
        self.rgb(v).map_or(Color::Reset, |c| self.encode(c))
    }

    /// The Mono glyph of a cell: blank for NaN, denser for larger |v|, another set below 0.
    pub(super) fn glyph(&self, v: f32) -> char {
        if v.is_nan() {
            return ' ';
        }
        let t = self.unit(v);
        let level = (t.abs() * 4.0).round() as usize;
        if t < 0.0 {
            NEGATIVE_GLYPHS[level]
        } else {
            POSITIVE_GLYPHS[level]
        }
    }

    /// The cursor's colour on a cell: black or white, whichever stands out from the cell's colour
    /// (a NaN cell shows the neutral background).
    pub(super) fn cursor(&self, v: f32) -> Color {
        let neutral = if self.light { NEUTRAL_LIGHT } else { NEUTRAL_DARK };
        let [r, g, b] = self.rgb(v).unwrap_or(neutral);
        let luma = 0.299 * r as f32 + 0.587 * g as f32 + 0.114 * b as f32;
        self.encode(if luma > 140.0 { [0, 0, 0] } else { [255, 255, 255] })
    }
}

/// The indexed colour nearest to `rgb`: the best of the 6×6×6 cube (16..=231) and the grey ramp
/// (232..=255, which resolves the greys near 0 more finely than the cube).
fn nearest_indexed(rgb: [u8; 3]) -> u8 {
    const LEVELS: [u8; 6] = [0, 95, 135, 175, 215, 255];
    let dist = |a: [u8; 3]| (0..3).map(|i| (a[i] as i32 - rgb[i] as i32).pow(2)).sum::<i32>();
    let level = |c: u8| (0..6).min_by_key(|&i| (LEVELS[i] as i32 - c as i32).abs()).unwrap_or(0);
    let (r, g, b) = (level(rgb[0]), level(rgb[1]), level(rgb[2]));
    let cube = (16 + 36 * r + 6 * g + b) as u8;
    let cube_rgb = [LEVELS[r], LEVELS[g], LEVELS[b]];
    let mean = (rgb.iter().map(|&c| c as i32).sum::<i32>() / 3).clamp(8, 238);
    let step = ((mean - 8 + 5) / 10).min(23);
    let grey = 8 + 10 * step as u8;
    if dist([grey; 3]) < dist(cube_rgb) {
        232 + step as u8
    } else {
        cube
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn palette(depth: ColorDepth, max: f32) -> Palette {
        Palette { depth, scale: Scale::Max, max, light: false }
    }

    #[test]
    fn the_scale_skips_nan_and_p99_ignores_outliers() {
        let mut v: Vec<f32> = (1..=200).map(|i| i as f32 / 100.0).collect();
        v.push(-1000.0);
        v.push(f32::NAN);
        assert_eq!(Scale::Max.of(&v), 1000.0);
        // 201 legal cells: rank ceil(0.99 × 201) = 199 of the sorted |v|, i.e. 1.99.
        assert_eq!(Scale::P99.of(&v), 1.99);
        assert_eq!(Scale::Max.of(&[f32::NAN]), 0.0);
        assert_eq!(Scale::P99.of(&[]), 0.0);
    }

    #[test]
    fn zero_is_neutral_the_ends_are_blue_and_red_and_nan_is_the_background() {
        let p = palette(ColorDepth::TrueColor, 2.0);
        assert_eq!(p.color(0.0), Color::Rgb(40, 40, 40));
        assert_eq!(p.color(2.0), Color::Rgb(230, 60, 45));
        assert_eq!(p.color(-5.0), Color::Rgb(55, 115, 235), "beyond the scale saturates");
        assert_eq!(p.color(1.0), Color::Rgb(135, 50, 43), "halfway between neutral and red");
        assert_eq!(p.color(f32::NAN), Color::Reset);
        assert_eq!(Palette { light: true, ..p }.color(0.0), Color::Rgb(232, 232, 232));
        assert_eq!(palette(ColorDepth::TrueColor, 0.0).color(3.0), Color::Rgb(40, 40, 40), "all-zero map");
    }

    #[test]
    fn indexed_colours_are_the_nearest_of_the_cube_and_grey_ramp() {
        assert_eq!(nearest_indexed([40, 40, 40]), 235, "grey 38 of the ramp");
        assert_eq!(nearest_indexed([255, 0, 0]), 196);
        assert_eq!(nearest_indexed([0, 0, 255]), 21);
        assert_eq!(nearest_indexed([255, 255, 255]), 231);
        assert_eq!(nearest_indexed([0, 0, 0]), 16);
        let p = palette(ColorDepth::Indexed, 1.0);
        assert_eq!(p.color(1.0), Color::Indexed(nearest_indexed(RED)));
        assert_eq!(p.color(-1.0), Color::Indexed(nearest_indexed(BLUE)));
        assert_eq!(p.color(f32::NAN), Color::Reset);
    }

    #[test]
    fn mono_glyphs_grow_with_magnitude_and_differ_by_sign() {
        let p = palette(ColorDepth::Mono, 4.0);
        let glyphs: String = [f32::NAN, 0.0, 0.2, 1.0, 2.0, 3.0, 4.0, -1.0, -4.0].iter().map(|&v| p.glyph(v)).collect();
        assert_eq!(glyphs, " ··░▒▓█-#");
        assert_eq!(p.color(4.0), Color::Reset);
    }

    #[test]
    fn the_cursor_contrasts_with_its_cell() {
        let p = palette(ColorDepth::TrueColor, 1.0);
        assert_eq!(p.cursor(0.0), Color::Rgb(255, 255, 255));
        assert_eq!(p.cursor(f32::NAN), Color::Rgb(255, 255, 255));
        assert_eq!(Palette { light: true, ..p }.cursor(0.0), Color::Rgb(0, 0, 0));
        assert_eq!(palette(ColorDepth::Indexed, 1.0).cursor(1.0), Color::Indexed(231));
    }

    #[test]
    fn the_depth_follows_the_theme_and_colorterm() {
        assert_eq!(ColorDepth::detect(ThemeName::Dark, Some("truecolor")), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::detect(ThemeName::Light, Some("24bit")), ColorDepth::TrueColor);
        assert_eq!(ColorDepth::detect(ThemeName::Dark, None), ColorDepth::Indexed);
        assert_eq!(ColorDepth::detect(ThemeName::Plain, Some("truecolor")), ColorDepth::Mono);
        assert_eq!(ColorDepth::detect(ThemeName::Basic, None), ColorDepth::Mono);
    }
}
