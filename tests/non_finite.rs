//! A forward pass that produces NaN or inf stops with an error naming the layer, the position and
//! the element type, instead of showing the value as a number: the tiny model made to overflow.
mod common;

use std::path::Path;

use common::{fixture, scaled_tiny_copy};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};
use neuronav::engine::EngineError;

const PROMPT: [u32; 4] = [1, 17, 42, 99];

fn run(dir: &Path, dtype: WeightDType) -> (Session, Result<(), EngineError>) {
    let loaded = loader::load(dir, DeviceChoice::Cpu, dtype, &|_, _| {}).unwrap();
    let mut session = Session::new(loaded.model, loaded.tokenizer, SessionSettings::default());
    let result = session.run_ids(PROMPT.to_vec(), Control::default());
    (session, result)
}

#[test]
fn an_overflowing_layer_is_named_with_the_position_and_dtype() {
    // Gate and up projections of layer 1 × 1e30: m = silu(gate)·up overflows f32.
    let dir =
        scaled_tiny_copy(
            |name| if name.starts_with("model.layers.1.mlp.") && !name.contains("down") { 1e30 } else { 1.0 },
        );
    let (session, result) = run(dir.path(), WeightDType::F32);
    let err = result.unwrap_err();
    let EngineError::NonFinite { layer, place, position, value, dtype } = &err else { panic!("{err}") };
    assert_eq!((*layer, place.as_str(), dtype.as_str()), (Some(1), "blocks.1.mlp.m", "f32"), "{err}");
    assert!(*position < PROMPT.len() && !value.is_finite(), "{err}");
    assert!(session.is_empty(), "nothing of the failed run is kept");
    let message = err.to_string();
    assert!(message.starts_with("layer 1 produced") && message.contains("f32"), "{message}");
}

#[test]
fn a_residual_past_f16s_range_stops_an_f16_run_and_not_an_f32_one() {
    // Scale layer 0's down_proj so that its output reaches about 1e6: f32 holds that, f16 (up to
    // 65504) does not. The factor comes from the unscaled model's own output.
    let (plain, result) = run(&fixture("tiny-llama"), WeightDType::F32);
    result.unwrap();
    let ffn_peak = (0..PROMPT.len())
        .flat_map(|p| {
            let at = plain.trace().position(p);
            at.resid_post(0)
                .unwrap()
                .iter()
                .zip(at.resid_mid(0).unwrap().iter())
                .map(|(post, mid)| (post - mid).abs())
                .collect::<Vec<_>>()
        })
        .fold(0f32, f32::max);
    let factor = 1e6 / ffn_peak;
    let dir = scaled_tiny_copy(|name| if name == "model.layers.0.mlp.down_proj.weight" { factor } else { 1.0 });

    let (wide, result) = run(dir.path(), WeightDType::F32);
    result.unwrap();
    let peak = (0..PROMPT.len())
        .flat_map(|p| wide.trace().position(p).resid_post(0).unwrap().to_vec())
        .fold(0f32, |a, x| a.max(x.abs()));
    assert!(peak > 65504.0 && peak.is_finite(), "the f32 residual peaks at {peak}");

    let (_, result) = run(dir.path(), WeightDType::F16);
    let err = result.unwrap_err();
    let EngineError::NonFinite { layer, place, dtype, .. } = &err else { panic!("{err}") };
    assert_eq!((*layer, place.as_str(), dtype.as_str()), (Some(0), "blocks.0.resid_post", "f16"), "{err}");
    assert!(err.to_string().contains("--dtype bf16 or f32"), "{err}");
}
