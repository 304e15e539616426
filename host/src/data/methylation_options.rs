//! The options of a methylation source, written after its path:
//! `methylation=GSE74193_series_matrix.txt.gz?features=2000&age_transform=horvath`.

use std::path::PathBuf;

use serde::Serialize;

use super::DataError;
use super::age_transform::TargetTransform;

/// How the selected CpG sites are ordered along the sequence a 1-D convolution reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureOrder {
    /// As in the file (the default without `features`).
    File,
    /// By |correlation with age| on the training split, strongest first.
    Correlation,
    /// By chromosome and position, from a platform annotation (`annotation=FILE`).
    Position,
}

/// What a methylation source's options ask for; each has a default.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MethylationOptions {
    /// For a single file: the share of samples held out as the test split.
    pub test_fraction: f64,
    /// Seed of that hold-out.
    pub seed: u64,
    /// The key of the `key: value` characteristics entry that holds the age (series matrices).
    pub age_key: String,
    /// CpG sites missing in more than this share of training samples are dropped.
    pub max_missing: f64,
    /// Keep the `K` sites most correlated with age on the training split.
    pub features: Option<usize>,
    /// The order of the kept sites.
    pub order: FeatureOrder,
    /// A platform annotation with `CHR` and `MAPINFO` columns, for `order=position`.
    pub annotation: Option<PathBuf>,
    /// Learn transformed ages (metrics stay in years).
    pub age_transform: Option<TargetTransform>,
}

impl Default for MethylationOptions {
    fn default() -> Self {
        Self {
            test_fraction: 0.3,
            seed: 0,
            age_key: "age".to_owned(),
            max_missing: 0.2,
            features: None,
            order: FeatureOrder::File,
            annotation: None,
            age_transform: None,
        }
    }
}

/// The options' names, for error texts.
const NAMES: &str = "test_fraction, seed, age_key, max_missing, features, order, annotation, \
                     age_transform";

impl MethylationOptions {
    /// Reads `key=value&key=value`; an unknown key or a bad value is an error naming it.
    pub fn parse(text: &str) -> Result<Self, DataError> {
        let mut options = Self::default();
        let mut order = None;
        for pair in text.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').ok_or_else(|| {
                invalid(format!(
                    "option {pair:?} is not key=value (options: {NAMES})"
                ))
            })?;
            let bad = |what: &str| invalid(format!("option {key}={value:?}: expected {what}"));
            match key {
                "test_fraction" => {
                    options.test_fraction = value
                        .parse()
                        .ok()
                        .filter(|f| (0.0..1.0).contains(f) && *f > 0.0)
                        .ok_or_else(|| bad("a fraction in (0, 1)"))?;
                }
                "seed" => options.seed = value.parse().map_err(|_| bad("an integer"))?,
                "age_key" => options.age_key = value.to_owned(),
                "max_missing" => {
                    options.max_missing = value
                        .parse()
                        .ok()
                        .filter(|f| (0.0..=1.0).contains(f))
                        .ok_or_else(|| bad("a fraction in [0, 1]"))?;
                }
                "features" => {
                    let k = value.parse().ok().filter(|&k: &usize| k > 0);
                    options.features = Some(k.ok_or_else(|| bad("a positive integer"))?);
                }
                "order" => {
                    order = Some(match value {
                        "file" => FeatureOrder::File,
                        "correlation" => FeatureOrder::Correlation,
                        "position" => FeatureOrder::Position,
                        _ => return Err(bad("file, correlation or position")),
                    });
                }
                "annotation" => options.annotation = Some(PathBuf::from(value)),
                "age_transform" => {
                    options.age_transform = match value {
                        "none" => None,
                        "horvath" => Some(TargetTransform::HORVATH),
                        _ => return Err(bad("none or horvath")),
                    };
                }
                _ => {
                    return Err(invalid(format!(
                        "unknown option {key:?} (options: {NAMES})"
                    )));
                }
            }
        }
        options.order = match (order, &options.annotation, options.features) {
            (Some(FeatureOrder::Position), None, _) => {
                return Err(invalid(
                    "option order=position needs annotation=FILE (CHR and MAPINFO columns)",
                ));
            }
            (Some(order), _, _) => order,
            (None, Some(_), _) => FeatureOrder::Position,
            (None, None, Some(_)) => FeatureOrder::Correlation,
            (None, None, None) => FeatureOrder::File,
        };
        Ok(options)
    }
}

fn invalid(what: impl Into<String>) -> DataError {
    DataError::InvalidOptions {
        kind: "methylation",
        what: what.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse_with_defaults_and_errors_name_the_option() {
        let options = MethylationOptions::parse("").unwrap();
        assert_eq!(options, MethylationOptions::default());
        let options =
            MethylationOptions::parse("features=500&age_transform=horvath&seed=3").unwrap();
        assert_eq!(options.features, Some(500));
        assert_eq!(options.order, FeatureOrder::Correlation);
        assert_eq!(options.age_transform, Some(TargetTransform::HORVATH));
        assert_eq!(options.seed, 3);
        let options = MethylationOptions::parse("annotation=a.csv").unwrap();
        assert_eq!(options.order, FeatureOrder::Position);
        for (text, named) in [
            ("features=0", "features"),
            ("test_fraction=1.5", "test_fraction"),
            ("order=position", "annotation"),
            ("colour=red", "unknown option \"colour\""),
            ("features", "not key=value"),
        ] {
            let error = MethylationOptions::parse(text).unwrap_err().to_string();
            assert!(error.contains(named), "{text}: {error}");
        }
    }
}
