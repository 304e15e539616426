//! [`Dataset`]: samples as they come from disk, before they are put on a device.

use serde::Serialize;

pub use coevo_sdk::Task;

use super::age_transform::TargetTransform;
use super::methylation_prepare::Preparation;

/// Sample values, row-major, `len × sample_numel`.
#[derive(Debug, Clone, PartialEq)]
pub enum Inputs {
    /// Pixel intensities 0–255, scaled to [0, 1] when put on a device.
    U8(Vec<u8>),
    /// Real values used as they are (e.g. methylation beta values).
    F32(Vec<f32>),
}

impl Inputs {
    /// Number of values.
    pub fn len(&self) -> usize {
        match self {
            Self::U8(v) => v.len(),
            Self::F32(v) => v.len(),
        }
    }

    /// Whether there are no values.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The values of rows `indices` (each `row_len` long), in that order.
    pub fn gather(&self, indices: &[usize], row_len: usize) -> Self {
        fn pick<T: Copy>(v: &[T], indices: &[usize], row_len: usize) -> Vec<T> {
            indices
                .iter()
                .flat_map(|&i| v[i * row_len..(i + 1) * row_len].iter().copied())
                .collect()
        }
        match self {
            Self::U8(v) => Self::U8(pick(v, indices, row_len)),
            Self::F32(v) => Self::F32(pick(v, indices, row_len)),
        }
    }

    /// All values as `f32`, pixels scaled to [0, 1].
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Self::U8(v) => v.iter().map(|&p| f32::from(p) / 255.0).collect(),
            Self::F32(v) => v.clone(),
        }
    }
}

/// One target per sample.
#[derive(Debug, Clone, PartialEq)]
pub enum Targets {
    /// Class labels.
    Classes(Vec<u32>),
    /// Real values.
    Values(Vec<f32>),
}

impl Targets {
    /// Number of targets.
    pub fn len(&self) -> usize {
        match self {
            Self::Classes(v) => v.len(),
            Self::Values(v) => v.len(),
        }
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The targets of samples `indices`, in that order.
    pub fn gather(&self, indices: &[usize]) -> Self {
        match self {
            Self::Classes(v) => Self::Classes(indices.iter().map(|&i| v[i]).collect()),
            Self::Values(v) => Self::Values(indices.iter().map(|&i| v[i]).collect()),
        }
    }
}

/// Samples of one part of a data set.
#[derive(Debug, Clone, PartialEq)]
pub struct Samples {
    /// Row-major sample values.
    pub inputs: Inputs,
    /// One target per sample.
    pub targets: Targets,
    /// Coarse labels where the format has them (CIFAR-100's 20 superclasses).
    pub coarse: Option<Vec<u32>>,
}

impl Samples {
    /// Number of samples.
    pub fn len(&self) -> usize {
        self.targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.targets.is_empty()
    }

    /// The samples `indices`, in that order.
    pub fn subset(&self, indices: &[usize], row_len: usize) -> Self {
        Self {
            inputs: self.inputs.gather(indices, row_len),
            targets: self.targets.gather(indices),
            coarse: self
                .coarse
                .as_ref()
                .map(|c| indices.iter().map(|&i| c[i]).collect()),
        }
    }

    /// Samples per class (classification only).
    pub fn class_counts(&self, classes: usize) -> Vec<usize> {
        let mut counts = vec![0; classes];
        if let Targets::Classes(labels) = &self.targets {
            for &label in labels {
                if let Some(count) = counts.get_mut(label as usize) {
                    *count += 1;
                }
            }
        }
        counts
    }
}

/// A data set as its official files give it: a training part and a test part.
///
/// The validation split is carved out of `train` later, by `super::Splits`, with a seed.
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Short name (`cifar10`, `fashion-mnist`, `methylation`, or the folder's name).
    pub name: String,
    /// Classification or regression.
    pub task: Task,
    /// Shape of one sample: `[C, H, W]` for images, `[C, L]` for sequences.
    pub sample_shape: Vec<usize>,
    /// Class names, where the format has them (empty otherwise).
    pub class_names: Vec<String>,
    /// The official training part.
    pub train: Samples,
    /// The official test part.
    pub test: Samples,
    /// For regression: the transform of the targets that models learn; metrics invert it, so
    /// that they are in the targets' own units (years of age, say).
    pub target_transform: Option<TargetTransform>,
    /// What preparing the samples did (methylation: missing values, dropped and selected
    /// sites).
    pub preparation: Option<Preparation>,
}

impl Dataset {
    /// Values per sample.
    pub fn sample_numel(&self) -> usize {
        self.sample_shape.iter().product()
    }

    /// Outputs a model needs: classes, or 1 for regression.
    pub fn outputs(&self) -> usize {
        match self.task {
            Task::Classification { classes } => classes,
            Task::Regression => 1,
        }
    }

    /// Keeps the first `train` and `test` samples of each part (a quick run on a big set).
    pub fn truncate(&mut self, train: Option<usize>, test: Option<usize>) {
        self.limit(train, test, |limit, _| (0..limit).collect());
    }

    /// Keeps `train` and `test` samples of each part drawn at random (in their original order)
    /// with `seed`. Files sorted by class (CIFAR-10's test batch is) give a first-`K` subset
    /// of a few classes only; a random one keeps their proportions.
    pub fn sample(&mut self, train: Option<usize>, test: Option<usize>, seed: u64) {
        self.limit(train, test, |limit, len| {
            let mut rng = crate::seed::rng(seed, "limit", len as u64);
            let mut keep = rand::seq::index::sample(&mut rng, len, limit).into_vec();
            keep.sort_unstable();
            keep
        });
    }

    fn limit(
        &mut self,
        train: Option<usize>,
        test: Option<usize>,
        keep: impl Fn(usize, usize) -> Vec<usize>,
    ) {
        let row = self.sample_numel();
        for (part, limit) in [(&mut self.train, train), (&mut self.test, test)] {
            if let Some(limit) = limit.filter(|&l| l < part.len()) {
                *part = part.subset(&keep(limit, part.len()), row);
            }
        }
    }
}

/// A short description of a data set for `--json` outputs and logs.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DatasetInfo {
    /// Short name.
    pub name: String,
    /// Classification or regression.
    pub task: Task,
    /// Shape of one sample.
    pub sample_shape: Vec<usize>,
    /// Training samples (before the validation split).
    pub train: usize,
    /// Test samples.
    pub test: usize,
}

impl From<&Dataset> for DatasetInfo {
    fn from(data: &Dataset) -> Self {
        Self {
            name: data.name.clone(),
            task: data.task,
            sample_shape: data.sample_shape.clone(),
            train: data.train.len(),
            test: data.test.len(),
        }
    }
}
