//! [`DataSource`]: which data set to load and from where, as the CLI and configs write it.
//!
//! One string, `<kind>=<path>` (`cifar10=data/cifar-10-batches-bin`), names a data set in a
//! command line, a config file and a run's record alike, so a recorded run can be repeated by
//! pasting what it printed. Options of the kind's loader follow the path as a query,
//! `methylation=GSE74193.txt.gz?features=2000&age_transform=horvath`, so that they are recorded
//! with it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::{
    DataError, Dataset, MethylationOptions, load_cifar10, load_cifar100, load_fashion_mnist,
    load_image_folder, load_methylation_with, load_mnist,
};

/// The formats coevo reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DataKind {
    /// CIFAR-10 binary batches, or the official archive.
    Cifar10,
    /// CIFAR-100 binary files, or the official archive.
    Cifar100,
    /// MNIST IDX files.
    Mnist,
    /// Fashion-MNIST IDX files.
    FashionMnist,
    /// `train/<class>/*` and `test/<class>/*` image files.
    ImageFolder,
    /// Methylation beta-value tables with ages.
    Methylation,
}

impl DataKind {
    /// Every kind, in the order help texts list them.
    pub const ALL: [Self; 6] = [
        Self::Cifar10,
        Self::Cifar100,
        Self::Mnist,
        Self::FashionMnist,
        Self::ImageFolder,
        Self::Methylation,
    ];

    /// The name used in `<kind>=<path>`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Cifar10 => "cifar10",
            Self::Cifar100 => "cifar100",
            Self::Mnist => "mnist",
            Self::FashionMnist => "fashion-mnist",
            Self::ImageFolder => "image-folder",
            Self::Methylation => "methylation",
        }
    }

    /// The kinds' names, comma-separated, for error and help texts.
    pub fn names() -> String {
        Self::ALL.map(Self::as_str).join(", ")
    }

    /// Loads a data set of this kind from `path`.
    pub fn load(self, path: &Path) -> Result<Dataset, DataError> {
        self.load_with(path, "")
    }

    /// Loads a data set of this kind from `path` with the loader's `options`
    /// (`key=value&…`; only methylation takes any).
    pub fn load_with(self, path: &Path, options: &str) -> Result<Dataset, DataError> {
        if !options.is_empty() && self != Self::Methylation {
            return Err(DataError::InvalidOptions {
                kind: self.as_str(),
                what: format!("{self} takes no options, got {options:?}"),
            });
        }
        match self {
            Self::Cifar10 => load_cifar10(path),
            Self::Cifar100 => load_cifar100(path),
            Self::Mnist => load_mnist(path),
            Self::FashionMnist => load_fashion_mnist(path),
            Self::ImageFolder => load_image_folder(path),
            Self::Methylation => load_methylation_with(path, &MethylationOptions::parse(options)?),
        }
    }
}

impl fmt::Display for DataKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DataKind {
    type Err = DataError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str().eq_ignore_ascii_case(text.trim()))
            .ok_or_else(|| DataError::UnknownKind {
                text: text.to_owned(),
                known: Self::names(),
            })
    }
}

/// A data set to load: its format and where it is.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct DataSource {
    /// The format.
    pub kind: DataKind,
    /// A folder or file, as the kind's loader accepts.
    pub path: PathBuf,
    /// The loader's options, `key=value&…` (empty for none).
    pub options: String,
}

impl DataSource {
    /// Loads the data set.
    pub fn load(&self) -> Result<Dataset, DataError> {
        self.kind.load_with(&self.path, &self.options)
    }
}

impl fmt::Display for DataSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.kind, self.path.display())?;
        match self.options.is_empty() {
            true => Ok(()),
            false => write!(f, "?{}", self.options),
        }
    }
}

impl FromStr for DataSource {
    type Err = DataError;

    /// Parses `<kind>=<path>[?<options>]`; the path may itself contain `=`, and a `?` begins
    /// the options only when what follows it has an `=`.
    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let unknown = || DataError::UnknownKind {
            text: text.to_owned(),
            known: DataKind::names(),
        };
        let (kind, path) = text.split_once('=').ok_or_else(unknown)?;
        if path.is_empty() {
            return Err(unknown());
        }
        let kind = kind.parse().map_err(|_| unknown())?;
        let (path, options) = match path.rsplit_once('?') {
            Some((path, options)) if options.contains('=') && !path.is_empty() => (path, options),
            _ => (path, ""),
        };
        Ok(Self {
            kind,
            path: PathBuf::from(path),
            options: options.to_owned(),
        })
    }
}

impl TryFrom<String> for DataSource {
    type Error = DataError;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl From<DataSource> for String {
    fn from(source: DataSource) -> Self {
        source.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_displays_and_round_trips_through_serde() {
        let source: DataSource = "fashion-mnist=data/fm=v2".parse().unwrap();
        assert_eq!(source.kind, DataKind::FashionMnist);
        assert_eq!(source.path, PathBuf::from("data/fm=v2"));
        assert_eq!(source.to_string(), "fashion-mnist=data/fm=v2");
        let json = serde_json::to_string(&source).unwrap();
        assert_eq!(json, "\"fashion-mnist=data/fm=v2\"");
        assert_eq!(serde_json::from_str::<DataSource>(&json).unwrap(), source);
        let with_options: DataSource = "methylation=d/a?b.tsv?features=10&seed=2".parse().unwrap();
        assert_eq!(with_options.path, PathBuf::from("d/a?b.tsv"));
        assert_eq!(with_options.options, "features=10&seed=2");
        assert_eq!(
            with_options.to_string(),
            "methylation=d/a?b.tsv?features=10&seed=2"
        );
        let error = "cifar10=x?features=3".parse::<DataSource>().unwrap().load();
        assert!(error.unwrap_err().to_string().contains("takes no options"));
        for kind in DataKind::ALL {
            assert_eq!(kind.as_str().parse::<DataKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
        }
    }

    #[test]
    fn unknown_kind_or_missing_path_lists_the_kinds() {
        for text in ["imagenet=/data", "cifar10", "cifar10="] {
            let error = text.parse::<DataSource>().unwrap_err();
            assert!(matches!(error, DataError::UnknownKind { .. }), "{error:?}");
            let message = error.to_string();
            assert!(message.contains(text), "{message}");
            assert!(
                message.contains("cifar10, cifar100, mnist, fashion-mnist"),
                "{message}"
            );
            assert!(message.contains("image-folder, methylation"), "{message}");
        }
        assert!(serde_json::from_str::<DataSource>("\"svhn=x\"").is_err());
    }

    #[test]
    fn loads_the_bundled_slice() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../data/fashion-mnist-10k");
        let source: DataSource = format!("fashion-mnist={path}").parse().unwrap();
        let data = source.load().unwrap();
        assert_eq!(
            (data.name.as_str(), data.train.len()),
            ("fashion-mnist", 10_000)
        );
    }
}
