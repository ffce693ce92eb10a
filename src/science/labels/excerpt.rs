//! What the scorers show a model of the corpus: excerpts around positions where a neuron was
//! measured.

/// A stretch of a corpus document around one position, as a scorer shows it to a model.
#[derive(Debug, Clone, PartialEq)]
pub struct Excerpt {
    /// The tokens as text, in order.
    pub tokens: Vec<String>,
    /// Index in `tokens` of the token the excerpt was chosen for.
    pub focus: usize,
    /// The neuron's m at each token divided by the neuron's scale (max |m| over the corpus); what a simulation is compared with.
    pub activations: Vec<f32>,
}

impl Excerpt {
    /// Why the excerpt cannot be shown or compared: no tokens, a focus past the end, or
    /// activations that do not pair up with the tokens or are not finite.
    pub fn problem(&self) -> Option<String> {
        let n = self.tokens.len();
        if n == 0 {
            return Some("it has no tokens".into());
        }
        if self.focus >= n {
            return Some(format!("its focus {} is past its {n} tokens", self.focus));
        }
        if self.activations.len() != n {
            return Some(format!("it has {} activations for {n} tokens", self.activations.len()));
        }
        if let Some(at) = self.activations.iter().position(|a| !a.is_finite()) {
            return Some(format!("its activation at token {at} is {}", self.activations[at]));
        }
        None
    }
}

/// A token as one line of a prompt shows it: line breaks and tabs written out, so that the
/// prompt's layout (one excerpt or one token a line, tab-separated) stays intact.
pub fn visible(token: &str) -> String {
    token.replace('\\', "\\\\").replace('\n', "\\n").replace('\r', "\\r").replace('\t', "\\t")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excerpt(tokens: &[&str], focus: usize, activations: &[f32]) -> Excerpt {
        Excerpt { tokens: tokens.iter().map(|t| t.to_string()).collect(), focus, activations: activations.to_vec() }
    }

    #[test]
    fn malformed_excerpts_say_what_is_wrong() {
        assert_eq!(excerpt(&["a", " b"], 1, &[0.0, 1.0]).problem(), None);
        assert_eq!(excerpt(&[], 0, &[]).problem().unwrap(), "it has no tokens");
        assert_eq!(excerpt(&["a"], 1, &[0.0]).problem().unwrap(), "its focus 1 is past its 1 tokens");
        assert_eq!(excerpt(&["a", "b"], 0, &[0.0]).problem().unwrap(), "it has 1 activations for 2 tokens");
        assert_eq!(excerpt(&["a"], 0, &[f32::NAN]).problem().unwrap(), "its activation at token 0 is NaN");
    }

    #[test]
    fn tokens_keep_to_one_line() {
        assert_eq!(visible("a\tb\n"), "a\\tb\\n");
        assert_eq!(visible(" plus"), " plus");
        assert_eq!(visible("\\n"), "\\\\n", "a written-out backslash stays distinguishable");
    }
}
