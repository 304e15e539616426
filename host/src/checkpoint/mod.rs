//! Model checkpoints: spec and weights in safetensors (PyTorch names and layouts) or in burn's
//! burnpack format, chosen by the file's extension.

mod atomic;
mod burnpack;
mod error;
mod named;
mod safetensors;
mod trainer_state;

use std::path::Path;

use burn::tensor::Device;

pub use atomic::write_atomic;
pub use error::CheckpointError;
pub use named::{MEMBERS_KEY, NamedTensor, NamedTensors, SPEC_KEY, Values};
pub use trainer_state::{
    optimizer_slots, optimizer_tensors, trainer_state_from_bytes, trainer_state_to_bytes,
};

use crate::model::{Model, ModelSpec};

#[derive(Clone, Copy)]
enum Format {
    Safetensors,
    Burnpack,
}

fn format_of(path: &Path) -> Result<Format, CheckpointError> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("safetensors") => Ok(Format::Safetensors),
        Some("bpk" | "burnpack") => Ok(Format::Burnpack),
        _ => Err(CheckpointError::Format(path.to_path_buf())),
    }
}

/// Writes `model` (spec and weights) to `path` atomically.
pub fn save(model: &Model, path: &Path) -> Result<(), CheckpointError> {
    write(&NamedTensors::from_model(model), path)
}

/// Writes named tensors to `path` atomically, in the format its extension names.
pub fn write(named: &NamedTensors, path: &Path) -> Result<(), CheckpointError> {
    let bytes = match format_of(path)? {
        Format::Safetensors => safetensors::encode(named),
        Format::Burnpack => burnpack::encode(named),
    };
    write_atomic(path, &bytes).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `model` (spec and weights) as safetensors bytes, what a worker elsewhere is sent.
pub fn to_bytes(model: &Model) -> Vec<u8> {
    safetensors::encode(&NamedTensors::from_model(model))
}

/// The model safetensors bytes from [`to_bytes`] hold; `what` names them in errors.
pub fn from_bytes(bytes: &[u8], what: &Path, device: &Device) -> Result<Model, CheckpointError> {
    let named = safetensors::decode(bytes, what)?;
    let spec = named.spec(what)?;
    named.into_model(spec, what, device)
}

/// Reads the named tensors of a checkpoint file.
pub fn read(path: &Path) -> Result<NamedTensors, CheckpointError> {
    let format = format_of(path)?;
    let bytes = std::fs::read(path).map_err(|source| CheckpointError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    match format {
        Format::Safetensors => safetensors::decode(&bytes, path),
        Format::Burnpack => burnpack::decode(bytes, path),
    }
}

/// Loads the model a checkpoint holds, with the spec recorded in it.
pub fn load(path: &Path, device: &Device) -> Result<Model, CheckpointError> {
    let named = read(path)?;
    let spec = named.spec(path)?;
    named.into_model(spec, path, device)
}

/// Loads weights into a model of `spec` (PyTorch's files carry no spec); a checkpoint of
/// another architecture is an error naming the first tensor that does not fit.
pub fn load_as(path: &Path, spec: &ModelSpec, device: &Device) -> Result<Model, CheckpointError> {
    read(path)?.into_model(spec.clone(), path, device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensors::to_f32;
    use crate::testing::{tiny_model, tiny_spec};

    fn same(a: &Model, b: &Model) {
        assert_eq!(a.spec(), b.spec());
        assert_eq!(a.flat_params(), b.flat_params());
        for (x, y) in a.buffers().iter().zip(b.buffers()) {
            assert_eq!(to_f32(x.clone()), to_f32(y.clone()));
        }
    }

    #[test]
    fn both_formats_round_trip_models_and_stacks() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Model::stack(&[tiny_model(1.0), tiny_model(2.0)]).unwrap();
        for name in ["m.safetensors", "m.bpk"] {
            let path = dir.path().join(name);
            for model in [tiny_model(0.5), stack.clone()] {
                save(&model, &path).unwrap();
                same(&model, &load(&path, model.device()).unwrap());
            }
        }
    }

    #[test]
    fn safetensors_use_pytorch_names() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&tiny_model(1.0), &path).unwrap();
        let names: Vec<String> = read(&path)
            .unwrap()
            .tensors
            .into_iter()
            .map(|t| t.name)
            .collect();
        for expected in [
            "0.weight",
            "1.running_mean",
            "1.num_batches_tracked",
            "3.weight",
            "3.bias",
        ] {
            assert!(
                names.iter().any(|n| n == expected),
                "{expected} missing from {names:?}"
            );
        }
    }

    #[test]
    fn a_checkpoint_of_another_architecture_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.safetensors");
        save(&tiny_model(1.0), &path).unwrap();
        let mut other = tiny_spec();
        other.layers[3] = crate::model::Layer::Linear { out: 2, bias: true };
        let err = load_as(&path, &other, &Device::flex()).unwrap_err();
        assert!(err.to_string().contains("another architecture"), "{err}");
        // Without the recorded spec the tensors themselves tell.
        let mut named = read(&path).unwrap();
        named.metadata.clear();
        let err = named.into_model(other, &path, &Device::flex()).unwrap_err();
        assert!(
            err.to_string().contains("`3.weight` has shape [1, 8]"),
            "{err}"
        );
    }

    #[test]
    fn corrupt_files_are_errors_not_partial_loads() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["m.safetensors", "m.bpk"] {
            let path = dir.path().join(name);
            save(&tiny_model(1.0), &path).unwrap();
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() - 7]).unwrap();
            let err = load(&path, &Device::flex()).unwrap_err();
            assert!(
                matches!(err, CheckpointError::Corrupt { .. }),
                "{name}: {err}"
            );
            assert!(err.to_string().contains(name));
        }
        let err = load(&dir.path().join("m.pt"), &Device::flex()).unwrap_err();
        assert!(matches!(err, CheckpointError::Format(_)));
    }
}
