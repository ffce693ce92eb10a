//! The operand grid: every `(op1, op2)` pair of two operand ranges for one operator, in row-major
//! order (op1 rows, op2 columns), with the pairs whose result is not a natural number marked illegal.
use std::fmt;
use std::ops::Range;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// An arithmetic operator of the prompts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operator {
    Add,
    Sub,
    Mul,
    Div,
}

impl Operator {
    pub const ALL: [Operator; 4] = [Operator::Add, Operator::Sub, Operator::Mul, Operator::Div];

    /// The character the prompt uses.
    pub fn symbol(self) -> char {
        match self {
            Operator::Add => '+',
            Operator::Sub => '-',
            Operator::Mul => '*',
            Operator::Div => '/',
        }
    }

    /// The operator's word, as file names and label concepts write it.
    pub fn key(self) -> &'static str {
        match self {
            Operator::Add => "add",
            Operator::Sub => "sub",
            Operator::Mul => "mul",
            Operator::Div => "div",
        }
    }

    /// The result when it is a natural number: subtraction needs `op2 <= op1`, and division an
    /// exact quotient by a non-zero divisor (a digit-level model writes decimals otherwise).
    pub fn result(self, op1: u32, op2: u32) -> Option<u32> {
        match self {
            Operator::Add => op1.checked_add(op2),
            Operator::Sub => op1.checked_sub(op2),
            Operator::Mul => op1.checked_mul(op2),
            Operator::Div => (op2 != 0 && op1.is_multiple_of(op2)).then(|| op1 / op2),
        }
    }
}

impl fmt::Display for Operator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.symbol())
    }
}

impl FromStr for Operator {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "+" | "add" => Ok(Operator::Add),
            "-" | "sub" => Ok(Operator::Sub),
            "*" | "x" | "mul" => Ok(Operator::Mul),
            "/" | "div" => Ok(Operator::Div),
            _ => Err(format!("unknown operator {s:?} (expected + - * / or add sub mul div)")),
        }
    }
}

/// One legal grid prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Problem {
    pub op1: u32,
    pub op2: u32,
    pub result: u32,
}

/// An operator over two half-open operand ranges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct GridSpec {
    pub operator: Operator,
    pub op1: Range<u32>,
    pub op2: Range<u32>,
}

impl GridSpec {
    /// Both operands in `0..n`.
    pub fn square(operator: Operator, n: u32) -> Self {
        GridSpec { operator, op1: 0..n, op2: 0..n }
    }

    pub fn rows(&self) -> usize {
        self.op1.len()
    }

    pub fn cols(&self) -> usize {
        self.op2.len()
    }

    /// Number of cells, legal or not.
    pub fn len(&self) -> usize {
        self.rows() * self.cols()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The operands of cell `index` (row-major).
    pub fn operands(&self, index: usize) -> (u32, u32) {
        let cols = self.cols();
        (self.op1.start + (index / cols) as u32, self.op2.start + (index % cols) as u32)
    }

    /// The cell of a pair, if it lies in the grid.
    pub fn index(&self, op1: u32, op2: u32) -> Option<usize> {
        (self.op1.contains(&op1) && self.op2.contains(&op2))
            .then(|| (op1 - self.op1.start) as usize * self.cols() + (op2 - self.op2.start) as usize)
    }

    /// The problem of cell `index`, or `None` where the result is not a natural number.
    pub fn problem(&self, index: usize) -> Option<Problem> {
        let (op1, op2) = self.operands(index);
        self.operator.result(op1, op2).map(|result| Problem { op1, op2, result })
    }

    /// Every legal cell with its problem, in cell order.
    pub fn problems(&self) -> impl Iterator<Item = (usize, Problem)> + '_ {
        (0..self.len()).filter_map(|i| self.problem(i).map(|p| (i, p)))
    }

    /// M of the method's budgets: the largest operand bound.
    pub fn max_operand(&self) -> u32 {
        self.op1.end.max(self.op2.end)
    }

    /// f of the method's budgets: legal pairs over M².
    pub fn legal_fraction(&self) -> f64 {
        let m = self.max_operand() as f64;
        self.problems().count() as f64 / (m * m)
    }

    /// The prompt text of a problem after the few-shot prefix: `"{op1}{op}{op2}="`, no spaces.
    pub fn suffix(&self, p: &Problem) -> String {
        format!("{}{}{}=", p.op1, self.operator.symbol(), p.op2)
    }
}

impl fmt::Display for GridSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "op1 in {:?} {} op2 in {:?}", self.op1, self.operator, self.op2)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_row_major_and_illegal_pairs_have_no_problem() {
        let g = GridSpec { operator: Operator::Sub, op1: 2..5, op2: 0..4 };
        assert_eq!((g.rows(), g.cols(), g.len()), (3, 4, 12));
        assert_eq!(g.operands(5), (3, 1));
        assert_eq!(g.index(3, 1), Some(5));
        assert_eq!(g.index(5, 0), None);
        assert_eq!(g.problem(5), Some(Problem { op1: 3, op2: 1, result: 2 }));
        assert_eq!(g.problem(3), None, "2-3 is negative");
        assert_eq!(g.problems().count(), 3 + 4 + 4);
    }

    #[test]
    fn division_is_exact_only_and_the_legal_fraction_follows() {
        assert_eq!(Operator::Div.result(45, 4), None);
        assert_eq!(Operator::Div.result(44, 4), Some(11));
        assert_eq!(Operator::Div.result(3, 0), None);
        assert_eq!(GridSpec::square(Operator::Add, 50).legal_fraction(), 1.0);
        assert_eq!(GridSpec::square(Operator::Sub, 10).legal_fraction(), 0.55);
        let g = GridSpec::square(Operator::Mul, 12);
        assert_eq!(g.suffix(&g.problem(g.index(7, 11).unwrap()).unwrap()), "7*11=");
    }
}
