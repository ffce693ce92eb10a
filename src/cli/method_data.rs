//! `--method-data DIR`, `--variants DIR`, `--questions FILE`: where the method's prompts come
//! from, the same in the explorer, `compare`, `intervene`, `analyze` and `bench`. Without them, the
//! data shipped with neuronav.
use std::path::PathBuf;

use clap::Args;
use color_eyre::eyre::Result;

use super::exit::asked_for;
use crate::science::analysis::method_data::MethodData;

#[derive(Debug, Args, Clone, Default)]
pub struct MethodDataArgs {
    /// The method's data: a directory holding prompts/*.txt (the prompt variants) and
    /// gsm8k_test.jsonl (the questions) [default: the data shipped with neuronav]
    #[arg(long, value_name = "DIR")]
    pub method_data: Option<PathBuf>,
    /// Prompt variants from this directory of NAME.txt exemplar files instead
    #[arg(long, value_name = "DIR")]
    pub variants: Option<PathBuf>,
    /// Questions from this GSM8K-style JSON lines file instead
    #[arg(long, value_name = "FILE", alias = "data")]
    pub questions: Option<PathBuf>,
}

impl MethodDataArgs {
    /// The data these flags choose, with question `question` when none is named.
    pub fn data(&self, question: usize) -> MethodData {
        let chosen = MethodData::chosen(self.method_data.as_deref(), self.variants.clone(), self.questions.clone());
        MethodData { question, ..chosen }
    }

    /// These flags where given, else `other`'s (the explorer's, for `compare --tui`).
    pub fn or(&self, other: &MethodDataArgs) -> MethodDataArgs {
        MethodDataArgs {
            method_data: self.method_data.clone().or_else(|| other.method_data.clone()),
            variants: self.variants.clone().or_else(|| other.variants.clone()),
            questions: self.questions.clone().or_else(|| other.questions.clone()),
        }
    }
}

/// The prompt of variant `name` for question `index`: a variant or question that does not exist
/// is a usage error, files that cannot be read are bad input.
pub fn variant_prompt(data: &MethodData, name: &str, index: usize) -> Result<String> {
    data.prompt(name, index).map_err(asked_for)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::{Cli, Command};
    use crate::science::analysis::method_data::Source;

    #[test]
    fn without_flags_the_explorer_and_compare_use_the_shipped_data() {
        let cli = Cli::try_parse_from(["neuronav"]).unwrap();
        assert_eq!(cli.explorer.method.data(0), MethodData::shipped());
        let cli =
            Cli::try_parse_from(["neuronav", "--method-data", "d", "compare", "--prompt-a", "a", "--variant-b", "x"])
                .unwrap();
        let Some(Command::Compare(args)) = &cli.command else { panic!("compare") };
        assert_eq!(args.question.method_data(&MethodDataArgs::default()), MethodData::shipped());
        let data = args.question.method_data(&cli.explorer.method);
        assert_eq!(data.variants, Source::Path("d/prompts".into()));
        // The older spelling of --questions.
        let cli = Cli::try_parse_from(["neuronav", "analyze", "--data", "q.jsonl"]).unwrap();
        let Some(Command::Analyze(args)) = &cli.command else { panic!("analyze") };
        assert_eq!(args.run.method.data(0).questions, Source::Path("q.jsonl".into()));
    }
}
