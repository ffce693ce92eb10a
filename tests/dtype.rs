//! `--dtype f16|bf16` on the CPU: the weights stay as stored, products accumulate in f32 and only
//! the activations between operations are rounded, so such a run follows the f32 run to the
//! activations' precision, also where a residual's squares exceed f16's range (the norms are
//! computed in f32).
mod common;

use std::path::Path;

use common::{fixture, scaled_tiny_copy};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};

const PROMPT: [u32; 5] = [1, 17, 42, 99, 7];

fn run(dir: &Path, dtype: WeightDType) -> Session {
    let loaded = loader::load(dir, DeviceChoice::Cpu, dtype, &|_, _| {}).unwrap();
    let mut session = Session::new(loaded.model, loaded.tokenizer, SessionSettings::default());
    session.run_ids(PROMPT.to_vec(), Control::default()).unwrap();
    session
}

fn peak(values: impl IntoIterator<Item = f32>) -> f32 {
    values.into_iter().fold(0f32, |a, x| a.max(x.abs()))
}

#[test]
fn f16_and_bf16_runs_follow_the_f32_run_past_the_range_of_f16_squares() {
    // Layer 0's down_proj scaled so that the residual reaches about 2000: f16 holds it, but not
    // its square. The factor comes from the unscaled model's own output.
    let plain = run(&fixture("tiny-llama"), WeightDType::F32);
    let ffn_peak = peak((0..PROMPT.len()).flat_map(|p| {
        let at = plain.trace().position(p);
        at.resid_post(0)
            .unwrap()
            .iter()
            .zip(at.resid_mid(0).unwrap().iter())
            .map(|(post, mid)| post - mid)
            .collect::<Vec<_>>()
    }));
    let factor = 2000.0 / ffn_peak;
    let dir = scaled_tiny_copy(|name| if name == "model.layers.0.mlp.down_proj.weight" { factor } else { 1.0 });

    let reference = run(dir.path(), WeightDType::F32);
    let resid = peak((0..PROMPT.len()).flat_map(|p| reference.trace().position(p).resid_post(0).unwrap().to_vec()));
    assert!(resid > 256.0 && resid < 65504.0, "the f32 residual peaks at {resid}");

    for (dtype, tolerance) in [(WeightDType::F16, 0.01), (WeightDType::BF16, 0.05)] {
        let rounded = run(dir.path(), dtype);
        for p in 0..PROMPT.len() {
            let (a, b) = (reference.trace().position(p), rounded.trace().position(p));
            for l in 0..3 {
                let scale = peak(a.m(l).unwrap().iter().copied());
                let diff = peak(a.m(l).unwrap().iter().zip(b.m(l).unwrap().iter()).map(|(x, y)| x - y));
                assert!(diff <= tolerance * scale, "{dtype:?} m L{l} pos {p}: off by {diff} of {scale}");
            }
        }
    }
}
