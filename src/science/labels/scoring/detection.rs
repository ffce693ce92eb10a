//! Detection: the model is told the concept and shown activating and quiet excerpts, shuffled
//! and numbered, and names the ones that activate the neuron. The score is the balanced accuracy
//! of its choice, (TP/P + TN/N) / 2: 0.5 is chance, 1 a perfect split.
use rand::seq::SliceRandom;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use serde_json::json;

use super::math::balanced_accuracy;
use super::{concept_lines, marked, ScoreOutcome, SYSTEM_PROMPT};
use crate::science::labels::chat::{request_body, Chat};
use crate::science::labels::concepts::Concept;
use crate::science::labels::excerpt::Excerpt;
use crate::science::labels::score::DETECTION;

/// Room for a list of numbers and a sentence around it.
pub const MAX_TOKENS: u32 = 200;

/// The user message: the concept, then the excerpts numbered from 1 in the order shown.
pub fn prompt(concept: &Concept, shown: &[&Excerpt]) -> String {
    let list: Vec<String> = shown.iter().enumerate().map(|(i, e)| format!("{}. {}", i + 1, marked(e))).collect();
    format!(
        "{}\n\nBelow are {} numbered excerpts of text. In each one, the token between [[ and ]] is the one the neuron \
         was measured on. On some of these tokens the neuron activates strongly; on the others it stays quiet.\n\n{}\n\n\
         Which excerpts have a marked token that activates the neuron? Answer with one line: \"Answer:\" followed by \
         their numbers separated by commas (for example \"Answer: 2, 5, 7\"), or \"Answer: none\" if no excerpt does.",
        concept_lines(concept),
        shown.len(),
        list.join("\n")
    )
}

/// The excerpt numbers (1-based) an answer names. Reads the text after the last `Answer:`, or
/// the whole answer without one; every number there counts, and `none` with no number is the
/// empty choice. Anything else, or a number no excerpt has, is not an answer.
pub fn parse_answer(answer: &str, excerpts: usize) -> Result<Vec<usize>, String> {
    let lower = answer.to_lowercase();
    let part = match lower.rfind("answer:") {
        Some(at) => lower[at + "answer:".len()..].lines().next().unwrap_or(""),
        None => lower.as_str(),
    };
    let mut numbers = Vec::new();
    for word in part.split(|c: char| !c.is_ascii_digit()).filter(|w| !w.is_empty()) {
        match word.parse::<usize>() {
            Ok(n) if (1..=excerpts).contains(&n) => numbers.push(n),
            _ => return Err(format!("the answer names excerpt {word}, but there are only {excerpts}")),
        }
    }
    if numbers.is_empty() && !part.split(|c: char| !c.is_alphabetic()).any(|w| w == "none") {
        return Err("the answer names no excerpt numbers (nor \"none\")".into());
    }
    numbers.sort_unstable();
    numbers.dedup();
    Ok(numbers)
}

/// Scores `concept` by detection over `activating` and `quiet` excerpts, shown in an order
/// shuffled by `seed` (recorded in the detail with everything else).
pub fn score(chat: &Chat, concept: &Concept, activating: &[Excerpt], quiet: &[Excerpt], seed: u64) -> ScoreOutcome {
    let fail =
        |why: String, contexts, detail, requests| ScoreOutcome::failed(DETECTION, why, contexts, detail, requests);
    let (p, n) = (activating.len(), quiet.len());
    if p == 0 || n == 0 {
        let why = format!("detection needs activating and quiet excerpts (there were {p} and {n})");
        return fail(why, 0, json!({ "seed": seed, "activating": p, "quiet": n }), 0);
    }
    // (activating, index among its kind, excerpt), in the order shown once shuffled.
    let mut order: Vec<(bool, usize, &Excerpt)> = activating
        .iter()
        .enumerate()
        .map(|(i, e)| (true, i, e))
        .chain(quiet.iter().enumerate().map(|(i, e)| (false, i, e)))
        .collect();
    for (hot, index, e) in &order {
        if let Some(problem) = e.problem() {
            let kind = if *hot { "activating" } else { "quiet" };
            let why = format!("{kind} excerpt {index} cannot be shown: {problem}");
            return fail(why, 0, json!({ "seed": seed, "activating": p, "quiet": n }), 0);
        }
    }
    order.shuffle(&mut ChaCha8Rng::seed_from_u64(seed));
    let shown: Vec<&Excerpt> = order.iter().map(|(_, _, e)| *e).collect();
    let body = request_body(&chat.endpoint().model, SYSTEM_PROMPT, &prompt(concept, &shown), MAX_TOKENS);
    let reply = chat.ask(&body);
    let listed: Vec<_> = order
        .iter()
        .enumerate()
        .map(|(i, (hot, index, _))| json!({ "number": i + 1, "activating": hot, "index": index }))
        .collect();
    let mut detail = json!({
        "seed": seed,
        "shown": listed,
        "activating": p,
        "quiet": n,
        "attempts": reply.attempts,
    });
    let contexts = (p + n) as u32;
    let answer = match reply.answer {
        Ok(answer) => answer,
        Err(error) => {
            detail["error"] = json!(error);
            return fail(format!("no answer: {error}"), contexts, detail, reply.attempts);
        }
    };
    detail["answer"] = json!(answer);
    let chosen = match parse_answer(&answer, p + n) {
        Ok(chosen) => chosen,
        Err(why) => return fail(why, contexts, detail, reply.attempts),
    };
    let true_positives = chosen.iter().filter(|&&k| order[k - 1].0).count();
    let true_negatives = n - (chosen.len() - true_positives);
    detail["chosen"] = json!(chosen);
    detail["true_positives"] = json!(true_positives);
    detail["true_negatives"] = json!(true_negatives);
    match balanced_accuracy(true_positives, p, true_negatives, n) {
        Ok(score) => ScoreOutcome {
            scorer: DETECTION,
            score: Some(score),
            failure: None,
            contexts,
            detail,
            requests: reply.attempts,
        },
        Err(why) => fail(why, contexts, detail, reply.attempts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_tolerantly_but_not_guessed() {
        assert_eq!(parse_answer("Answer: 2, 5, 7", 8), Ok(vec![2, 5, 7]));
        assert_eq!(parse_answer("Excerpts 3 and 1 do.", 4), Ok(vec![1, 3]));
        assert_eq!(parse_answer("Looking at excerpt 9 first...\nANSWER: 1,1,4", 4), Ok(vec![1, 4]));
        assert_eq!(parse_answer("Answer: none", 4), Ok(vec![]));
        assert_eq!(parse_answer("None of them.", 4), Ok(vec![]));
        assert!(parse_answer("Answer: 2, 12", 10).unwrap_err().contains("excerpt 12"));
        assert!(parse_answer("Answer: 0", 10).unwrap_err().contains("excerpt 0"));
        assert!(parse_answer("I can't help with that.", 10).unwrap_err().contains("no excerpt numbers"));
        assert!(parse_answer("", 3).is_err());
    }

    #[test]
    fn the_prompt_numbers_the_excerpts_and_marks_the_focus() {
        let concept = Concept {
            key: "add".into(),
            name: "arithmetic addition".into(),
            seeds: vec![],
            question: "Is this neuron promoting arithmetic addition ?".into(),
        };
        let e = Excerpt { tokens: vec!["1".into(), " +".into(), "\n2".into()], focus: 1, activations: vec![0.0; 3] };
        let text = prompt(&concept, &[&e, &e]);
        assert!(
            text.starts_with("We are checking whether a neuron in a language model responds to arithmetic addition.")
        );
        assert!(text.contains("\n\n1. 1[[ +]]\\n2\n2. 1[[ +]]\\n2\n\n"), "{text}");
        assert!(text.contains("Below are 2 numbered excerpts"), "{text}");
    }
}
