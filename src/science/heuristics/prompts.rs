//! The grid's prompts as token ids: a few-shot prefix computed once, then per legal cell the
//! branch `"{op1}{op}{op2}="` followed by the true answer, teacher-forced so one pass reads the
//! prediction of every answer token.
use super::grid::{GridSpec, Operator};
use crate::engine::error::{EngineError, Result};
use crate::engine::tokenizer::Tokenizer;

/// Four worked problems of the operator, one per line: a small model answers grid prompts far
/// more often after a few examples than zero-shot.
pub fn default_prefix(operator: Operator) -> &'static str {
    match operator {
        Operator::Add => "2+3=5\n14+21=35\n7+18=25\n33+9=42\n",
        Operator::Sub => "5-3=2\n35-21=14\n25-18=7\n42-9=33\n",
        Operator::Mul => "2*3=6\n4*7=28\n6*5=30\n3*9=27\n",
        Operator::Div => "6/3=2\n28/4=7\n30/5=6\n27/9=3\n",
    }
}

/// One legal cell's branch after the prefix.
#[derive(Debug, Clone, PartialEq)]
pub struct CellPrompt {
    /// The operands, operator and "=", then the answer's tokens.
    pub tokens: Vec<u32>,
    /// Offset of the "=" token in `tokens`; the answer's tokens follow it.
    pub equals: usize,
}

impl CellPrompt {
    /// The true answer's tokens: what the rows from "=" on should predict, in order.
    pub fn answer(&self) -> &[u32] {
        &self.tokens[self.equals + 1..]
    }
}

/// The tokenized grid.
#[derive(Debug, Clone)]
pub struct GridPrompts {
    /// The prefix's tokens (BOS included when the tokenizer adds one); may be empty.
    pub prefix: Vec<u32>,
    /// Per cell in grid order; `None` where the cell is illegal.
    pub cells: Vec<Option<CellPrompt>>,
}

impl GridPrompts {
    /// Tokenizes every legal cell after `prefix`. The whole text is tokenized at once and split,
    /// so the ids are the ones the model sees for the full prompt; a tokenizer that merges
    /// across the prefix's end or the "=" is refused rather than silently run on other ids.
    pub fn new(spec: &GridSpec, prefix: &str, tokenizer: &Tokenizer) -> Result<GridPrompts> {
        let prefix_ids = tokenizer.encode(prefix)?;
        let cells = (0..spec.len())
            .map(|i| {
                let Some(p) = spec.problem(i) else { return Ok(None) };
                let question = format!("{prefix}{}", spec.suffix(&p));
                let asked = tokenizer.encode(&question)?;
                let full = tokenizer.encode(&format!("{question}{}", p.result))?;
                let splits = asked.starts_with(&prefix_ids) && full.starts_with(&asked) && full.len() > asked.len();
                if !splits || asked.len() == prefix_ids.len() {
                    return Err(EngineError::Argument(format!(
                        "the tokenizer does not split {question:?}{} after the prefix and the \"=\"; \
                         choose a prefix ending in a newline",
                        p.result
                    )));
                }
                let equals = asked.len() - prefix_ids.len() - 1;
                Ok(Some(CellPrompt { tokens: full[prefix_ids.len()..].to_vec(), equals }))
            })
            .collect::<Result<_>>()?;
        Ok(GridPrompts { prefix: prefix_ids, cells })
    }
}
