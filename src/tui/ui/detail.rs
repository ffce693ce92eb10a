//! The neuron detail: projection, labels, corpus exemplars, and the neuron's m over every token of
//! the text.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};
use ratatui::Frame;

use super::pane_block;
use crate::tui::app::{App, Focus};

const BARS: [char; 8] = ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█'];

pub fn draw(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let t = &app.theme;
    let Some(neuron) = app.detail_neuron else { return };
    // Only this neuron's numbers are shown; until they come, what is known without them is.
    let d = app.detail.as_ref().filter(|d| d.neuron == neuron);
    let generation = app.snapshot.as_ref().map(|s| s.generation);
    let state = match d {
        None if app.busy.is_some() => " · waiting for the run",
        None => " · computing…",
        Some(d) if Some(d.generation) != generation => " · updating…",
        Some(_) => "",
    };
    let block = pane_block(app, Focus::Detail, format!(" neuron {neuron}{state} "));
    let inner = if compact { area } else { block.inner(area) };
    let mut lines = Vec::new();
    let p = app.position().min(d.map_or(0, |d| d.m.len().saturating_sub(1)));
    if let Some((d, &m, &rank)) = d.and_then(|d| Some((d, d.m.get(p)?, d.rank.get(p)?))) {
        let d_ff = app.model.as_ref().map_or(0, |m| m.d_ff);
        lines.push(Line::from(vec![
            Span::raw(format!("{neuron}  ")),
            Span::styled(format!("m {m:+.3}"), if m >= 0.0 { t.positive } else { t.negative }),
            Span::raw(format!(
                "  s {:.3}  rank {rank}/{d_ff} at pos {p}  ‖v‖ {:.3}",
                m.abs() * d.value_norm,
                d.value_norm
            )),
        ]));
    } else {
        lines.push(Line::raw(format!("neuron {neuron}")));
    }
    let labels = app.labels.of(neuron);
    if labels.is_empty() {
        lines.push(Line::from(vec![Span::styled("labels: ", t.dim), Span::styled("none", t.accent)]));
    }
    for l in labels {
        let mut line =
            vec![Span::styled("label ", t.dim), Span::styled(format!("{} ({})", l.concept, l.source), t.accent)];
        // Labels read off activation maps (heuristic matches) come without evidence tokens.
        if !l.evidence.is_empty() {
            line.push(Span::styled("  evidence: ", t.dim));
            line.push(Span::raw(l.evidence.join(" ")));
        }
        lines.push(Line::from(line));
        if !l.answer.is_empty() {
            lines.push(Line::from(vec![Span::styled("  answer: ", t.dim), Span::raw(l.answer.clone())]));
        }
    }
    for v in app.labels.verdicts_of(neuron) {
        let mut text = format!("{} {} · {}", v.concept, v.verdict, v.time);
        if let Some(c) = &v.corrected {
            text.push_str(&format!(" · carries {c}"));
        }
        if let Some(n) = &v.note {
            text.push_str(&format!(" · {n}"));
        }
        lines.push(Line::from(vec![Span::styled("verdict ", t.dim), Span::styled(text, t.positive)]));
    }
    let tokens = |v: &[crate::tui::snapshot::TokenLogitView]| {
        v.iter().map(|x| x.token.text.as_str()).collect::<Vec<_>>().join(" ")
    };
    match d.map(|d| &d.projection).or_else(|| app.projections.get(&neuron)) {
        Some(projection) => {
            lines.push(Line::from(vec![
                Span::styled("promotes: ", t.dim),
                Span::styled(tokens(&projection.top), t.positive),
            ]));
            lines.push(Line::from(vec![
                Span::styled("suppresses: ", t.dim),
                Span::styled(tokens(&projection.bottom), t.negative),
            ]));
        }
        None => lines.push(Line::styled("promotes: computing…", t.dim)),
    }
    lines.extend(super::exemplars::lines(app, neuron, inner.width));
    let Some(d) = d else {
        let why = match (app.busy.is_some(), app.snapshot.is_some()) {
            (true, _) => "after the run",
            (false, false) => "no text yet: r runs the prompt",
            (false, true) => "computing…",
        };
        lines.push(Line::styled(format!("m over tokens: {why}"), t.dim));
        let p = Paragraph::new(lines).wrap(Wrap { trim: false });
        frame.render_widget(if compact { p } else { p.block(block) }, area);
        return;
    };
    // m over the text: one bar per token, in a window around the selected position.
    let width = inner.width as usize;
    let max = d.m.iter().fold(0f32, |a, &m| a.max(m.abs())).max(f32::MIN_POSITIVE);
    let start = p.saturating_sub(width / 2).min(d.m.len().saturating_sub(width));
    let bars: Vec<Span> =
        d.m.iter()
            .enumerate()
            .skip(start)
            .take(width)
            .map(|(i, &m)| {
                let level = ((m.abs() / max) * 7.0).round() as usize;
                let style = if i == p {
                    t.selected
                } else if m >= 0.0 {
                    t.positive
                } else {
                    t.negative
                };
                Span::styled(BARS[level.min(7)].to_string(), style)
            })
            .collect();
    lines.push(Line::styled(
        format!("m over tokens {start}..{} (max |m| {max:.2})", (start + width).min(d.m.len())),
        t.dim,
    ));
    lines.push(Line::from(bars));
    lines.push(Line::styled(format!("{:>5} {:<16} {:>8} {:>6}", "pos", "token", "m", "rank"), t.dim));
    let tokens = app.snapshot.as_ref().map(|s| &s.tokens[..]).unwrap_or(&[]);
    for (i, (&m, &rank)) in d.m.iter().zip(&d.rank).enumerate().skip(app.detail_scroll as usize) {
        let text = tokens.get(i).map_or("", |t| t.text.as_str());
        let line = Line::from(vec![
            Span::raw(format!("{i:>5} {text:<16.16} ")),
            Span::styled(format!("{m:>+8.3} "), if m >= 0.0 { t.positive } else { t.negative }),
            Span::raw(format!("{rank:>6}")),
        ]);
        lines.push(if i == p { line.style(t.selected) } else { line });
        if lines.len() > inner.height as usize {
            break;
        }
    }
    let p = Paragraph::new(lines).wrap(Wrap { trim: false });
    frame.render_widget(if compact { p } else { p.block(block) }, area);
}
