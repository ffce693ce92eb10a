//! The heatmap's side panel: which map is shown, the prompt under the cursor, the neuron's top
//! number tokens, its direct-logit importance and the heuristics its map matches. Plain data in, so any caller can fill it.
use std::fmt;

use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Widget, Wrap};

use crate::tui::theme::Theme;

/// Which activation map is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    /// The neuron's activation m at "=" (operand heuristics).
    K,
    /// K times the value vector's logit for each prompt's result token (result heuristics).
    Kv,
}

/// Which end of the map the matches were scored on: the top prompts or the bottom ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    Positive,
    Negative,
}

impl fmt::Display for MapKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MapKind::K => "K",
            MapKind::Kv => "KV",
        })
    }
}

impl fmt::Display for Sign {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Sign::Positive => "positive",
            Sign::Negative => "negative",
        })
    }
}

/// The prompt under the cursor.
#[derive(Debug, Clone, PartialEq)]
pub struct CellReadout {
    /// The grid prompt, e.g. `23+45=`.
    pub prompt: String,
    /// The map's value at the cell.
    pub value: f32,
    /// What the model answers (greedy).
    pub model_answer: String,
    pub correct: bool,
}

/// The neuron's direct-logit importance over the grid's correct prompts and its place among its
/// layer's neurons (1 = most important by mean + std).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ImportanceRank {
    pub mean: f32,
    pub std: f32,
    pub rank: usize,
    pub of: usize,
}

/// The side panel, drawn as a widget.
pub struct CellPanel<'a> {
    pub kind: MapKind,
    pub sign: Sign,
    /// None on an illegal cell.
    pub cell: Option<&'a CellReadout>,
    /// The value vector's top number tokens with their logits, best first.
    pub top_tokens: &'a [(String, f32)],
    /// None while the neuron's layer is not in the maps.
    pub importance: Option<ImportanceRank>,
    /// Matched heuristic descriptions with their scores, best first.
    pub matches: &'a [(String, f32)],
    pub theme: &'a Theme,
}

impl Widget for CellPanel<'_> {
    fn render(self, area: Rect, buf: &mut Buffer) {
        let t = self.theme;
        let signed = |v: f32| if v >= 0.0 { t.positive } else { t.negative };
        let mut lines = vec![Line::styled(format!("{} map · {}", self.kind, self.sign), t.title)];
        match self.cell {
            Some(c) => {
                lines.push(Line::from(vec![
                    Span::raw(format!("{}  ", c.prompt)),
                    Span::raw(format!("{:+.3}", c.value)),
                ]));
                let (verdict, style) = if c.correct { ("correct", t.positive) } else { ("wrong", t.error) };
                lines.push(Line::from(vec![
                    Span::styled("model ", t.dim),
                    Span::raw(format!("{}  ", c.model_answer)),
                    Span::styled(verdict, style),
                ]));
            }
            None => lines.push(Line::styled("illegal cell: no prompt", t.dim)),
        }
        lines.push(Line::styled("top tokens", t.dim));
        let mut tokens = Vec::new();
        for (token, logit) in self.top_tokens {
            tokens.push(Span::raw(format!("{token} ")));
            tokens.push(Span::styled(format!("{logit:+.2}  "), signed(*logit)));
        }
        lines.push(Line::from(tokens));
        if let Some(i) = self.importance {
            // Only the neuron's own push on the answer's logit, not what it does through later layers.
            lines.push(Line::styled("importance (direct effect only)", t.dim));
            lines.push(Line::from(vec![
                Span::styled(format!("{:+.3}", i.mean), signed(i.mean)),
                Span::raw(format!(" ± {:.3}  rank {}/{}", i.std, i.rank, i.of)),
            ]));
        }
        lines.push(Line::styled("matches", t.dim));
        if self.matches.is_empty() {
            lines.push(Line::styled("no heuristic matches", t.dim));
        }
        lines.extend(self.matches.iter().map(|(name, score)| Line::raw(format!("{score:.2} {name}"))));
        Paragraph::new(lines).wrap(Wrap { trim: false }).render(area, buf);
    }
}

#[cfg(test)]
mod tests {
    use ratatui::backend::TestBackend;
    use ratatui::Terminal;

    use super::*;
    use crate::tui::theme::ThemeName;

    fn rows(panel: CellPanel, w: u16, h: u16) -> Vec<String> {
        let mut terminal = Terminal::new(TestBackend::new(w, h)).unwrap();
        terminal.draw(|f| f.render_widget(panel, f.area())).unwrap();
        let buf = terminal.backend().buffer();
        (0..h).map(|y| (0..w).map(|x| buf[(x, y)].symbol()).collect::<String>().trim_end().to_string()).collect()
    }

    #[test]
    fn the_panel_shows_the_map_the_prompt_the_tokens_and_the_matches() {
        let theme = Theme::new(ThemeName::Dark);
        let cell = CellReadout { prompt: "23+45=".into(), value: -1.5, model_answer: "67".into(), correct: false };
        let tokens = [("6".to_string(), 2.5), ("7".to_string(), -0.25)];
        let matches = [("result_range_60_70".to_string(), 0.83)];
        let panel = CellPanel {
            kind: MapKind::Kv,
            sign: Sign::Negative,
            cell: Some(&cell),
            top_tokens: &tokens,
            importance: Some(ImportanceRank { mean: -0.5, std: 0.125, rank: 3, of: 50 }),
            matches: &matches,
            theme: &theme,
        };
        let shown = rows(panel, 32, 10);
        assert_eq!(
            shown,
            [
                "KV map · negative",
                "23+45=  -1.500",
                "model 67  wrong",
                "top tokens",
                "6 +2.50  7 -0.25",
                "importance (direct effect only)",
                "-0.500 ± 0.125  rank 3/50",
                "matches",
                "0.83 result_range_60_70",
                ""
            ]
        );
    }

    #[test]
    fn an_illegal_cell_and_no_matches_say_so_and_tiny_areas_do_not_panic() {
        let theme = Theme::new(ThemeName::Plain);
        let panel = || CellPanel {
            kind: MapKind::K,
            sign: Sign::Positive,
            cell: None,
            top_tokens: &[],
            importance: None,
            matches: &[],
            theme: &theme,
        };
        let shown = rows(panel(), 30, 7);
        assert_eq!(shown[0], "K map · positive");
        assert_eq!(shown[1], "illegal cell: no prompt");
        assert_eq!(shown[5], "no heuristic matches");
        for (w, h) in [(1, 1), (5, 3), (3, 1)] {
            rows(panel(), w, h);
        }
    }
}
