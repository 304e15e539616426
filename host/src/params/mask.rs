//! Binary masks over parameters, for pruning and evolutionary synthesis.
//!
//! A masked value is zero and stays zero: the forward pass multiplies by the mask (so its
//! gradient is zero) and every parameter update re-applies it (so momentum and weight decay
//! cannot revive it).

use crate::model::{Model, ModelError};
use crate::tensors::{to_f32, vector};

impl Model {
    /// Masks every member's parameters with a flat 0/1 vector in [`Model::flat_params`]'s order
    /// (any non-zero value keeps a parameter).
    pub fn set_flat_mask(&mut self, mask: &[f32]) -> Result<(), ModelError> {
        let m = self.members();
        let per_member = self.param_count();
        if mask.len() != per_member * m {
            return Err(ModelError::Size {
                name: "flat mask".into(),
                expected: per_member * m,
                found: mask.len(),
            });
        }
        let masks = self
            .param_slots()
            .iter()
            .map(|slot| {
                let values: Vec<f32> = (0..m)
                    .flat_map(|member| {
                        let start = member * per_member + slot.offset;
                        mask[start..start + slot.len]
                            .iter()
                            .map(|&v| if v != 0.0 { 1.0 } else { 0.0 })
                    })
                    .collect();
                Some(vector(values, self.device()))
            })
            .collect();
        self.set_masks(masks);
        Ok(())
    }

    /// The masks as one flat 0/1 vector in [`Model::flat_params`]'s order (what
    /// [`Model::set_flat_mask`] reads), or `None` when nothing is masked.
    pub fn flat_mask(&self) -> Option<Vec<f32>> {
        if self.masks().iter().all(Option::is_none) {
            return None;
        }
        let m = self.members();
        let per_member = self.param_count();
        let mut flat = vec![1.0; per_member * m];
        for (slot, mask) in self.param_slots().iter().zip(self.masks()) {
            let Some(mask) = mask else { continue };
            let values = to_f32(mask.clone());
            for (member, part) in values.chunks(slot.len).enumerate().take(m) {
                let start = member * per_member + slot.offset;
                flat[start..start + slot.len].copy_from_slice(part);
            }
        }
        Some(flat)
    }

    /// Removes every mask; values that were masked stay zero until trained.
    pub fn clear_masks(&mut self) {
        let none = vec![None; self.params().len()];
        self.set_masks(none);
    }

    /// Fraction of parameters kept by the masks (1 when unmasked).
    pub fn mask_density(&self) -> f64 {
        let total: usize = self.params().iter().map(|p| p.dims()[0]).sum();
        let kept: f64 = self
            .masks()
            .iter()
            .zip(self.params())
            .map(|(mask, p)| match mask {
                Some(mask) => to_f32(mask.clone()).iter().map(|&v| f64::from(v)).sum(),
                None => p.dims()[0] as f64,
            })
            .sum();
        kept / total.max(1) as f64
    }
}

#[cfg(test)]
mod tests {
    use crate::testing::tiny_model;

    #[test]
    fn masks_zero_values_and_report_density() {
        let mut m = tiny_model(1.0);
        let mut mask = vec![1.0; 17];
        mask[8..16].fill(0.0);
        assert_eq!(m.flat_mask(), None);
        m.set_flat_mask(&mask).unwrap();
        assert_eq!(&m.flat_params()[8..16], &[0.0; 8]);
        assert_eq!(m.flat_mask(), Some(mask.clone()));
        assert!((m.mask_density() - 9.0 / 17.0).abs() < 1e-12);
        assert!(m.set_flat_mask(&[1.0; 3]).is_err());
        m.clear_masks();
        assert_eq!(m.mask_density(), 1.0);
    }
}
