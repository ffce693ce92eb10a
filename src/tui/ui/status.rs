//! The status bar (model, device, step, layer, key hints) and the line below it (messages, the
//! command line, the chord being typed).
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::engine::sampling::Sampling;
use crate::tui::action::Action;
use crate::tui::app::App;
use crate::tui::engine_messages::Job;
use crate::tui::keymap::Mode;
use crate::tui::label_build::BuildState;
use crate::tui::modes::LineKind;

/// The actions whose keys the status bar shows, per mode.
fn hints(mode: Mode) -> &'static [(Action, &'static str)] {
    match mode {
        Mode::Normal => &[
            (Action::Help, "help"),
            (Action::RunPrompt, "run"),
            (Action::Step, "step"),
            (Action::Compare, "compare"),
            (Action::CommandLine, "cmd"),
        ],
        Mode::Prompt => &[(Action::Cancel, "done"), (Action::RunPrompt, "run"), (Action::Undo, "undo")],
        Mode::Line => &[(Action::Confirm, "ok"), (Action::Cancel, "close")],
        Mode::Help => &[(Action::Cancel, "close")],
        Mode::Picker => &[(Action::Confirm, "load"), (Action::Cancel, "close")],
        Mode::Review => &[
            (Action::Agree, "agree"),
            (Action::Disagree, "disagree"),
            (Action::Unsure, "unsure"),
            (Action::Note, "note"),
            (Action::Correct, "correct"),
            (Action::Cancel, "leave"),
        ],
        Mode::Heatmap => &[
            (Action::ToggleMap, "K/KV"),
            (Action::Zoom, "zoom"),
            (Action::NextNeuron, "next neuron"),
            (Action::NextLayer, "next layer"),
            (Action::Cancel, "close"),
        ],
    }
}

pub fn draw_status(frame: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut parts: Vec<String> = Vec::new();
    match &app.model {
        Some(m) => {
            parts.push(m.name.trim_end_matches(".gguf").to_string());
            parts.push(format!("{} {}", m.device, m.compute.name()));
        }
        None => parts.push("no model yet".into()),
    }
    if let Some(s) = &app.snapshot {
        parts.push(format!("step {}", s.generated()));
        parts.push(format!("pos {}/{}", app.position().min(s.len().saturating_sub(1)), s.len()));
    }
    if app.layers() > 0 {
        parts.push(format!("L{}", app.layer));
    }
    parts.push(format!("K={}", app.settings.top_k));
    parts.extend(labels(app));
    parts.push(match app.settings.sampling() {
        Sampling::Greedy => "greedy".into(),
        Sampling::Random { temperature, seed, .. } => format!("T{temperature} seed {seed}"),
    });
    let c = &app.compare;
    if c.open {
        parts.push(format!("compare {}", c.drive.describe()));
    }
    if !c.changes.is_empty() {
        parts.push(format!("B: {} changed", c.changes.len()));
    }
    if !c.marked.is_empty() {
        parts.push(format!("{} marked", c.marked.len()));
    }
    // Run B is named only while it computes beside A.
    for (side, busy) in [("", app.busy), ("B ", c.busy.filter(|_| c.open))] {
        let Some(b) = busy else { continue };
        let what = match b.job {
            Job::Loading => "loading",
            Job::Prefill => "prefill",
            Job::Generating => "generating",
            Job::Grid => "grid",
            Job::Knockout => "knockout",
        };
        parts.push(if b.total > 0 {
            format!("⟳ {side}{what} {}/{}", b.done, b.total)
        } else {
            format!("⟳ {side}{what}")
        });
    }
    let mode = app.mode();
    let mut keys: Vec<String> = hints(mode)
        .iter()
        .filter_map(|(a, name)| app.keymap.keys_for(mode, *a).map(|k| format!("{k} {name}")))
        .collect();
    let left = format!(" {}", parts.join(" │ "));
    // The hints that fit, first ones first (help leads).
    let room = |keys: &[String]| left.chars().count() + keys.join("  ").chars().count() + 2 <= area.width as usize;
    while !keys.is_empty() && !room(&keys) {
        keys.pop();
    }
    let right = format!("{} ", keys.join("  "));
    let pad = (area.width as usize).saturating_sub(left.chars().count() + right.chars().count());
    let line = if pad > 0 && !keys.is_empty() { format!("{left}{}{right}", " ".repeat(pad)) } else { left };
    frame.render_widget(Paragraph::new(line).style(t.status), area);
}

/// The label sources loaded with their label counts, what the background build is doing, or
/// why there are none.
fn labels(app: &App) -> Vec<String> {
    let mut parts = Vec::new();
    let counts = app.labels.counts();
    if !counts.is_empty() {
        let each: Vec<String> = counts.iter().map(|(source, n)| format!("{source} {n}")).collect();
        parts.push(format!("labels {}", each.join(", ")));
    }
    match app.label_build() {
        state if state.is_running() => parts.push(format!("⟳ {}", state.describe().unwrap_or_default())),
        _ if !counts.is_empty() => {}
        BuildState::Off { .. } | BuildState::Failed(_) => {
            let key = app.keymap.keys_for(Mode::Normal, Action::BuildLabels);
            parts.push(key.map_or("no labels".into(), |k| format!("no labels ({k} builds)")));
        }
        BuildState::Done { .. } => parts.push("no labels: the lexicon found none".into()),
        BuildState::NotNeeded => parts.push("no labels".into()),
        _ => {}
    }
    parts
}

pub fn draw_line(frame: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    if let Some((kind, line)) = app.modes.line() {
        let prefix = match kind {
            LineKind::Command => ":",
            LineKind::Search => "/",
            LineKind::Note => "note: ",
            LineKind::Correct => "carries instead: ",
        };
        let text = line.lines().join(" ");
        let cursor = line.cursor().1;
        frame.render_widget(Paragraph::new(format!("{prefix}{text}")), area);
        frame.set_cursor_position((area.x + prefix.chars().count() as u16 + cursor as u16, area.y));
        return;
    }
    if !app.pending.is_empty() {
        let keys: String = app.pending.iter().map(|k| k.to_string()).collect();
        let more = app.keymap.continuations(app.mode(), &app.pending);
        frame.render_widget(
            Paragraph::new(Line::from(vec![Span::styled(format!("{keys} … "), t.accent), Span::raw(more)])),
            area,
        );
        return;
    }
    if let Some((text, error)) = &app.message {
        frame.render_widget(Paragraph::new(Span::styled(text.clone(), if *error { t.error } else { t.dim })), area);
    }
}
