//! Compare mode's summary: per concept, the reasoning-neuron activations of A and B and their
//! average score over the positions computed so far, the reasoning neurons active on one side
//! only, and a bar per layer of the difference of hits, A−B.
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};
use ratatui::Frame;

use crate::engine::neuron::NeuronId;
use crate::science::analysis::counting::Tally;
use crate::tui::app::App;

fn border(app: &App, title: String) -> Block<'static> {
    Block::bordered().border_style(app.theme.border).title(Line::styled(title, app.theme.title))
}

pub fn concepts(frame: &mut Frame, app: &App, area: Rect, compact: bool) {
    let t = &app.theme;
    let c = &app.compare;
    let [a, b] = &c.activations;
    let title = format!(
        " reasoning neurons · {} · {} · positions counted A {} · B {} ",
        c.reasoning.describe(),
        c.neurons.as_ref().map_or("loading".into(), |n| format!("{} neurons", n.len())),
        a.positions,
        b.positions
    );
    if c.neurons.as_ref().is_some_and(|n| n.is_empty()) {
        // A table of zeros would read as "no difference"; there is nothing to count.
        let lines = vec![
            Line::styled(
                format!("no reasoning neurons: no label of {} applies for this model", c.reasoning.describe()),
                t.accent,
            ),
            Line::raw(app.how_to_get_labels()),
        ];
        let p = Paragraph::new(lines).wrap(Wrap { trim: true });
        frame.render_widget(if compact { p } else { p.block(border(app, title)) }, area);
        return;
    }
    let mut lines = vec![Line::styled(
        format!("{:<14} {:>8} {:>8} {:>7} {:>9} {:>9}", "concept", "count A", "count B", "A−B", "mean s A", "mean s B"),
        t.dim,
    )];
    let row = |name: &str, x: Tally, y: Tally| {
        let diff = x.hits as i64 - y.hits as i64;
        Line::from(vec![
            Span::raw(format!("{name:<14} {:>8} {:>8} ", x.hits, y.hits)),
            Span::styled(format!("{diff:>+7} "), if diff >= 0 { t.positive } else { t.negative }),
            Span::raw(format!("{:>9.3} {:>9.3}", x.mean_s(), y.mean_s())),
        ])
    };
    lines.push(row("all", a.overall, b.overall));
    for concept in c.reasoning.concept_keys() {
        lines.push(row(&concept, a.concept(&concept), b.concept(&concept)));
    }
    let names = |ids: &[NeuronId]| ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(" ");
    let (only_a, only_b) = (a.only_here(b), b.only_here(a));
    lines.push(Line::from(vec![
        Span::styled(format!("active in A only ({}): ", only_a.len()), t.dim),
        Span::raw(names(&only_a)),
    ]));
    lines.push(Line::from(vec![
        Span::styled(format!("active in B only ({}): ", only_b.len()), t.dim),
        Span::raw(names(&only_b)),
    ]));
    let p = Paragraph::new(lines);
    frame.render_widget(if compact { p } else { p.block(border(app, title)) }, area);
}

/// One line per layer: `L12  +3 ` and a bar, left of the axis when B has more hits, right when A has.
pub fn bars(frame: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let block = border(app, " hits A−B per layer ".into());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [a, b] = &app.compare.activations;
    let diffs: Vec<i64> = (0..app.layers() as u32).map(|l| a.layer_hits(l) as i64 - b.layer_hits(l) as i64).collect();
    let max = diffs.iter().map(|d| d.unsigned_abs()).max().unwrap_or(0).max(1);
    // Head `L12  +3 ` then the two halves around the axis.
    let half = (inner.width as usize).saturating_sub(10) / 2;
    let height = inner.height as usize;
    let first = app.layer.saturating_sub(height.saturating_sub(1));
    let lines: Vec<Line> = diffs
        .iter()
        .enumerate()
        .skip(first)
        .take(height)
        .map(|(l, &d)| {
            let n = ((d.unsigned_abs() * half as u64).div_ceil(max)) as usize;
            let (left, right) = if d < 0 { (n, 0) } else { (0, n) };
            let head = Span::styled(format!("L{l:<3}{d:>+4} "), if l == app.layer { t.focus } else { t.dim });
            Line::from(vec![
                head,
                Span::raw(" ".repeat(half - left)),
                Span::styled("█".repeat(left), t.negative),
                Span::styled("│", t.dim),
                Span::styled("█".repeat(right), t.positive),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}
