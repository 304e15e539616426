//! Small models and data shared by unit tests.

use burn::tensor::Device;

use crate::model::{Model, ModelSpec};

/// conv 1→2 (1x1 kernel) on a 1x2x2 image, batch norm, flatten, linear 8→1: 4 + 4 + 9 = 17
/// parameters in four tensors of three layers, plus two running-statistics buffers.
pub fn tiny_spec() -> ModelSpec {
    ModelSpec::from_json(
        r#"{"input":[1,2,2],"layers":[
            {"type":"conv2d","out":2,"kernel":1},
            {"type":"batch_norm"},
            {"type":"flatten"},
            {"type":"linear","out":1}]}"#,
    )
    .expect("a valid spec")
}

/// The tiny model with parameters `1, 2, …, 17` times `scale`.
pub fn tiny_model(scale: f32) -> Model {
    let mut model = Model::new(tiny_spec(), &Device::flex(), 0).expect("a valid model");
    let flat: Vec<f32> = (1..=17).map(|v| v as f32 * scale).collect();
    model.set_flat_params(&flat).expect("17 values");
    model
}

/// `../shared/data/<name>` beside the repository; `None` (after saying why) where it is absent
/// and fixtures are not required (see [`coevo_sdk::fixture`]).
pub fn shared_data(name: &str) -> Option<std::path::PathBuf> {
    let dir = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data"));
    coevo_sdk::fixture::existing(dir.join(name), "the shared data set")
}
