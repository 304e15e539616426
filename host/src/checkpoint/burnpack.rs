//! burn's own record format (burnpack), for moving weights to burn programs.

use std::path::Path;

use burn_pack::{Bytes, DType, Reader, Tensor, Writer};

use super::error::CheckpointError;
use super::named::{NamedTensor, NamedTensors, Values};

/// The bytes of a burnpack file holding `named`.
pub fn encode(named: &NamedTensors) -> Vec<u8> {
    let tensors = named
        .tensors
        .iter()
        .map(|t| {
            let (dtype, bytes): (DType, Vec<u8>) = match &t.values {
                Values::F32(v) => (DType::F32, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
                Values::I64(v) => (DType::I64, v.iter().flat_map(|x| x.to_le_bytes()).collect()),
            };
            Tensor::new(
                t.name.clone(),
                dtype,
                t.shape.clone(),
                None,
                Bytes::from_bytes_vec(bytes),
            )
        })
        .collect();
    let mut writer = Writer::new(tensors);
    for (key, value) in &named.metadata {
        writer = writer.with_metadata(key, value);
    }
    writer
        .into_bytes()
        .expect("in-memory serialisation cannot fail")
        .to_vec()
}

/// The tensors of a burnpack file's bytes (`path` names it in errors).
pub fn decode(bytes: Vec<u8>, path: &Path) -> Result<NamedTensors, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        format: "burnpack",
        reason,
    };
    let reader =
        Reader::from_bytes(Bytes::from_bytes_vec(bytes)).map_err(|e| corrupt(e.to_string()))?;
    let metadata = reader.metadata().clone();
    let mut tensors = Vec::new();
    for tensor in reader.into_tensors().map_err(|e| corrupt(e.to_string()))? {
        let (name, dtype, shape, _, data) =
            tensor.into_parts().map_err(|e| corrupt(e.to_string()))?;
        let values = match dtype {
            DType::F32 => Values::F32(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            DType::I64 => Values::I64(
                data.chunks_exact(8)
                    .map(|c| i64::from_le_bytes(c.try_into().expect("8 bytes")))
                    .collect(),
            ),
            other => {
                return Err(corrupt(format!(
                    "tensor `{name}` is {other:?}; coevo reads f32 weights"
                )));
            }
        };
        tensors.push(NamedTensor {
            name,
            shape: shape.to_vec(),
            values,
        });
    }
    Ok(NamedTensors { tensors, metadata })
}
