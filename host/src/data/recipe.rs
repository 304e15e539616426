//! [`Recipe`]: how a data set was loaded, limited, split and standardised, so that another
//! process (a worker on another machine) can hold exactly the same splits from the same files.

use burn::tensor::Device;
use serde::{Deserialize, Serialize};

use super::{DataError, DataSource, Dataset, Holdout, Normalise, ResidentData, Splits};
use crate::seed;

/// How the limits pick samples.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitBy {
    /// The first samples in file order.
    #[default]
    First,
    /// A random subset, seeded by the run.
    Random,
}

/// Everything that decides which samples land in which split, and how they are scaled.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Recipe {
    /// The files, the path as the loading process resolved it.
    pub source: DataSource,
    /// The share of the training part held out for validation.
    pub validation: f64,
    /// The share of validation set aside as the unseen split.
    pub unseen: f64,
    /// Training samples kept, when limited.
    pub limit_train: Option<usize>,
    /// Test samples kept, when limited.
    pub limit_test: Option<usize>,
    /// How the limits pick.
    pub limit_by: LimitBy,
    /// Input standardisation.
    pub normalise: Normalise,
    /// The run's seed, from which the limit, split and unseen seeds derive.
    pub seed: u64,
}

/// A loaded recipe: the data on its device and what the loading script is told.
#[derive(Debug)]
pub struct Loaded {
    /// The splits, uploaded.
    pub resident: ResidentData,
    /// The data set as read and limited.
    pub dataset: Dataset,
    /// Training samples after the hold-outs.
    pub train: usize,
    /// Validation samples.
    pub validation: usize,
    /// Unseen samples.
    pub unseen: usize,
}

impl Recipe {
    /// Reads, limits, splits and uploads the data set to `device`.
    pub fn load(&self, device: &Device) -> Result<Loaded, DataError> {
        let mut data = self.source.load()?;
        match self.limit_by {
            LimitBy::First => data.truncate(self.limit_train, self.limit_test),
            LimitBy::Random => data.sample(
                self.limit_train,
                self.limit_test,
                seed::derive(self.seed, "limit", 0),
            ),
        }
        let split_seed = seed::derive(self.seed, "split", 0);
        let splits = Splits::of(&data, Holdout::Fraction(self.validation), split_seed)?;
        let unseen_seed = seed::derive(self.seed, "unseen", 0);
        let (validation, unseen) = splits.set_aside(&data, self.unseen, unseen_seed)?;
        let resident =
            ResidentData::upload_with_unseen(&data, &validation, &unseen, self.normalise, device);
        Ok(Loaded {
            resident,
            train: splits.train.len(),
            validation: validation.len(),
            unseen: unseen.len(),
            dataset: data,
        })
    }
}
