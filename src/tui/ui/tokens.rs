//! The tokens strip: prompt and generated tokens, wrapped, the selected position highlighted.
use ratatui::layout::{Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;
use unicode_width::UnicodeWidthStr;

use super::pane_block;
use crate::tui::app::{App, Focus};
use crate::tui::snapshot::Snapshot;

/// Longest token text shown in full; longer ones are cut with `…`.
const MAX_TOKEN: usize = 16;

/// One token laid out: its position, column and width within a line.
#[derive(Debug, Clone, Copy)]
struct Cell {
    position: usize,
    x: u16,
    width: u16,
}

fn label(text: &str) -> String {
    if text.chars().count() > MAX_TOKEN {
        format!("{}…", text.chars().take(MAX_TOKEN - 1).collect::<String>())
    } else if text.is_empty() {
        "∅".into()
    } else {
        text.to_string()
    }
}

/// Wraps the tokens into lines of `width` columns.
fn lines(s: &Snapshot, width: u16) -> Vec<Vec<Cell>> {
    let mut out = vec![Vec::new()];
    let mut x = 0u16;
    for (p, t) in s.tokens.iter().enumerate() {
        let w = label(&t.text).width() as u16 + 1;
        if x + w > width && x > 0 {
            out.push(Vec::new());
            x = 0;
        }
        out.last_mut().expect("never empty").push(Cell { position: p, x, width: w });
        x += w;
    }
    out
}

/// The first wrapped line shown so that the selected position is in view.
fn first_line(lines: &[Vec<Cell>], selected: usize, height: usize) -> usize {
    let at = lines.iter().position(|l| l.iter().any(|c| c.position == selected)).unwrap_or(0);
    at.saturating_sub(height.saturating_sub(1))
}

fn inner(app: &App, area: Rect, compact: bool) -> Rect {
    if compact {
        area
    } else {
        pane_block(app, Focus::Tokens, String::new()).inner(area)
    }
}

pub fn draw(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let t = &app.theme;
    let Some(s) = &app.snapshot else {
        let text = if app.model.is_some() { "no text yet: r runs the prompt" } else { "loading the model…" };
        let p = Paragraph::new(Span::styled(text, t.dim));
        frame.render_widget(if compact { p } else { p.block(pane_block(app, Focus::Tokens, " tokens ".into())) }, area);
        return;
    };
    let body = inner(app, area, compact);
    let text = strip(app, s, app.position(), body.width, body.height);
    let title = format!(
        " tokens · {} prompt + {} generated · pos {} ",
        s.prompt_len,
        s.generated(),
        app.position().min(s.len().saturating_sub(1))
    );
    let p = Paragraph::new(text);
    if compact {
        frame.render_widget(p, area);
    } else {
        frame.render_widget(p.block(pane_block(app, Focus::Tokens, title)), area);
    }
}

/// The tokens of `s` wrapped to `width`, `height` lines of them with `position` in view and
/// highlighted; generated tokens stand out.
pub fn strip(app: &App, s: &Snapshot, position: usize, width: u16, height: u16) -> Vec<Line<'static>> {
    let t = &app.theme;
    let wrapped = lines(s, width);
    let first = first_line(&wrapped, position, height as usize);
    wrapped
        .iter()
        .skip(first)
        .take(height as usize)
        .map(|line| {
            Line::from(
                line.iter()
                    .flat_map(|c| {
                        let style = if c.position == position {
                            t.selected
                        } else if c.position >= s.prompt_len {
                            t.generated
                        } else if c.position % 2 == 1 {
                            t.dim
                        } else {
                            ratatui::style::Style::new()
                        };
                        [Span::styled(label(&s.tokens[c.position].text), style), Span::raw(" ")]
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// The token position under a click at `at`, if any.
pub fn position_at(app: &App, area: Rect, at: Position) -> Option<usize> {
    let compact = super::layout::regions(app.size, app).compact;
    let body = inner(app, area, compact);
    if !body.contains(at) {
        return None;
    }
    let wrapped = lines(app.snapshot.as_ref()?, body.width);
    let first = first_line(&wrapped, app.position(), body.height as usize);
    let line = wrapped.get(first + (at.y - body.y) as usize)?;
    let x = at.x - body.x;
    line.iter().find(|c| x >= c.x && x < c.x + c.width).map(|c| c.position)
}
