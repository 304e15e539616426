//! Data resident on the training device.
//!
//! A whole split lives on the device as one `[N, numel]` tensor, normalised once when it is
//! uploaded; a batch is a gather of rows by index. Nothing crosses between host and device per
//! batch but the indices, which keeps small models from being starved by copies.

use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use super::age_transform::TargetTransform;
use super::dataset::{Dataset, Samples, Targets, Task};

/// How inputs are standardised; the statistics always come from the training samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalise {
    /// Images: per channel; sequences: per position.
    #[default]
    Auto,
    /// One mean and standard deviation per channel.
    PerChannel,
    /// One mean and standard deviation per input value (position or pixel).
    PerFeature,
    /// Inputs as loaded.
    None,
}

/// Per-value mean and standard deviation, `numel` long, applied as `(x - mean) / std`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Standardisation {
    /// Subtracted.
    pub mean: Vec<f32>,
    /// Divided by.
    pub std: Vec<f32>,
}

impl Standardisation {
    /// Statistics of `samples` (shape `sample_shape`) in the given manner.
    pub fn fit(samples: &Samples, sample_shape: &[usize], how: Normalise) -> Self {
        let numel: usize = sample_shape.iter().product();
        let how = match how {
            Normalise::Auto if sample_shape.len() == 3 => Normalise::PerChannel,
            Normalise::Auto => Normalise::PerFeature,
            other => other,
        };
        let values = samples.inputs.to_f32();
        let rows = (values.len() / numel.max(1)).max(1);
        // Accumulate in f64: 150 million CIFAR values lose digits in f32.
        let mut sum = vec![0f64; numel];
        let mut sq = vec![0f64; numel];
        for row in values.chunks_exact(numel) {
            for ((s, q), &v) in sum.iter_mut().zip(sq.iter_mut()).zip(row) {
                *s += f64::from(v);
                *q += f64::from(v) * f64::from(v);
            }
        }
        let group = match how {
            Normalise::PerChannel => numel / sample_shape[0].max(1),
            Normalise::PerFeature => 1,
            Normalise::None | Normalise::Auto => {
                return Self {
                    mean: vec![0.0; numel],
                    std: vec![1.0; numel],
                };
            }
        };
        let mut mean = vec![0f32; numel];
        let mut std = vec![1f32; numel];
        for start in (0..numel).step_by(group) {
            let end = start + group;
            let n = (rows * group) as f64;
            let m = sum[start..end].iter().sum::<f64>() / n;
            let var = (sq[start..end].iter().sum::<f64>() / n - m * m).max(0.0);
            // A constant input (a CpG that never varies) is left unscaled rather than divided by 0.
            let s = if var > 1e-12 { var.sqrt() } else { 1.0 };
            mean[start..end].fill(m as f32);
            std[start..end].fill(s as f32);
        }
        Self { mean, std }
    }
}

/// Targets on the device.
#[derive(Debug, Clone)]
pub enum DeviceTargets {
    /// Class labels `[N]`.
    Classes(Tensor<1, Int>),
    /// Real values `[N]`.
    Values(Tensor<1>),
}

/// One split on the device.
#[derive(Debug, Clone)]
pub struct DeviceSplit {
    /// `[N, numel]`, standardised.
    pub inputs: Tensor<2>,
    /// `[N]`.
    pub targets: DeviceTargets,
    /// Targets on the host, for metrics.
    pub host_targets: Targets,
    /// Shape of one sample.
    pub sample_shape: Vec<usize>,
    /// The transform the targets went through, which metrics invert (see
    /// [`Dataset::target_transform`]).
    pub target_transform: Option<TargetTransform>,
}

impl DeviceSplit {
    /// Uploads `samples`, standardising them with `norm`.
    pub fn upload(
        samples: &Samples,
        sample_shape: &[usize],
        norm: &Standardisation,
        device: &Device,
    ) -> Self {
        let numel: usize = sample_shape.iter().product();
        let n = samples.len();
        let raw =
            Tensor::<2>::from_data(TensorData::new(samples.inputs.to_f32(), [n, numel]), device);
        let mean = Tensor::<1>::from_data(TensorData::new(norm.mean.clone(), [numel]), device);
        let std = Tensor::<1>::from_data(TensorData::new(norm.std.clone(), [numel]), device);
        let inputs = (raw - mean.unsqueeze()) / std.unsqueeze();
        let targets = match &samples.targets {
            Targets::Classes(labels) => {
                let labels: Vec<i64> = labels.iter().map(|&l| i64::from(l)).collect();
                DeviceTargets::Classes(Tensor::from_data(TensorData::new(labels, [n]), device))
            }
            Targets::Values(values) => DeviceTargets::Values(Tensor::from_data(
                TensorData::new(values.clone(), [n]),
                device,
            )),
        };
        Self {
            inputs,
            targets,
            host_targets: samples.targets.clone(),
            sample_shape: sample_shape.to_vec(),
            target_transform: None,
        }
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.host_targets.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Rows `indices` and their targets.
    pub fn batch(&self, indices: &[usize]) -> (Tensor<2>, DeviceTargets) {
        let device = self.inputs.device();
        let index: Vec<i64> = indices.iter().map(|&i| i as i64).collect();
        let index = Tensor::<1, Int>::from_data(TensorData::new(index, [indices.len()]), &device);
        let targets = match &self.targets {
            DeviceTargets::Classes(t) => DeviceTargets::Classes(t.clone().select(0, index.clone())),
            DeviceTargets::Values(t) => DeviceTargets::Values(t.clone().select(0, index.clone())),
        };
        (self.inputs.clone().select(0, index), targets)
    }
}

/// Training, validation and test splits of one data set on one device.
///
/// The test split is reachable only through [`ResidentData::test_for_final_report`]: whatever
/// selects or scores candidates (fitness, early stopping, model choice) takes a [`DeviceSplit`]
/// from `train` or `validation`, so reading the test set is a visible, deliberate act.
#[derive(Debug, Clone)]
pub struct ResidentData {
    /// Name of the data set.
    pub name: String,
    /// Classification or regression.
    pub task: Task,
    /// Samples the model trains on.
    pub train: DeviceSplit,
    /// Held-out training samples for selection; `None` without a holdout.
    pub validation: Option<DeviceSplit>,
    /// The input standardisation fitted on `train`.
    pub standardisation: Standardisation,
    test: DeviceSplit,
    /// Held-out training samples that nothing selects on, set aside from validation to
    /// measure selection's optimism; `None` when none were set aside.
    unseen: Option<DeviceSplit>,
}

impl ResidentData {
    /// Uploads `data` with `validation` indices (into `data.train`) held out of training.
    pub fn upload(data: &Dataset, validation: &[usize], norm: Normalise, device: &Device) -> Self {
        Self::upload_with_unseen(data, validation, &[], norm, device)
    }

    /// Uploads `data` with `validation` and `unseen` indices (into `data.train`, disjoint)
    /// held out of training; only the script's `evaluate_unseen` reads the unseen ones.
    pub fn upload_with_unseen(
        data: &Dataset,
        validation: &[usize],
        unseen: &[usize],
        norm: Normalise,
        device: &Device,
    ) -> Self {
        let row = data.sample_numel();
        let mut held = vec![false; data.train.len()];
        for &i in validation.iter().chain(unseen) {
            held[i] = true;
        }
        let train_idx: Vec<usize> = (0..data.train.len()).filter(|&i| !held[i]).collect();
        let train = data.train.subset(&train_idx, row);
        let standardisation = Standardisation::fit(&train, &data.sample_shape, norm);
        let up = |s: &Samples| DeviceSplit {
            target_transform: data.target_transform,
            ..DeviceSplit::upload(s, &data.sample_shape, &standardisation, device)
        };
        let held_out =
            |indices: &[usize]| (!indices.is_empty()).then(|| up(&data.train.subset(indices, row)));
        let (validation, unseen) = (held_out(validation), held_out(unseen));
        Self {
            name: data.name.clone(),
            task: data.task,
            train: up(&train),
            validation,
            test: up(&data.test),
            standardisation,
            unseen,
        }
    }

    /// The test split, for the final report of a run and nothing else.
    pub fn test_for_final_report(&self) -> &DeviceSplit {
        &self.test
    }

    /// The unseen split, for a script's check of what a selection on validation overstates;
    /// `None` when the data set was loaded without one.
    pub fn unseen_for_final_report(&self) -> Option<&DeviceSplit> {
        self.unseen.as_ref()
    }

    /// The split a worker's job names; it computes what the driver asked of that split and
    /// the driver, not the job, decides what the numbers are for.
    pub fn split_for_job(&self, name: crate::executor::SplitName) -> Option<&DeviceSplit> {
        use crate::executor::SplitName;
        match name {
            SplitName::Train => Some(&self.train),
            SplitName::Validation => Some(self.selection()),
            SplitName::Test => Some(&self.test),
            SplitName::Unseen => self.unseen.as_ref(),
        }
    }

    /// The split candidates are scored on: validation when held out, else training.
    pub fn selection(&self) -> &DeviceSplit {
        self.validation.as_ref().unwrap_or(&self.train)
    }
}
