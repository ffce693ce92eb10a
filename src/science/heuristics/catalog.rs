//! The fixed heuristic candidates of one grid, each with its budget k (how many of a neuron's top
//! prompts it reads) and its member cells, computed once per grid so classifying a neuron is a rank
//! lookup per member.
use serde::{Deserialize, Serialize};

use super::grid::{GridSpec, Operator, Problem};
use super::heuristic::{Heuristic, Operand};
use super::patterns::DigitPattern;

/// How many top prompts a heuristic reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BudgetRule {
    /// The released code's formulas in M and f (docs/heuristics.md §3). Mod budgets are about |H|
    /// scaled by f, so a mod score measures precision at the top of the ranking.
    #[default]
    Code,
    /// The paper's Algorithm 1: k = |H ∩ legal cells|.
    SetSize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct CatalogSettings {
    pub budget: BudgetRule,
    /// The n of the mod heuristics (the code's 2..=10; the paper adds 11, 13, 15).
    pub moduli: Vec<u32>,
}

impl Default for CatalogSettings {
    fn default() -> Self {
        CatalogSettings { budget: BudgetRule::Code, moduli: (2..=10).collect() }
    }
}

/// One fixed heuristic with its budget and the legal cells (row-major indices) satisfying it.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub heuristic: Heuristic,
    pub budget: usize,
    members: Vec<u32>,
    /// Share of the legal cells satisfying the heuristic: the score a ranking that knows
    /// nothing gets.
    pub base_rate: f32,
    /// The candidate holding on exactly the other legal cells with the same budget (op1 in
    /// [0, 25) and op1 in [25, 50)), if any: the lowest prompts of one are the highest of the
    /// other, so a neuron matching one from below matches the other from above.
    pub complement: Option<usize>,
}

impl Candidate {
    /// The legal cells satisfying the heuristic, ascending; never empty.
    pub fn members(&self) -> &[u32] {
        &self.members
    }
}

/// The candidates of one grid plus what per-neuron mining needs (problems per cell, digit widths,
/// budgets of mined heuristics).
#[derive(Debug, Clone)]
pub struct Catalog {
    grid: GridSpec,
    cells: Vec<Option<Problem>>,
    candidates: Vec<Candidate>,
    operand_width: usize,
    result_width: usize,
    mined_budget: usize,
    multi_budget: usize,
    /// Distinct values of op1, op2 and the result over the legal cells, ascending, each with the
    /// number of cells holding it: what a mined pattern's base rate is counted from.
    value_counts: [Vec<(u32, u32)>; 3],
    legal: usize,
}

/// Operand range sizes as fractions of M: 5, 10, 25 at M = 50 (docs §8).
const OPERAND_RANGE_SIZES: [(u32, u32); 3] = [(1, 10), (1, 5), (1, 2)];
/// Result range sizes as fractions of M: 5, 10, 20 at M = 50, plus 50 for `*` (docs §8).
const RESULT_RANGE_SIZES: [(u32, u32); 3] = [(1, 10), (1, 5), (2, 5)];
const MUL_RESULT_RANGE_SIZE: (u32, u32) = (1, 1);

/// Range sizes `M * num / den`, rounded, at least 2, without repeats (small grids).
fn sizes(m: u32, fractions: impl IntoIterator<Item = (u32, u32)>) -> Vec<u32> {
    let mut out: Vec<u32> = fractions.into_iter().map(|(num, den)| ((m * num + den / 2) / den).max(2)).collect();
    out.dedup();
    out
}

fn digits(n: u32) -> usize {
    n.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// Every fixed candidate of the grid before membership is known, in the code's order. Sizes follow
/// docs §8 at M = 50 and scale linearly with M otherwise: operand ranges of M/10, M/5, M/2 starting
/// at 0, size, 2 size, ..; result ranges of M/10, M/5, 2M/5 (and M for `*`) starting every
/// max(size / 3, 2) up to the largest result.
fn enumerate(grid: &GridSpec, moduli: &[u32], max_result: u32) -> Vec<Heuristic> {
    let m = grid.max_operand();
    let mods = || moduli.iter().flat_map(|&n| (0..n).map(move |r| (r, n)));
    let operand_ranges = || {
        sizes(m, OPERAND_RANGE_SIZES)
            .into_iter()
            .flat_map(move |size| (0..m).step_by(size as usize).map(move |a| (a, a + size)))
    };
    let mut result_sizes = RESULT_RANGE_SIZES.to_vec();
    if grid.operator == Operator::Mul {
        result_sizes.push(MUL_RESULT_RANGE_SIZE);
    }
    let result_ranges = sizes(m, result_sizes)
        .into_iter()
        .flat_map(|size| (0..=max_result).step_by((size / 3).max(2) as usize).map(move |a| (a, a + size)));

    let mut out = Vec::new();
    for op in Operand::ALL {
        out.extend(mods().map(|(m, n)| Heuristic::OperandMod { op, m, n }));
        out.extend(operand_ranges().map(|(start, end)| Heuristic::OperandRange { op, start, end }));
    }
    out.extend(mods().map(|(m, n)| Heuristic::BothMod { m, n }));
    out.extend(operand_ranges().map(|(start, end)| Heuristic::BothRange { start, end }));
    // Integer division leaves no remainder to read on the exact-division grid.
    if grid.operator != Operator::Div {
        out.extend(mods().map(|(m, n)| Heuristic::ResultMod { m, n }));
    }
    out.extend(result_ranges.map(|(start, end)| Heuristic::ResultRange { start, end }));
    out.push(Heuristic::SameOperand);
    out
}

/// Sets [`Candidate::complement`]: pairs of same-budget candidates whose members split the legal
/// cells between them.
fn link_complements(candidates: &mut [Candidate], legal: usize) {
    for i in 0..candidates.len() {
        let found = (0..candidates.len()).find(|&j| {
            let (a, b) = (&candidates[i], &candidates[j]);
            i != j
                && a.budget == b.budget
                && a.members.len() + b.members.len() == legal
                && a.members.iter().all(|m| b.members.binary_search(m).is_err())
        });
        candidates[i].complement = found;
    }
}

/// Distinct values with their counts, ascending.
fn value_counts(values: impl Iterator<Item = u32>) -> Vec<(u32, u32)> {
    let mut counts = std::collections::BTreeMap::new();
    values.for_each(|v| *counts.entry(v).or_insert(0) += 1);
    counts.into_iter().collect()
}

impl Catalog {
    /// The candidates of `grid`, dropping those no legal cell satisfies (or whose budget is 0).
    pub fn new(grid: &GridSpec, settings: &CatalogSettings) -> Catalog {
        let cells: Vec<Option<Problem>> = (0..grid.len()).map(|i| grid.problem(i)).collect();
        let legal = cells.iter().flatten().count() as u64;
        let max_result = cells.iter().flatten().map(|p| p.result).max().unwrap_or(0);
        let m = u64::from(grid.max_operand().max(1));
        // f = legal / M²; products are formed before dividing so the truncation is the code's int().
        let scaled = |count: u64| (count * legal / (m * m)) as usize;
        // The code caps result budgets of `*` and `/` at M: few prompts share each result there.
        let result_cap = |k: usize| match grid.operator {
            Operator::Mul | Operator::Div => k.min(m as usize),
            Operator::Add | Operator::Sub => k,
        };
        let code_budget = |h: &Heuristic, members: usize| match *h {
            Heuristic::OperandMod { n, .. } => scaled(m / u64::from(n) * m),
            Heuristic::BothMod { n, .. } => scaled((m / u64::from(n)).pow(2)),
            Heuristic::ResultMod { n, .. } => result_cap(scaled((m / u64::from(n)).pow(2))),
            Heuristic::OperandRange { .. } | Heuristic::BothRange { .. } => members,
            Heuristic::ResultRange { .. } => result_cap(members),
            // The code's floor(sqrt(limit)) for `*` counts the squares under its single-token cap:
            // the legal diagonal cells, which is all of them without a cap.
            Heuristic::SameOperand if grid.operator == Operator::Mul => members,
            Heuristic::SameOperand => m as usize,
            _ => unreachable!("mined heuristics are not enumerated"),
        };
        let mut candidates: Vec<Candidate> = enumerate(grid, &settings.moduli, max_result)
            .into_iter()
            .filter_map(|heuristic| {
                let members: Vec<u32> = (0..cells.len() as u32)
                    .filter(|&i| cells[i as usize].is_some_and(|p| heuristic.holds(&p)))
                    .collect();
                let budget = match settings.budget {
                    BudgetRule::Code => code_budget(&heuristic, members.len()),
                    BudgetRule::SetSize => members.len(),
                };
                let base_rate = members.len() as f32 / legal.max(1) as f32;
                (!members.is_empty() && budget > 0).then_some(Candidate {
                    heuristic,
                    budget,
                    members,
                    base_rate,
                    complement: None,
                })
            })
            .collect();
        link_complements(&mut candidates, legal as usize);
        let value_counts = [
            value_counts(cells.iter().flatten().map(|p| p.op1)),
            value_counts(cells.iter().flatten().map(|p| p.op2)),
            value_counts(cells.iter().flatten().map(|p| p.result)),
        ];
        Catalog {
            grid: grid.clone(),
            cells,
            candidates,
            operand_width: digits(grid.max_operand().saturating_sub(1)),
            result_width: digits(max_result),
            mined_budget: scaled(m),
            // The code reads 1000 of ~89k truncating-division prompts; the exact-division grid has
            // about M ln M legal cells, so read M, the cap the code puts on the other `/` result budgets.
            multi_budget: m as usize,
            value_counts,
            legal: legal as usize,
        }
    }

    /// Share of the legal cells whose operand (`Some`) or result (`None`) matches `pattern`.
    pub fn pattern_base_rate(&self, of: Option<Operand>, pattern: DigitPattern) -> f32 {
        let counts = match of {
            Some(Operand::Op1) => &self.value_counts[0],
            Some(Operand::Op2) => &self.value_counts[1],
            None => &self.value_counts[2],
        };
        let hits: u32 = counts.iter().filter(|&&(v, _)| pattern.matches(v)).map(|&(_, n)| n).sum();
        hits as f32 / self.legal.max(1) as f32
    }

    pub fn grid(&self) -> &GridSpec {
        &self.grid
    }

    pub fn candidates(&self) -> &[Candidate] {
        &self.candidates
    }

    /// The problem of a cell, `None` where it is illegal.
    pub fn problem(&self, cell: usize) -> Option<Problem> {
        self.cells[cell]
    }

    /// Digits operand patterns pad to: those of M - 1.
    pub fn operand_width(&self) -> usize {
        self.operand_width
    }

    /// Digits result patterns pad to: those of the largest legal result.
    pub fn result_width(&self) -> usize {
        self.result_width
    }

    /// k of mined patterns and direct values: M f under either budget rule, because the mask is
    /// chosen from exactly these prompts and its score is its share of them.
    pub fn mined_budget(&self) -> usize {
        self.mined_budget
    }

    /// k of the `/` multi-result set, mined like the patterns.
    pub fn multi_budget(&self) -> usize {
        self.multi_budget
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog(operator: Operator, budget: BudgetRule) -> Catalog {
        Catalog::new(&GridSpec::square(operator, 50), &CatalogSettings { budget, ..Default::default() })
    }

    fn find<'a>(c: &'a Catalog, name: &str) -> Option<&'a Candidate> {
        let h: Heuristic = name.parse().unwrap();
        c.candidates().iter().find(|cand| cand.heuristic == h)
    }

    fn budget(c: &Catalog, name: &str) -> usize {
        find(c, name).unwrap_or_else(|| panic!("{name} not in the catalog")).budget
    }

    #[test]
    fn code_budgets_follow_the_formulas_in_m_and_f() {
        let add = catalog(Operator::Add, BudgetRule::Code);
        assert_eq!(budget(&add, "op1_3mod7"), 350, "(50/7)*50*1.0");
        assert_eq!(budget(&add, "both_operands_3mod7"), 49, "(50/7)^2*1.0");
        assert_eq!(budget(&add, "result_0mod2"), 625, "(50/2)^2*1.0");
        assert_eq!(budget(&add, "same_operand"), 50);
        assert_eq!(add.mined_budget(), 50);
        // The 0..50 `-` grid keeps op2 <= op1: 1275 of 2500 cells, f = 0.51.
        assert_eq!(GridSpec::square(Operator::Sub, 50).legal_fraction(), 0.51);
        let sub = catalog(Operator::Sub, BudgetRule::Code);
        assert_eq!(budget(&sub, "op1_3mod7"), 178, "int(350*0.51) = int(178.5)");
        assert_eq!(budget(&sub, "both_operands_3mod7"), 24, "int(49*0.51)");
        assert_eq!(sub.mined_budget(), 25);
        // Ranges read exactly their set: op1 in [10, 20) with op2 <= op1 is 11 + 12 + .. + 20.
        assert_eq!(budget(&sub, "op1_range_10_20"), 155);
        // `*` caps result budgets at M: 625 -> 50, and [0, 5) has 99 zero products + 1 + 2 + 2 + 3.
        let mul = catalog(Operator::Mul, BudgetRule::Code);
        assert_eq!(budget(&mul, "result_0mod2"), 50);
        let zero_to_five = find(&mul, "result_range_0_5").unwrap();
        assert_eq!((zero_to_five.members().len(), zero_to_five.budget), (107, 50));
    }

    #[test]
    fn set_size_budgets_count_the_legal_members() {
        // op1 in {3, 10, .., 45} with op2 <= op1: 4 + 11 + 18 + 25 + 32 + 39 + 46 cells.
        let sub = catalog(Operator::Sub, BudgetRule::SetSize);
        assert_eq!(budget(&sub, "op1_3mod7"), 175);
        assert_eq!(budget(&catalog(Operator::Add, BudgetRule::SetSize), "op1_3mod7"), 350);
        for c in sub.candidates() {
            assert_eq!(c.budget, c.members().len(), "{}", c.heuristic);
        }
    }

    #[test]
    fn candidates_are_sized_for_m_50_and_empty_ones_dropped() {
        // +: op mods 2 x (2 + .. + 10) = 108, both and result mods 54 each, operand ranges
        // 2 x (10 + 5 + 2) = 34, both ranges 17, result ranges over 0..=98: 50 of size 5 (step 2),
        // 33 of size 10 (step 3), 17 of size 20 (step 6); and same_operand: 368.
        assert_eq!(catalog(Operator::Add, BudgetRule::Code).candidates().len(), 368);
        // -: results 0..=49 leave 25 + 17 + 9 result ranges: 368 - 100 + 51 = 319.
        assert_eq!(catalog(Operator::Sub, BudgetRule::Code).candidates().len(), 319);
        let mul = catalog(Operator::Mul, BudgetRule::Code);
        assert!(find(&mul, "result_range_2352_2402").is_some(), "size 50, step 16, for *");
        assert!(find(&mul, "result_range_2354_2359").is_none(), "no product of two numbers < 50 in 2354..2359");
        assert!(mul.candidates().iter().all(|c| !c.members().is_empty() && c.budget > 0));
        assert_eq!((mul.operand_width(), mul.result_width()), (2, 4), "49 and 49*49 = 2401");
        let div = catalog(Operator::Div, BudgetRule::Code);
        assert!(!div.candidates().iter().any(|c| matches!(c.heuristic, Heuristic::ResultMod { .. })));
        assert_eq!(budget(&div, "same_operand"), 50, "M, though 0/0 is illegal");
        let add = catalog(Operator::Add, BudgetRule::Code);
        let members = |h: &str| find(&add, h).unwrap().members().to_vec();
        assert_eq!(members("both_operands_range_45_50").len(), 25);
        assert_eq!(members("op2_range_0_5")[..6], [0, 1, 2, 3, 4, 50]);
    }
}
