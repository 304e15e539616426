//! Per-sample results of a training pass, kept so that a selection rule (CEST's smoothed miss
//! rate, say) reads them without a second forward pass.

use crate::data::Targets;

/// Each trained position's loss and correctness in the last epoch, members by row.
///
/// Positions are those of the samples the epoch was asked to train, in the order given (a
/// repeated index has a position per repeat). A position the epoch did not train (the last
/// batch, when it held a single sample) keeps a NaN loss and counts as not correct.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleRecord {
    positions: usize,
    /// `[member][position]` losses of the task's loss, before any coupling or distillation term.
    pub loss: Vec<f32>,
    /// `[member][position]`: 1 where the predicted class was the label (empty for regression).
    pub correct: Vec<u8>,
    /// Positions trained.
    pub trained: usize,
}

impl SampleRecord {
    /// A record of `positions` samples for `members` members, nothing trained yet.
    pub fn unseen(members: usize, positions: usize, classification: bool) -> Self {
        Self {
            positions,
            loss: vec![f32::NAN; members * positions],
            correct: match classification {
                true => vec![0; members * positions],
                false => Vec::new(),
            },
            trained: 0,
        }
    }

    /// The positions each member's row holds.
    pub fn positions(&self) -> usize {
        self.positions
    }

    /// Writes a batch: `losses` and `predicted` are `[member][b]` for the batch's `positions`,
    /// whose targets are `targets`.
    pub fn write(
        &mut self,
        positions: &[usize],
        losses: &[f32],
        predicted: Option<&[u32]>,
        targets: &Targets,
    ) {
        let b = positions.len();
        for (m, row) in losses.chunks(b).enumerate() {
            for (&p, &l) in positions.iter().zip(row) {
                self.loss[m * self.positions + p] = l;
            }
        }
        if let (Some(predicted), Targets::Classes(labels)) = (predicted, targets) {
            for (m, row) in predicted.chunks(b).enumerate() {
                for ((&p, &guess), &label) in positions.iter().zip(row).zip(labels) {
                    self.correct[m * self.positions + p] = u8::from(guess == label);
                }
            }
        }
        self.trained += b;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_lands_at_its_positions_for_every_member() {
        let mut record = SampleRecord::unseen(2, 4, true);
        // Positions 2 and 0; member 0 then member 1.
        record.write(
            &[2, 0],
            &[0.5, 1.5, 2.5, 3.5],
            Some(&[7, 1, 7, 0]),
            &Targets::Classes(vec![7, 0]),
        );
        assert_eq!(record.loss[2], 0.5);
        assert_eq!(record.loss[0], 1.5);
        assert_eq!(record.loss[4 + 2], 2.5);
        assert_eq!(record.loss[4], 3.5);
        assert!(record.loss[1].is_nan() && record.loss[3].is_nan());
        assert_eq!(record.correct, vec![0, 0, 1, 0, 1, 0, 1, 0]);
        assert_eq!(record.trained, 2);
    }
}
