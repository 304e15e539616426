//! [`Splits`]: the official training part divided into a training and a validation part.
//!
//! Candidates are selected, early-stopped and ranked on the validation part, which is held out
//! of the official training part by a seeded shuffle. The official test part is never in a
//! [`Splits`]: nothing that selects or scores candidates reads it, so the test score of the
//! final model is an unbiased estimate. Using it for selection would leak the test set into
//! the search and overstate every result.

use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use super::{DataError, Dataset, Targets};
use crate::seed;

/// How much of the training part to hold out for validation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holdout {
    /// A share of the training samples, in `[0, 1)`, rounded to the nearest count.
    Fraction(f64),
    /// A number of training samples, below their total.
    Count(usize),
}

impl Holdout {
    /// The number of samples to hold out of `n`; an error when the hold-out is out of range
    /// or would leave no training sample.
    pub fn count(self, n: usize) -> Result<usize, DataError> {
        let count = match self {
            Self::Fraction(f) if (0.0..1.0).contains(&f) => (f * n as f64).round() as usize,
            Self::Fraction(f) => return Err(invalid(format!("fraction {f} is not in [0, 1)"))),
            Self::Count(c) => c,
        };
        if count > 0 && count >= n {
            let what = format!("{self:?} of {n} samples leaves no training sample");
            return Err(invalid(what));
        }
        Ok(count)
    }
}

fn invalid(what: String) -> DataError {
    DataError::InvalidHoldout { what }
}

/// Indices into [`Dataset::train`]: the samples to train on and those held out to validate.
///
/// Both lists are sorted, so gathered samples keep their file order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Splits {
    /// Samples to train on.
    pub train: Vec<usize>,
    /// Samples held out for validation.
    pub validation: Vec<usize>,
}

impl Splits {
    /// Holds `holdout` of `n` training samples out for validation, chosen by `seed`.
    ///
    /// With `labels` (one per sample), each class gives its share of the hold-out (a
    /// stratified split), so a small validation part still has every class in proportion.
    pub fn new(
        n: usize,
        holdout: Holdout,
        seed: u64,
        labels: Option<&[u32]>,
    ) -> Result<Self, DataError> {
        let count = holdout.count(n)?;
        let mut rng = seed::rng(seed, "validation-split", 0);
        let mut validation = match labels {
            None => {
                let mut all: Vec<usize> = (0..n).collect();
                all.shuffle(&mut rng);
                all.truncate(count);
                all
            }
            Some(labels) if labels.len() == n => stratified(labels, count, &mut rng),
            Some(labels) => {
                let what = format!("{} labels for {n} samples", labels.len());
                return Err(invalid(what));
            }
        };
        validation.sort_unstable();
        let mut held = vec![false; n];
        validation.iter().for_each(|&i| held[i] = true);
        let train = (0..n).filter(|&i| !held[i]).collect();
        Ok(Self { train, validation })
    }

    /// The split of `data`'s training part: stratified for classification, plain otherwise.
    pub fn of(data: &Dataset, holdout: Holdout, seed: u64) -> Result<Self, DataError> {
        let labels = match &data.train.targets {
            Targets::Classes(labels) => Some(labels.as_slice()),
            Targets::Values(_) => None,
        };
        Self::new(data.train.len(), holdout, seed, labels)
    }

    /// Sets a share of the validation part aside as an *unseen* part that no selection reads,
    /// drawn by `seed` and stratified like the split itself: returns the validation part that
    /// remains and the part set aside, both sorted indices into `data.train`. A search scored
    /// on the first can be checked on the second for how much of its gain is selection noise.
    pub fn set_aside(
        &self,
        data: &Dataset,
        share: f64,
        seed: u64,
    ) -> Result<(Vec<usize>, Vec<usize>), DataError> {
        let n = self.validation.len();
        if share == 0.0 {
            return Ok((self.validation.clone(), Vec::new()));
        }
        if !(share > 0.0 && share < 1.0) || n < 2 {
            return Err(invalid(format!(
                "an unseen share {share} of {n} validation samples: the share must be in (0, 1) \
                 and leave a sample on each side"
            )));
        }
        let labels: Option<Vec<u32>> = match &data.train.targets {
            Targets::Classes(labels) => Some(self.validation.iter().map(|&i| labels[i]).collect()),
            Targets::Values(_) => None,
        };
        let inner = Self::new(n, Holdout::Fraction(share), seed, labels.as_deref())?;
        let pick = |positions: &[usize]| positions.iter().map(|&k| self.validation[k]).collect();
        Ok((pick(&inner.train), pick(&inner.validation)))
    }
}

/// `count` indices drawn class by class, each class giving its share of `count`.
fn stratified(labels: &[u32], count: usize, rng: &mut seed::Rng) -> Vec<usize> {
    let classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
    let mut members = vec![Vec::new(); classes];
    for (i, &label) in labels.iter().enumerate() {
        members[label as usize].push(i);
    }
    let sizes: Vec<usize> = members.iter().map(Vec::len).collect();
    let quotas = apportion(&sizes, count);
    let mut chosen = Vec::with_capacity(count);
    for (mut class, quota) in members.into_iter().zip(quotas) {
        class.shuffle(rng);
        chosen.extend_from_slice(&class[..quota]);
    }
    chosen
}

/// Splits `count` over groups in proportion to `sizes`, summing exactly to `count`.
///
/// Largest-remainder (Hamilton) apportionment: every group gets the floor of its exact share,
/// and the seats left go to the largest remainders (ties to the lower index, for determinism).
fn apportion(sizes: &[usize], count: usize) -> Vec<usize> {
    let total: usize = sizes.iter().sum();
    if total == 0 {
        return vec![0; sizes.len()];
    }
    let mut quotas: Vec<usize> = sizes.iter().map(|&s| s * count / total).collect();
    let mut order: Vec<usize> = (0..sizes.len()).collect();
    // Remainders compared exactly, as numerators over `total`.
    order.sort_by_key(|&i| std::cmp::Reverse(sizes[i] * count % total));
    let left = count - quotas.iter().sum::<usize>();
    // `left` is the sum of the fractional shares, so fewer groups than have a remainder get
    // one more, and since `count < total` a share is below its group's size: no group overfills.
    for &i in order.iter().take(left) {
        quotas[i] += 1;
    }
    quotas
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_partition(splits: &Splits, n: usize, validation: usize) {
        assert_eq!(splits.validation.len(), validation);
        assert_eq!(splits.train.len(), n - validation);
        let mut all: Vec<usize> = splits
            .train
            .iter()
            .chain(&splits.validation)
            .copied()
            .collect();
        assert!(splits.train.is_sorted() && splits.validation.is_sorted());
        all.sort_unstable();
        assert_eq!(all, (0..n).collect::<Vec<_>>(), "disjoint and covering");
    }

    #[test]
    fn parts_are_disjoint_cover_all_and_have_the_asked_sizes() {
        check_partition(
            &Splits::new(1000, Holdout::Fraction(0.1), 1, None).unwrap(),
            1000,
            100,
        );
        check_partition(&Splits::new(10, Holdout::Count(3), 1, None).unwrap(), 10, 3);
        check_partition(
            &Splits::new(10, Holdout::Fraction(0.0), 1, None).unwrap(),
            10,
            0,
        );
        check_partition(
            &Splits::new(7, Holdout::Fraction(0.5), 1, None).unwrap(),
            7,
            4,
        );
    }

    #[test]
    fn the_seed_decides_the_split() {
        let split = |seed| Splits::new(500, Holdout::Count(50), seed, None).unwrap();
        assert_eq!(split(3), split(3));
        assert_ne!(split(3), split(4));
    }

    #[test]
    fn stratified_split_keeps_class_proportions() {
        // 600 of class 0, 300 of class 1, 100 of class 2, interleaved.
        let labels: Vec<u32> = (0..1000)
            .map(|i| [0, 0, 0, 0, 0, 0, 1, 1, 1, 2][i % 10])
            .collect();
        let splits = Splits::new(1000, Holdout::Fraction(0.2), 9, Some(&labels)).unwrap();
        check_partition(&splits, 1000, 200);
        let mut counts = [0; 3];
        splits
            .validation
            .iter()
            .for_each(|&i| counts[labels[i] as usize] += 1);
        assert_eq!(counts, [120, 60, 20]);
        let other = Splits::new(1000, Holdout::Fraction(0.2), 10, Some(&labels)).unwrap();
        assert_ne!(splits, other);
    }

    #[test]
    fn the_unseen_part_is_a_stratified_share_of_validation() {
        let labels: Vec<u32> = (0..1000).map(|i| (i % 4) as u32).collect();
        let samples = crate::data::Samples {
            inputs: crate::data::Inputs::F32(vec![0.0; 1000]),
            targets: Targets::Classes(labels.clone()),
            coarse: None,
        };
        let data = Dataset {
            name: "synthetic".into(),
            task: crate::data::Task::Classification { classes: 4 },
            sample_shape: vec![1],
            class_names: vec![],
            train: samples.clone(),
            test: samples,
            target_transform: None,
            preparation: None,
        };
        let splits = Splits::of(&data, Holdout::Fraction(0.2), 3).unwrap();
        let (validation, unseen) = splits.set_aside(&data, 0.5, 5).unwrap();
        assert_eq!((validation.len(), unseen.len()), (100, 100));
        assert!(validation.is_sorted() && unseen.is_sorted());
        let mut both: Vec<usize> = validation.iter().chain(&unseen).copied().collect();
        both.sort_unstable();
        assert_eq!(
            both, splits.validation,
            "a partition of the validation part"
        );
        let mut counts = [0; 4];
        unseen.iter().for_each(|&i| counts[labels[i] as usize] += 1);
        assert_eq!(counts, [25; 4]);
        assert_ne!(
            splits.set_aside(&data, 0.5, 6).unwrap().1,
            unseen,
            "the seed decides"
        );
        assert_eq!(
            splits.set_aside(&data, 0.0, 5).unwrap().1,
            Vec::<usize>::new()
        );
        for share in [1.0, -0.5, f64::NAN] {
            assert!(splits.set_aside(&data, share, 5).is_err(), "{share}");
        }
    }

    #[test]
    fn apportionment_sums_exactly() {
        assert_eq!(apportion(&[5, 3, 2], 3), vec![1, 1, 1]);
        assert_eq!(apportion(&[1, 1, 1], 2), vec![1, 1, 0]);
        assert_eq!(apportion(&[7, 0, 3], 5), vec![4, 0, 1]);
    }

    #[test]
    fn out_of_range_holdouts_are_errors() {
        for holdout in [
            Holdout::Fraction(1.0),
            Holdout::Fraction(-0.1),
            Holdout::Count(10),
        ] {
            let error = Splits::new(10, holdout, 0, None).unwrap_err();
            assert!(
                matches!(error, DataError::InvalidHoldout { .. }),
                "{error:?}"
            );
        }
        assert!(Splits::new(10, Holdout::Fraction(0.99), 0, None).is_err());
        assert!(Splits::new(10, Holdout::Count(2), 0, Some(&[0; 9])).is_err());
    }

    #[test]
    fn holdout_is_serde_able() {
        let json = serde_json::to_string(&Holdout::Fraction(0.1)).unwrap();
        assert_eq!(json, r#"{"fraction":0.1}"#);
        let back: Holdout = serde_json::from_str(r#"{"count":500}"#).unwrap();
        assert_eq!(back, Holdout::Count(500));
    }
}
