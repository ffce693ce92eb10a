//! The default model in reduced precision on the CPU: activations in f16 stay within range, so
//! every layer's coefficients agree with transformers' f32 reference rather than collapsing to
//! zeros where a squared residual passes f16's 65504 (tests/fixtures/smollm2-reference.json).
mod common;

use common::{floats, ids, read_json};
use neuronav::engine::loader::{self, DeviceChoice};
use neuronav::engine::model::WeightDType;
use neuronav::engine::session::{Control, Session, SessionSettings};

#[test]
fn f16_coefficients_of_every_layer_follow_the_f32_reference() {
    let loaded = loader::load(&common::default_model(), DeviceChoice::Cpu, WeightDType::F16, &|_, _| {}).unwrap();
    let reference = read_json("smollm2-reference.json");
    for prompt in reference["prompts"].as_array().unwrap() {
        let text = prompt["text"].as_str().unwrap();
        let label = &text[..text.len().min(30)];
        let prompt_ids = ids(&prompt["ids"]);
        let mut session = Session::new(loaded.model.clone(), loaded.tokenizer.clone(), SessionSettings::default());
        session.run_ids(prompt_ids.clone(), Control::default()).unwrap();
        let last = session.trace().position(prompt_ids.len() - 1);
        for (l, layer) in prompt["last_token_layers"].as_array().unwrap().iter().enumerate() {
            // The reference's best neuron, read in our f16 run's whole coefficient vector.
            let (j, m) = (ids(&layer["top20"])[0] as usize, floats(&layer["m"])[0]);
            let ours = last.m(l).unwrap()[j];
            assert!((ours - m).abs() < 0.05 * (1.0 + m.abs()), "{label:?} L{l}N{j}: f16 m {ours} vs f32 reference {m}");
        }
    }
}
