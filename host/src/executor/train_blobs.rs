//! The blobs of a training job and of its answer, written and read here alone. A job carries
//! the model, its flat mask (empty: none) and, when training continues an optimiser, the
//! trainer's state; an answer carries the trained model and its trainer state (empty: none).
//! Everything is binary (safetensors, raw f32), so NaN and ∞ travel as they are.

use std::path::Path;

use burn::tensor::Device;

use super::job::{Blob, bytes_f32, f32_bytes};
use crate::checkpoint;
use crate::model::Model;
use crate::train::TrainerState;

/// A training job's blobs for `model`, continuing `state` when there is one.
pub fn train_job_blobs(model: &Model, state: Option<&TrainerState>) -> Vec<Blob> {
    let mut blobs = vec![
        Blob::new(checkpoint::to_bytes(model)),
        Blob::new(model.flat_mask().map_or_else(Vec::new, |m| f32_bytes(&m))),
    ];
    if let Some(state) = state {
        blobs.push(Blob::new(checkpoint::trainer_state_to_bytes(state)));
    }
    blobs
}

/// The model (masked as it was sent) and trainer state a training job's blobs hold.
pub fn read_train_job(
    blobs: &[Vec<u8>],
    device: &Device,
) -> Result<(Model, Option<TrainerState>), String> {
    let bytes = blobs.first().ok_or("a training job without its model")?;
    let mut model = checkpoint::from_bytes(bytes, Path::new("the job's model"), device)
        .map_err(|e| e.to_string())?;
    if let Some(mask) = blobs.get(1).filter(|b| !b.is_empty()) {
        let mask = bytes_f32(mask).ok_or("the job's mask is not f32 values")?;
        model.set_flat_mask(&mask).map_err(|e| e.to_string())?;
    }
    let state = (blobs.get(2))
        .map(|b| checkpoint::trainer_state_from_bytes(b, Path::new("the job's trainer state")))
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok((model, state))
}

/// A training answer's blobs: the trained model and its trainer state.
pub fn train_answer_blobs(model: &Model, state: Option<&TrainerState>) -> Vec<Vec<u8>> {
    vec![
        checkpoint::to_bytes(model),
        state.map_or_else(Vec::new, checkpoint::trainer_state_to_bytes),
    ]
}

/// The trained model (without masks: the driver keeps its own) and trainer state an answer's
/// blobs hold.
pub fn read_train_answer(
    blobs: &[Vec<u8>],
    device: &Device,
) -> Result<(Model, Option<TrainerState>), String> {
    let [model, state] = blobs else {
        return Err("not a model and a trainer state".into());
    };
    let model = checkpoint::from_bytes(model, Path::new("a worker's model"), device)
        .map_err(|e| e.to_string())?;
    let state = (!state.is_empty())
        .then(|| checkpoint::trainer_state_from_bytes(state, Path::new("a worker's trainer state")))
        .transpose()
        .map_err(|e| e.to_string())?;
    Ok((model, state))
}
