//! The logit lens: per layer, what the residual stream predicts before and after the FFN, and the
//! neurons that push the predicted token most.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::pane_block;
use crate::tui::app::{App, Focus};
use crate::tui::snapshot::TokenProbView;

pub fn draw(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let t = &app.theme;
    let Some(lens) = app.lens.as_ref().filter(|l| l.position == app.position()) else {
        let block = pane_block(app, Focus::Lens, " logit lens ".into());
        let p = Paragraph::new(Span::styled("computing the logit lens…", t.dim));
        frame.render_widget(if compact { p } else { p.block(block) }, area);
        return;
    };
    let title = format!(" logit lens · pos {} → '{}' ", lens.position, lens.predicted.text);
    let block = pane_block(app, Focus::Lens, title);
    let inner = if compact { area } else { block.inner(area) };
    let half = (inner.width as usize).saturating_sub(5) / 2;
    let top = |v: &[TokenProbView]| -> String {
        let s: Vec<String> = v.iter().take(3).map(|x| format!("{} {:.2}", x.token.text, x.prob)).collect();
        s.join(" ").chars().take(half.saturating_sub(1)).collect()
    };
    let mut lines = vec![Line::styled(format!("{:<4} {:<half$} {}", "L", "before FFN", "after FFN"), t.dim)];
    let mut body: Vec<Line> = lens
        .layers
        .iter()
        .enumerate()
        .map(|(l, x)| {
            let style = if l == app.layer { t.focus } else { ratatui::style::Style::new() };
            Line::styled(format!("L{l:<3} {:<half$} {}", top(&x.before), top(&x.after)), style)
        })
        .collect();
    body.push(Line::styled(format!("contributions to '{}' (m·(W_U·v)[token])", lens.predicted.text), t.dim));
    body.extend(lens.contributions.iter().take(40).map(|c| {
        Line::from(vec![
            Span::raw(format!("{:<10} m {:>+7.2}  ", c.neuron.to_string(), c.m)),
            Span::styled(format!("{:>+8.3}", c.logit), if c.logit >= 0.0 { t.positive } else { t.negative }),
        ])
    }));
    lines.extend(body.into_iter().skip(app.lens_scroll as usize));
    let p = Paragraph::new(lines);
    frame.render_widget(if compact { p } else { p.block(block) }, area);
}
