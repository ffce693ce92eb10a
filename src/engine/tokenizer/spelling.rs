//! How a vocabulary writes a token's bytes, and those bytes shown as one line of readable text.

/// SentencePiece's word-boundary marker, standing for a space.
pub(super) const METASPACE: char = '\u{2581}';

/// How the vocabulary writes a token's bytes, which `token_display` has to undo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Spelling {
    /// GPT-2's byte-to-character table: "Ġ" is a space, "Ċ" a newline.
    ByteLevel,
    /// SentencePiece: "▁" is a space and `<0x0A>` a raw byte.
    Metaspace,
    /// Tokens are the text itself.
    Plain,
}

impl Spelling {
    /// The bytes a vocabulary entry stands for.
    pub(super) fn bytes_of(self, token: &str) -> Vec<u8> {
        match self {
            Spelling::ByteLevel if is_byte_level(token) => token.chars().filter_map(byte_of).collect(),
            Spelling::Metaspace => match sentencepiece_byte(token) {
                Some(b) => vec![b],
                None => token.replace(METASPACE, " ").into_bytes(),
            },
            _ => token.as_bytes().to_vec(),
        }
    }
}

/// SentencePiece's byte tokens, `<0x0A>`.
fn sentencepiece_byte(token: &str) -> Option<u8> {
    let hex = token.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// Bytes as one line of visible text: invalid UTF-8 (a token holding part of a character) as
/// "\xE6", whitespace and control characters as escapes or '␣'.
pub(super) fn render_bytes(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.utf8_chunks() {
        chunk.valid().chars().for_each(|c| push_visible(&mut out, c));
        chunk.invalid().iter().for_each(|b| out.push_str(&format!("\\x{b:02X}")));
    }
    out
}

fn push_visible(out: &mut String, c: char) {
    match c {
        ' ' => out.push('␣'),
        '\n' => out.push_str("\\n"),
        '\t' => out.push_str("\\t"),
        '\r' => out.push_str("\\r"),
        c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
        c => out.push(c),
    }
}

/// GPT-2's table from bytes to the printable characters byte-level vocabularies are written in:
/// printable Latin-1 stands for itself; the k-th of the other bytes, in order, is U+0100 + k.
const fn is_printable(b: u8) -> bool {
    matches!(b, 0x21..=0x7E | 0xA1..=0xAC | 0xAE..=0xFF)
}

/// The bytes without a printable character of their own, in the order they are shifted up.
const SHIFTED: [u8; 68] = shifted_bytes();

const fn shifted_bytes() -> [u8; 68] {
    let mut shifted = [0; 68];
    let (mut n, mut b) = (0, 0);
    while b < 256 {
        if !is_printable(b as u8) {
            shifted[n] = b as u8;
            n += 1;
        }
        b += 1;
    }
    shifted
}

/// The character a byte is written as.
pub(super) fn byte_char(b: u8) -> char {
    match SHIFTED.iter().position(|&s| s == b) {
        Some(k) => char::from_u32(0x100 + k as u32).unwrap_or(char::REPLACEMENT_CHARACTER),
        None => b as char,
    }
}

/// The byte a byte-level character stands for, if it is one.
fn byte_of(c: char) -> Option<u8> {
    match c as u32 {
        n @ 0..=0xFF if is_printable(n as u8) => Some(n as u8),
        n @ 0x100..=0x143 => Some(SHIFTED[n as usize - 0x100]),
        _ => None,
    }
}

/// Whether every character of `token` stands for a byte in GPT-2's table.
pub(super) fn is_byte_level(token: &str) -> bool {
    token.chars().all(|c| byte_of(c).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Anchors from GPT-2's bytes_to_unicode, and the two directions agreeing everywhere.
    #[test]
    fn byte_table_is_gpt2s() {
        assert_eq!([b' ', b'\n', b'\t', 0x7F, 0xAD, b'a', 0xE9].map(byte_char), ['Ġ', 'Ċ', 'ĉ', 'ġ', 'Ń', 'a', 'é']);
        assert!((0..=255).all(|b| byte_of(byte_char(b)) == Some(b)));
        assert_eq!(byte_of('ń'), None);
    }
}
