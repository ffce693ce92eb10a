//! Key bindings as data: `keymaps/default.toml` is built in, and the user's
//! `<config>/keymap.toml` is layered over it section by section.
//!
//! ```toml
//! [review]
//! keymap = [
//!   { on = ["g", "g"], run = "top", desc = "First label" },  # help: "First label"
//!   { on = ["G"], run = "bottom" },                          # help: the action's doc line
//!   { on = ["x"], run = "noop" },                            # unbinds x
//! ]
//! ```
//! A user entry replaces the binding with the same keys and drops any binding it conflicts with
//! (one sequence a prefix of the other), reporting each. `quit` cannot be unbound from `[normal]`.
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use serde::Deserialize;
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

use super::action::Action;
use super::key::Key;

pub const DEFAULT: &str = include_str!("../../keymaps/default.toml");

/// Which bindings are live: one section of the keymap file each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, EnumIter, IntoStaticStr)]
#[strum(serialize_all = "snake_case")]
pub enum Mode {
    Normal,
    Prompt,
    /// The `:` command line and the `/` search line.
    Line,
    Help,
    Picker,
    /// Review mode: spot-checking labels.
    Review,
    /// A neuron's operand-grid heatmap.
    Heatmap,
}

impl Mode {
    pub fn name(self) -> &'static str {
        self.into()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Binding {
    pub on: Vec<Key>,
    pub run: Action,
    pub desc: String,
}

impl Binding {
    pub fn keys(&self) -> String {
        self.on.iter().map(|k| k.to_string()).collect::<Vec<_>>().join(" ")
    }
}

/// The result of looking up the keys typed so far.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lookup {
    Matched(Action),
    /// A prefix of one or more bindings: wait for the next key.
    Pending,
    NotFound,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Keymap {
    /// Bindings per mode, in file order (help lists them so).
    modes: BTreeMap<&'static str, Vec<Binding>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSection {
    #[serde(default)]
    keymap: Vec<RawEntry>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    on: OneOrMany,
    run: String,
    desc: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

impl Keymap {
    /// The built-in keymap.
    pub fn builtin() -> Keymap {
        let sections = parse(DEFAULT, Path::new("keymaps/default.toml")).expect("the built-in keymap is valid");
        let mut map = Keymap { modes: Mode::iter().map(|m| (m.name(), Vec::new())).collect() };
        for (mode, bindings) in sections {
            map.modes.insert(mode.name(), bindings);
        }
        map
    }

    /// The built-in keymap with the user's file at `path` layered over it, if that file exists.
    /// Returns the keymap and what the overlay changed that the user should know of.
    pub fn load(path: &Path) -> Result<(Keymap, Vec<String>), String> {
        let mut map = Keymap::builtin();
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((map, Vec::new())),
            Err(e) => return Err(format!("{}: {e}", path.display())),
        };
        let warnings = map.overlay(&text, path)?;
        Ok((map, warnings))
    }

    /// Layers the keymap file `text` (read from `path`) over this one.
    pub fn overlay(&mut self, text: &str, path: &Path) -> Result<Vec<String>, String> {
        let mut warnings = Vec::new();
        for (mode, entries) in parse(text, path)? {
            let bindings = self.modes.entry(mode.name()).or_default();
            for entry in entries {
                let mut i = 0;
                while i < bindings.len() {
                    let b = &bindings[i];
                    let same = b.on == entry.on;
                    let prefix = b.on.starts_with(&entry.on) || entry.on.starts_with(&b.on);
                    if prefix && !same {
                        warnings.push(format!(
                            "{}: [{}] '{}' conflicts with '{}' ({}), which is unbound",
                            path.display(),
                            mode.name(),
                            entry.keys(),
                            b.keys(),
                            b.run.name()
                        ));
                    }
                    if prefix {
                        bindings.remove(i);
                    } else {
                        i += 1;
                    }
                }
                if entry.run != Action::Noop {
                    bindings.push(entry);
                }
            }
        }
        let normal = self.modes.entry(Mode::Normal.name()).or_default();
        if !normal.iter().any(|b| b.run == Action::Quit) {
            let builtin = Keymap::builtin();
            for quit in builtin.bindings(Mode::Normal).iter().filter(|b| b.run == Action::Quit) {
                normal.retain(|b| !(b.on.starts_with(&quit.on) || quit.on.starts_with(&b.on)));
                warnings.push(format!("{}: quit cannot be unbound; '{}' quits again", path.display(), quit.keys()));
                normal.push(quit.clone());
            }
        }
        Ok(warnings)
    }

    pub fn bindings(&self, mode: Mode) -> &[Binding] {
        self.modes.get(mode.name()).map_or(&[], |b| b.as_slice())
    }

    pub fn lookup(&self, mode: Mode, keys: &[Key]) -> Lookup {
        let mut pending = false;
        for b in self.bindings(mode) {
            if b.on == keys {
                return Lookup::Matched(b.run);
            }
            pending |= b.on.starts_with(keys);
        }
        if pending {
            Lookup::Pending
        } else {
            Lookup::NotFound
        }
    }

    /// The keys of the first binding of `action` in `mode`, for hints.
    pub fn keys_for(&self, mode: Mode, action: Action) -> Option<String> {
        self.bindings(mode).iter().find(|b| b.run == action).map(Binding::keys)
    }

    /// The help text of a mode: one line per binding.
    pub fn help(&self, mode: Mode) -> Vec<(String, String)> {
        self.bindings(mode).iter().map(|b| (b.keys(), b.desc.clone())).collect()
    }

    /// The bindings continuing the typed prefix `keys`, for the which-key hint.
    pub fn continuations(&self, mode: Mode, keys: &[Key]) -> String {
        let mut out = String::new();
        for b in self.bindings(mode).iter().filter(|b| b.on.len() > keys.len() && b.on.starts_with(keys)) {
            let _ =
                write!(out, "{} {}  ", b.on[keys.len()..].iter().map(|k| k.to_string()).collect::<String>(), b.desc);
        }
        out.trim_end().to_string()
    }
}

/// Parses a keymap file into bindings per mode; errors name the file, section and key.
fn parse(text: &str, path: &Path) -> Result<Vec<(Mode, Vec<Binding>)>, String> {
    let file = path.display();
    let table: toml::Table = toml::from_str(text).map_err(|e| format!("{file}: {e}"))?;
    let mut out = Vec::new();
    for (name, value) in table {
        let mode = Mode::iter().find(|m| m.name() == name).ok_or_else(|| {
            let known: Vec<&str> = Mode::iter().map(Mode::name).collect();
            format!("{file}: unknown section [{name}] (sections are {})", known.join(", "))
        })?;
        let section = RawSection::deserialize(value).map_err(|e| format!("{file}: [{name}]: {}", e.message()))?;
        let mut bindings = Vec::new();
        for (i, entry) in section.keymap.into_iter().enumerate() {
            let on = match entry.on {
                OneOrMany::One(k) => vec![k],
                OneOrMany::Many(ks) => ks,
            };
            let written = on.join(" ");
            if on.is_empty() {
                return Err(format!("{file}: [{name}] entry {}: `on` names no key", i + 1));
            }
            let keys = on
                .iter()
                .map(|k| k.parse::<Key>())
                .collect::<Result<Vec<Key>, String>>()
                .map_err(|e| format!("{file}: [{name}] entry {}: {e}", i + 1))?;
            let run: Action =
                Action::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(&entry.run))
                    .map_err(|_| format!("{file}: [{name}] key '{written}': unknown action '{}'", entry.run))?;
            let desc = entry.desc.unwrap_or_else(|| run.doc().to_string());
            bindings.push(Binding { on: keys, run, desc });
        }
        out.push((mode, bindings));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    fn keys(s: &str) -> Vec<Key> {
        s.split(' ').map(|k| k.parse().unwrap()).collect()
    }

    #[test]
    fn builtin_keymap_has_no_conflicts_and_documents_every_binding() {
        let map = Keymap::builtin();
        for mode in Mode::iter() {
            let b = map.bindings(mode);
            assert!(!b.is_empty(), "[{}] is empty", mode.name());
            for (i, x) in b.iter().enumerate() {
                assert!(!x.desc.is_empty(), "{} has no description", x.keys());
                for y in &b[i + 1..] {
                    assert!(
                        !(x.on.starts_with(&y.on) || y.on.starts_with(&x.on)),
                        "[{}] '{}' and '{}' conflict",
                        mode.name(),
                        x.keys(),
                        y.keys()
                    );
                }
            }
        }
        assert_eq!(map.lookup(Mode::Normal, &keys("q")), Lookup::Matched(Action::Quit));
        assert_eq!(map.lookup(Mode::Normal, &keys("g")), Lookup::Pending);
        assert_eq!(map.lookup(Mode::Normal, &keys("g g")), Lookup::Matched(Action::Top));
        assert_eq!(map.lookup(Mode::Normal, &keys("<F12>")), Lookup::NotFound);
        let bound: HashSet<Action> = map.bindings(Mode::Normal).iter().map(|b| b.run).collect();
        for needed in [Action::Help, Action::Step, Action::StepBack, Action::RunPrompt, Action::CommandLine] {
            assert!(bound.contains(&needed), "{needed:?} is not bound in [normal]");
        }
    }

    /// The built-in entries whose `desc` repeats their action's doc line, as `[mode] keys`.
    fn repeated_descs(text: &str) -> Vec<String> {
        let sections: BTreeMap<String, RawSection> = toml::from_str(text).unwrap();
        let mut out = Vec::new();
        for (mode, section) in sections {
            for entry in section.keymap {
                let run =
                    Action::deserialize(serde::de::value::StrDeserializer::<serde::de::value::Error>::new(&entry.run))
                        .unwrap();
                if entry.desc.as_deref() == Some(run.doc()) {
                    let on = match entry.on {
                        OneOrMany::One(k) => k,
                        OneOrMany::Many(ks) => ks.join(" "),
                    };
                    out.push(format!("[{mode}] {on}"));
                }
            }
        }
        out
    }

    #[test]
    fn builtin_descs_exist_only_where_a_mode_changes_the_meaning() {
        // A binding without `desc` shows its action's doc line; a `desc` saying the same would drift.
        for a in Action::iter() {
            assert!(!a.doc().trim().is_empty(), "{a:?} has no doc line for help to show");
        }
        assert_eq!(repeated_descs(DEFAULT), Vec::<String>::new(), "drop these descs: help shows the doc line");
        let quit = format!("[normal]\nkeymap = [{{ on = \"q\", run = \"quit\", desc = {:?} }}]", Action::Quit.doc());
        assert_eq!(repeated_descs(&quit), ["[normal] q"]);
    }

    #[test]
    fn user_overlay_rebinds_one_key_and_keeps_the_rest() {
        let mut map = Keymap::builtin();
        let before = map.clone();
        let warnings =
            map.overlay("[normal]\nkeymap = [{ on = \"y\", run = \"step_back\" }]\n", Path::new("user.toml")).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert_eq!(map.lookup(Mode::Normal, &keys("y")), Lookup::Matched(Action::StepBack));
        assert_eq!(map.bindings(Mode::Normal).len(), before.bindings(Mode::Normal).len() + 1);
        assert_eq!(map.bindings(Mode::Prompt), before.bindings(Mode::Prompt));
        // The old binding of step_back still works too.
        let old = before.keys_for(Mode::Normal, Action::StepBack).unwrap();
        assert_eq!(map.lookup(Mode::Normal, &keys(&old)), Lookup::Matched(Action::StepBack));
    }

    #[test]
    fn noop_unbinds_and_conflicts_are_reported() {
        let mut map = Keymap::builtin();
        let text =
            "[normal]\nkeymap = [\n { on = [\"s\"], run = \"noop\" },\n { on = [\"g\"], run = \"bottom\" },\n]\n";
        let warnings = map.overlay(text, Path::new("/home/u/keymap.toml")).unwrap();
        assert_eq!(map.lookup(Mode::Normal, &keys("s")), Lookup::NotFound);
        assert_eq!(map.lookup(Mode::Normal, &keys("g")), Lookup::Matched(Action::Bottom));
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("/home/u/keymap.toml") && warnings[0].contains("'g g'"), "{}", warnings[0]);
    }

    #[test]
    fn quit_cannot_be_unbound() {
        let mut map = Keymap::builtin();
        let quits: Vec<String> =
            map.bindings(Mode::Normal).iter().filter(|b| b.run == Action::Quit).map(Binding::keys).collect();
        let entries: Vec<String> = quits
            .iter()
            .map(|k| format!("{{ on = {:?}, run = \"noop\" }}", k.split(' ').collect::<Vec<_>>()))
            .collect();
        let text = format!("[normal]\nkeymap = [{}]\n", entries.join(", "));
        let warnings = map.overlay(&text, Path::new("k.toml")).unwrap();
        assert!(warnings.iter().any(|w| w.contains("quit cannot be unbound")), "{warnings:?}");
        assert_eq!(map.lookup(Mode::Normal, &keys(&quits[0])), Lookup::Matched(Action::Quit));
    }

    #[test]
    fn bad_files_name_file_section_and_key() {
        let cases = [
            ("[normal]\nkeymap = [{ on = [\"x\"], run = \"fly\" }]", vec!["bad.toml", "[normal]", "'x'", "fly"]),
            ("[normal]\nkeymap = [{ on = [\"<C-\"], run = \"quit\" }]", vec!["bad.toml", "[normal]", "entry 1", "<C-"]),
            ("[nromal]\nkeymap = []", vec!["bad.toml", "[nromal]", "normal"]),
            ("[normal]\nkeymap = [{ on = [], run = \"quit\" }]", vec!["bad.toml", "[normal]", "no key"]),
            ("[normal]\nkeymap = [{ key = \"x\", run = \"quit\" }]", vec!["bad.toml", "[normal]"]),
            ("[normal\nkeymap = 3", vec!["bad.toml"]),
        ];
        for (text, wanted) in cases {
            let err = Keymap::builtin().overlay(text, Path::new("bad.toml")).unwrap_err();
            for w in wanted {
                assert!(err.contains(w), "error {err:?} does not mention {w:?}");
            }
        }
    }

    #[test]
    fn a_missing_user_file_means_the_defaults_and_an_unreadable_one_an_error() {
        let dir = tempfile::tempdir().unwrap();
        let (map, warnings) = Keymap::load(&dir.path().join("keymap.toml")).unwrap();
        assert_eq!(map, Keymap::builtin());
        assert!(warnings.is_empty());
        let err = Keymap::load(dir.path()).unwrap_err();
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        let file = dir.path().join("keymap.toml");
        std::fs::write(&file, "[help]\nkeymap = [{ on = \"x\", run = \"quit\" }]\n").unwrap();
        let (map, _) = Keymap::load(&file).unwrap();
        assert_eq!(map.lookup(Mode::Help, &keys("x")), Lookup::Matched(Action::Quit));
    }
}
