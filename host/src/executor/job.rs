//! [`Job`]: one independent unit of work, which any worker running the same binary computes
//! to the same bits: a JSON spec and the weights it reads, by SHA-256.

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::identity::Identity;
use crate::data::Recipe;

/// Which split of the recipe's data a job reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SplitName {
    /// The training samples.
    Train,
    /// Validation (training samples, when the recipe holds none out).
    Validation,
    /// The test split, for a final report.
    Test,
    /// The unseen share of validation, for a final report.
    Unseen,
}

/// What a job does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Task {
    /// The outputs of the model in the first blob (safetensors with its spec) for every batch
    /// of `batch_size` of the split's samples (`subset`'s, in its order, when given). The answer
    /// is `{rows, columns}` and one blob: `rows × columns` f32, little-endian, row after row.
    Outputs {
        /// The data and its splits.
        data: Recipe,
        /// The split.
        split: SplitName,
        /// Samples of the split, when not all.
        subset: Option<Vec<usize>>,
        /// Samples per forward pass: the batches the driver scores by.
        batch_size: usize,
    },
    /// Trains the model in the first blob alone by `spec`, on all training samples, as the
    /// driver's session would: masked by the second blob (flat 0/1 f32, empty when unmasked),
    /// from the optimiser state in the third (a trainer state as JSON) when there is one. The
    /// answer is `{report}` and two blobs: the trained model and its trainer state.
    Train {
        /// The data and its splits.
        data: Recipe,
        /// How to train.
        spec: coevo_sdk::TrainSpec,
    },
}

/// A job's JSON part.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobSpec {
    /// Names the job in errors: what asked for it, and its index.
    pub label: String,
    /// The binary, device and LibTorch the driver runs; a worker that differs refuses.
    pub identity: Identity,
    /// What to do.
    pub task: Task,
}

/// Bytes a job reads, named by their SHA-256 so that they are shipped once per run.
#[derive(Debug, Clone, PartialEq)]
pub struct Blob {
    /// Lower-case hex SHA-256 of `bytes`.
    pub sha256: String,
    /// The bytes, shared by the jobs that read them.
    pub bytes: Arc<Vec<u8>>,
}

impl Blob {
    /// `bytes`, named.
    pub fn new(bytes: Vec<u8>) -> Self {
        Self {
            sha256: sha256_hex(&bytes),
            bytes: Arc::new(bytes),
        }
    }
}

/// A job: its spec and its blobs, in the order the task reads them.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    /// The JSON part.
    pub spec: JobSpec,
    /// The blobs.
    pub blobs: Vec<Blob>,
}

/// What a job answered: a JSON header and blobs, as its task describes.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    /// The task's JSON answer.
    pub header: Value,
    /// The task's blobs.
    pub blobs: Vec<Vec<u8>>,
}

/// A job's answer, or its error (which names the job's label).
pub type Outcome = Result<Answer, String>;

/// Lower-case hex SHA-256.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// f32 values as little-endian bytes.
pub fn f32_bytes(values: &[f32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_le_bytes()).collect()
}

/// Little-endian bytes as f32 values; `None` when the length is not a multiple of 4.
pub fn bytes_f32(bytes: &[u8]) -> Option<Vec<f32>> {
    bytes.len().is_multiple_of(4).then(|| {
        bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blobs_are_named_by_their_sha256_and_floats_round_trip() {
        // SHA-256 of the empty input.
        assert_eq!(
            Blob::new(Vec::new()).sha256,
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let values = [1.5f32, -0.0, f32::MAX, 3.25e-7];
        let back = bytes_f32(&f32_bytes(&values)).unwrap();
        assert_eq!(
            back.iter().map(|v| v.to_bits()).collect::<Vec<_>>(),
            values.iter().map(|v| v.to_bits()).collect::<Vec<_>>()
        );
        assert!(bytes_f32(&[0, 1, 2]).is_none());
    }
}
