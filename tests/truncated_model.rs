//! A model file truncated after it was opened. The CPU reads weights in place from the file's
//! memory map, and reading a page past a truncated end would end the process (SIGBUS); the file
//! is checked before each pass and each vocabulary projection, so a truncation between them is
//! an error naming the file. (A file truncated before it is opened is refused by the readers:
//! tests/bad_gguf.rs, tests/bad_safetensors.rs.)
mod common;

use std::path::Path;

use neuronav::engine::error::EngineError;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::random_model::{RandomModel, WeightScheme};
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::science::projection::ProjectionSettings;
use neuronav::science::vocab_index::VocabIndex;

fn random(seed: u64) -> RandomModel {
    let config = common::small_config(600, 2, 256);
    RandomModel { config, scheme: WeightScheme::Q8_0, seed, name: "truncated".into() }
}

fn load(path: &Path) -> LoadedModel {
    loader::load(path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap()
}

fn assert_names_truncation(err: EngineError, path: &Path) {
    assert!(matches!(&err, EngineError::BadFile { path: p, .. } if p == path), "{err}");
    let msg = err.to_string();
    assert!(msg.contains("shrank") && msg.contains("open the model again"), "{msg}");
}

#[test]
fn a_file_truncated_after_loading_is_an_error_not_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    random(1).write(&path, &|_, _| {}).unwrap();
    let loaded = load(&path);
    let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    session.run_prompt("one two three", Control::default()).unwrap();
    let len = std::fs::metadata(&path).unwrap().len();
    std::fs::OpenOptions::new().write(true).open(&path).unwrap().set_len(len / 2).unwrap();

    assert_names_truncation(session.step(Control::default()).unwrap_err(), &path);
    assert_names_truncation(session.run_prompt("four", Control::default()).unwrap_err(), &path);
    assert_names_truncation(loaded.model.check_files().unwrap_err(), &path);
    let settings = ProjectionSettings::default();
    let built = VocabIndex::build(loaded.model.as_ref(), settings, Control::default());
    assert_names_truncation(built.err().expect("refused"), &path);
}

/// Writing a new file beside the old one and renaming it over leaves the open model as it was:
/// the map keeps the old file's data, which is what the error message advises.
#[test]
fn a_file_replaced_by_renaming_keeps_running() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.gguf");
    random(1).write(&path, &|_, _| {}).unwrap();
    let loaded = load(&path);
    let mut before = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    before.run_prompt("one two three", Control::default()).unwrap();

    let other = dir.path().join("other.gguf");
    random(2).write(&other, &|_, _| {}).unwrap();
    std::fs::rename(&other, &path).unwrap();
    loaded.model.check_files().unwrap();
    let mut after = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    after.run_prompt("one two three", Control::default()).unwrap();
    let last = before.len() - 1;
    assert_eq!(before.trace().position(last).logits(), after.trace().position(last).logits());
}
