//! Weights move between coevo and PyTorch both ways through safetensors.

use std::collections::BTreeMap;
use std::process::Command;

use burn::tensor::{Device, Distribution, Tensor};
use coevo::checkpoint::{self, NamedTensor, NamedTensors, Values};
use coevo::model::{Model, preset};
use coevo::tensors::to_f32;
use coevo_tests::{repo_root, torch_python};

/// ResNet-20 on small images (convolutions, batch norm, residual blocks with projections),
/// with running statistics other than 0 and 1, so that loading them is tested too.
fn resnet(device: &Device) -> Model {
    let spec = preset("resnet20", &[3, 12, 12], 10).unwrap();
    let base = Model::new(spec.clone(), device, 3).unwrap();
    // Running statistics other than 0 and 1, so that loading them is tested too.
    let layout = base.layout().clone();
    let buffers: Vec<Vec<f32>> = layout
        .buffers
        .iter()
        .enumerate()
        .map(|(i, b)| {
            (0..b.len)
                .map(|k| {
                    if b.name.ends_with("var") {
                        0.5 + (k % 7) as f32 * 0.1
                    } else {
                        (i + k) as f32 * 0.01
                    }
                })
                .collect()
        })
        .collect();
    let params: Vec<Vec<f32>> = base.params().iter().map(|p| to_f32(p.clone())).collect();
    Model::from_values(spec, 1, params, buffers, device).unwrap()
}

#[test]
fn safetensors_round_trip_with_pytorch() {
    let device = Device::flex();
    round_trip(&resnet(&device));
}

#[test]
fn a_compacted_network_loads_in_pytorch_and_computes_the_same() {
    let device = Device::flex();
    let mut model = resnet(&device);
    // Every other output channel of every convolution, with its bias and batch norm.
    let mask = coevo::params::dropping_units(&model, |_, u| u % 2 == 1);
    model.set_flat_mask(&mask).unwrap();
    let compacted = coevo::params::compact(&model).unwrap().model;
    assert!(compacted.param_count() < model.param_count() / 2);
    round_trip(&compacted);
}

/// `model` saved as safetensors loads strictly into the PyTorch module its spec describes,
/// which computes what coevo computes; PyTorch's state dict loads back.
fn round_trip(model: &Model) {
    let Some(python) = torch_python() else { return };
    let dir = tempfile::tempdir().unwrap();
    let device = model.device().clone();
    let spec = model.spec().clone();
    let weights = dir.path().join("coevo.safetensors");
    checkpoint::save(model, &weights).unwrap();

    let x = Tensor::<2>::random([5, 3 * 12 * 12], Distribution::Normal(0.0, 1.0), &device);
    let input = NamedTensors {
        tensors: vec![NamedTensor {
            name: "x".into(),
            shape: vec![5, 3, 12, 12],
            values: Values::F32(to_f32(x.clone())),
        }],
        metadata: BTreeMap::new(),
    };
    let input_path = dir.path().join("x.safetensors");
    checkpoint::write(&input, &input_path).unwrap();
    let spec_path = dir.path().join("spec.json");
    std::fs::write(&spec_path, spec.to_json()).unwrap();
    let (output, state) = (
        dir.path().join("y.safetensors"),
        dir.path().join("torch.safetensors"),
    );
    let status = Command::new(python)
        .arg(repo_root().join("tools/torch_reference.py"))
        .arg("roundtrip")
        .arg("--spec")
        .arg(&spec_path)
        .arg("--weights")
        .arg(&weights)
        .arg("--input")
        .arg(&input_path)
        .arg("--output")
        .arg(&output)
        .arg("--state")
        .arg(&state)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "PyTorch could not load coevo's checkpoint strictly"
    );

    // PyTorch's outputs agree with coevo's on the same weights.
    let torch_y = match &checkpoint::read(&output).unwrap().tensors[0].values {
        Values::F32(v) => v.clone(),
        Values::I64(_) => panic!("float outputs expected"),
    };
    let ours = to_f32(model.predict(x));
    assert_eq!(ours.len(), torch_y.len());
    for (a, b) in ours.iter().zip(&torch_y) {
        assert!(
            (a - b).abs() < 1e-3 * (1.0 + b.abs()),
            "coevo {a} vs PyTorch {b}"
        );
    }
    // PyTorch's state dict, every weight doubled there, loads back into coevo.
    let back = checkpoint::load_as(&state, &spec, &device).unwrap();
    for (a, b) in back.flat_params().iter().zip(model.flat_params()) {
        assert!((a - 2.0 * b).abs() < 1e-6);
    }
    assert_eq!(
        to_f32(back.buffers()[1].clone()),
        to_f32(model.buffers()[1].clone())
            .iter()
            .map(|v| v * 2.0)
            .collect::<Vec<_>>()
    );
}
