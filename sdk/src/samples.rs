//! Per-sample results of one model, and the statistics of subsets read from them.
//!
//! A selection rule that compares many subsets of the data (CEST's prey, a top-loss pick)
//! asks the host for every sample's loss and correctness once ([`crate::Host::sample_results`],
//! or from a training pass, [`crate::Host::train_recording`]) and scores each subset here, in
//! time linear in its size, instead of running a forward pass per subset.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// One model's loss and correctness on each sample of a split (or of a list of positions).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct SampleResults {
    /// Each sample's loss; NaN where none was measured (a sample no training step reached).
    pub loss: Vec<f32>,
    /// Whether each sample's predicted class was its label; empty for real-valued targets.
    pub correct: Vec<bool>,
}

/// What a subset of samples looks like to a model: the argument a fitness rule reads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, JsonSchema)]
pub struct SubsetStats {
    /// Indices in the subset, repeats counted.
    pub size: usize,
    /// Distinct indices.
    pub unique: usize,
    /// Mean loss over the subset (repeats counted; samples without a loss left out).
    pub loss: f64,
    /// Fraction of the subset predicted right (repeats counted); 0 for real-valued targets.
    pub accuracy: f64,
    /// Samples of the subset predicted wrong (repeats counted).
    pub misses: usize,
}

impl SampleResults {
    /// Results from the host's buffers: losses and 0/1 correctness (empty when none).
    pub fn from_buffers(loss: Vec<f32>, correct: &[u8]) -> Self {
        Self {
            loss,
            correct: correct.iter().map(|&c| c != 0).collect(),
        }
    }

    /// Samples held.
    pub fn len(&self) -> usize {
        self.loss.len()
    }

    /// Whether no sample is held.
    pub fn is_empty(&self) -> bool {
        self.loss.is_empty()
    }

    /// Overwrites the samples `indices` with what a later pass measured of them, position by
    /// position (`seen` as [`crate::Host::train_recording`] returns it); a position without a
    /// loss (NaN) leaves its sample as it was.
    pub fn update(&mut self, indices: &[u32], seen: &SampleResults) {
        for (k, (&i, &loss)) in indices.iter().zip(&seen.loss).enumerate() {
            let i = i as usize;
            if loss.is_finite() && i < self.loss.len() {
                self.loss[i] = loss;
                if let (Some(slot), Some(&right)) = (self.correct.get_mut(i), seen.correct.get(k)) {
                    *slot = right;
                }
            }
        }
    }

    /// The statistics of `subset` (indices into these results).
    ///
    /// # Errors
    /// An index past the samples held, named.
    pub fn stats(&self, subset: &[u32]) -> Result<SubsetStats, String> {
        self.stats_with(subset, &mut Vec::new())
    }

    /// The statistics of each subset of a population, reusing one scratch buffer.
    ///
    /// # Errors
    /// The first index past the samples held, with the subset it is in.
    pub fn score_population(&self, subsets: &[Vec<u32>]) -> Result<Vec<SubsetStats>, String> {
        let mut seen = Vec::new();
        subsets
            .iter()
            .enumerate()
            .map(|(k, s)| {
                self.stats_with(s, &mut seen)
                    .map_err(|e| format!("subset {k}: {e}"))
            })
            .collect()
    }

    fn stats_with(&self, subset: &[u32], seen: &mut Vec<bool>) -> Result<SubsetStats, String> {
        let n = self.len();
        if let Some(&bad) = subset.iter().find(|&&i| i as usize >= n) {
            return Err(format!("index {bad} is past the {n} samples"));
        }
        let unique = count_distinct(subset, n, seen);
        let (mut right, mut measured, mut total) = (0, 0usize, 0.0f64);
        for &i in subset {
            let i = i as usize;
            if self.correct.get(i).copied().unwrap_or(false) {
                right += 1;
            }
            let loss = self.loss[i];
            if loss.is_finite() {
                measured += 1;
                total += f64::from(loss);
            }
        }
        let size = subset.len();
        let classified = !self.correct.is_empty();
        Ok(SubsetStats {
            size,
            unique,
            loss: total / measured.max(1) as f64,
            accuracy: match classified {
                true => right as f64 / size.max(1) as f64,
                false => 0.0,
            },
            misses: if classified { size - right } else { 0 },
        })
    }
}

/// The distinct indices of `subset`, all below `samples`, with `seen` as scratch space.
pub fn count_distinct(subset: &[u32], samples: usize, seen: &mut Vec<bool>) -> usize {
    seen.clear();
    seen.resize(samples, false);
    subset
        .iter()
        .filter(|&&i| !std::mem::replace(&mut seen[i as usize], true))
        .count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_count_repeats_and_match_a_hand_count() {
        let results = SampleResults::from_buffers(vec![1.0, 2.0, f32::NAN, 4.0], &[1, 0, 0, 1]);
        let s = results.stats(&[0, 1, 1, 3]).unwrap();
        assert_eq!((s.size, s.unique, s.misses), (4, 3, 2));
        assert!((s.loss - 9.0 / 4.0).abs() < 1e-12);
        assert!((s.accuracy - 0.5).abs() < 1e-12);
        // A sample without a loss counts for correctness, not for the mean loss.
        let s = results.stats(&[2, 3]).unwrap();
        assert_eq!((s.loss, s.accuracy, s.misses), (4.0, 0.5, 1));
    }

    #[test]
    fn an_update_overwrites_what_was_measured_again() {
        let mut table = SampleResults::from_buffers(vec![1.0, 1.0, 1.0], &[0, 0, 0]);
        let seen = SampleResults::from_buffers(vec![0.5, f32::NAN, 0.25], &[1, 1, 0]);
        table.update(&[2, 0, 1], &seen);
        assert_eq!(table.loss, vec![1.0, 0.25, 0.5]);
        assert_eq!(table.correct, vec![false, false, true]);
    }

    #[test]
    fn an_index_past_the_samples_is_named_with_its_subset() {
        let results = SampleResults::from_buffers(vec![0.0; 3], &[]);
        let error = results
            .score_population(&[vec![0, 1], vec![2, 7]])
            .unwrap_err();
        assert_eq!(error, "subset 1: index 7 is past the 3 samples");
    }
}
