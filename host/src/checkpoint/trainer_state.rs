//! A trainer's state as named tensors: the optimiser's buffers, tensor `k.p` holding buffer `k`
//! (momentum; Adam's m, v) of parameter `p`, and the counters as metadata. A snapshot stores the
//! buffers in a file per group; a training job ships the whole state as safetensors bytes.
//! Binary, so the buffers of a diverged model (NaN, ∞) come back as they went, which JSON
//! cannot do.

use std::path::Path;

use super::{CheckpointError, NamedTensor, NamedTensors, Values, safetensors};
use crate::train::{OptimizerState, TrainerState};

const EPOCH: &str = "epoch";
const STEP: &str = "step";
const OPTIMIZER_STEP: &str = "optimizer_step";
const SLOTS: &str = "slots";

/// The optimiser's buffers, one tensor per buffer and parameter.
pub fn optimizer_tensors(state: &OptimizerState) -> Vec<NamedTensor> {
    (state.slots.iter().enumerate())
        .flat_map(|(k, slot)| {
            slot.iter().enumerate().map(move |(p, values)| NamedTensor {
                name: format!("{k}.{p}"),
                shape: vec![values.len()],
                values: Values::F32(values.clone()),
            })
        })
        .collect()
}

/// The `slots` buffers that `tensors` (from [`optimizer_tensors`]) hold; `what` names them.
pub fn optimizer_slots(
    tensors: Vec<NamedTensor>,
    slots: usize,
    what: &Path,
) -> Result<Vec<Vec<Vec<f32>>>, CheckpointError> {
    let mismatch = |reason: String| CheckpointError::Mismatch {
        path: what.to_path_buf(),
        reason,
    };
    // Every buffer holds one tensor per parameter, so more buffers or parameters than tensors
    // is damage, and is not allocated.
    let count = tensors.len();
    if slots > count {
        return Err(mismatch(format!(
            "{slots} optimizer buffers in {count} tensors"
        )));
    }
    let mut buffers: Vec<Vec<Vec<f32>>> = vec![Vec::new(); slots];
    for tensor in tensors {
        let (k, p) = (tensor.name.split_once('.'))
            .and_then(|(k, p)| Some((k.parse::<usize>().ok()?, p.parse::<usize>().ok()?)))
            .ok_or_else(|| mismatch(format!("unexpected optimizer tensor `{}`", tensor.name)))?;
        let Values::F32(values) = tensor.values else {
            return Err(mismatch(format!(
                "optimizer tensor `{}` holds integers",
                tensor.name
            )));
        };
        let slot = (buffers.get_mut(k))
            .ok_or_else(|| mismatch(format!("buffer {k} of {slots} optimizer buffers")))?;
        if p >= count {
            return Err(mismatch(format!(
                "parameter {p} of a buffer in {count} tensors"
            )));
        }
        if slot.len() <= p {
            slot.resize(p + 1, Vec::new());
        }
        slot[p] = values;
    }
    Ok(buffers)
}

/// `state` as safetensors bytes.
pub fn trainer_state_to_bytes(state: &TrainerState) -> Vec<u8> {
    let counters = [
        (EPOCH, state.epoch.to_string()),
        (STEP, state.step.to_string()),
        (OPTIMIZER_STEP, state.optimizer.step.to_string()),
        (SLOTS, state.optimizer.slots.len().to_string()),
    ];
    safetensors::encode(&NamedTensors {
        tensors: optimizer_tensors(&state.optimizer),
        metadata: (counters.into_iter())
            .map(|(key, value)| (key.to_owned(), value))
            .collect(),
    })
}

/// The state [`trainer_state_to_bytes`] wrote; `what` names the bytes in errors.
pub fn trainer_state_from_bytes(
    bytes: &[u8],
    what: &Path,
) -> Result<TrainerState, CheckpointError> {
    let named = safetensors::decode(bytes, what)?;
    fn counter<T: std::str::FromStr>(
        named: &NamedTensors,
        key: &str,
        what: &Path,
    ) -> Result<T, CheckpointError> {
        (named.metadata.get(key))
            .and_then(|v| v.parse().ok())
            .ok_or_else(|| CheckpointError::Mismatch {
                path: what.to_path_buf(),
                reason: format!("no trainer state counter `{key}`"),
            })
    }
    let epoch = counter(&named, EPOCH, what)?;
    let step = counter(&named, STEP, what)?;
    let optimizer_step = counter(&named, OPTIMIZER_STEP, what)?;
    let slots = counter(&named, SLOTS, what)?;
    Ok(TrainerState {
        epoch,
        step,
        optimizer: OptimizerState {
            step: optimizer_step,
            slots: optimizer_slots(named.tensors, slots, what)?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_diverged_state_comes_back_bit_for_bit() {
        let state = TrainerState {
            epoch: 3,
            step: 140,
            optimizer: OptimizerState {
                step: 139,
                slots: vec![
                    vec![vec![f32::NAN, f32::INFINITY, -0.0, 1.5], vec![2.0]],
                    vec![vec![f32::NEG_INFINITY, 1e-30, 0.0, 7.0], vec![-3.0]],
                ],
            },
        };
        let back =
            trainer_state_from_bytes(&trainer_state_to_bytes(&state), Path::new("s")).unwrap();
        assert_eq!((back.epoch, back.step, back.optimizer.step), (3, 140, 139));
        let bits = |s: &TrainerState| -> Vec<u32> {
            s.optimizer
                .slots
                .iter()
                .flatten()
                .flatten()
                .map(|v| v.to_bits())
                .collect()
        };
        assert_eq!(bits(&back), bits(&state));
        assert_eq!(back.optimizer.slots[0][1], vec![2.0]);
    }

    #[test]
    fn a_state_before_the_first_update_comes_back() {
        let state = TrainerState {
            epoch: 0,
            step: 0,
            optimizer: OptimizerState {
                step: 0,
                slots: Vec::new(),
            },
        };
        let back =
            trainer_state_from_bytes(&trainer_state_to_bytes(&state), Path::new("s")).unwrap();
        assert_eq!(back, state);
    }

    #[test]
    fn a_parameter_index_past_the_tensors_is_refused_not_allocated() {
        let tensor = |name: &str| NamedTensor {
            name: name.into(),
            shape: vec![1],
            values: Values::F32(vec![1.0]),
        };
        for name in ["0.1000000000000", "0.18446744073709551615"] {
            let why = optimizer_slots(vec![tensor(name)], 1, Path::new("o")).unwrap_err();
            assert!(why.to_string().starts_with("o: "), "{why}");
        }
        assert_eq!(
            optimizer_slots(vec![tensor("0.0")], 1, Path::new("o")).unwrap(),
            vec![vec![vec![1.0]]]
        );
    }

    #[test]
    fn a_state_without_its_counters_is_named_in_the_error() {
        let named = NamedTensors {
            tensors: Vec::new(),
            metadata: [("epoch".to_owned(), "1".to_owned())].into(),
        };
        let bytes = safetensors::encode(&named);
        let why = trainer_state_from_bytes(&bytes, Path::new("job 4's state"))
            .unwrap_err()
            .to_string();
        assert!(
            why.contains("job 4's state") && why.contains("`step`"),
            "{why}"
        );
    }
}
