//! Optimiser states, each owned by the model or stacked group it trains.

use std::collections::BTreeMap;

use coevo_sdk::ffi::ModelId;

use crate::train::TrainerState;

/// The optimiser state of every live model or group that has trained, keyed by the members'
/// ids in the order they were stacked.
///
/// A state is dropped as soon as any of its members is freed: the group cannot train again
/// without that member, and keeping it would make every checkpoint rewrite the buffers of dead
/// models (the cost of a run that makes and frees many models would grow with all it ever
/// made, not with what is alive).
#[derive(Debug, Clone, Default)]
pub struct OptimizerStates {
    groups: BTreeMap<Vec<ModelId>, TrainerState>,
}

impl OptimizerStates {
    /// The state of the group `ids`, if it trained before.
    pub fn get(&self, ids: &[ModelId]) -> Option<&TrainerState> {
        self.groups.get(ids)
    }

    /// Records the state of the group `ids` after training.
    pub fn insert(&mut self, ids: Vec<ModelId>, state: TrainerState) {
        self.groups.insert(ids, state);
    }

    /// Forgets the state of the group `ids`, so its next training starts from fresh buffers.
    pub fn reset(&mut self, ids: &[ModelId]) {
        self.groups.remove(ids);
    }

    /// Drops every state that trains a model `freed` says is gone.
    pub fn drop_members(&mut self, freed: impl Fn(ModelId) -> bool) {
        self.groups
            .retain(|ids, _| !ids.iter().any(|&id| freed(id)));
    }

    /// Every state, ordered by its group's ids.
    pub fn iter(&self) -> impl Iterator<Item = (&Vec<ModelId>, &TrainerState)> {
        self.groups.iter()
    }

    /// How many groups hold a state.
    pub fn len(&self) -> usize {
        self.groups.len()
    }

    /// Whether no group holds a state.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::train::OptimizerState;

    fn state(step: u64) -> TrainerState {
        TrainerState {
            epoch: 0,
            step,
            optimizer: OptimizerState {
                step,
                slots: Vec::new(),
            },
        }
    }

    #[test]
    fn freeing_a_member_drops_every_group_it_trained_in() {
        let mut states = OptimizerStates::default();
        states.insert(vec![1], state(1));
        states.insert(vec![1, 2], state(2));
        states.insert(vec![3], state(3));
        states.drop_members(|id| id == 1);
        assert_eq!(states.len(), 1);
        assert!(states.get(&[3]).is_some());
        assert!(states.get(&[1, 2]).is_none());
        states.reset(&[3]);
        assert!(states.is_empty());
    }
}
