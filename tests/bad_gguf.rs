//! GGUF files that are broken or not what neuronav runs, opened the way a user opens them.
//! (Byte-level damage to the container is covered by the unit tests of `weights::gguf`.)
mod common;

use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;

fn open_patched(patch: impl FnOnce(&mut Vec<u8>)) -> (tempfile::TempDir, String) {
    let mut bytes = std::fs::read(common::fixture("tiny-llama.gguf")).unwrap();
    patch(&mut bytes);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("broken.gguf");
    std::fs::write(&path, bytes).unwrap();
    let err = loader::load(&path, DeviceChoice::Cpu, WeightDType::F32, &|_, _| {}).err().expect("the load fails");
    (dir, err.to_string())
}

/// Replaces the string value stored under `key` (same length) in a GGUF's metadata.
fn replace_string_value(bytes: &mut [u8], key: &str, old: &str, new: &str) {
    assert_eq!(old.len(), new.len());
    let mut needle = key.as_bytes().to_vec();
    needle.extend_from_slice(&8u32.to_le_bytes()); // value type: string
    needle.extend_from_slice(&(old.len() as u64).to_le_bytes());
    needle.extend_from_slice(old.as_bytes());
    let at = bytes.windows(needle.len()).position(|w| w == needle).expect("key present");
    let value = at + needle.len() - old.len();
    bytes[value..value + new.len()].copy_from_slice(new.as_bytes());
}

#[test]
fn another_architecture_is_refused_by_name() {
    let (_dir, msg) = open_patched(|b| replace_string_value(b, "general.architecture", "llama", "qwen2"));
    assert!(msg.contains("broken.gguf"), "{msg}");
    assert!(msg.contains("architecture 'qwen2' is not supported"), "{msg}");
}

#[test]
fn a_truncated_file_names_the_file() {
    let (_dir, msg) = open_patched(|b| b.truncate(b.len() / 2));
    assert!(msg.contains("broken.gguf"), "{msg}");
    assert!(msg.contains("past the end"), "{msg}");
}

#[test]
fn metadata_that_disagrees_with_the_tensors_is_caught() {
    // The tiny model has 160 neurons per layer; claim 128.
    let (_dir, msg) = open_patched(|b| {
        let mut needle = b"llama.feed_forward_length".to_vec();
        needle.extend_from_slice(&4u32.to_le_bytes()); // value type: u32
        let at = b.windows(needle.len()).position(|w| w == needle).expect("key present") + needle.len();
        assert_eq!(u32::from_le_bytes(b[at..at + 4].try_into().unwrap()), 160);
        b[at..at + 4].copy_from_slice(&128u32.to_le_bytes());
    });
    assert!(msg.contains("broken.gguf"), "{msg}");
    assert!(msg.contains("has shape") && msg.contains("the config implies"), "{msg}");
}

#[test]
fn a_gguf_without_tokenizer_says_so() {
    let (_dir, msg) = open_patched(|b| rename_key(b, "tokenizer.ggml.tokens", "tokenizer.ggml.tokenz"));
    assert!(msg.contains("broken.gguf"), "{msg}");
    assert!(msg.contains("tokenizer"), "{msg}");
}

/// Renames a metadata key (same length), so the reader no longer finds it.
fn rename_key(bytes: &mut [u8], old: &str, new: &str) {
    let at = bytes.windows(old.len()).position(|w| w == old.as_bytes()).expect("key present");
    bytes[at..at + new.len()].copy_from_slice(new.as_bytes());
}
