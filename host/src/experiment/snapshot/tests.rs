//! A checkpoint written and read back, and what a damaged file inside it reports.

use burn::tensor::Device;
use coevo_sdk::{Task, TrainSpec};

use super::{Manifest, restore, write};
use crate::checkpoint::{self, NamedTensor, NamedTensors, Values};
use crate::session::Session;
use crate::testing::synthetic_session;

fn manifest() -> Manifest {
    Manifest {
        sequence: 1,
        results: Vec::new(),
        in_progress: None,
        metric_lines: 0,
        step: 0,
        next_id: 0,
        models: Vec::new(),
        optimizers: Vec::new(),
        files: Default::default(),
        plugin: None,
        script_hash: String::new(),
    }
}

/// A checkpoint of one trained model, its manifest as written, and the session it was taken of.
fn trained_checkpoint(root: &std::path::Path) -> (std::path::PathBuf, Manifest, Session) {
    let mut s = synthetic_session(Task::Classification { classes: 3 });
    let spec = serde_json::json!({"input": [8], "layers": [
        {"type": "linear", "out": 6}, {"type": "relu"}, {"type": "linear", "out": 3}]});
    let id = s.create_model(&spec, 0).unwrap();
    let train = TrainSpec {
        epochs: 1,
        batch_size: 16,
        ..TrainSpec::default()
    };
    s.train(&[id], train, None).unwrap();
    let dir = write(root, &s, manifest()).unwrap();
    let text = std::fs::read_to_string(dir.join("manifest.json")).unwrap();
    (dir, serde_json::from_str(&text).unwrap(), s)
}

#[test]
fn a_checkpoint_restores_its_models_and_optimiser_state() {
    let root = tempfile::tempdir().unwrap();
    let (dir, manifest, taken) = trained_checkpoint(root.path());
    assert_eq!(manifest.models.len(), 1);
    assert_eq!(manifest.optimizers.len(), 1);
    let mut fresh = synthetic_session(Task::Classification { classes: 3 });
    restore(&dir, &manifest, &mut fresh, &Device::flex()).unwrap();
    let id = manifest.models[0];
    assert_eq!(
        fresh.model(id).unwrap().flat_params(),
        taken.model(id).unwrap().flat_params()
    );
    assert_eq!(
        fresh.optimizer_states().get(&[id]),
        taken.optimizer_states().get(&[id])
    );
}

#[test]
fn a_damaged_optimiser_file_is_named_once() {
    let root = tempfile::tempdir().unwrap();
    let (dir, manifest, _) = trained_checkpoint(root.path());
    let file = dir.join("optimizer-0.safetensors");
    let stray = NamedTensors {
        tensors: vec![NamedTensor {
            name: "momentum".into(),
            shape: vec![1],
            values: Values::F32(vec![0.0]),
        }],
        metadata: Default::default(),
    };
    checkpoint::write(&stray, &file).unwrap();
    let mut fresh = synthetic_session(Task::Classification { classes: 3 });
    let error = restore(&dir, &manifest, &mut fresh, &Device::flex())
        .unwrap_err()
        .to_string();
    let name = file.display().to_string();
    assert_eq!(error.matches(&name).count(), 1, "{error}");
    assert!(
        error.contains("unexpected optimizer tensor `momentum`"),
        "{error}"
    );
}
