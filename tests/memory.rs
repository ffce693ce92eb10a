//! A model or a run that needs more memory than the machine has available is refused with an
//! error saying how much is needed and how much there is, before the allocation that would abort
//! the process. The available memory is injected with `NEURONAV_MEM_AVAILABLE`.
mod common;

use std::process::Command;

use common::fixture;
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::memory::AVAILABLE_VAR;
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::EngineError;

#[test]
fn loading_weights_larger_than_the_available_memory_is_an_error_not_an_abort() {
    let home = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .args(["inspect", "--device", "cpu", "--prompt", "2+3=", "--model"])
        .arg(fixture("tiny-llama"))
        .env("NEURONAV_HOME", home.path())
        .env(AVAILABLE_VAR, "100000")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    // An abort would end the process by a signal, with no exit code.
    assert!(output.status.code().is_some_and(|c| c != 0), "{:?}: {stderr}", output.status);
    // Every tensor's bytes: the file less its 8-byte length and JSON header.
    let file = std::fs::read(fixture("tiny-llama/model.safetensors")).unwrap();
    let weights = file.len() - 8 - u64::from_le_bytes(file[..8].try_into().unwrap()) as usize;
    let expected = format!("needs {weights} bytes of memory but only 100000 bytes is available");
    assert!(stderr.contains("loading the weights of") && stderr.contains(&expected), "{expected}: {stderr}");
}

#[test]
fn a_run_needing_more_than_is_available_is_refused_and_leaves_the_session_usable() {
    let loaded = loader::load(&fixture("tiny-llama"), DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).unwrap();
    let mut session = Session::new(loaded.model, loaded.tokenizer, SessionSettings::default());
    let prompt: Vec<u32> = (1..60).collect();
    // The only test of this file that reads the variable in this process.
    std::env::set_var(AVAILABLE_VAR, "20000");
    let refused = session.run_ids(prompt.clone(), Control::default());
    std::env::remove_var(AVAILABLE_VAR);
    let err = refused.unwrap_err();
    let EngineError::Memory { needed, available, .. } = &err else { panic!("{err}") };
    assert_eq!(*available, 20000);
    assert!(*needed > 20000, "{err}");
    assert!(err.to_string().starts_with("running 59 positions needs"), "{err}");
    assert!(session.is_empty());
    session.run_ids(prompt, Control::default()).unwrap();
    assert_eq!(session.len(), 59);
}
