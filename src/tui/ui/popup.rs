//! Popups over the panes: the key reference generated from the live keymap, and the prompt picker.
use ratatui::layout::{Constraint, Flex, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};
use ratatui::Frame;
use strum::IntoEnumIterator;

use crate::tui::app::App;
use crate::tui::keymap::Mode;

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))]).flex(Flex::Center).areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))]).flex(Flex::Center).areas(v);
    h
}

/// Help: every mode's bindings, the current mode first.
pub fn help_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let below = match app.mode() {
        // Help over review lists the review keys first.
        Mode::Help if app.heatmap().is_some() => Mode::Heatmap,
        Mode::Help if app.review().is_some() => Mode::Review,
        Mode::Help => Mode::Normal,
        mode => mode,
    };
    // The help keys themselves last.
    let modes = std::iter::once(below)
        .chain(Mode::iter().filter(|&m| m != below && m != Mode::Help))
        .chain(std::iter::once(Mode::Help));
    let mut lines = Vec::new();
    for mode in modes {
        lines.push(Line::styled(format!("[{}]", mode.name()), t.title));
        for (keys, desc) in app.keymap.help(mode) {
            lines.push(Line::from(vec![Span::styled(format!("  {keys:<14}"), t.accent), Span::raw(desc)]));
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(":goto L21N7027  :layer 20  :pos 12  :k 20  :n 16  :temp 0.8  :topp 0.95  :seed 7", t.dim));
    lines.push(Line::styled(
        ":export [position|neuron|session] FILE.json|.csv  :open FILE  :concept X  :source Y  :theme T",
        t.dim,
    ));
    lines.push(Line::styled(":review [SOURCE|*] [CONCEPT|*] [yes|no|both]  :grid [+|-|*|/] [A..B] [LA..B]  :q", t.dim));
    lines.push(Line::styled(
        "compare: :variant NAME [Q]  :b open FILE  :b variant NAME [Q]  :reasoning [concept K,..|source S,..]",
        t.dim,
    ));
    lines.push(Line::styled(
        "interventions in B: :ablate [zero|noise] [L21N7027,L3N5]  :scale L21N7027=3  :clear",
        t.dim,
    ));
    lines
}

pub fn draw_help(frame: &mut Frame, app: &App, scroll: u16) {
    let area = centered(frame.area(), 84, frame.area().height.saturating_sub(4).max(8));
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(" keys · Esc closes ").border_style(app.theme.focus);
    frame.render_widget(Paragraph::new(help_lines(app)).block(block).scroll((scroll, 0)), area);
}

pub fn draw_picker(frame: &mut Frame, app: &App, selected: usize) {
    let t = &app.theme;
    let area = centered(frame.area(), 100, frame.area().height.saturating_sub(4).max(8));
    frame.render_widget(Clear, area);
    let block = Block::bordered().title(" pick a prompt · Enter loads ").border_style(t.focus);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [list, preview] = Layout::horizontal([Constraint::Percentage(40), Constraint::Fill(1)]).areas(inner);
    let first = selected.saturating_sub(list.height.saturating_sub(1) as usize);
    let items: Vec<Line> = app
        .prompts
        .iter()
        .enumerate()
        .skip(first)
        .map(|(i, p)| {
            let line = Line::from(vec![
                Span::raw(format!("{} ", p.name)),
                Span::styled(format!("({})", short(&p.source)), t.dim),
            ]);
            if i == selected {
                line.style(t.selected)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(items), list);
    if let Some(p) = app.prompts.get(selected) {
        frame
            .render_widget(Paragraph::new(p.text.clone()).wrap(Wrap { trim: false }).block(Block::bordered()), preview);
    }
}

fn short(source: &str) -> &str {
    source.rsplit('/').next().unwrap_or(source)
}
