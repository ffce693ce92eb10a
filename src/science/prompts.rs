//! Building the method's chain-of-thought prompts (Rai & Yao 2024, §6 of docs/method.md).

/// The prompt-variant file whose suffix differs: equation-only exemplars end in a blank line.
pub const EQUATION_ONLY: &str = "equation_only";

/// `"\n".join(line.strip() for line in exemplars) + "\n\nQuestion: " + " ".join(question.split()) + suffix`,
/// with suffix `"\nLet's think step by step\n"`, or `"\n\n"` for the equation-only variant.
pub fn build(variant: &str, exemplars: &str, question: &str) -> String {
    let shots: Vec<&str> = exemplars.lines().map(str::trim).collect();
    let question: Vec<&str> = question.split_whitespace().collect();
    let suffix = if variant == EQUATION_ONLY { "\n\n" } else { "\nLet's think step by step\n" };
    format!("{}\n\nQuestion: {}{}", shots.join("\n"), question.join(" "), suffix)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joins_stripped_lines_and_normalises_the_question() {
        let p = build("cot_prompt", "  Question: a \nThe answer is 1.  \n", " How  many\n eggs? ");
        assert_eq!(p, "Question: a\nThe answer is 1.\n\nQuestion: How many eggs?\nLet's think step by step\n");
        assert!(build(EQUATION_ONLY, "x", "q").ends_with("Question: q\n\n"));
    }
}
