//! Scoring GSM8K answers the way the method does (docs/method.md §6).

/// Where the gold answer starts in a GSM8K solution.
const GOLD_MARK: &str = "\n#### ";
/// What the exemplars (and so the model) say before the final number.
const ANSWER_MARK: &str = "The answer is ";
/// Where the model starts a new exemplar of its own.
const NEXT_QUESTION: &str = "\n\nQuestion:";

/// Which "The answer is " holds the prediction: the 1st in generated text alone; the 9th when
/// the decoded text starts with the 8-exemplar prompt (the reference decodes prompt and output).
pub const IN_GENERATED_TEXT: usize = 1;
pub const IN_PROMPT_AND_GENERATED_TEXT: usize = 9;

/// The integer after "\n#### " in a GSM8K solution, commas removed; None when there is none.
pub fn gold(solution: &str) -> Option<f64> {
    let (_, after) = solution.split_once(GOLD_MARK)?;
    after.trim().replace(',', "").parse::<i64>().ok().map(|n| n as f64)
}

/// The number the model answered: the text after the `occurrence`-th (1-based) "The answer is ",
/// cut at "\n\nQuestion:", with ASCII letters and `% $ = - .` turned into spaces and commas
/// dropped; its last whitespace-separated token as a number. None (the method's failure value)
/// when there is no such occurrence or the token is not a number.
///
/// Replacing `.` and `-` as the method does means "3.5" reads as 5 and "-4" as 4.
pub fn prediction(text: &str, occurrence: usize) -> Option<f64> {
    let after = text.split(ANSWER_MARK).nth(occurrence)?;
    let answer = after.split(NEXT_QUESTION).next().unwrap_or("");
    let cleaned: String = answer
        .chars()
        .filter(|&c| c != ',')
        .map(|c| if c.is_ascii_alphabetic() || "%$=-.".contains(c) { ' ' } else { c })
        .collect();
    cleaned.split_whitespace().last()?.parse::<f64>().ok()
}

/// Whether `prediction` equals the gold answer (a failed parse is never correct).
pub fn is_correct(prediction: Option<f64>, gold: Option<f64>) -> bool {
    matches!((prediction, gold), (Some(p), Some(g)) if p == g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gold_is_the_integer_after_the_marker_without_commas() {
        assert_eq!(gold("so 9 * 2 = 18.\n#### 18"), Some(18.0));
        assert_eq!(gold("a\n#### 1,234\n"), Some(1234.0));
        assert_eq!(gold("a\n#### -3"), Some(-3.0));
        assert_eq!(gold("no marker 5"), None);
        assert_eq!(gold("a\n#### many"), None);
    }

    #[test]
    fn prediction_reads_the_last_number_after_the_chosen_answer_marker() {
        let generated = "16 - 3 - 4 = 9.\nThe answer is $18.\n\nQuestion: next one. The answer is 7.";
        assert_eq!(prediction(generated, IN_GENERATED_TEXT), Some(18.0));
        assert_eq!(prediction(generated, 2), Some(7.0));
        assert_eq!(prediction(generated, 3), None);
        assert_eq!(prediction("no marker at all 12", 1), None);
        assert_eq!(prediction("The answer is 1,250 dollars.", 1), Some(1250.0));
        assert_eq!(prediction("The answer is 50%.", 1), Some(50.0));
        assert_eq!(prediction("The answer is x = 12 eggs", 1), Some(12.0));
        // The method's replacements take decimal points and minus signs with them.
        assert_eq!(prediction("The answer is 3.5", 1), Some(5.0));
        assert_eq!(prediction("The answer is -4.", 1), Some(4.0));
        assert_eq!(prediction("The answer is Tom.", 1), None);
        assert_eq!(prediction("The answer is ", 1), None);
        assert_eq!(prediction("The answer is 4 + 5", 1), Some(5.0));
        assert_eq!(prediction("The answer is 4 ?", 1), None);
    }

    #[test]
    fn prompt_included_text_skips_the_eight_exemplar_answers() {
        let prompt: String = (1..=8).map(|i| format!("Question: q{i}\nThe answer is {i}.\n\n")).collect();
        let text = format!("{prompt}Question: q\nLet's think step by step\n2 + 2 = 4.\nThe answer is 4.\n\nQuestion:");
        assert_eq!(prediction(&text, IN_PROMPT_AND_GENERATED_TEXT), Some(4.0));
        assert_eq!(prediction(&text, IN_GENERATED_TEXT), Some(1.0));
    }

    #[test]
    fn correctness_needs_both_numbers_equal() {
        assert!(is_correct(Some(18.0), Some(18.0)));
        assert!(!is_correct(Some(17.0), Some(18.0)));
        assert!(!is_correct(None, Some(18.0)));
        assert!(!is_correct(None, None));
    }
}
