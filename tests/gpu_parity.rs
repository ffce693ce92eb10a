//! The CUDA engine against the CPU engine from the same build: the same m vectors, top-K sets and
//! greedy tokens. Compiled with `--features cuda`; on a machine without a usable GPU each test
//! says so and passes without comparing anything (`scripts/gpu-check` runs them where there is
//! one).
#![cfg(feature = "cuda")]
mod common;

use std::collections::BTreeSet;

use common::fixture;
use neuronav::engine::loader::{self, DeviceChoice, LoadedModel};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};

const PROMPT: &str = "Roger has 5 tennis balls. 2+3=5";

fn load(path: &std::path::Path, device: DeviceChoice, dtype: WeightDType) -> Option<LoadedModel> {
    match loader::load(path, device, dtype, &|_, _| {}) {
        Ok(m) => Some(m),
        Err(e) if device == DeviceChoice::Cuda => {
            eprintln!("no CUDA comparison on this machine: {e}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// Runs PROMPT and 8 greedy steps.
fn run(loaded: &LoadedModel) -> Session {
    let mut s = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
    s.run_prompt(PROMPT, Control::default()).unwrap();
    for _ in 0..8 {
        s.step(Control::default()).unwrap();
    }
    s
}

#[test]
fn f32_on_cuda_gives_the_cpu_numbers() {
    let path = fixture("tiny-llama");
    let Some(gpu) = load(&path, DeviceChoice::Cuda, WeightDType::F32) else { return };
    let cpu = load(&path, DeviceChoice::Cpu, WeightDType::F32).unwrap();
    let (a, b) = (run(&cpu), run(&gpu));
    assert_eq!(a.tokens(), b.tokens(), "greedy tokens");
    for p in 0..a.len() {
        for l in 0..cpu.config.num_layers {
            let (x, y) = (a.trace().position(p).m(l).unwrap(), b.trace().position(p).m(l).unwrap());
            let diff = x.iter().zip(y.iter()).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(diff < 1e-4, "m at position {p}, layer {l}: max difference {diff}");
        }
    }
}

/// In f16 the top-K sets agree except where two neurons' scores are within f16's precision.
#[test]
fn f16_on_cuda_keeps_the_cpu_top_k_up_to_near_ties() {
    for rel in ["tiny-llama", "tiny-llama-q8_0.gguf"] {
        let path = fixture(rel);
        let Some(gpu) = load(&path, DeviceChoice::Cuda, WeightDType::F16) else { return };
        let cpu = load(&path, DeviceChoice::Cpu, WeightDType::F32).unwrap();
        let mut a = Session::new(cpu.model.clone(), cpu.tokenizer.clone(), SessionSettings::default());
        let mut b = Session::new(gpu.model.clone(), gpu.tokenizer.clone(), SessionSettings::default());
        a.run_prompt(PROMPT, Control::default()).unwrap();
        b.run_prompt(PROMPT, Control::default()).unwrap();
        for p in 0..a.len() {
            for l in 0..cpu.config.num_layers {
                let ours = &a.trace().position(p).top()[l];
                let theirs = &b.trace().position(p).top()[l];
                let set =
                    |v: &[neuronav::engine::neuron::NeuronHit]| v.iter().map(|h| h.index).collect::<BTreeSet<_>>();
                // Neurons in one set only must sit at the boundary: within 1% of the K-th score.
                let kth = ours.last().unwrap().s;
                for j in set(ours).symmetric_difference(&set(theirs)) {
                    let s = a.trace().position(p).m(l).unwrap()[*j as usize].abs()
                        * cpu.model.value_norms()[l][*j as usize];
                    assert!((s - kth).abs() <= 0.01 * kth, "{rel} pos {p} L{l}: N{j} (s {s}) is no near-tie of {kth}");
                }
            }
        }
    }
}
