//! Training end to end on the bundled data: determinism and failure reporting.

use std::str::FromStr;

use burn::tensor::Device;
use coevo::data::{
    Augment, DataSource, Dataset, Inputs, Normalise, ResidentData, Samples, Targets, Task,
};
use coevo::model::{Model, ModelSpec};
use coevo::session::FinalReport;
use coevo::session::Session;
use coevo::train::{OptimizerConfig, TrainError, TrainSpec, Trainer};
use coevo_tests::bundled_fashion_mnist;

fn bundled(train: usize, test: usize) -> Dataset {
    let source = DataSource::from_str(&format!(
        "fashion-mnist={}",
        bundled_fashion_mnist().display()
    ))
    .unwrap();
    let mut data = source.load().unwrap();
    data.truncate(Some(train), Some(test));
    data
}

/// A small network with every source of randomness: init, batch order, augmentation, dropout.
fn spec() -> ModelSpec {
    ModelSpec::from_json(
        r#"{"input":[1,28,28],"layers":[
            {"type":"conv2d","out":4,"kernel":3,"stride":2},{"type":"batch_norm"},{"type":"relu"},
            {"type":"flatten"},{"type":"dropout","p":0.3},{"type":"linear","out":10}]}"#,
    )
    .unwrap()
}

fn run(seed: u64) -> (String, Vec<f32>) {
    let device = Device::flex();
    let data = bundled(1200, 300);
    let validation: Vec<usize> = (0..200).collect();
    let resident = ResidentData::upload(&data, &validation, Normalise::Auto, &device);
    let mut session = Session::new(resident, device, seed);
    let id = session.create_from_spec(spec(), seed).unwrap();
    let config = TrainSpec {
        epochs: 2,
        batch_size: 50,
        augment: Augment {
            crop_padding: 2,
            flip: true,
        },
        seed,
        ..TrainSpec::default()
    };
    let epochs = session
        .fit(&[id], config, &mut |_| {}, &mut |_| {})
        .unwrap();
    assert!(epochs.iter().all(|e| e.validation.is_some()));
    let test = session
        .evaluate_for_final_report(&[id], FinalReport::default())
        .unwrap();
    let mut epochs = serde_json::to_value(&epochs).unwrap();
    // Wall-clock figures are the only thing allowed to differ.
    for epoch in epochs.as_array_mut().unwrap() {
        epoch["seconds"] = 0.into();
        epoch["samples_per_second"] = 0.into();
    }
    (
        format!("{epochs} {}", serde_json::to_string(&test).unwrap()),
        session.model(id).unwrap().flat_params(),
    )
}

#[test]
fn one_seed_gives_identical_metrics_on_cpu() {
    let (metrics, params) = run(7);
    let (again, params_again) = run(7);
    assert_eq!(metrics, again);
    assert_eq!(params, params_again);
    let (other, _) = run(8);
    assert_ne!(metrics, other, "another seed must give another run");
}

#[test]
fn a_diverging_run_reports_its_step_and_keeps_the_last_good_model() {
    let device = Device::flex();
    // Regression with squared error and a far too large step: the loss grows geometrically
    // until it overflows.
    let n = 200;
    let inputs: Vec<f32> = (0..n * 8)
        .map(|i| ((i * 37 % 17) as f32 - 8.0) / 4.0)
        .collect();
    let targets: Vec<f32> = (0..n).map(|i| (i % 10) as f32).collect();
    let samples = Samples {
        inputs: Inputs::F32(inputs),
        targets: Targets::Values(targets),
        coarse: None,
    };
    let data = Dataset {
        name: "synthetic".into(),
        task: Task::Regression,
        sample_shape: vec![8],
        class_names: vec![],
        train: samples.clone(),
        test: samples,
        target_transform: None,
        preparation: None,
    };
    let resident = ResidentData::upload(&data, &[], Normalise::Auto, &device);
    let linear =
        ModelSpec::from_json(r#"{"input":[8],"layers":[{"type":"linear","out":1}]}"#).unwrap();
    let mut model = Model::new(linear, &device, 1).unwrap();
    let config = TrainSpec {
        epochs: 20,
        batch_size: 20,
        optimizer: Some(OptimizerConfig::Sgd {
            lr: 10.0,
            momentum: 0.9,
            weight_decay: 0.0,
            nesterov: false,
        }),
        ..TrainSpec::default()
    };
    let mut trainer = Trainer::new(config, data.task).unwrap();
    let err = loop {
        match trainer.run_epoch(&mut model, &resident.train, None, &mut |_| {}) {
            Ok(report) => assert!(report.epoch < 20, "the loss never overflowed: {report:?}"),
            Err(err) => break err,
        }
    };
    let TrainError::NonFinite {
        step,
        last_good_step,
        ..
    } = err
    else {
        panic!("expected a non-finite loss, got {err}")
    };
    assert!(
        step > last_good_step,
        "step {step}, last good {last_good_step}"
    );
    assert!(
        err.to_string().contains(&format!("at step {step}")),
        "{err}"
    );
    assert!(
        model.flat_params().iter().all(|v| v.is_finite()),
        "the model is the last good one"
    );
    assert_eq!(trainer.state().step, last_good_step);
}
