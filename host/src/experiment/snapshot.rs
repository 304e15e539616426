//! Run checkpoints: the host's models and optimiser states, the journal, and the position in
//! the logs, written atomically at step boundaries.
//!
//! Each checkpoint is a folder written under a temporary name, synced, then renamed; its
//! `manifest.json` lists the SHA-256 of every file. Reading takes the newest checkpoint whose
//! files all match their hashes, and reports any newer one it had to pass over.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use burn::tensor::Device;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use sha2::{Digest, Sha256};

use super::journal::InProgress;
use crate::checkpoint::{self, CheckpointError, NamedTensor, NamedTensors, Values};
use crate::session::Session;
use crate::tensors::{to_f32, vector};
use crate::train::{OptimizerState, TrainerState};

/// Checkpoints kept on disk; older ones are removed.
const KEEP: usize = 3;

/// What a checkpoint records besides the model files.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// Increasing number of the checkpoint.
    pub sequence: u64,
    /// Results of the journal's completed calls.
    pub results: Vec<Value>,
    /// The call under way.
    pub in_progress: Option<InProgress>,
    /// Lines of metrics.jsonl written.
    pub metric_lines: u64,
    /// The metrics step counter.
    pub step: u64,
    /// The host's next model id.
    pub next_id: u64,
    /// Live models by id.
    pub models: Vec<u64>,
    /// Optimiser state per group of models trained together.
    pub optimizers: Vec<OptimizerEntry>,
    /// SHA-256 of every other file in the checkpoint.
    pub files: BTreeMap<String, String>,
    /// The plugin the script had started and not finished.
    pub plugin: Option<super::state::PluginCheckpoint>,
    /// SHA-256 of the script version that was running.
    pub script_hash: String,
}

/// One group's optimiser state (its buffers are in `optimizer-<index>.safetensors`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OptimizerEntry {
    /// The models, in training order.
    pub ids: Vec<u64>,
    /// Epochs of the last training call.
    pub epoch: usize,
    /// Steps taken.
    pub step: u64,
    /// Updates the optimiser made (Adam's bias correction counts them).
    pub optimizer_step: u64,
    /// Buffers per slot.
    pub slots: usize,
}

/// Why no checkpoint could be used.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    /// The checkpoint folder, its manifest or one of its files is unusable.
    #[error("{path}: {message}")]
    At {
        /// The checkpoint folder or file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// A model, mask or optimiser file could not be written or read. The error names its
    /// file already, so it is not wrapped in another path.
    #[error(transparent)]
    File(#[from] CheckpointError),
}

fn fail(path: &Path, message: impl ToString) -> SnapshotError {
    SnapshotError::At {
        path: path.to_path_buf(),
        message: message.to_string(),
    }
}

/// Writes a checkpoint of `host` with the run's bookkeeping in `manifest` (whose `models`,
/// `optimizers`, `next_id` and `files` are filled here).
pub fn write(dir: &Path, host: &Session, mut manifest: Manifest) -> Result<PathBuf, SnapshotError> {
    let name = format!("ckpt-{:06}", manifest.sequence);
    let tmp = dir.join(format!("{name}.tmp"));
    let _ = fs::remove_dir_all(&tmp);
    fs::create_dir_all(&tmp).map_err(|e| fail(&tmp, e))?;
    manifest.next_id = host.next_id();
    manifest.models.clear();
    for (id, model) in host.models() {
        let file = format!("m{id}.safetensors");
        checkpoint::save(model, &tmp.join(&file))?;
        manifest.models.push(id);
        if model.masks().iter().any(Option::is_some) {
            let masks = NamedTensors {
                tensors: model
                    .masks()
                    .iter()
                    .zip(&model.layout().params)
                    .filter_map(|(mask, entry)| {
                        mask.as_ref().map(|m| NamedTensor {
                            name: entry.name.clone(),
                            shape: vec![m.dims()[0]],
                            values: Values::F32(to_f32(m.clone())),
                        })
                    })
                    .collect(),
                metadata: BTreeMap::new(),
            };
            checkpoint::write(&masks, &tmp.join(format!("m{id}.mask.safetensors")))?;
        }
    }
    manifest.optimizers.clear();
    let mut groups: Vec<(&Vec<u64>, &TrainerState)> = host.optimizer_states().iter().collect();
    groups.sort_by(|a, b| a.0.cmp(b.0));
    for (index, (ids, state)) in groups.into_iter().enumerate() {
        let named = NamedTensors {
            tensors: checkpoint::optimizer_tensors(&state.optimizer),
            metadata: BTreeMap::new(),
        };
        checkpoint::write(&named, &tmp.join(format!("optimizer-{index}.safetensors")))?;
        manifest.optimizers.push(OptimizerEntry {
            ids: ids.clone(),
            epoch: state.epoch,
            step: state.step,
            optimizer_step: state.optimizer.step,
            slots: state.optimizer.slots.len(),
        });
    }
    manifest.files = hash_files(&tmp)?;
    let text = serde_json::to_string_pretty(&manifest).map_err(|e| fail(&tmp, e))?;
    checkpoint::write_atomic(&tmp.join("manifest.json"), text.as_bytes())
        .map_err(|e| fail(&tmp, e))?;
    let final_dir = dir.join(&name);
    let _ = fs::remove_dir_all(&final_dir);
    fs::rename(&tmp, &final_dir).map_err(|e| fail(&final_dir, e))?;
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| fail(dir, e))?;
    prune(dir);
    Ok(final_dir)
}

fn hash_files(dir: &Path) -> Result<BTreeMap<String, String>, SnapshotError> {
    let mut files = BTreeMap::new();
    for entry in fs::read_dir(dir).map_err(|e| fail(dir, e))? {
        let path = entry.map_err(|e| fail(dir, e))?.path();
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name != "manifest.json" {
            let bytes = fs::read(&path).map_err(|e| fail(&path, e))?;
            files.insert(
                name,
                Sha256::digest(&bytes)
                    .iter()
                    .map(|b| format!("{b:02x}"))
                    .collect(),
            );
        }
    }
    Ok(files)
}

fn checkpoints(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().is_some_and(|n| {
                n.to_string_lossy().starts_with("ckpt-") && !n.to_string_lossy().ends_with(".tmp")
            })
        })
        .collect();
    found.sort();
    found
}

fn prune(dir: &Path) {
    let all = checkpoints(dir);
    for old in all.iter().take(all.len().saturating_sub(KEEP)) {
        let _ = fs::remove_dir_all(old);
    }
}

/// The newest checkpoint that verifies, with messages about newer ones that did not.
pub fn latest(dir: &Path) -> Result<(PathBuf, Manifest, Vec<String>), SnapshotError> {
    let mut rejected = Vec::new();
    for candidate in checkpoints(dir).into_iter().rev() {
        match verify(&candidate) {
            Ok(manifest) => return Ok((candidate, manifest, rejected)),
            Err(e) => rejected.push(e.to_string()),
        }
    }
    let detail = if rejected.is_empty() {
        "no checkpoint was written before the run stopped".to_string()
    } else {
        rejected.join("; ")
    };
    Err(fail(dir, format!("no usable checkpoint: {detail}")))
}

fn verify(dir: &Path) -> Result<Manifest, SnapshotError> {
    let text = fs::read_to_string(dir.join("manifest.json"))
        .map_err(|e| fail(&dir.join("manifest.json"), e))?;
    let manifest: Manifest = serde_json::from_str(&text)
        .map_err(|e| fail(&dir.join("manifest.json"), format!("corrupt: {e}")))?;
    let actual = hash_files(dir)?;
    for (file, hash) in &manifest.files {
        match actual.get(file) {
            Some(found) if found == hash => {}
            Some(_) => {
                return Err(fail(
                    &dir.join(file),
                    "corrupt: its SHA-256 does not match the manifest",
                ));
            }
            None => return Err(fail(&dir.join(file), "missing")),
        }
    }
    Ok(manifest)
}

/// Loads a verified checkpoint's models and optimiser states into `host`.
pub fn restore(
    dir: &Path,
    manifest: &Manifest,
    host: &mut Session,
    device: &Device,
) -> Result<(), SnapshotError> {
    for &id in &manifest.models {
        let path = dir.join(format!("m{id}.safetensors"));
        let mut model = checkpoint::load(&path, device)?;
        let mask_path = dir.join(format!("m{id}.mask.safetensors"));
        if mask_path.exists() {
            let named = checkpoint::read(&mask_path)?;
            let masks = model
                .layout()
                .params
                .iter()
                .map(|entry| {
                    named
                        .tensors
                        .iter()
                        .find(|t| t.name == entry.name)
                        .and_then(|t| match &t.values {
                            Values::F32(v) => Some(vector(v.clone(), device)),
                            Values::I64(_) => None,
                        })
                })
                .collect();
            model.set_masks(masks);
        }
        host.insert_model_as(id, model);
    }
    for (index, entry) in manifest.optimizers.iter().enumerate() {
        let path = dir.join(format!("optimizer-{index}.safetensors"));
        let named = checkpoint::read(&path)?;
        let slots = checkpoint::optimizer_slots(named.tensors, entry.slots, &path)?;
        let state = TrainerState {
            epoch: entry.epoch,
            step: entry.step,
            optimizer: OptimizerState {
                step: entry.optimizer_step,
                slots,
            },
        };
        host.set_optimizer_state(entry.ids.clone(), state);
    }
    host.forget_models_from(manifest.next_id);
    Ok(())
}

#[cfg(test)]
mod tests;
