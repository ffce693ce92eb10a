//! The GPU engines against the CPU engine from the same build: the same m vectors, top-K sets,
//! greedy tokens, interventions and overflow errors, on each GPU backend the build has (CUDA with
//! `--features cuda`, wgpu with `--features wgpu`). On a machine without the device each test
//! says so and passes without comparing anything, except that in CI (`CI=true`) wgpu must be
//! there: CI installs lavapipe, a software Vulkan device, so that these tests run.
#![cfg(any(feature = "cuda", feature = "wgpu"))]
mod common;

use std::collections::BTreeSet;
use std::path::Path;

use common::{fixture, ids, max_abs_diff, read_json, scaled_tiny_copy};
use neuronav::engine::intervention::Interventions;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::neuron::{NeuronHit, NeuronId};
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::EngineError;

const PROMPT: &str = "Roger has 5 tennis balls. 2+3=5";

/// The GPU backends built in.
// Each push is behind its backend's feature, which `vec![]` cannot say.
#[allow(clippy::vec_init_then_push)]
fn gpus() -> Vec<DeviceChoice> {
    let mut gpus = Vec::new();
    #[cfg(feature = "cuda")]
    gpus.push(DeviceChoice::Cuda);
    #[cfg(feature = "wgpu")]
    gpus.push(DeviceChoice::Wgpu);
    gpus
}

/// Whether a missing `device` fails the test rather than skipping it.
fn required(device: DeviceChoice) -> bool {
    device == DeviceChoice::Wgpu && std::env::var("CI").is_ok_and(|v| v == "true")
}

/// `path` on `device`, or `None` (said on stderr) when the device is missing and not required.
fn load_gpu(path: &Path, device: DeviceChoice, dtype: WeightDType) -> Option<LoadedModel> {
    match loader::load(path, device, dtype, &|_, _| {}) {
        Ok(m) => Some(m),
        Err(e) if required(device) => panic!("CI=true needs the {device:?} device: {e}"),
        Err(e) => {
            eprintln!("no {device:?} comparison on this machine: {e}");
            None
        }
    }
}

fn load_cpu(path: &Path, dtype: WeightDType) -> LoadedModel {
    loader::load(path, DeviceChoice::Cpu, dtype, &|_, _| {}).unwrap()
}

fn session(loaded: &LoadedModel, interventions: Interventions) -> Session {
    let mut s = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    s.set_interventions(interventions);
    s
}

/// Runs PROMPT and 8 greedy steps, so that both the many-row and the one-row passes (with the
/// key/value cache) are compared.
fn run(loaded: &LoadedModel, interventions: Interventions) -> Session {
    let mut s = session(loaded, interventions);
    s.run_prompt(PROMPT, Control::default()).unwrap();
    for _ in 0..8 {
        s.step(Control::default()).unwrap();
    }
    s
}

/// The same tokens, and m and the residual after every layer within `tolerance` at every
/// position.
fn assert_same_numbers(what: &str, cpu: &Session, gpu: &Session, layers: usize, tolerance: f32) {
    assert_eq!(cpu.tokens(), gpu.tokens(), "{what}: greedy tokens");
    for p in 0..cpu.len() {
        let (a, b) = (cpu.trace().position(p), gpu.trace().position(p));
        for l in 0..layers {
            let diff = max_abs_diff(&a.m(l).unwrap(), &b.m(l).unwrap());
            assert!(diff < tolerance, "{what}: m at position {p}, layer {l}: max difference {diff}");
            let diff = max_abs_diff(&a.resid_post(l).unwrap(), &b.resid_post(l).unwrap());
            assert!(diff < tolerance, "{what}: residual at position {p}, layer {l}: max difference {diff}");
        }
    }
}

fn set(hits: &[NeuronHit]) -> BTreeSet<u32> {
    hits.iter().map(|h| h.index).collect()
}

#[test]
fn f32_on_the_gpu_gives_the_cpu_numbers_in_every_checkpoint_format() {
    for device in gpus() {
        for rel in [
            "tiny-llama",
            "tiny-llama-bf16",
            "tiny-llama-f16-sharded",
            "tiny-llama-tied",
            "tiny-llama.gguf",
            "tiny-llama-q8_0.gguf",
        ] {
            let path = fixture(rel);
            let Some(gpu) = load_gpu(&path, device, WeightDType::F32) else { return };
            let cpu = load_cpu(&path, WeightDType::F32);
            let what = format!("{device:?} {rel}");
            assert_same_numbers(
                &what,
                &run(&cpu, Interventions::default()),
                &run(&gpu, Interventions::default()),
                cpu.config.num_layers,
                1e-4,
            );
        }
    }
}

/// In f16 the top-K sets agree except where two neurons' scores are within f16's precision.
#[test]
fn f16_on_the_gpu_keeps_the_cpu_top_k_up_to_near_ties() {
    for device in gpus() {
        for rel in ["tiny-llama", "tiny-llama-q8_0.gguf"] {
            let path = fixture(rel);
            let Some(gpu) = load_gpu(&path, device, WeightDType::F16) else { return };
            let cpu = load_cpu(&path, WeightDType::F32);
            let mut a = session(&cpu, Interventions::default());
            let mut b = session(&gpu, Interventions::default());
            a.run_prompt(PROMPT, Control::default()).unwrap();
            b.run_prompt(PROMPT, Control::default()).unwrap();
            for p in 0..a.len() {
                for l in 0..cpu.config.num_layers {
                    let ours = &a.trace().position(p).top()[l];
                    let theirs = &b.trace().position(p).top()[l];
                    // Neurons in one set only must sit at the boundary: within 1% of the K-th score.
                    let kth = ours.last().unwrap().s;
                    for j in set(ours).symmetric_difference(&set(theirs)) {
                        let s = a.trace().position(p).m(l).unwrap()[*j as usize].abs()
                            * cpu.model.value_norms()[l][*j as usize];
                        assert!(
                            (s - kth).abs() <= 0.01 * kth,
                            "{device:?} {rel} pos {p} L{l}: N{j} (s {s}) is no near-tie of {kth}"
                        );
                    }
                }
            }
        }
    }
}

/// The default model's top-20 sets at the last position of the short reference prompts are
/// transformers' (the fixture the CPU's own test uses), the method's 912-token prompt included
/// (about a minute on lavapipe with two cores).
#[test]
fn smollm2_top20_sets_on_the_gpu_match_the_reference() {
    let reference = read_json("smollm2-reference.json");
    for device in gpus() {
        let Some(gpu) = load_gpu(&common::default_model(), device, WeightDType::F32) else { return };
        for prompt in reference["prompts"].as_array().unwrap() {
            let text = prompt["text"].as_str().unwrap();
            let label = &text[..text.len().min(30)];
            let tokens = ids(&prompt["ids"]);
            let mut s = session(&gpu, Interventions::default());
            s.run_ids(tokens.clone(), Control::default()).unwrap();
            let last = s.trace().position(tokens.len() - 1);
            for (l, layer) in prompt["last_token_layers"].as_array().unwrap().iter().enumerate() {
                let theirs: BTreeSet<u32> = ids(&layer["top20"]).into_iter().collect();
                assert_eq!(set(&last.top()[l]), theirs, "{device:?} {label:?}: top-20 set of layer {l}");
            }
        }
    }
}

/// Zeroing, scaling and noise change the GPU's numbers as they change the CPU's.
#[test]
fn interventions_on_the_gpu_give_the_cpu_numbers() {
    let zeroed = NeuronId { layer: 1, index: 37 };
    let doubled = NeuronId { layer: 0, index: 5 };
    let noised = NeuronId { layer: 1, index: 60 };
    let mut interventions = Interventions::default();
    interventions.zero(&[zeroed]).scale(doubled, 2.0).noise(&[noised], 5, 64);
    for device in gpus() {
        let path = fixture("tiny-llama");
        let Some(gpu) = load_gpu(&path, device, WeightDType::F32) else { return };
        let cpu = load_cpu(&path, WeightDType::F32);
        let plain = run(&gpu, Interventions::default());
        let (a, b) = (run(&cpu, interventions.clone()), run(&gpu, interventions.clone()));
        assert_same_numbers(&format!("{device:?}"), &a, &b, cpu.config.num_layers, 1e-4);
        for p in 0..plain.prompt_len() {
            let (before, after) = (plain.trace().position(p), b.trace().position(p));
            assert!(before.m(1).unwrap()[37] != 0.0, "{device:?} p{p}: the zeroed neuron is active without");
            assert_eq!(after.m(1).unwrap()[37], 0.0, "{device:?} p{p}: the zeroed neuron");
            assert_eq!(after.m(0).unwrap()[5], 2.0 * before.m(0).unwrap()[5], "{device:?} p{p}: the doubled neuron");
        }
    }
}

/// A layer whose m overflows stops the run with the error the CPU gives, naming the layer.
#[test]
fn an_overflow_on_the_gpu_is_the_cpu_error() {
    // Gate and up projections of layer 1 × 1e30: m = silu(gate)·up overflows f32.
    let dir =
        scaled_tiny_copy(
            |name| if name.starts_with("model.layers.1.mlp.") && !name.contains("down") { 1e30 } else { 1.0 },
        );
    let tokens = vec![1, 17, 42, 99];
    for device in gpus() {
        let Some(gpu) = load_gpu(dir.path(), device, WeightDType::F32) else { return };
        let mut s = session(&gpu, Interventions::default());
        let err = s.run_ids(tokens.clone(), Control::default()).unwrap_err();
        let EngineError::NonFinite { layer, place, dtype, .. } = &err else { panic!("{device:?}: {err}") };
        assert_eq!((*layer, place.as_str(), dtype.as_str()), (Some(1), "blocks.1.mlp.m", "f32"), "{device:?}: {err}");
        assert!(s.is_empty(), "{device:?}: nothing of the failed run is kept");
    }
}

/// A pass too large for the device (a feed-forward layer of a million neurons, whose m over
/// 17,000 positions alone needs 68 GB) is an error saying what the pass needed, not a panic; the
/// cache is left as it was and the model goes on working.
#[test]
fn a_pass_too_large_for_the_device_is_an_error_and_the_model_goes_on() {
    let (_, mut config, _) = loader::open(&fixture("tiny-llama")).unwrap();
    config.context_length = 1 << 20;
    config.intermediate_size = 1 << 20;
    let tokens: Vec<u32> = (0..17_000).map(|i| (i % 300) as u32).collect();
    for device in gpus() {
        let model = match loader::random(&config, device, WeightDType::F32, 7) {
            Ok((model, _)) => model,
            Err(e) if required(device) => panic!("CI=true needs the {device:?} device: {e}"),
            Err(e) => {
                eprintln!("no {device:?} comparison on this machine: {e}");
                continue;
            }
        };
        let mut cache = model.new_cache();
        let err = model.forward(&tokens, cache.as_mut(), &Interventions::default(), &|| true).err();
        let Some(EngineError::Device(message)) = &err else { panic!("{device:?}: {:?}", err.map(|e| e.to_string())) };
        assert!(message.contains("failed on the GPU") && message.contains("needs about"), "{message}");
        assert_eq!(cache.len(), 0, "{device:?}: the failed pass left nothing in the cache");
        let logits = model.forward(&tokens[..5], cache.as_mut(), &Interventions::default(), &|| true).unwrap().logits;
        assert!(logits.iter().all(|x| x.is_finite()) && cache.len() == 5, "{device:?}");
    }
}

/// Without a Vulkan driver (none named where the loader looks) `--device wgpu` says how to get
/// one: a failure, not a panic.
#[test]
#[cfg(feature = "wgpu")]
fn without_a_vulkan_driver_wgpu_says_how_to_get_one() {
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_neuronav"))
        .env("VK_ICD_FILENAMES", "/nonexistent/no-driver.json")
        .env("NEURONAV_HOME", home.path())
        .args(["--device", "wgpu", "--model"])
        .arg(fixture("tiny-llama"))
        .args(["inspect", "--prompt", "hi"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no usable wgpu device") && stderr.contains("mesa-vulkan-drivers"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
