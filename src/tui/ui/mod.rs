//! Drawing: `draw` only reads the state (everything it shows was computed before), one file per pane.
pub mod compare;
pub mod detail;
pub mod exemplars;
pub mod heatmap;
pub mod heatmap_screen;
pub mod layers;
pub mod layout;
pub mod lens;
pub mod popup;
pub mod review;
pub mod status;
pub mod summary;
pub mod tokens;

use ratatui::text::Line;
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use super::app::{App, Focus};
use super::compare::Side;
use super::modes::Overlay;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    let r = layout::regions(area, app);
    if r.too_small {
        let (w, h) = layout::MINIMUM;
        let text = format!("terminal too small: {}×{}, neuronav needs {w}×{h} (q quits)", area.width, area.height);
        frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
        return;
    }
    if r.heatmap.area() > 0 {
        heatmap_screen::draw(frame, app, &r);
    } else if app.compare.open && app.review().is_none() {
        compare::draw(frame, app, &r);
    } else {
        draw_panes(frame, app, &r);
    }
    status::draw_status(frame, app, r.status);
    status::draw_line(frame, app, r.line);
    match app.overlay() {
        Some(Overlay::Help { scroll }) => popup::draw_help(frame, app, *scroll),
        Some(Overlay::Picker { selected, .. }) => popup::draw_picker(frame, app, *selected),
        Some(Overlay::Line(..)) | None => {}
    }
}

/// The explorer's panes outside compare mode.
fn draw_panes(frame: &mut Frame, app: &App, r: &layout::Regions) {
    if r.prompt.area() > 0 {
        draw_prompt(frame, app, r.prompt, r.compact);
    }
    if r.tokens.area() > 0 {
        tokens::draw(frame, app, r.tokens, r.compact);
    }
    if r.layers.area() > 0 {
        layers::draw(frame, app, r.layers, r.compact);
    }
    if r.detail.area() > 0 {
        detail::draw(frame, app, r.detail, r.compact);
    }
    if r.lens.area() > 0 {
        lens::draw(frame, app, r.lens, r.compact);
    }
    if r.review.area() > 0 {
        review::draw(frame, app, r.review, r.compact);
    }
}

/// A pane's border, highlighted when it has the focus.
pub fn pane_block(app: &App, focus: Focus, title: String) -> Block<'static> {
    let style = if app.focus == focus { app.theme.focus } else { app.theme.border };
    Block::bordered().border_style(style).title(Line::styled(title, app.theme.title))
}

fn draw_prompt(frame: &mut Frame, app: &App, area: ratatui::layout::Rect, compact: bool) {
    let title = if app.editing() == Some(Side::A) { " prompt · editing " } else { " prompt " };
    let inner = if compact {
        area
    } else {
        let block = pane_block(app, Focus::Prompt, title.into());
        let inner = block.inner(area);
        frame.render_widget(block, area);
        inner
    };
    frame.render_widget(&app.prompt, inner);
}
