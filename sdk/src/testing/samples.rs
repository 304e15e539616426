//! How the mock host scores single samples, for plugins that read per-sample losses or class
//! probabilities (a subset's difficulty, a soft target).

use crate::metrics::Split;

type SampleLoss = Box<dyn Fn(&[f32], Split, usize) -> f64>;

/// Each sample's loss for a model, and the class probabilities that go with it.
///
/// By default sample `i`'s loss is the model's loss (minus its fitness, at least 0) plus a
/// difficulty of its own in `[0, 1)`, the same for every model, so plugins see samples that
/// are harder than others and models that are better than others. Its label is `i mod K`; the
/// label's probability is `exp(-loss)` and the other classes share the rest equally, so the
/// loss is the cross-entropy of the probabilities.
#[derive(Default)]
pub struct SampleModel {
    loss: Option<SampleLoss>,
}

impl std::fmt::Debug for SampleModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SampleModel")
            .field("custom", &self.loss.is_some())
            .finish()
    }
}

impl SampleModel {
    /// Sample losses from `loss(params, split, index)` (at least 0).
    pub fn new(loss: impl Fn(&[f32], Split, usize) -> f64 + 'static) -> Self {
        Self {
            loss: Some(Box::new(loss)),
        }
    }

    /// The difficulty of sample `index` of `split` under the default model, in `[0, 1)`.
    pub fn difficulty(split: Split, index: usize) -> f64 {
        let salt = match split {
            Split::Train => 0x5eed,
            Split::Validation => 0xfa11,
        };
        let mut x = (index as u64) ^ salt;
        super::table::splitmix(&mut x)
    }

    /// Sample `index`'s loss for a model with `params` and `fitness`.
    pub fn loss(&self, params: &[f32], fitness: f64, split: Split, index: usize) -> f64 {
        let loss = match &self.loss {
            Some(f) => f(params, split, index),
            None => (-fitness).max(0.0) + Self::difficulty(split, index),
        };
        loss.max(0.0)
    }

    /// Whether a sample with `loss` is predicted right: its label's probability, `exp(-loss)`,
    /// is above each other class's share of the rest.
    pub fn is_right(loss: f64, classes: usize) -> bool {
        let right = (-loss).exp();
        classes <= 1 || right > (1.0 - right) / (classes - 1) as f64
    }

    /// The class probabilities of a sample with `loss` and label `index mod classes`.
    pub fn probabilities(loss: f64, index: usize, classes: usize) -> Vec<f32> {
        let classes = classes.max(1);
        let right = (-loss).exp();
        let other = if classes > 1 {
            (1.0 - right) / (classes - 1) as f64
        } else {
            0.0
        };
        (0..classes)
            .map(|k| if k == index % classes { right } else { other } as f32)
            .collect()
    }
}
