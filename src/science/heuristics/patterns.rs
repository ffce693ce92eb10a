//! Heuristics mined per neuron from the numbers of its top prompts rather than enumerated: digit
//! patterns of zero-padded numbers (`.5` = "ends in 5", `1.3`) and, for `/`, the small set of results
//! a neuron's top prompts share.
use std::fmt;
use std::str::FromStr;

/// A digit string with `.` wildcards, matched against a number zero-padded to the pattern's width
/// (`.5` matches 5, 15, .., 95 but not 105). Stored as one nibble per digit, units in the lowest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DigitPattern {
    code: u64,
    width: u8,
}

const WILD: u64 = 0xF;

impl DigitPattern {
    /// Numbers of up to 16 digits fit the 64-bit code; a `u32` has at most 10.
    pub const MAX_WIDTH: usize = 16;

    /// The nibble of digit position `j`, counted from the units digit.
    fn nibble(self, j: usize) -> u64 {
        (self.code >> (4 * j)) & WILD
    }

    pub fn width(self) -> usize {
        self.width as usize
    }

    /// How many positions are fixed digits rather than wildcards.
    pub fn fixed(self) -> usize {
        (0..self.width()).filter(|&j| self.nibble(j) != WILD).count()
    }

    /// The number when no position is a wildcard (a direct-value heuristic).
    pub fn value(self) -> Option<u32> {
        (self.fixed() == self.width()).then(|| (0..self.width()).rev().fold(0, |v, j| v * 10 + self.nibble(j) as u32))
    }

    /// Leading fixed digits followed only by wildcards (`1.`, `12.`): a range, which the catalog's
    /// range heuristics already cover, so mining drops it.
    pub fn is_prefix(self) -> bool {
        let wild = (0..self.width()).take_while(|&j| self.nibble(j) == WILD).count();
        wild > 0 && wild < self.width() && self.fixed() == self.width() - wild
    }

    /// Whether `n`, zero-padded to the width, has the fixed digits; wider numbers never match.
    pub fn matches(self, n: u32) -> bool {
        if self.width() < 10 && u64::from(n) >= 10u64.pow(self.width() as u32) {
            return false;
        }
        let mut rest = n;
        (0..self.width()).all(|j| {
            let digit = u64::from(rest % 10);
            rest /= 10;
            let want = self.nibble(j);
            want == WILD || want == digit
        })
    }
}

impl fmt::Display for DigitPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (0..self.width()).rev().try_for_each(|j| match self.nibble(j) {
            WILD => f.write_str("."),
            d => write!(f, "{d}"),
        })
    }
}

impl FromStr for DigitPattern {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        if s.is_empty() || s.len() > Self::MAX_WIDTH {
            return Err(format!("digit pattern {s:?} must have 1 to {} characters", Self::MAX_WIDTH));
        }
        let code = s.chars().try_fold(0u64, |code, c| match c {
            '.' => Ok(code << 4 | WILD),
            '0'..='9' => Ok(code << 4 | u64::from(c as u8 - b'0')),
            _ => Err(format!("digit pattern {s:?} may hold only digits and '.'")),
        })?;
        Ok(DigitPattern { code, width: s.len() as u8 })
    }
}

/// The masks the method keeps from the numbers of a neuron's top-`k` prompts, with score count/`k`:
/// every number zero-padded to `width`, every mask but the all-wildcard one counted, masks seen
/// fewer than `k / 10` times dropped, the 5 most frequent kept (ties: more fixed digits first,
/// then by digits, so the result is deterministic), then range-like masks ([`DigitPattern::is_prefix`])
/// removed. `k` is the budget, not `values.len()`: missing prompts count against the score.
pub fn mine(values: &[u32], width: usize, k: usize) -> Vec<(DigitPattern, f32)> {
    assert!((1..=DigitPattern::MAX_WIDTH).contains(&width), "pattern width {width} out of range");
    let masks = (1u32 << width) - 1;
    let mut codes = Vec::with_capacity(values.len() * masks as usize);
    for &v in values {
        let digits: Vec<u64> = (0..width).map(|j| u64::from(v) / 10u64.pow(j as u32) % 10).collect();
        for mask in 1..=masks {
            let code = (0..width).rev().fold(0, |c, j| c << 4 | if mask >> j & 1 == 1 { digits[j] } else { WILD });
            codes.push(code);
        }
    }
    // Sorting the codes groups equal masks, which then count as runs.
    codes.sort_unstable();
    let mut counted: Vec<(DigitPattern, usize)> = codes
        .chunk_by(|a, b| a == b)
        .map(|run| (DigitPattern { code: run[0], width: width as u8 }, run.len()))
        .filter(|&(_, count)| count >= k / 10)
        .collect();
    counted.sort_unstable_by(|(p, c), (q, d)| d.cmp(c).then(q.fixed().cmp(&p.fixed())).then(p.cmp(q)));
    counted.truncate(5);
    counted.into_iter().filter(|(p, _)| !p.is_prefix()).map(|(p, count)| (p, count as f32 / k as f32)).collect()
}

/// The multi-result set of `/`: the smallest set of 2 to 5 results that covers at least 95% of a
/// neuron's top results, sorted, with the share it covers. `None` when one result alone covers 95%
/// (a direct value then) or five do not.
pub fn multi_result(results: &[u32]) -> Option<(Vec<u32>, f32)> {
    let mut sorted = results.to_vec();
    sorted.sort_unstable();
    let mut counts: Vec<(u32, usize)> = sorted.chunk_by(|a, b| a == b).map(|run| (run[0], run.len())).collect();
    counts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // Integer test for covered/len >= 0.95.
    let enough = |covered: usize| covered * 100 >= results.len() * 95;
    let mut covered = 0;
    for (n, &(_, count)) in counts.iter().enumerate().take(5) {
        covered += count;
        if enough(covered) {
            if n == 0 {
                return None;
            }
            let mut set: Vec<u32> = counts[..=n].iter().map(|&(r, _)| r).collect();
            set.sort_unstable();
            return Some((set, covered as f32 / results.len() as f32));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pat(s: &str) -> DigitPattern {
        s.parse().unwrap()
    }

    #[test]
    fn patterns_match_zero_padded_numbers() {
        let p = pat("0.5");
        assert_eq!(p.to_string(), "0.5");
        assert!(p.matches(5) && p.matches(15) && p.matches(95));
        assert!(!p.matches(105) && !p.matches(1005) && !p.matches(16));
        assert!(pat(".0").matches(0) && pat(".0").matches(40) && !pat(".0").matches(100));
        assert_eq!((pat("1.3").fixed(), pat("1.3").value(), pat("07").value()), (2, None, Some(7)));
        assert!("1x".parse::<DigitPattern>().is_err() && "".parse::<DigitPattern>().is_err());
    }

    #[test]
    fn only_leading_fixed_digits_before_wildcards_are_ranges() {
        for range in ["1.", "12.", "1..", "0.", "12.."] {
            assert!(pat(range).is_prefix(), "{range}");
        }
        for periodic in [".5", "1.3", ".2.", "1.2.", "12", ".."] {
            assert!(!pat(periodic).is_prefix(), "{periodic}");
        }
    }

    #[test]
    fn mining_keeps_the_five_most_frequent_masks_then_drops_ranges() {
        // 20 values, width 2, k = 20 so masks need >= 2 occurrences. Counts by hand:
        //   .5 : 15x4 25x3 35x2 45 05 = 11     1. : 15x4 17x3 12 = 8     15 : 4
        //   25 : 3   17 : 3   (two fixed digits)   .7 .8 2. 3. : 3 each (one fixed digit)
        // Top 5: .5 (11), 1. (8), 15 (4), then 17 and 25 beat the one-digit masks of count 3;
        // 1. is a range and goes, leaving four.
        let mut values = vec![15, 15, 15, 15, 25, 25, 25, 35, 35, 45, 5, 17, 17, 17, 12, 32, 40];
        values.extend([98, 88, 78]);
        assert_eq!(values.len(), 20);
        let mined = mine(&values, 2, 20);
        let want = [(".5", 11), ("15", 4), ("17", 3), ("25", 3)];
        assert_eq!(mined, want.map(|(p, c)| (pat(p), c as f32 / 20.0)).to_vec());
        // With a budget of 40 the floor is 4 and the score is out of 40: only .5, 1. and 15 qualify.
        assert_eq!(mine(&values, 2, 40), vec![(pat(".5"), 11.0 / 40.0), (pat("15"), 4.0 / 40.0)]);
    }

    #[test]
    fn the_multi_result_set_is_the_smallest_cover_of_95_percent() {
        // 10x 2, 9x 4, 1x 7: {2} covers 50%, {2, 4} 95%.
        let mut results = vec![2; 10];
        results.extend([4; 9]);
        results.push(7);
        assert_eq!(multi_result(&results), Some((vec![2, 4], 0.95)));
        assert_eq!(multi_result(&[8, 8, 8, 8, 4, 4, 4, 2, 2, 9]), Some((vec![2, 4, 8, 9], 1.0)));
        assert_eq!(multi_result(&[3; 20]), None, "one result is a value heuristic");
        assert_eq!(multi_result(&[1, 2, 3, 4, 5, 6]), None, "five results cover 5/6 < 95%");
    }
}
