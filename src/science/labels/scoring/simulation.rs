//! Simulation: the model is told the concept and shown one excerpt at a time, one token a line,
//! and predicts the neuron's activation on every token from 0 to 10. The score is Pearson's r
//! between the predictions and the real activations (m over the neuron's scale), pooled over
//! every token of every excerpt whose predictions are usable.
use serde_json::{json, Value};

use super::math::pearson;
use super::{concept_lines, ScoreOutcome, SYSTEM_PROMPT};
use crate::science::labels::chat::{request_body, Chat};
use crate::science::labels::concepts::Concept;
use crate::science::labels::excerpt::{visible, Excerpt};
use crate::science::labels::score::SIMULATION;

/// Highest prediction asked for.
pub const MAX_PREDICTION: f64 = 10.0;

/// Room for one answer line per token: number, token and prediction, some 8 tokens each.
pub fn max_tokens(tokens: usize) -> u32 {
    (64 + 8 * tokens).min(4096) as u32
}

/// The user message for one excerpt.
pub fn prompt(concept: &Concept, excerpt: &Excerpt) -> String {
    let lines: Vec<String> = excerpt.tokens.iter().enumerate().map(|(i, t)| format!("{i}\t{}", visible(t))).collect();
    format!(
        "{}\n\nBelow is an excerpt of text, one token a line: the token's number, a tab, and the token (line breaks \
         and tabs inside a token are written \\n and \\t).\n\n{}\n\nFor every token, predict how strongly the neuron \
         activates on it: a whole number from 0 (not at all) to 10 (as strongly as it ever does). Answer with exactly \
         one line per token, in the same order, and nothing else: the token's number, a tab, the token, a tab, your \
         prediction.",
        concept_lines(concept),
        lines.join("\n")
    )
}

/// The predictions of an answer for an excerpt of `tokens` tokens, in token order. Lines that do
/// not start with a number (a preamble, a code fence) are passed over; every other line must be
/// `NUMBER<TAB>TOKEN<TAB>PREDICTION` (or the three separated by spaces) with the numbers in
/// order from 0 and the prediction a number from 0 to 10, one line per token.
pub fn parse_answer(answer: &str, tokens: usize) -> Result<Vec<f64>, String> {
    let mut predictions = Vec::with_capacity(tokens);
    for (at, line) in answer.lines().enumerate().map(|(i, l)| (i + 1, l.trim())) {
        let fields: Vec<&str> =
            if line.contains('\t') { line.split('\t').collect() } else { line.split(' ').collect() };
        let Ok(number) = fields[0].trim().parse::<usize>() else { continue };
        if fields.len() < 2 {
            return Err(format!("answer line {at} ('{line}') has no prediction"));
        }
        if number != predictions.len() {
            return Err(format!("answer line {at} is for token {number} where token {} was due", predictions.len()));
        }
        let last = fields[fields.len() - 1].trim();
        let prediction: f64 = last.parse().map_err(|_| format!("answer line {at}: '{last}' is not a number"))?;
        if !(0.0..=MAX_PREDICTION).contains(&prediction) {
            return Err(format!("answer line {at}: the prediction {last} is outside 0 to 10"));
        }
        predictions.push(prediction);
    }
    if predictions.len() != tokens {
        return Err(format!("the answer has {} predictions for {tokens} tokens", predictions.len()));
    }
    Ok(predictions)
}

/// Scores `concept` by simulation over `excerpts`, one request each. An excerpt without usable
/// predictions is left out of the score and said so in the detail; with none usable, or
/// predictions or activations that do not vary, there is no score.
pub fn score(chat: &Chat, concept: &Concept, excerpts: &[Excerpt]) -> ScoreOutcome {
    let mut requests = 0;
    let mut entries: Vec<Value> = Vec::with_capacity(excerpts.len());
    let mut problems: Vec<String> = Vec::new();
    let (mut predicted, mut actual) = (Vec::new(), Vec::new());
    let mut usable = 0u32;
    for (index, excerpt) in excerpts.iter().enumerate() {
        let mut entry = json!({ "index": index, "tokens": excerpt.tokens.len() });
        let predictions = match excerpt.problem() {
            Some(problem) => Err(format!("it cannot be shown: {problem}")),
            None => {
                let user = prompt(concept, excerpt);
                let body = request_body(&chat.endpoint().model, SYSTEM_PROMPT, &user, max_tokens(excerpt.tokens.len()));
                let reply = chat.ask(&body);
                requests += reply.attempts;
                entry["attempts"] = json!(reply.attempts);
                match reply.answer {
                    Ok(answer) => {
                        entry["answer"] = json!(answer);
                        parse_answer(&answer, excerpt.tokens.len())
                    }
                    Err(error) => Err(format!("no answer: {error}")),
                }
            }
        };
        match predictions {
            Ok(p) => {
                usable += 1;
                predicted.extend_from_slice(&p);
                actual.extend(excerpt.activations.iter().map(|&a| a as f64));
                entry["predictions"] = json!(p);
            }
            Err(why) => {
                problems.push(format!("excerpt {index}: {why}"));
                entry["unusable"] = json!(why);
            }
        }
        entries.push(entry);
    }
    let detail = json!({ "excerpts": entries });
    let result = if excerpts.is_empty() {
        Err("simulation needs at least one excerpt".to_string())
    } else if usable == 0 {
        Err(format!("no excerpt's predictions are usable: {}", problems.join("; ")))
    } else {
        pearson(&predicted, &actual)
    };
    match result {
        Ok(r) => ScoreOutcome { scorer: SIMULATION, score: Some(r), failure: None, contexts: usable, detail, requests },
        Err(why) => ScoreOutcome::failed(SIMULATION, why, usable, detail, requests),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn well_formed_answers_give_one_prediction_per_token() {
        assert_eq!(parse_answer("0\tThe\t0\n1\t cat\t7\n2\t.\t10", 3), Ok(vec![0.0, 7.0, 10.0]));
        // A preamble, a code fence, spaces instead of tabs, a token holding a tab written out.
        let chatty = "Here are my predictions:\n```\n0 The 1\n1\t\\t\t2.5\n```";
        assert_eq!(parse_answer(chatty, 2), Ok(vec![1.0, 2.5]));
    }

    #[test]
    fn malformed_answers_say_what_is_wrong() {
        let err = |answer: &str, tokens| parse_answer(answer, tokens).unwrap_err();
        assert!(err("0\ta\t1\n1\tb\t2", 3).contains("2 predictions for 3 tokens"));
        assert!(err("0\ta\t1\n1\tb\t2\n2\tc\t3", 2).contains("3 predictions for 2 tokens"));
        assert!(err("0\ta\thigh", 1).contains("'high' is not a number"));
        assert!(err("0\ta\t11", 1).contains("outside 0 to 10"));
        assert!(err("0\ta\t-1", 1).contains("outside 0 to 10"));
        assert!(err("1\ta\t3", 1).contains("token 1 where token 0 was due"));
        assert!(err("I can't help with that.", 4).contains("0 predictions for 4 tokens"));
        assert!(err("0", 1).contains("no prediction"));
    }
}
