//! A SentencePiece vocabulary shaped like Llama-2's, made without any model file: `<unk>`, `<s>`,
//! `</s>`, the 256 byte tokens `<0x00>`…`<0xFF>`, then pieces with "▁" for a space, each scored
//! below the one before (SentencePiece merges the adjacent pair whose union scores highest).
//!
//! The pieces, in order: "▁" and the printable ASCII characters; English words from
//! `assets/vocab-words.txt` as "▁word", then as "word" and "▁Word"; a few pieces of punctuation
//! and indentation; every substring of two to six letters of those words; then lowercase letter
//! strings of growing length, alone and after "▁", until the vocabulary is full. A piece is added
//! only after two pieces that join into it (its prefix and last character are added first when
//! no such pair exists yet), so every piece can be reached by merges and text tokenizes into
//! words and word pieces. Like Llama-2, there are no pieces of several digits (numbers are spelled
//! digit by digit) and no newline piece (a newline is the byte token `<0x0A>`); any other
//! character falls back to its UTF-8 bytes.
use std::collections::HashSet;

/// SentencePiece's word-boundary marker, standing for a space.
const METASPACE: char = '\u{2581}';
const WORDS: &str = include_str!("../../../assets/vocab-words.txt");
/// llama.cpp's token types (`tokenizer.ggml.token_type`).
const TYPE_NORMAL: i32 = 1;
const TYPE_UNKNOWN: i32 = 2;
const TYPE_CONTROL: i32 = 3;
const TYPE_BYTE: i32 = 6;
/// Tokens before the pieces: three special tokens and 256 bytes.
pub const FIXED_TOKENS: usize = 3 + 256;
pub const UNK_ID: u32 = 0;
pub const BOS_ID: u32 = 1;
pub const EOS_ID: u32 = 2;

/// The `tokenizer.ggml.tokens`, `scores` and `token_type` arrays of a vocabulary.
#[derive(Debug, Clone, PartialEq)]
pub struct Vocabulary {
    pub tokens: Vec<String>,
    pub scores: Vec<f32>,
    pub types: Vec<i32>,
}

impl Vocabulary {
    /// A vocabulary of exactly `size` tokens, or an error when `size` cannot hold the special and
    /// byte tokens. The same size always gives the same vocabulary, and a smaller one is a
    /// prefix of a larger one.
    pub fn llama_like(size: usize) -> Result<Vocabulary, String> {
        if size < FIXED_TOKENS {
            return Err(format!("a SentencePiece vocabulary needs at least {FIXED_TOKENS} tokens, not {size}"));
        }
        let mut tokens: Vec<String> = ["<unk>", "<s>", "</s>"].map(String::from).to_vec();
        let mut types = vec![TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL];
        tokens.extend((0..=255u8).map(|b| format!("<0x{b:02X}>")));
        types.resize(FIXED_TOKENS, TYPE_BYTE);
        let mut pieces = Pieces { list: Vec::new(), seen: HashSet::new(), capacity: size - FIXED_TOKENS };
        pieces.fill();
        let scores = vec![0.0; FIXED_TOKENS].into_iter().chain((0..pieces.list.len()).map(|k| -(k as f32))).collect();
        types.resize(size, TYPE_NORMAL);
        tokens.extend(pieces.list);
        Ok(Vocabulary { tokens, scores, types })
    }
}

/// The normal pieces, in the order of their scores, best first.
struct Pieces {
    list: Vec<String>,
    seen: HashSet<String>,
    capacity: usize,
}

impl Pieces {
    fn full(&self) -> bool {
        self.list.len() >= self.capacity
    }

    /// Adds pieces in the order the module documentation gives until the capacity is reached.
    fn fill(&mut self) {
        let words: Vec<&str> = WORDS
            .lines()
            .map(str::trim)
            .filter(|w| !w.is_empty() && w.bytes().all(|b| b.is_ascii_lowercase()))
            .collect();
        let space = METASPACE.to_string();
        self.add(&space);
        for c in (0x21..=0x7Eu8).map(char::from) {
            self.add(&c.to_string());
        }
        for word in &words {
            self.add(&format!("{space}{word}"));
        }
        for word in &words {
            self.add(word);
            self.add(&format!("{space}{}", capitalized(word)));
        }
        let punctuation =
            [",", ".", "▁(", "),", ").", "▁$", "▁=", "▁+", "▁-", "▁*", "▁/", "'s", "▁\"", "\".", "?", ":"];
        for p in punctuation.into_iter().chain(["▁▁", "▁▁▁", "▁▁▁▁", "▁▁▁▁▁▁▁▁"]) {
            self.add(p);
        }
        for word in &words {
            for len in 2..=word.len().min(6) {
                for start in 0..=word.len() - len {
                    self.add(&word[start..start + len]);
                }
            }
        }
        for len in 2.. {
            for s in letter_strings(len) {
                if self.full() {
                    return;
                }
                self.add(&s);
                self.add(&format!("{space}{s}"));
            }
        }
    }

    /// Adds `piece` unless present or the list is full, first adding what it is merged from.
    fn add(&mut self, piece: &str) {
        if self.full() || self.seen.contains(piece) {
            return;
        }
        let chars: Vec<(usize, char)> = piece.char_indices().collect();
        if chars.len() > 1 {
            let joinable =
                chars[1..].iter().any(|&(at, _)| self.seen.contains(&piece[..at]) && self.seen.contains(&piece[at..]));
            if !joinable {
                let (last, _) = chars[chars.len() - 1];
                self.add(&piece[..last]);
                self.add(&piece[last..]);
                if self.full() {
                    return;
                }
            }
        }
        self.seen.insert(piece.to_owned());
        self.list.push(piece.to_owned());
    }
}

fn capitalized(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map_or_else(String::new, |first| first.to_ascii_uppercase().to_string() + chars.as_str())
}

/// Every string of `len` lowercase letters, in alphabetical order.
fn letter_strings(len: u32) -> impl Iterator<Item = String> {
    (0..26u64.pow(len)).map(move |mut n| {
        let mut s = vec![b'a'; len as usize];
        for c in s.iter_mut().rev() {
            *c = b'a' + (n % 26) as u8;
            n /= 26;
        }
        String::from_utf8_lossy(&s).into_owned()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn layout_like_llama2() {
        let v = Vocabulary::llama_like(32000).unwrap();
        assert_eq!((v.tokens.len(), v.scores.len(), v.types.len()), (32000, 32000, 32000));
        assert_eq!(&v.tokens[..3], ["<unk>", "<s>", "</s>"]);
        assert_eq!(&v.types[..3], [TYPE_UNKNOWN, TYPE_CONTROL, TYPE_CONTROL]);
        assert_eq!(
            (v.tokens[3].as_str(), v.tokens[13].as_str(), v.tokens[258].as_str()),
            ("<0x00>", "<0x0A>", "<0xFF>")
        );
        assert!(v.types[3..259].iter().all(|&t| t == TYPE_BYTE));
        assert!(v.types[259..].iter().all(|&t| t == TYPE_NORMAL));
        assert_eq!(v.tokens[259], "▁");
        assert!(v.scores[259..].windows(2).all(|w| w[1] < w[0]), "scores strictly decrease");
        let unique: HashSet<_> = v.tokens.iter().collect();
        assert_eq!(unique.len(), 32000);
        for word in ["▁the", "▁apples", "▁How", "▁answer", "ing", "▁▁▁▁"] {
            assert!(v.tokens.iter().any(|t| t == word), "{word}");
        }
        let digits = |t: &str| t.chars().filter(char::is_ascii_digit).count();
        let bad: Vec<_> = v.tokens[FIXED_TOKENS..].iter().filter(|t| digits(t) > 0 && t.chars().count() > 1).collect();
        assert!(bad.is_empty(), "digits stand alone: {bad:?}");
    }

    /// Every piece of two or more characters is the union of two pieces scored above it.
    #[test]
    fn every_piece_is_reachable_by_merges() {
        let v = Vocabulary::llama_like(32000).unwrap();
        let rank: std::collections::HashMap<&str, usize> =
            v.tokens.iter().enumerate().map(|(i, t)| (t.as_str(), i)).collect();
        for (i, piece) in v.tokens.iter().enumerate().skip(FIXED_TOKENS) {
            let splits: Vec<usize> = piece.char_indices().skip(1).map(|(at, _)| at).collect();
            if splits.is_empty() {
                continue;
            }
            let reachable = splits.iter().any(|&at| {
                let (l, r) = piece.split_at(at);
                rank.get(l).is_some_and(|&a| a < i) && rank.get(r).is_some_and(|&b| b < i)
            });
            assert!(reachable, "{piece} (id {i})");
        }
    }

    #[test]
    fn sizes() {
        let small = Vocabulary::llama_like(FIXED_TOKENS).unwrap();
        assert_eq!(small.tokens.len(), FIXED_TOKENS);
        let large = Vocabulary::llama_like(49152).unwrap();
        assert_eq!(large.tokens.len(), 49152);
        let v = Vocabulary::llama_like(32000).unwrap();
        assert_eq!(v.tokens[..], large.tokens[..32000]);
        let err = Vocabulary::llama_like(100).unwrap_err();
        assert!(err.contains("needs at least 259 tokens, not 100"), "{err}");
    }

    #[test]
    fn letter_strings_in_order() {
        let two: Vec<String> = letter_strings(2).collect();
        assert_eq!((two.len(), two[0].as_str(), two[27].as_str(), two[675].as_str()), (676, "aa", "bb", "zz"));
    }
}
