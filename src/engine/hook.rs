//! The names of the activations the engine captures, in the spirit of TransformerLens's hook
//! names: a [`Hook`] is what a block hands out at every position, a [`HookPoint`] is that hook at
//! one layer, written `blocks.{layer}.{hook}` (`blocks.21.mlp.m`). Code uses the types; the
//! strings are for people and files.
//!
//! [`Captures`] holds one value per hook (a tensor, a host buffer, a width), so the block that
//! fills it, the model that hands it on and the trace that stores it share one shape, and a new
//! hook is added here and where a block computes it.
use std::fmt;
use std::ops::{Index, IndexMut};
use std::str::FromStr;

use super::config::ModelConfig;

/// An activation every block hands out, for each position it runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Hook {
    /// `resid_mid`, `[d_model]`: the residual stream after attention, before the feed-forward layer.
    ResidMid,
    /// `mlp.m`, `[d_ff]`: m = silu(x·W_gateᵀ) ⊙ (x·W_upᵀ) with x = RMSNorm_ffn(resid_mid), the
    /// input of down_proj; m_j is neuron j's coefficient on its value vector.
    MlpM,
    /// `resid_post`, `[d_model]`: the residual stream after the feed-forward layer, the block's
    /// output (the last layer's is what the final norm sees).
    ResidPost,
}

impl Hook {
    /// Every hook, in the order [`Captures`] keeps them (the order of the variants).
    pub const ALL: [Hook; 3] = [Hook::ResidMid, Hook::MlpM, Hook::ResidPost];

    /// The name after `blocks.{layer}.`.
    pub fn name(self) -> &'static str {
        match self {
            Hook::ResidMid => "resid_mid",
            Hook::MlpM => "mlp.m",
            Hook::ResidPost => "resid_post",
        }
    }

    /// Values per position.
    pub fn width(self, config: &ModelConfig) -> usize {
        match self {
            Hook::ResidMid | Hook::ResidPost => config.hidden_size,
            Hook::MlpM => config.intermediate_size,
        }
    }

    /// This hook at `layer`.
    pub fn at(self, layer: usize) -> HookPoint {
        HookPoint { layer, hook: self }
    }
}

impl fmt::Display for Hook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One named activation: a hook at one layer (0-based), `blocks.{layer}.{hook}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HookPoint {
    pub layer: usize,
    pub hook: Hook,
}

impl fmt::Display for HookPoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blocks.{}.{}", self.layer, self.hook)
    }
}

/// A string that is not a hook point's canonical name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{0}' is not a hook name; the hooks are blocks.{{layer}}.{{{names}}}", names = hook_names())]
pub struct UnknownHook(pub String);

fn hook_names() -> String {
    Hook::ALL.map(Hook::name).join("|")
}

impl FromStr for HookPoint {
    type Err = UnknownHook;

    /// Parses the canonical name only (`blocks.3.resid_post`): no shorthand, no leading zeros.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let unknown = || UnknownHook(s.to_owned());
        let (layer, name) = s.strip_prefix("blocks.").and_then(|rest| rest.split_once('.')).ok_or_else(unknown)?;
        // `usize::from_str` also takes "+3" and "03", which are not how a layer is written.
        let digits = !layer.is_empty() && layer.bytes().all(|b| b.is_ascii_digit());
        let canonical = digits && (layer == "0" || !layer.starts_with('0'));
        let layer = layer.parse().ok().filter(|_| canonical).ok_or_else(unknown)?;
        let hook = Hook::ALL.into_iter().find(|h| h.name() == name).ok_or_else(unknown)?;
        Ok(hook.at(layer))
    }
}

/// One `T` per hook: what a block captured (`Captures<Tensor<B, 2>>`, `[t, width]` each), what a
/// forward pass brings back to host memory (`Captures<Vec<f32>>`), the hooks' widths
/// (`Captures<usize>`).
#[derive(Debug, Clone, PartialEq)]
pub struct Captures<T>([T; HOOKS]);

/// How many hooks there are.
const HOOKS: usize = Hook::ALL.len();

impl<T> Captures<T> {
    /// The value of each hook, from `f`.
    pub fn from_fn(f: impl FnMut(Hook) -> T) -> Self {
        Captures(Hook::ALL.map(f))
    }

    /// Each hook's value turned into another.
    pub fn map<U>(self, mut f: impl FnMut(Hook, T) -> U) -> Captures<U> {
        let mut hooks = Hook::ALL.into_iter();
        Captures(self.0.map(|value| f(hooks.next().expect("one value per hook"), value)))
    }

    /// The value of one hook, dropping the others.
    pub fn take(self, hook: Hook) -> T {
        self.0.into_iter().nth(hook as usize).expect("one value per hook")
    }
}

impl<T> IntoIterator for Captures<T> {
    type Item = (Hook, T);
    type IntoIter = std::iter::Zip<std::array::IntoIter<Hook, HOOKS>, std::array::IntoIter<T, HOOKS>>;

    fn into_iter(self) -> Self::IntoIter {
        Hook::ALL.into_iter().zip(self.0)
    }
}

impl<T> Index<Hook> for Captures<T> {
    type Output = T;

    fn index(&self, hook: Hook) -> &T {
        &self.0[hook as usize]
    }
}

impl<T> IndexMut<Hook> for Captures<T> {
    fn index_mut(&mut self, hook: Hook) -> &mut T {
        &mut self.0[hook as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_hook_point_round_trips_through_its_name() {
        for hook in Hook::ALL {
            for layer in [0, 7, 29, 123] {
                let point = hook.at(layer);
                assert_eq!(point.to_string().parse::<HookPoint>(), Ok(point));
            }
        }
        assert_eq!(Hook::MlpM.at(21).to_string(), "blocks.21.mlp.m");
        assert_eq!(Hook::ResidMid.at(0).to_string(), "blocks.0.resid_mid");
        assert_eq!(Hook::ResidPost.at(3).to_string(), "blocks.3.resid_post");
    }

    #[test]
    fn other_strings_are_not_hook_points() {
        for bad in [
            "",
            "blocks",
            "blocks.3",
            "blocks..mlp.m",
            "blocks.x.mlp.m",
            "blocks.-1.mlp.m",
            "blocks.+1.mlp.m",
            "blocks.03.mlp.m",
            "blocks.3.mlp",
            "blocks.3.mlp.hook_post",
            "blocks.3.resid_post.",
            "Blocks.3.resid_post",
            " blocks.3.resid_post",
        ] {
            let err = bad.parse::<HookPoint>().expect_err(bad);
            assert_eq!(
                err.to_string(),
                format!("'{bad}' is not a hook name; the hooks are blocks.{{layer}}.{{resid_mid|mlp.m|resid_post}}")
            );
        }
    }

    #[test]
    fn captures_keep_one_value_per_hook_in_order() {
        assert!(Hook::ALL.iter().enumerate().all(|(i, &h)| h as usize == i));
        let mut names = Captures::from_fn(Hook::name);
        assert_eq!(names[Hook::MlpM], "mlp.m");
        names[Hook::ResidPost] = "out";
        let lengths: Vec<(Hook, usize)> = names.map(|_, name| name.len()).into_iter().collect();
        assert_eq!(lengths, [(Hook::ResidMid, 9), (Hook::MlpM, 5), (Hook::ResidPost, 3)]);
        assert!(Captures::from_fn(|h| h).map(|hook, h| hook == h).into_iter().all(|(_, same)| same));
        assert_eq!(Captures::from_fn(Hook::name).take(Hook::ResidPost), "resid_post");
    }
}
