//! A neuron's corpus exemplars as lines of a pane: a header naming the list and page shown and the
//! neuron's statistics, then one line per context, the position it was kept for bracketed and bold
//! after its m. Each token is shaded by the m the worker recomputed there, relative to the
//! neuron's largest |m| in the corpus, once that has come; a token without a finite m is not.
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};

use super::heatmap::{ColorDepth, Palette, Scale};
use crate::engine::neuron::NeuronId;
use crate::science::exemplars::BINS;
use crate::tui::app::App;
use crate::tui::exemplars::{bin_of_page, bin_range, ContextView, ExemplarList, Found, NeuronView, NO_EXEMPLARS};
use crate::tui::theme::ThemeName;

/// Width of the m before each context.
const M_WIDTH: usize = 9;

/// The exemplar lines of `neuron`, each at most `width` wide.
pub fn lines(app: &App, neuron: NeuronId, width: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    let x = app.exemplars();
    let view = match &x.found {
        None => return vec![Line::styled("exemplars: once the model has loaded", t.dim)],
        Some(Found::Nothing) => return vec![Line::styled(NO_EXEMPLARS, t.dim)],
        Some(Found::Broken(e)) => return vec![Line::styled(format!("exemplars: {e}"), t.error)],
        Some(Found::File(_)) => match x.view_of(neuron) {
            None => return vec![Line::styled("exemplars: reading…", t.dim)],
            Some(Err(e)) => return vec![Line::styled(format!("exemplars: {e}"), t.error)],
            Some(Ok(view)) => view,
        },
    };
    let page = view.page(x.list, x.page);
    let shading = page.iter().any(|c| !x.shading.contains_key(&c.key()));
    let mut title = vec![Span::styled("exemplars · ", t.dim), Span::styled(list_title(view, x.list, x.page), t.title)];
    if shading && app.model().is_some() {
        title.push(Span::styled(" · shading…", t.dim));
    }
    let mut out = vec![Line::from(title), stats_line(app, view)];
    if page.is_empty() {
        let why = match x.list {
            ExemplarList::Bins => "no position of the corpus fell in this bin",
            _ => "no positions kept",
        };
        out.push(Line::styled(format!("  ({why})"), t.dim));
    }
    let palette = Palette {
        depth: ColorDepth::for_theme(t.name),
        scale: Scale::Max,
        max: view.stats.scale,
        light: t.name == ThemeName::Light,
    };
    for c in page {
        out.push(context_line(app, c, x.shading.get(&c.key()).map(Vec::as_slice), &palette, width as usize));
    }
    out
}

fn list_title(view: &NeuronView, list: ExemplarList, page: usize) -> String {
    match list {
        ExemplarList::Bins => {
            let bin = bin_of_page(page);
            let edge = |e: Option<f32>, none: &str| e.map_or(none.to_string(), |e| format!("{e}"));
            let (low, high) = bin_range(bin);
            format!(
                "bin {}/{BINS}: m in [{}, {}) × layer scale {:.3}",
                bin + 1,
                edge(low, "-∞"),
                edge(high, "∞"),
                view.stats.layer_scale
            )
        }
        _ => format!("{} · page {}/{}", list.describe(), page + 1, view.pages(list)),
    }
}

fn stats_line(app: &App, view: &NeuronView) -> Line<'static> {
    let t = &app.theme;
    let s = &view.stats;
    if s.positions == 0 {
        return Line::styled("no positions counted", t.dim);
    }
    Line::styled(
        format!(
            "mean {:+.3}  std {:.3}  max {:+.3}  min {:+.3}  top-K share {:.2}%  scale {:.3}  · {} positions",
            s.mean,
            s.std,
            s.max,
            s.min,
            s.top_k_fraction * 100.0,
            s.scale,
            s.positions
        ),
        t.dim,
    )
}

/// One context: its kept m, then as many tokens around the bracketed one as fit in `width`, a
/// quarter of the room after it.
fn context_line(app: &App, c: &ContextView, m: Option<&[f32]>, palette: &Palette, width: usize) -> Line<'static> {
    let t = &app.theme;
    let focus = c.context.focus;
    let kept = c.context.record.m;
    let mut spans = vec![Span::styled(format!("{kept:>+8.3} "), if kept >= 0.0 { t.positive } else { t.negative })];
    let room = width.saturating_sub(M_WIDTH + 2);
    let w = |i: usize| unicode_width::UnicodeWidthStr::width(c.texts[i].as_str());
    let (mut lo, mut hi, mut used) = (focus, focus + 1, w(focus));
    while hi < c.texts.len() && used + w(hi) <= room / 4 + w(focus) {
        used += w(hi);
        hi += 1;
    }
    while lo > 0 && used + w(lo - 1) <= room {
        lo -= 1;
        used += w(lo);
    }
    while hi < c.texts.len() && used + w(hi) <= room {
        used += w(hi);
        hi += 1;
    }
    for i in lo..hi {
        let value = m.and_then(|m| m.get(i)).copied().unwrap_or(f32::NAN);
        let mut style = shade(palette, value);
        if i == focus {
            spans.push(Span::styled("[", t.accent));
            style = style.add_modifier(Modifier::BOLD);
        }
        spans.push(Span::styled(c.texts[i].clone(), style));
        if i == focus {
            spans.push(Span::styled("]", t.accent));
        }
    }
    Line::from(spans)
}

/// A token's shading: its m's colour as a background, none for NaN (or without colours).
fn shade(palette: &Palette, m: f32) -> Style {
    if m.is_nan() || palette.depth == ColorDepth::Mono {
        return Style::new();
    }
    Style::new().bg(palette.color(m))
}
