//! Review mode: the label under review with its neuron's promoted tokens, evidence, answer and
//! corpus exemplars, agreement so far, and the queue around it.
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::science::labels::agreement::Agreement;
use crate::science::labels::score::{by_scorer, Score};
use crate::tui::app::App;
use crate::tui::review::{Review, ReviewItem};

pub fn draw(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let Some(review) = app.review() else { return };
    let t = &app.theme;
    let title = format!(
        " review · {} · {}/{} · {} unchecked ",
        review.describe(),
        review.at + 1,
        review.len(),
        review.unchecked()
    );
    let block = Block::bordered().border_style(t.focus).title(Line::styled(title, t.title));
    let inner = if compact { area } else { block.inner(area) };
    if !compact {
        frame.render_widget(block, area);
    }
    let Some(item) = review.current() else {
        let text = match review.items {
            None => "loading the review queue…".to_string(),
            Some(_) => format!("no labels to review ({}); Esc leaves", review.describe()),
        };
        frame.render_widget(Paragraph::new(Span::styled(text, t.dim)), inner);
        return;
    };
    let queue_height = (inner.height / 3).clamp(3, 12);
    let [top, queue] = Layout::vertical([Constraint::Fill(1), Constraint::Length(queue_height)]).areas(inner);
    frame.render_widget(Paragraph::new(item_lines(app, review, item, top.width)).wrap(Wrap { trim: false }), top);
    frame.render_widget(Paragraph::new(queue_lines(app, review, queue_height as usize)), queue);
}

fn item_lines(app: &App, review: &Review, item: &ReviewItem, width: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    let l = &item.label;
    let field = |name: &str, value: String, style: Style| {
        Line::from(vec![Span::styled(format!("{name:<12}"), t.dim), Span::styled(value, style)])
    };
    let mut lines = vec![Line::from(vec![
        Span::styled(format!("{}  ", l.neuron), t.title),
        Span::styled(l.concept.clone(), t.accent),
        Span::raw(format!("  {} said {}  ", l.source, said(l.applies))),
        Span::styled(status(item), if item.verdict.is_some() { t.positive } else { t.dim }),
    ])];
    let tokens = |top: bool| match app.projections.get(&l.neuron) {
        Some(p) => {
            let v = if top { &p.top } else { &p.bottom };
            v.iter().map(|x| x.token.text.as_str()).collect::<Vec<_>>().join(" ")
        }
        None => "…".into(),
    };
    lines.push(field("promotes", tokens(true), t.positive));
    lines.push(field("suppresses", tokens(false), t.negative));
    lines.push(field("evidence", l.evidence.join(" "), t.accent));
    lines.push(field("answer", if l.answer.is_empty() { "(none)".into() } else { l.answer.clone() }, t.dim));
    lines.push(field("scores", scores(item), t.accent));
    if let Some(v) = &item.verdict {
        if let Some(c) = &v.corrected {
            lines.push(field("corrected", c.clone(), t.accent));
        }
        if let Some(n) = &v.note {
            lines.push(field("note", n.clone(), t.dim));
        }
    }
    if let Some(note) = &review.note {
        lines.push(field("new note", note.clone(), t.accent));
    }
    lines.push(Line::raw(""));
    lines.extend(super::exemplars::lines(app, l.neuron, width));
    lines.push(Line::raw(""));
    lines.push(field("agreement", describe(&review.agreement.overall), t.title));
    lines.push(field("  said yes", describe(&review.agreement.said_yes), t.dim));
    lines.push(field("  said no", describe(&review.agreement.said_no), t.dim));
    for (concept, a) in &review.agreement.per_concept {
        lines.push(field("", format!("{concept}: {}", describe(a)), t.dim));
    }
    lines
}

fn status(item: &ReviewItem) -> String {
    match (&item.saving, &item.verdict) {
        (Some(kind), _) => format!("saving {kind}…"),
        (None, Some(v)) => format!("{} · saved {}", v.verdict, v.time),
        (None, None) => "unchecked".into(),
    }
}

/// `detection 0.81 · simulation failed (why) · seeds not scored`: every known scorer, then any
/// other that scored the label.
fn scores(item: &ReviewItem) -> String {
    let mine: Vec<&Score> = item.scores.iter().collect();
    let shown: Vec<String> = by_scorer(&mine)
        .into_iter()
        .map(|(scorer, score)| match score {
            Some(s) => format!("{scorer} {}", s.describe()),
            None => format!("{scorer} not scored"),
        })
        .collect();
    shown.join(" · ")
}

fn said(applies: bool) -> &'static str {
    if applies {
        "yes"
    } else {
        "no"
    }
}

/// Counts and rate of a group; an empty group says so rather than show a rate of nothing.
fn describe(a: &Agreement) -> String {
    if a.labels == 0 {
        return "no labels".into();
    }
    if a.checked == 0 {
        return format!("0 of {} checked · no verdicts yet", a.labels);
    }
    let rate = a.rate().map_or("- (only unsure verdicts)".to_string(), |r| format!("{:.0}%", r * 100.0));
    format!(
        "{} of {} checked · agreed {} · disagreed {} · unsure {} · rate {rate}",
        a.checked, a.labels, a.agreed, a.disagreed, a.unsure
    )
}

fn queue_lines(app: &App, review: &Review, height: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let items = review.items.as_deref().unwrap_or(&[]);
    let first = review.at.saturating_sub(height / 2).min(items.len().saturating_sub(height));
    items
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(i, item)| {
            let verdict = match (&item.saving, &item.verdict) {
                (Some(_), _) => "saving…".to_string(),
                (None, Some(v)) => v.verdict.to_string(),
                (None, None) => "-".into(),
            };
            let l = &item.label;
            let line = Line::raw(format!(
                "{} {:<10} {:<12} {:<14} {:<3} {:<9} {}",
                if i == review.at { '>' } else { ' ' },
                l.neuron.to_string(),
                l.concept,
                l.source,
                said(l.applies),
                verdict,
                l.evidence.join(" ")
            ));
            if i == review.at {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect()
}
