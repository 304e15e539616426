//! The safetensors format, as PyTorch's `safetensors.torch` reads and writes it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use safetensors::tensor::{Dtype, SafeTensors, TensorView};

use super::error::CheckpointError;
use super::named::{NamedTensor, NamedTensors, Values};

/// The bytes of a safetensors file holding `named`.
pub fn encode(named: &NamedTensors) -> Vec<u8> {
    let bytes: Vec<(String, Dtype, Vec<usize>, Vec<u8>)> = named
        .tensors
        .iter()
        .map(|t| match &t.values {
            Values::F32(v) => (
                t.name.clone(),
                Dtype::F32,
                t.shape.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
            Values::I64(v) => (
                t.name.clone(),
                Dtype::I64,
                t.shape.clone(),
                v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            ),
        })
        .collect();
    let views = bytes.iter().map(|(name, dtype, shape, data)| {
        let view =
            TensorView::new(*dtype, shape.clone(), data).expect("sizes agree by construction");
        (name.clone(), view)
    });
    // The safetensors crate writes an empty metadata map so that it cannot read the file of no
    // tensors back (an optimiser before its first update); no metadata is what it reads.
    let metadata = (!named.metadata.is_empty()).then(|| {
        named
            .metadata
            .clone()
            .into_iter()
            .collect::<HashMap<String, String>>()
    });
    safetensors::serialize(views, metadata).expect("in-memory serialisation cannot fail")
}

/// Whether `bytes` are the file earlier releases wrote for no tensors and no metadata: the
/// crate wrote its empty metadata map after an already closed header (`{},"__metadata__":{}}`),
/// which it cannot read. Snapshots of an optimiser before its first update hold such files.
fn is_legacy_empty(bytes: &[u8]) -> bool {
    let Some((size, header)) = bytes.split_first_chunk::<8>() else {
        return false;
    };
    let size = u64::from_le_bytes(*size);
    u64::try_from(header.len()).is_ok_and(|n| n == size)
        && std::str::from_utf8(header).is_ok_and(|h| h.trim_end() == r#"{},"__metadata__":{}}"#)
}

/// The tensors of a safetensors file's bytes (`path` names it in errors).
pub fn decode(bytes: &[u8], path: &Path) -> Result<NamedTensors, CheckpointError> {
    let corrupt = |reason: String| CheckpointError::Corrupt {
        path: path.to_path_buf(),
        format: "safetensors",
        reason,
    };
    if is_legacy_empty(bytes) {
        return Ok(NamedTensors::default());
    }
    let file = SafeTensors::deserialize(bytes).map_err(|e| corrupt(e.to_string()))?;
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| corrupt(e.to_string()))?;
    let metadata: BTreeMap<String, String> = header
        .metadata()
        .clone()
        .unwrap_or_default()
        .into_iter()
        .collect();
    let mut tensors = Vec::new();
    for (name, view) in file.tensors() {
        let data = view.data();
        let values = match view.dtype() {
            Dtype::F32 => Values::F32(
                data.chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            Dtype::I64 => Values::I64(
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
            shape: view.shape().to_vec(),
            values,
        });
    }
    Ok(NamedTensors { tensors, metadata })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_tensors_and_no_metadata_read_back() {
        let empty = NamedTensors::default();
        assert_eq!(decode(&encode(&empty), Path::new("e")).unwrap(), empty);
        let tagged = NamedTensors {
            tensors: Vec::new(),
            metadata: [("k".to_owned(), "v".to_owned())].into(),
        };
        assert_eq!(decode(&encode(&tagged), Path::new("t")).unwrap(), tagged);
    }

    #[test]
    fn the_empty_file_earlier_releases_wrote_reads_back() {
        // What `encode` wrote before: the crate given an empty metadata map and no tensors.
        let no_views: Vec<(String, TensorView<'_>)> = Vec::new();
        let legacy = safetensors::serialize(no_views, Some(HashMap::new())).unwrap();
        assert!(
            SafeTensors::deserialize(&legacy).is_err(),
            "the crate still cannot read it"
        );
        assert_eq!(
            decode(&legacy, Path::new("l")).unwrap(),
            NamedTensors::default()
        );
    }
}
