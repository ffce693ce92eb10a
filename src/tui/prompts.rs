//! Prompts to start from: the bundled examples (assets/prompts/, built in) and the method's prompt
//! variants (shipped with neuronav, or from `--method-data`), each built with the data set's first
//! question.
use crate::science::analysis::method_data::{MethodData, Source};

#[derive(Debug, Clone, PartialEq)]
pub struct PromptEntry {
    pub name: String,
    /// Where it came from, for the picker: `example` or the file's path.
    pub source: String,
    pub text: String,
}

const EXAMPLES: &[(&str, &str)] = &[
    ("cot_apples", include_str!("../../assets/prompts/cot_apples.txt")),
    ("cot_text_only", include_str!("../../assets/prompts/cot_text_only.txt")),
    ("equations_only", include_str!("../../assets/prompts/equations_only.txt")),
    ("short_sum", include_str!("../../assets/prompts/short_sum.txt")),
];

/// The bundled examples.
pub fn examples() -> Vec<PromptEntry> {
    EXAMPLES
        .iter()
        .map(|(name, text)| PromptEntry { name: name.to_string(), source: "example".into(), text: text.to_string() })
        .collect()
}

/// The method's variants, each followed by the first question. What cannot be read is reported.
pub fn method_variants(method: &MethodData) -> (Vec<PromptEntry>, Vec<String>) {
    let (prompts, problems) = method.first_question_prompts();
    let source = |origin: String| if method.variants == Source::Shipped { "method".to_string() } else { origin };
    let entries =
        prompts.into_iter().map(|p| PromptEntry { name: p.name, source: source(p.origin), text: p.text }).collect();
    (entries, problems.iter().map(ToString::to_string).collect())
}

/// What the prompt of `variant` for `question` (None: the method's default question) is, and its
/// text, built as `neuronav compare --variant-a` builds it.
pub fn variant_prompt(method: &MethodData, variant: &str, question: Option<usize>) -> (String, Result<String, String>) {
    let q = question.unwrap_or(method.question);
    (format!("variant {variant}, question {q}"), method.prompt(variant, q).map_err(|e| e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_cot_prompts_and_variants_are_built_from_a_directory() {
        let ex = examples();
        assert!(ex.len() >= 3);
        assert!(ex.iter().all(|e| e.text.contains("Question:")));
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("prompts")).unwrap();
        std::fs::write(dir.path().join("prompts/equation_only.txt"), "Question: 1+1?\n1 + 1 = 2\n").unwrap();
        std::fs::write(dir.path().join("gsm8k_test.jsonl"), "{\"question\": \"How  many?\", \"answer\": \"#### 2\"}\n")
            .unwrap();
        let data = MethodData::in_dir(dir.path());
        let (variants, problems) = method_variants(&data);
        assert!(problems.is_empty(), "{problems:?}");
        assert_eq!(variants.len(), 1);
        assert_eq!(variants[0].name, "equation_only");
        assert!(variants[0].source.ends_with("equation_only.txt"), "{}", variants[0].source);
        assert!(variants[0].text.ends_with("Question: How many?\n\n"), "{:?}", variants[0].text);
        let (what, text) = variant_prompt(&data, "equation_only", None);
        assert_eq!(what, "variant equation_only, question 0");
        assert_eq!(text.unwrap(), variants[0].text);
        assert!(variant_prompt(&data, "other", Some(0)).1.unwrap_err().contains("no variant 'other'"));
    }

    #[test]
    fn the_shipped_variants_are_offered_without_any_directory() {
        let (variants, problems) = method_variants(&MethodData::shipped());
        assert!(problems.is_empty(), "{problems:?}");
        let names: Vec<&str> = variants.iter().map(|v| v.name.as_str()).collect();
        assert!(names.contains(&"cot_prompt") && names.contains(&"text_only"), "{names:?}");
        assert!(variants.iter().all(|v| v.source == "method" && v.text.contains("Janet")));
        let (_, text) = variant_prompt(&MethodData::shipped(), "text_only", Some(3));
        assert!(text.unwrap().contains("Question: "));
    }
}
