//! Compare mode's panes of each side: the prompt, the tokens with the next-token candidates at the
//! selected position, and the selected layer's neurons, ◆ marking those the other side does not
//! list at its aligned position. Both lists scroll together.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};
use ratatui::Frame;

use super::layout::Regions;
use super::{pane_block, summary, tokens};
use crate::engine::neuron::{NeuronHit, NeuronId};
use crate::science::analysis::ablation::AblationMode;
use crate::science::analysis::changes::Changes;
use crate::tui::app::{App, Focus};
use crate::tui::compare::{self, Side};
use crate::tui::snapshot::Snapshot;

/// Marks a neuron listed on this side only.
pub const ONLY_HERE: char = '◆';
/// Marks a neuron marked for an intervention.
pub const MARKED: char = '●';

pub fn draw(frame: &mut Frame, app: &App, r: &Regions) {
    for side in [Side::A, Side::B] {
        let pick = |a: Rect, b: Rect| if side == Side::A { a } else { b };
        if pick(r.prompt, r.prompt_b).area() > 0 {
            prompt(frame, app, side, pick(r.prompt, r.prompt_b));
        }
        if pick(r.tokens, r.tokens_b).area() > 0 {
            strip(frame, app, side, pick(r.tokens, r.tokens_b));
        }
        layer(frame, app, side, pick(r.layers, r.layers_b), r.compact);
    }
    if r.bars.area() > 0 {
        summary::bars(frame, app, r.bars);
    }
    summary::concepts(frame, app, r.summary, r.compact);
}

/// The snapshot and selected position of `side`.
pub fn side_of(app: &App, side: Side) -> Option<(&Snapshot, usize)> {
    match side {
        Side::A => app.snapshot.as_deref().filter(|s| !s.is_empty()).map(|s| (s, app.position().min(s.len() - 1))),
        Side::B => app.compare.snapshot.as_deref().zip(app.position_b()),
    }
}

fn block(app: &App, side: Side, focus: Focus, title: String) -> Block<'static> {
    // B's panes take no focus of their own: keys move both sides through A's.
    let block = pane_block(app, focus, title);
    if side == Side::B {
        block.border_style(app.theme.border)
    } else {
        block
    }
}

fn prompt(frame: &mut Frame, app: &App, side: Side, area: Rect) {
    let (editor, editing) = match side {
        Side::A => (&app.prompt, app.editing() == Some(Side::A)),
        Side::B => (&app.compare.prompt, app.editing() == Some(Side::B)),
    };
    let mut title = format!(" {} · prompt{} ", side.name(), if editing { " · editing" } else { "" });
    if side == Side::B && !app.compare.changes.is_empty() {
        let base = if app.compare.last_prompt == app.last_prompt { "A's prompt" } else { "prompt" };
        title = format!(" B · {base} with {} ", app.compare.changes.describe());
    }
    let block = block(app, side, Focus::Prompt, title);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    frame.render_widget(editor, inner);
}

/// `pos 57 (+2)`: the position and its distance from the last prompt token.
fn position_label(s: &Snapshot, p: usize) -> String {
    format!("pos {p} ({:+})", compare::offset(p, s))
}

fn strip(frame: &mut Frame, app: &App, side: Side, area: Rect) {
    let t = &app.theme;
    let Some((s, p)) = side_of(app, side) else {
        let text = if app.model.is_none() { "loading the model…" } else { "no text yet: r runs the prompt" };
        let p = Paragraph::new(Span::styled(text, t.dim));
        frame.render_widget(p.block(block(app, side, Focus::Tokens, format!(" {} · tokens ", side.name()))), area);
        return;
    };
    let title =
        format!(" {} · {} prompt + {} generated · {} ", side.name(), s.prompt_len, s.generated(), position_label(s, p));
    let block = block(app, side, Focus::Tokens, title);
    let inner = block.inner(area);
    let mut lines = tokens::strip(app, s, p, inner.width, inner.height.saturating_sub(1));
    let next = app.compare.next[side.index()].as_ref().filter(|n| n.position == p);
    let candidates = next.map_or_else(
        || "…".to_string(),
        |n| n.tokens.iter().map(|c| format!("{} {:.4}", c.token.text, c.prob)).collect::<Vec<_>>().join("  "),
    );
    lines.resize(inner.height.saturating_sub(1) as usize, Line::raw(""));
    lines.push(Line::from(vec![Span::styled("next: ", t.dim), Span::styled(candidates, t.accent)]));
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// The other side's neurons of `layer` at its aligned position, for the ◆ marks.
fn other_listed(app: &App, side: Side, layer: usize) -> Option<&[NeuronHit]> {
    let other = if side == Side::A { Side::B } else { Side::A };
    let (s, p) = side_of(app, other)?;
    s.top.get(p)?.get(layer).map(Vec::as_slice)
}

fn layer(frame: &mut Frame, app: &App, side: Side, area: Rect, compact: bool) {
    let t = &app.theme;
    let l = app.layer;
    let Some((s, p)) = side_of(app, side) else {
        let p = Paragraph::new(Span::styled("the layer lists fill once the prompts have run", t.dim));
        let title = format!(" {} · layer {l} ", side.name());
        frame.render_widget(if compact { p } else { p.block(block(app, side, Focus::Layers, title)) }, area);
        return;
    };
    let rows: &[NeuronHit] = match side {
        Side::A => app.rows.get(l),
        Side::B => app.compare.rows.get(l),
    }
    .map_or(&[], |r| r);
    let listed: &[NeuronHit] = s.top.get(p).and_then(|top| top.get(l)).map_or(&[], |v| v);
    let only = other_listed(app, side, l).map(|other| compare::only_in(listed, other));
    let selected = app.selected_neuron();
    let height = area.height.saturating_sub(if compact { 1 } else { 3 }) as usize;
    // Both lists start at the same row, so that they scroll together.
    let first = app.row.saturating_sub(height.saturating_sub(1));
    let mut lines =
        vec![Line::styled(format!("{:<7} {:>7} {:>6}    {:<16} promotes", "neuron", "m", "s", "labels"), t.dim)];
    for h in rows.iter().skip(first).take(height) {
        let id = NeuronId { layer: l as u32, index: h.index };
        let one_side = only.as_ref().is_some_and(|o| o.contains(&h.index));
        let marks: String = [
            if one_side { ONLY_HERE } else { ' ' },
            change_mark(&app.compare.changes, id).unwrap_or(if app.compare.marked.contains(&id) {
                MARKED
            } else {
                ' '
            }),
        ]
        .iter()
        .collect();
        let mut line = Line::from(vec![
            Span::raw(format!("{:<7} ", format!("N{}", h.index))),
            Span::styled(format!("{:>+7.2} ", h.m), if h.m >= 0.0 { t.positive } else { t.negative }),
            Span::raw(format!("{:>6.2} ", h.s)),
            Span::styled(format!("{marks} "), t.accent),
            Span::styled(format!("{:<16.16} ", app.labels.short(id)), t.accent),
            Span::raw(promoted(app, id)),
        ]);
        if Some(id) == selected && (side == Side::B || app.focus == Focus::Layers) {
            line = line.style(t.selected);
        }
        lines.push(line);
    }
    if rows.is_empty() {
        lines.push(Line::styled("no neuron passes the filter", t.dim));
    }
    let title = format!(
        " {} · layer {l} · {} '{}' · {ONLY_HERE} only in {} ",
        side.name(),
        position_label(s, p),
        s.tokens.get(p).map_or("", |t| t.text.as_str()),
        side.name()
    );
    let p = Paragraph::new(lines);
    frame.render_widget(if compact { p } else { p.block(block(app, side, Focus::Layers, title)) }, area);
}

/// One character saying how run B changes `id`, for the layer lists: ✗ zeroed, ~ noised, × scaled.
fn change_mark(changes: &Changes, id: NeuronId) -> Option<char> {
    match (changes.ablated.get(&id), changes.scaled.get(&id)) {
        (Some(AblationMode::Zero), _) => Some('✗'),
        (Some(AblationMode::Noise), _) => Some('~'),
        (None, Some(_)) => Some('×'),
        (None, None) => None,
    }
}

fn promoted(app: &App, id: NeuronId) -> String {
    app.projections
        .get(&id)
        .map(|p| p.top.iter().take(4).map(|t| t.token.text.as_str()).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|| "…".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_change_has_its_mark() {
        let (a, b, c) =
            (NeuronId { layer: 1, index: 7 }, NeuronId { layer: 2, index: 3 }, NeuronId { layer: 0, index: 1 });
        let mut changes = Changes::default();
        changes.ablate(&[a, b], AblationMode::Zero);
        changes.scale(b, 3.0);
        changes.ablate(&[c], AblationMode::Noise);
        let marks = [a, b, c, NeuronId { layer: 0, index: 2 }].map(|id| change_mark(&changes, id));
        assert_eq!(marks, [Some('✗'), Some('×'), Some('~'), None]);
    }
}
