//! How a document longer than one forward pass is run: in windows of `window` tokens that
//! overlap by a quarter, each position counted once, in the window where it has the most
//! context before it (every window but the first counts only its positions past the overlap).
use std::ops::Range;

/// One forward pass over part of a document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    /// The document's tokens the pass runs: `start..end`.
    pub start: usize,
    pub end: usize,
    /// The positions it counts: from here to `end`.
    pub counted_from: usize,
}

impl Window {
    pub fn tokens(&self) -> Range<usize> {
        self.start..self.end
    }

    pub fn counted(&self) -> Range<usize> {
        self.counted_from..self.end
    }
}

/// The windows of a document of `len` tokens: together they count every position once.
pub fn windows(len: usize, window: usize) -> Vec<Window> {
    assert!(window >= 2, "a window holds at least two tokens");
    let overlap = window / 4;
    let stride = window - overlap;
    let mut out = vec![Window { start: 0, end: len.min(window), counted_from: 0 }];
    while out.last().is_some_and(|w| w.end < len) {
        let start = out.len() * stride;
        out.push(Window { start, end: len.min(start + window), counted_from: start + overlap });
    }
    out
}

/// The window that counts position `pos` of a document of `len` tokens.
pub fn window_of(len: usize, window: usize, pos: usize) -> Window {
    *windows(len, window).iter().find(|w| w.counted().contains(&pos)).expect("every position is counted")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_position_is_counted_once() {
        for len in [1, 5, 8, 9, 20, 63, 64, 65, 200] {
            for window in [2, 3, 8, 64] {
                let ws = windows(len, window);
                let counted: Vec<usize> = ws.iter().flat_map(|w| w.counted()).collect();
                assert_eq!(counted, (0..len).collect::<Vec<_>>(), "len {len} window {window}");
                for w in &ws {
                    assert!(w.end - w.start <= window && w.start <= w.counted_from);
                }
            }
        }
    }

    #[test]
    fn later_windows_start_a_quarter_back() {
        assert_eq!(
            windows(20, 8),
            [
                Window { start: 0, end: 8, counted_from: 0 },
                Window { start: 6, end: 14, counted_from: 8 },
                Window { start: 12, end: 20, counted_from: 14 },
            ]
        );
        assert_eq!(window_of(20, 8, 13), Window { start: 6, end: 14, counted_from: 8 });
        assert_eq!(windows(5, 8), [Window { start: 0, end: 5, counted_from: 0 }]);
    }
}
