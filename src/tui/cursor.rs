//! The selected token position: a position of the text, or its end, wherever that will be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cursor {
    /// The last position: where running a prompt selects, before its text exists.
    FollowEnd,
    At(usize),
}

impl Cursor {
    /// The position in a text of `len` positions (0 when it is empty).
    pub fn index(self, len: usize) -> usize {
        let last = len.saturating_sub(1);
        match self {
            Cursor::FollowEnd => last,
            Cursor::At(p) => p.min(last),
        }
    }

    /// Whether a text of `len` positions, growing, moves the cursor along: it follows the end, or
    /// is at the end already.
    pub fn at_end(self, len: usize) -> bool {
        match self {
            Cursor::FollowEnd => true,
            Cursor::At(p) => p + 1 >= len,
        }
    }

    /// The cursor within a text of `len` positions; the end stays followed until there is text.
    pub fn clamped(self, len: usize) -> Cursor {
        if len == 0 && self == Cursor::FollowEnd {
            self
        } else {
            Cursor::At(self.index(len))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_end_is_followed_until_there_is_text_and_positions_stay_within_it() {
        assert_eq!(Cursor::FollowEnd.clamped(0), Cursor::FollowEnd);
        assert_eq!(Cursor::FollowEnd.clamped(6), Cursor::At(5));
        assert_eq!(Cursor::At(9).clamped(6), Cursor::At(5));
        assert_eq!(Cursor::At(9).clamped(0), Cursor::At(0));
        assert_eq!((Cursor::FollowEnd.index(0), Cursor::At(3).index(6)), (0, 3));
        assert!(Cursor::FollowEnd.at_end(0) && Cursor::At(5).at_end(6) && !Cursor::At(4).at_end(6));
    }
}
