//! The layer rule, read from the source tree: dependencies point from the views (`cli/`, `tui/`)
//! to `science/` to `engine/`, and the two views do not lean on each other:
//!
//! - `engine` names no `science`, `tui` or `cli`;
//! - `science` names no `tui` or `cli`;
//! - `tui` names no `cli`;
//! - `cli` names of `tui` only what starting the explorer takes ([`CLI_MAY_USE_OF_TUI`]).
//!
//! Every `crate::…` path in code is checked, `use crate::{…}` groups leaf by leaf, and `super::…`
//! paths resolved from the file's module (inline `mod x { … }` blocks included), so climbing out
//! of a layer with `super::super::cli` counts like `crate::cli`. Comments, doc comments (intra-doc
//! links too) and string or char literals are not code: a mention of `crate::cli` there is no
//! dependency and no violation. Naming a forbidden module itself (`use crate::tui;` in `cli`) is a
//! violation, since every path through it would escape the check.
use std::path::{Path, PathBuf};

/// What `cli` may name in `tui`: the explorer's entry point and the types of its arguments.
const CLI_MAY_USE_OF_TUI: &[&str] = &["run", "ModelSpec", "Options", "CompareStart"];

/// The layers a file of `layer` must not name, as the first segment of a crate path.
fn forbidden(layer: &str) -> &'static [&'static str] {
    match layer {
        "engine" => &["science", "tui", "cli"],
        "science" => &["tui", "cli"],
        "tui" => &["cli"],
        "cli" => &["tui"],
        _ => &[],
    }
}

/// Whether a file of `layer` may name `path` (segments from the crate root).
fn allowed(layer: &str, path: &[String]) -> bool {
    let Some(target) = path.first() else { return true };
    if !forbidden(layer).contains(&target.as_str()) {
        return true;
    }
    layer == "cli" && target == "tui" && path.get(1).is_some_and(|item| CLI_MAY_USE_OF_TUI.contains(&item.as_str()))
}

/// `src` with comments and the contents of string and char literals blanked out (newlines kept,
/// so that line numbers stay right). Lifetimes and labels (`'a`) are left as they are.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let at = |i: usize| c.get(i).copied().unwrap_or('\0');
    let blank = |ch: char| if ch == '\n' { '\n' } else { ' ' };
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < c.len() {
        let ident_before = i > 0 && (c[i - 1].is_alphanumeric() || c[i - 1] == '_');
        if c[i] == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c[i] == '/' && at(i + 1) == '*' {
            // Block comments nest in Rust.
            let mut depth = 0;
            loop {
                if i >= c.len() {
                    break;
                }
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    out.push_str("  ");
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    out.push_str("  ");
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            continue;
        }
        // Raw strings: r"…", r#"…"#, br"…".
        let raw_start = match (c[i], at(i + 1)) {
            ('r', _) if !ident_before => Some(i + 1),
            ('b', 'r') if !ident_before => Some(i + 2),
            _ => None,
        };
        if let Some(mut j) = raw_start {
            let mut hashes = 0;
            while at(j) == '#' {
                hashes += 1;
                j += 1;
            }
            if at(j) == '"' {
                let mut k = j + 1;
                while k < c.len() && !(c[k] == '"' && (1..=hashes).all(|h| at(k + h) == '#')) {
                    k += 1;
                }
                let end = (k + 1 + hashes).min(c.len());
                out.extend(c[i..end].iter().map(|&ch| blank(ch)));
                i = end;
                continue;
            }
        }
        if c[i] == '"' {
            out.push(' ');
            i += 1;
            while i < c.len() && c[i] != '"' {
                if c[i] == '\\' {
                    out.push(' ');
                    i += 1;
                }
                if i < c.len() {
                    out.push(blank(c[i]));
                    i += 1;
                }
            }
            if i < c.len() {
                out.push(' ');
                i += 1;
            }
            continue;
        }
        if c[i] == '\'' {
            // A char literal ('x', '\n', '\''), else a lifetime or a label.
            let end = if at(i + 1) == '\\' {
                let mut j = i + 1;
                while j < c.len() && c[j] != '\'' {
                    j += if c[j] == '\\' { 2 } else { 1 };
                }
                Some(j + 1)
            } else if at(i + 2) == '\'' {
                Some(i + 3)
            } else {
                None
            };
            if let Some(end) = end {
                let end = end.min(c.len());
                out.extend(c[i..end].iter().map(|&ch| blank(ch)));
                i = end;
                continue;
            }
        }
        out.push(c[i]);
        i += 1;
    }
    out
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    /// `::`
    Sep,
    Punct(char),
}

/// Identifiers (keywords included), `::` and single punctuation, each with its line (1-based).
fn tokens(code: &str) -> Vec<(Tok, usize)> {
    let c: Vec<char> = code.chars().collect();
    let mut out = Vec::new();
    let (mut i, mut line) = (0, 1);
    while i < c.len() {
        let ch = c[i];
        if ch == '\n' {
            line += 1;
            i += 1;
        } else if ch.is_whitespace() {
            i += 1;
        } else if ch.is_alphanumeric() || ch == '_' {
            let start = i;
            while i < c.len() && (c[i].is_alphanumeric() || c[i] == '_') {
                i += 1;
            }
            out.push((Tok::Ident(c[start..i].iter().collect()), line));
        } else if ch == ':' && c.get(i + 1) == Some(&':') {
            out.push((Tok::Sep, line));
            i += 2;
        } else {
            out.push((Tok::Punct(ch), line));
            i += 1;
        }
    }
    out
}

/// Every crate path in the code of the file whose module is `module` (`["tui", "ui", "popup"]`),
/// as segments from the crate root with the line of its last segment. `super::` is resolved
/// against `module` and the inline modules around it.
fn crate_paths(code: &str, module: &[String]) -> Vec<(usize, Vec<String>)> {
    let toks = tokens(code);
    let ident = |i: usize| match toks.get(i) {
        Some((Tok::Ident(s), _)) => Some(s.as_str()),
        _ => None,
    };
    let sep = |i: usize| matches!(toks.get(i), Some((Tok::Sep, _)));
    let mut out = Vec::new();
    // Inline modules around the current token, each with the brace depth its `{` opened at.
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let mut i = 0;
    while i < toks.len() {
        match &toks[i].0 {
            Tok::Punct('{') => depth += 1,
            Tok::Punct('}') => {
                depth = depth.saturating_sub(1);
                if inline.last().is_some_and(|&(_, d)| d == depth) {
                    inline.pop();
                }
            }
            Tok::Ident(k) if k == "mod" => {
                if let (Some(name), Some((Tok::Punct('{'), _))) = (ident(i + 1), toks.get(i + 2)) {
                    inline.push((name.to_string(), depth));
                }
            }
            Tok::Ident(k) if (k == "crate" || k == "super") && sep(i + 1) && !(i > 0 && sep(i - 1)) => {
                let mut root: Vec<String> = Vec::new();
                let mut j = i + 2;
                if k == "super" {
                    root = module.iter().cloned().chain(inline.iter().map(|(m, _)| m.clone())).collect();
                    root.pop();
                    while ident(j) == Some("super") && sep(j + 1) {
                        root.pop();
                        j += 2;
                    }
                }
                i = use_tree(&toks, j, &root, &mut out);
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

/// Reads the path or use-tree at `i` below `prefix` (a path continues `a::b`, fans out in
/// `{a, b::c, self}`, ends in `*` or at anything else), pushing every leaf; returns the index
/// after it.
fn use_tree(toks: &[(Tok, usize)], mut i: usize, prefix: &[String], out: &mut Vec<(usize, Vec<String>)>) -> usize {
    let mut path = prefix.to_vec();
    let line = |i: usize| toks.get(i.min(toks.len().saturating_sub(1))).map_or(0, |t| t.1);
    loop {
        match toks.get(i).map(|t| &t.0) {
            Some(Tok::Ident(name)) => {
                if name != "self" {
                    path.push(name.clone());
                }
                if matches!(toks.get(i + 1), Some((Tok::Sep, _))) {
                    i += 2;
                    continue;
                }
                out.push((line(i), path));
                return i + 1;
            }
            Some(Tok::Punct('*')) => {
                path.push("*".into());
                out.push((line(i), path));
                return i + 1;
            }
            Some(Tok::Punct('{')) => {
                i += 1;
                loop {
                    match toks.get(i).map(|t| &t.0) {
                        None => return i,
                        Some(Tok::Punct('}')) => return i + 1,
                        Some(Tok::Punct(',')) => i += 1,
                        _ => {
                            let next = use_tree(toks, i, &path, out);
                            // `as` renames, or anything else a group holds: step over it.
                            i = if next == i { i + 1 } else { next };
                            if let Some((Tok::Ident(a), _)) = toks.get(i) {
                                if a == "as" {
                                    i += 2;
                                }
                            }
                        }
                    }
                }
            }
            _ => {
                out.push((line(i), path));
                return i;
            }
        }
    }
}

/// The module of a file under `src/`: `tui/ui/popup.rs` → `["tui", "ui", "popup"]`,
/// `tui/mod.rs` → `["tui"]`, `lib.rs` → `[]`.
fn module_of(rel: &Path) -> Vec<String> {
    let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
    if let Some(last) = parts.pop() {
        let stem = last.strip_suffix(".rs").unwrap_or(&last);
        if !matches!(stem, "mod" | "lib" | "main") {
            parts.push(stem.to_string());
        }
    }
    parts
}

/// The paths of `text` (the file at `rel` under `src/`) that break the layer rule, one line each.
fn violations(rel: &Path, text: &str) -> Vec<String> {
    let module = module_of(rel);
    let Some(layer) = module.first() else { return Vec::new() };
    crate_paths(&code_only(text), &module)
        .into_iter()
        .filter(|(_, path)| !allowed(layer, path))
        .map(|(line, path)| format!("src/{}:{line}: {layer} names crate::{}", rel.display(), path.join("::")))
        .collect()
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries {
        let path = entry.unwrap_or_else(|e| panic!("{}: {e}", dir.display())).path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_layer_names_only_what_it_may() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut found = Vec::new();
    let mut checked = 0;
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let rel = file.strip_prefix(&src).expect("under src");
        let code = code_only(&text);
        // A literal or comment read wrong would swallow code or let text through; either
        // unbalances the braces.
        let (open, close) = (code.matches('{').count(), code.matches('}').count());
        assert_eq!(open, close, "{}: {open} {{ against {close} }} in code: the reader is wrong", file.display());
        checked += crate_paths(&code, &module_of(rel)).len();
        found.extend(violations(rel, &text));
    }
    assert!(checked > 100, "only {checked} crate paths found in {}: is the reader broken?", src.display());
    assert!(found.is_empty(), "{} paths break the layer rule:\n{}", found.len(), found.join("\n"));
}

#[cfg(test)]
mod checker {
    use super::*;

    fn check(file: &str, text: &str) -> Vec<String> {
        violations(Path::new(file), text)
    }

    #[test]
    fn finds_a_path_into_a_layer_above() {
        let found =
            check("engine/session.rs", "use crate::engine::trace::Trace;\nuse crate::science::labels::Label;\n");
        assert_eq!(found, ["src/engine/session.rs:2: engine names crate::science::labels::Label"]);
        let found = check("science/x.rs", "fn f() { let _ = crate::tui::app::App::new(); }");
        assert_eq!(found, ["src/science/x.rs:1: science names crate::tui::app::App::new"]);
        assert!(check("tui/app.rs", "use crate::science::labels::Label;\nuse crate::engine::NeuronId;").is_empty());
    }

    #[test]
    fn reads_every_leaf_of_a_use_group() {
        let text = "use crate::{\n    engine::neuron::NeuronId,\n    tui::{app::App, self},\n    paths::*,\n};\n";
        assert_eq!(
            check("science/analysis/sample.rs", text),
            [
                "src/science/analysis/sample.rs:3: science names crate::tui::app::App",
                "src/science/analysis/sample.rs:3: science names crate::tui"
            ]
        );
        assert_eq!(
            check("engine/a.rs", "use crate::{science as s, engine::x as y};"),
            ["src/engine/a.rs:1: engine names crate::science"]
        );
    }

    #[test]
    fn comments_doc_comments_and_literals_are_not_code() {
        let text = r####"
//! Unlike [`crate::cli::Cli`], this module ...
/// See crate::tui::run.
// use crate::cli::x;
/* crate::cli /* nested crate::tui */ crate::cli */
fn f<'a>(s: &'a str) -> char {
    let _ = "crate::cli::ModelArgs \" crate::tui";
    let _ = r#"crate::cli "quoted" crate::tui"#;
    let _ = b"crate::cli";
    'outer: loop { break 'outer; }
    let _ = ('"', '\'', '\\');
    'x'
}
"####;
        assert!(check("engine/a.rs", text).is_empty(), "{:?}", check("engine/a.rs", text));
        // Code after each of those still counts.
        let text = format!("{text}use crate::cli::ModelArgs;\n");
        assert_eq!(check("engine/a.rs", &text), ["src/engine/a.rs:14: engine names crate::cli::ModelArgs"]);
    }

    #[test]
    fn super_paths_are_resolved_from_the_file_and_its_inline_modules() {
        assert!(check("engine/model/block.rs", "use super::super::intervention::LayerIntervention;").is_empty());
        assert_eq!(
            check("tui/ui/popup.rs", "use super::super::super::cli::ModelArgs;"),
            ["src/tui/ui/popup.rs:1: tui names crate::cli::ModelArgs"]
        );
        // In `mod tests` of tui/mod.rs, super is tui, and super::super the crate root.
        let text = "mod tests {\n    use super::*;\n    use super::super::cli::Cli;\n}\nuse super::cli::Cli;\n";
        assert_eq!(
            check("tui/mod.rs", text),
            ["src/tui/mod.rs:3: tui names crate::cli::Cli", "src/tui/mod.rs:5: tui names crate::cli::Cli"]
        );
        assert!(check("engine/config.rs", "mod tests { use super::*; }").is_empty());
    }

    #[test]
    fn cli_may_name_only_the_explorers_entry_point_of_tui() {
        let ok = "use crate::tui::{CompareStart, Options};\nfn f() { crate::tui::run(a, b, None) }";
        assert!(check("cli/compare.rs", ok).is_empty(), "{:?}", check("cli/compare.rs", ok));
        let text = "use crate::tui::compare::Reasoning;\nuse crate::tui;\nuse crate::tui::*;\n";
        assert_eq!(
            check("cli/compare.rs", text),
            [
                "src/cli/compare.rs:1: cli names crate::tui::compare::Reasoning",
                "src/cli/compare.rs:2: cli names crate::tui",
                "src/cli/compare.rs:3: cli names crate::tui::*",
            ]
        );
        assert!(check("main.rs", "use crate::tui::app::App;").is_empty(), "the crate root has no layer");
    }

    #[test]
    fn modules_of_files() {
        assert_eq!(module_of(Path::new("tui/ui/popup.rs")), ["tui", "ui", "popup"]);
        assert_eq!(module_of(Path::new("tui/mod.rs")), ["tui"]);
        assert!(module_of(Path::new("lib.rs")).is_empty());
    }
}
