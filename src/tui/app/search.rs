//! `/` search: a neuron id, a neuron index in any layer's rows, or text in the tokens; `n` and `N`
//! step through the matches.
use super::{App, Focus};
use crate::engine::neuron::NeuronId;
use crate::tui::cursor::Cursor;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SearchHit {
    Position(usize),
    Neuron(NeuronId),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    pub query: String,
    pub hits: Vec<SearchHit>,
    pub at: usize,
}

impl App {
    pub(super) fn start_search(&mut self, query: &str) {
        if query.is_empty() {
            self.search = None;
            return;
        }
        let mut hits = Vec::new();
        if let Ok(id) = query.parse::<NeuronId>() {
            hits.push(SearchHit::Neuron(id));
        } else {
            let index = query.strip_prefix(['N', 'n']).and_then(|n| n.parse::<u32>().ok());
            if let Some(index) = index {
                for (l, rows) in self.rows.iter().enumerate() {
                    if rows.iter().any(|h| h.index == index) {
                        hits.push(SearchHit::Neuron(NeuronId { layer: l as u32, index }));
                    }
                }
            }
            if let Some(s) = &self.snapshot {
                let q = query.to_lowercase();
                for (p, t) in s.tokens.iter().enumerate() {
                    if t.text.to_lowercase().contains(&q) {
                        hits.push(SearchHit::Position(p));
                    }
                }
            }
        }
        if hits.is_empty() {
            self.error(format!("'{query}' not found"));
            self.search = None;
            return;
        }
        // Start at the first match after the cursor, as in an editor.
        let position = self.position();
        let at = hits
            .iter()
            .position(|h| matches!(h, SearchHit::Position(p) if *p > position))
            .filter(|_| hits.iter().all(|h| matches!(h, SearchHit::Position(_))))
            .unwrap_or(0);
        self.search = Some(Search { query: query.to_string(), hits, at });
        self.jump_to_hit();
    }

    pub(super) fn search_step(&mut self, by: isize) {
        let Some(s) = &mut self.search else {
            self.error("no search; / starts one");
            return;
        };
        let n = s.hits.len() as isize;
        s.at = ((s.at as isize + by).rem_euclid(n)) as usize;
        self.jump_to_hit();
    }

    fn jump_to_hit(&mut self) {
        let Some(s) = &self.search else { return };
        let (hit, i, n) = (s.hits[s.at], s.at + 1, s.hits.len());
        match hit {
            SearchHit::Position(p) => {
                self.position = Cursor::At(p);
                self.focus = Focus::Tokens;
            }
            SearchHit::Neuron(id) => {
                if (id.layer as usize) < self.layers() {
                    self.layer = id.layer as usize;
                    self.focus = Focus::Layers;
                    if let Some(row) = self.rows[self.layer].iter().position(|h| h.index == id.index) {
                        self.row = row;
                    } else {
                        self.open_neuron(id);
                    }
                }
            }
        }
        self.say(format!("match {i}/{n}"));
    }
}
