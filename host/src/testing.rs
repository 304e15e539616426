//! Small models and data shared by unit tests.

use burn::tensor::Device;
use coevo_sdk::Task;

use crate::data::{Dataset, Inputs, Normalise, ResidentData, Samples, Targets};
use crate::model::{Model, ModelSpec};
use crate::session::Session;

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

/// A session on 120 samples of 8 features in 3 classes (or their class as a real value), 20 held out.
pub fn synthetic_session(task: Task) -> Session {
    let n = 120;
    let inputs = (0..n * 8)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 4.0)
        .collect();
    let targets = match task {
        Task::Classification { .. } => Targets::Classes((0..n).map(|i| (i % 3) as u32).collect()),
        Task::Regression => Targets::Values((0..n).map(|i| (i % 3) as f32).collect()),
    };
    let samples = Samples {
        inputs: Inputs::F32(inputs),
        targets,
        coarse: None,
    };
    let data = Dataset {
        name: "synthetic".into(),
        task,
        sample_shape: vec![8],
        class_names: vec![],
        train: samples.clone(),
        test: samples,
        target_transform: None,
        preparation: None,
    };
    let device = Device::flex();
    let validation: Vec<usize> = (0..20).collect();
    let resident = ResidentData::upload(&data, &validation, Normalise::Auto, &device);
    Session::new(resident, device, 5)
}
