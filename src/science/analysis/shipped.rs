//! The method's data compiled into the binary (`assets/method/`, origin and licences in its
//! README.md): the seven prompt variants and the GSM8K test set. Compiled in rather than read
//! from disk so that the method's prompts work from any directory and from an installed binary.

/// Each variant's name (its file's stem) and exemplars, sorted by name.
pub const VARIANTS: &[(&str, &str)] = &[
    ("add_only", include_str!("../../../assets/method/prompts/add_only.txt")),
    ("cot_prompt", include_str!("../../../assets/method/prompts/cot_prompt.txt")),
    ("equation_only", include_str!("../../../assets/method/prompts/equation_only.txt")),
    ("incorrect_label", include_str!("../../../assets/method/prompts/incorrect_label.txt")),
    ("incorrect_ood_label", include_str!("../../../assets/method/prompts/incorrect_ood_label.txt")),
    ("mult_only", include_str!("../../../assets/method/prompts/mult_only.txt")),
    ("text_only", include_str!("../../../assets/method/prompts/text_only.txt")),
];

/// The GSM8K test set, JSON lines of `question` and `answer`.
pub const QUESTIONS: &str = include_str!("../../../assets/method/gsm8k_test.jsonl");

/// How the shipped data is named where a path would be: in messages, the picker and `run.json`.
pub const NAME: &str = "the method's data shipped with neuronav";

/// The shipped questions file's name in messages.
pub const QUESTIONS_NAME: &str = "gsm8k_test.jsonl (shipped with neuronav)";

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    #[test]
    fn the_list_holds_every_file_of_the_assets_directory_and_nothing_else() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("assets/method/prompts");
        let mut on_disk: Vec<(String, String)> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), std::fs::read_to_string(&p).unwrap()))
            .collect();
        on_disk.sort();
        let listed: Vec<(String, String)> = VARIANTS.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect();
        assert_eq!(listed, on_disk);
        assert_eq!(listed.len(), 7);
        let questions = std::fs::read_to_string(dir.parent().unwrap().join("gsm8k_test.jsonl")).unwrap();
        assert_eq!(QUESTIONS, questions);
    }
}
