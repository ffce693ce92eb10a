//! Reading a text file line by line without trusting its line lengths: a line longer than the cap
//! is skipped to its end without being held in memory, and reported.
use std::io::{self, BufRead};

/// A line's bytes without its line ending, or the length of a line that was too long.
pub type Line = Result<Vec<u8>, usize>;

pub struct CappedLines<R> {
    reader: R,
    cap: usize,
    /// 1-based number of the line read last.
    number: usize,
}

impl<R: BufRead> CappedLines<R> {
    pub fn new(reader: R, cap: usize) -> Self {
        CappedLines { reader, cap, number: 0 }
    }

    /// The next line and its 1-based number; `None` at the end.
    pub fn next_line(&mut self) -> io::Result<Option<(usize, Line)>> {
        let mut line = Vec::new();
        let mut len = 0usize;
        let mut any = false;
        loop {
            let buf = self.reader.fill_buf()?;
            if buf.is_empty() {
                break;
            }
            any = true;
            let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                Some(at) => (&buf[..at], Some(at + 1)),
                None => (buf, None),
            };
            if len + chunk.len() <= self.cap {
                line.extend_from_slice(chunk);
            } else {
                line = Vec::new();
            }
            len += chunk.len();
            let consumed = done.unwrap_or(chunk.len());
            self.reader.consume(consumed);
            if done.is_some() {
                break;
            }
        }
        if !any {
            return Ok(None);
        }
        self.number += 1;
        if len > self.cap {
            return Ok(Some((self.number, Err(len))));
        }
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        Ok(Some((self.number, Ok(line))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_measured_not_kept() {
        let text = format!("a\r\n{}\nbc\n\nlast", "x".repeat(50));
        let mut lines = CappedLines::new(io::BufReader::with_capacity(8, text.as_bytes()), 10);
        let mut got = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            got.push(line);
        }
        assert_eq!(
            got,
            [(1, Ok(b"a".to_vec())), (2, Err(50)), (3, Ok(b"bc".to_vec())), (4, Ok(vec![])), (5, Ok(b"last".to_vec()))]
        );
    }
}
