//! One arithmetic heuristic: a predicate on a grid problem `(op1, op2, result)`, named in the
//! method's grammar (`op1_3mod7`, `result_range_20_30`, `op2_pattern_.5`, ..) and parsed back from it.
use std::fmt;
use std::str::FromStr;

use super::grid::Problem;
use super::patterns::DigitPattern;

/// One of the two operands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operand {
    Op1,
    Op2,
}

impl Operand {
    pub const ALL: [Operand; 2] = [Operand::Op1, Operand::Op2];

    pub fn of(self, p: &Problem) -> u32 {
        match self {
            Operand::Op1 => p.op1,
            Operand::Op2 => p.op2,
        }
    }
}

impl fmt::Display for Operand {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Operand::Op1 => "op1",
            Operand::Op2 => "op2",
        })
    }
}

/// A heuristic of the catalog or one mined per neuron. Ranges are half-open `[start, end)`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Heuristic {
    /// `op{i}_{m}mod{n}`: op_i ≡ m (mod n).
    OperandMod { op: Operand, m: u32, n: u32 },
    /// `both_operands_{m}mod{n}`: op1 ≡ op2 ≡ m (mod n).
    BothMod { m: u32, n: u32 },
    /// `result_{m}mod{n}`: r ≡ m (mod n).
    ResultMod { m: u32, n: u32 },
    /// `op{i}_range_{start}_{end}`.
    OperandRange { op: Operand, start: u32, end: u32 },
    /// `both_operands_range_{start}_{end}`: both operands in the range.
    BothRange { start: u32, end: u32 },
    /// `result_range_{start}_{end}`.
    ResultRange { start: u32, end: u32 },
    /// `same_operand`: op1 = op2.
    SameOperand,
    /// `op{i}_pattern_{p}`: the zero-padded operand matches `p`.
    OperandPattern { op: Operand, pattern: DigitPattern },
    /// `result_pattern_{p}`.
    ResultPattern { pattern: DigitPattern },
    /// `op{i}_value_{xyz}`: the operand equals `value`, written zero-padded to `width` digits.
    OperandValue { op: Operand, value: u32, width: usize },
    /// `result_value_{xyz}`.
    ResultValue { value: u32, width: usize },
    /// `result_multi_value_{s}=[a, b, ..]` (`/` only): the result is one of the sorted `values`.
    MultiResult { values: Vec<u32> },
}

impl Heuristic {
    /// The heuristic of a mined mask on an operand (`Some`) or on the result (`None`): a mask
    /// without wildcards is a direct value.
    pub fn from_pattern(of: Option<Operand>, pattern: DigitPattern) -> Heuristic {
        let width = pattern.width();
        match (of, pattern.value()) {
            (Some(op), Some(value)) => Heuristic::OperandValue { op, value, width },
            (Some(op), None) => Heuristic::OperandPattern { op, pattern },
            (None, Some(value)) => Heuristic::ResultValue { value, width },
            (None, None) => Heuristic::ResultPattern { pattern },
        }
    }

    /// The name in the method's grammar; [`FromStr`] reads it back.
    pub fn name(&self) -> String {
        self.to_string()
    }

    /// Whether the problem satisfies the heuristic.
    pub fn holds(&self, p: &Problem) -> bool {
        match self {
            Heuristic::OperandMod { op, m, n } => op.of(p) % n == *m,
            Heuristic::BothMod { m, n } => p.op1 % n == *m && p.op2 % n == *m,
            Heuristic::ResultMod { m, n } => p.result % n == *m,
            Heuristic::OperandRange { op, start, end } => (*start..*end).contains(&op.of(p)),
            Heuristic::BothRange { start, end } => (*start..*end).contains(&p.op1) && (*start..*end).contains(&p.op2),
            Heuristic::ResultRange { start, end } => (*start..*end).contains(&p.result),
            Heuristic::SameOperand => p.op1 == p.op2,
            Heuristic::OperandPattern { op, pattern } => pattern.matches(op.of(p)),
            Heuristic::ResultPattern { pattern } => pattern.matches(p.result),
            Heuristic::OperandValue { op, value, .. } => op.of(p) == *value,
            Heuristic::ResultValue { value, .. } => p.result == *value,
            Heuristic::MultiResult { values } => values.contains(&p.result),
        }
    }

    /// Result heuristics are scored on KV maps (what the neuron writes to the answer), operand and
    /// identical-operand ones on K maps (what it fires on): the method's "HYBRID" choice.
    pub fn reads_result(&self) -> bool {
        matches!(
            self,
            Heuristic::ResultMod { .. }
                | Heuristic::ResultRange { .. }
                | Heuristic::ResultPattern { .. }
                | Heuristic::ResultValue { .. }
                | Heuristic::MultiResult { .. }
        )
    }

    /// A short description for the UI, e.g. "result ≡ 8 (mod 10)" or "op1 in [10, 20)".
    pub fn describe(&self) -> String {
        match self {
            Heuristic::OperandMod { op, m, n } => format!("{op} ≡ {m} (mod {n})"),
            Heuristic::BothMod { m, n } => format!("op1 ≡ op2 ≡ {m} (mod {n})"),
            Heuristic::ResultMod { m, n } => format!("result ≡ {m} (mod {n})"),
            Heuristic::OperandRange { op, start, end } => format!("{op} in [{start}, {end})"),
            Heuristic::BothRange { start, end } => format!("op1, op2 in [{start}, {end})"),
            Heuristic::ResultRange { start, end } => format!("result in [{start}, {end})"),
            Heuristic::SameOperand => "op1 = op2".to_string(),
            Heuristic::OperandPattern { op, pattern } => format!("{op} digits {pattern}"),
            Heuristic::ResultPattern { pattern } => format!("result digits {pattern}"),
            Heuristic::OperandValue { op, value, .. } => format!("{op} = {value}"),
            Heuristic::ResultValue { value, .. } => format!("result = {value}"),
            Heuristic::MultiResult { values } => format!("result in {{{}}}", join(values)),
        }
    }
}

fn join(values: &[u32]) -> String {
    values.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
}

impl fmt::Display for Heuristic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Heuristic::OperandMod { op, m, n } => write!(f, "{op}_{m}mod{n}"),
            Heuristic::BothMod { m, n } => write!(f, "both_operands_{m}mod{n}"),
            Heuristic::ResultMod { m, n } => write!(f, "result_{m}mod{n}"),
            Heuristic::OperandRange { op, start, end } => write!(f, "{op}_range_{start}_{end}"),
            Heuristic::BothRange { start, end } => write!(f, "both_operands_range_{start}_{end}"),
            Heuristic::ResultRange { start, end } => write!(f, "result_range_{start}_{end}"),
            Heuristic::SameOperand => f.write_str("same_operand"),
            Heuristic::OperandPattern { op, pattern } => write!(f, "{op}_pattern_{pattern}"),
            Heuristic::ResultPattern { pattern } => write!(f, "result_pattern_{pattern}"),
            Heuristic::OperandValue { op, value, width } => write!(f, "{op}_value_{value:0width$}"),
            Heuristic::ResultValue { value, width } => write!(f, "result_value_{value:0width$}"),
            // The code writes the set as a Python list.
            Heuristic::MultiResult { values } => write!(f, "result_multi_value_{}=[{}]", values.len(), join(values)),
        }
    }
}

/// A plain decimal number (no sign, no spaces).
fn number(s: &str) -> Result<u32, String> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{s:?} is not a number"));
    }
    s.parse().map_err(|e| format!("{s:?}: {e}"))
}

/// `{m}mod{n}` with 0 <= m < n, n >= 2.
fn modulo(s: &str) -> Result<(u32, u32), String> {
    let (m, n) = s.split_once("mod").ok_or_else(|| format!("{s:?} is not {{m}}mod{{n}}"))?;
    let (m, n) = (number(m)?, number(n)?);
    if n < 2 || m >= n {
        return Err(format!("{m} mod {n} needs n >= 2 and m < n"));
    }
    Ok((m, n))
}

/// `{start}_{end}` with start < end.
fn range(s: &str) -> Result<(u32, u32), String> {
    let (a, b) = s.split_once('_').ok_or_else(|| format!("{s:?} is not {{start}}_{{end}}"))?;
    let (a, b) = (number(a)?, number(b)?);
    if a >= b {
        return Err(format!("range [{a}, {b}) is empty"));
    }
    Ok((a, b))
}

/// A mask with at least one wildcard and one fixed digit (all fixed is a value, none fixed is no heuristic).
fn pattern(s: &str) -> Result<DigitPattern, String> {
    let p: DigitPattern = s.parse()?;
    if p.fixed() == 0 || p.fixed() == p.width() {
        return Err(format!("pattern {s:?} needs both fixed digits and wildcards"));
    }
    Ok(p)
}

fn value(s: &str) -> Result<(u32, usize), String> {
    Ok((number(s)?, s.len()))
}

/// `{s}=[a, b, ..]` with s distinct sorted values, at least two.
fn multi(s: &str) -> Result<Vec<u32>, String> {
    let (count, list) = s.split_once('=').ok_or_else(|| format!("{s:?} is not {{s}}=[..]"))?;
    let inner =
        list.strip_prefix('[').and_then(|l| l.strip_suffix(']')).ok_or_else(|| format!("{list:?} is not [..]"))?;
    let values = inner.split(", ").map(number).collect::<Result<Vec<_>, _>>()?;
    if values.len() < 2 || values.len() != number(count)? as usize || !values.windows(2).all(|w| w[0] < w[1]) {
        return Err(format!("{s:?} needs {count} distinct sorted values, at least two"));
    }
    Ok(values)
}

impl FromStr for Heuristic {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        use Heuristic as H;
        if s == "same_operand" {
            return Ok(H::SameOperand);
        }
        let parsed = if let Some(rest) = s.strip_prefix("both_operands_range_") {
            range(rest).map(|(start, end)| H::BothRange { start, end })
        } else if let Some(rest) = s.strip_prefix("both_operands_") {
            modulo(rest).map(|(m, n)| H::BothMod { m, n })
        } else if let Some(rest) = s.strip_prefix("result_multi_value_") {
            multi(rest).map(|values| H::MultiResult { values })
        } else if let Some(rest) = s.strip_prefix("result_range_") {
            range(rest).map(|(start, end)| H::ResultRange { start, end })
        } else if let Some(rest) = s.strip_prefix("result_pattern_") {
            pattern(rest).map(|pattern| H::ResultPattern { pattern })
        } else if let Some(rest) = s.strip_prefix("result_value_") {
            value(rest).map(|(value, width)| H::ResultValue { value, width })
        } else if let Some(rest) = s.strip_prefix("result_") {
            modulo(rest).map(|(m, n)| H::ResultMod { m, n })
        } else if let Some((op, rest)) = s
            .strip_prefix("op1_")
            .map(|r| (Operand::Op1, r))
            .or_else(|| s.strip_prefix("op2_").map(|r| (Operand::Op2, r)))
        {
            if let Some(rest) = rest.strip_prefix("range_") {
                range(rest).map(|(start, end)| H::OperandRange { op, start, end })
            } else if let Some(rest) = rest.strip_prefix("pattern_") {
                pattern(rest).map(|pattern| H::OperandPattern { op, pattern })
            } else if let Some(rest) = rest.strip_prefix("value_") {
                value(rest).map(|(value, width)| H::OperandValue { op, value, width })
            } else {
                modulo(rest).map(|(m, n)| H::OperandMod { op, m, n })
            }
        } else {
            Err("unknown family".to_string())
        };
        parsed.map_err(|e| format!("heuristic name {s:?}: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Heuristic as H;

    fn problem(op1: u32, op2: u32, result: u32) -> Problem {
        Problem { op1, op2, result }
    }

    #[test]
    fn names_follow_the_grammar_and_parse_back() {
        let cases = [
            (H::OperandMod { op: Operand::Op1, m: 3, n: 7 }, "op1_3mod7"),
            (H::BothMod { m: 0, n: 2 }, "both_operands_0mod2"),
            (H::ResultMod { m: 8, n: 10 }, "result_8mod10"),
            (H::OperandRange { op: Operand::Op2, start: 10, end: 20 }, "op2_range_10_20"),
            (H::BothRange { start: 0, end: 25 }, "both_operands_range_0_25"),
            (H::ResultRange { start: 21, end: 31 }, "result_range_21_31"),
            (H::SameOperand, "same_operand"),
            (H::OperandPattern { op: Operand::Op1, pattern: ".5".parse().unwrap() }, "op1_pattern_.5"),
            (H::ResultPattern { pattern: "1.3.".parse().unwrap() }, "result_pattern_1.3."),
            (H::OperandValue { op: Operand::Op2, value: 7, width: 2 }, "op2_value_07"),
            (H::ResultValue { value: 0, width: 3 }, "result_value_000"),
            (H::MultiResult { values: vec![2, 4, 8] }, "result_multi_value_3=[2, 4, 8]"),
        ];
        for (h, name) in cases {
            assert_eq!(h.name(), name);
            assert_eq!(name.parse::<Heuristic>(), Ok(h), "{name}");
        }
        for bad in [
            "op3_1mod2",
            "op1_7mod7",
            "op1_1mod1",
            "op1_+1mod2",
            "result_range_5_5",
            "op1_pattern_12",
            "op1_pattern_..",
            "result_multi_value_3=[2, 4]",
            "result_multi_value_2=[4, 2]",
            "same_operands",
        ] {
            assert!(bad.parse::<Heuristic>().is_err(), "{bad}");
        }
    }

    #[test]
    fn predicates_follow_the_definitions() {
        let op1_range = H::OperandRange { op: Operand::Op1, start: 10, end: 20 };
        assert!(op1_range.holds(&problem(10, 0, 10)) && op1_range.holds(&problem(19, 0, 19)));
        assert!(!op1_range.holds(&problem(20, 0, 20)), "ranges are half-open");
        assert!(!op1_range.holds(&problem(9, 15, 24)));
        let both = H::BothRange { start: 10, end: 20 };
        assert!(both.holds(&problem(12, 19, 31)) && !both.holds(&problem(12, 20, 32)));
        assert!(H::ResultMod { m: 8, n: 10 }.holds(&problem(9, 9, 18)));
        assert!(H::OperandMod { op: Operand::Op2, m: 3, n: 7 }.holds(&problem(0, 45, 45)));
        assert!(
            H::BothMod { m: 1, n: 3 }.holds(&problem(4, 7, 11)) && !H::BothMod { m: 1, n: 3 }.holds(&problem(4, 6, 10))
        );
        // Patterns pad to their own width: `.5` of a 2-digit grid matches 5 ("05") but not 105.
        let ends_in_5 = H::ResultPattern { pattern: ".5".parse().unwrap() };
        assert!(ends_in_5.holds(&problem(2, 3, 5)) && ends_in_5.holds(&problem(40, 5, 45)));
        assert!(!ends_in_5.holds(&problem(60, 45, 105)));
        assert!(H::OperandValue { op: Operand::Op1, value: 7, width: 2 }.holds(&problem(7, 1, 8)));
        assert!(H::SameOperand.holds(&problem(4, 4, 8)) && !H::SameOperand.holds(&problem(4, 5, 9)));
        assert!(H::MultiResult { values: vec![2, 4] }.holds(&problem(8, 2, 4)));
    }

    #[test]
    fn result_heuristics_read_kv_maps_and_describe_themselves() {
        assert!(H::ResultRange { start: 0, end: 5 }.reads_result());
        assert!(!H::OperandMod { op: Operand::Op1, m: 0, n: 2 }.reads_result() && !H::SameOperand.reads_result());
        assert_eq!(H::ResultMod { m: 8, n: 10 }.describe(), "result ≡ 8 (mod 10)");
        assert_eq!(H::OperandRange { op: Operand::Op1, start: 10, end: 20 }.describe(), "op1 in [10, 20)");
        assert_eq!(H::from_pattern(None, "05".parse().unwrap()), H::ResultValue { value: 5, width: 2 });
        assert_eq!(H::from_pattern(Some(Operand::Op1), ".5".parse().unwrap()).name(), "op1_pattern_.5");
    }
}
