//! Data sets in their official formats, splits, and data resident on the training device.
//!
//! Each format has its own loader returning one [`Dataset`]: the official training and test
//! parts, as they are on disk. A [`DataSource`] (`<kind>=<path>`) picks the loader; [`Splits`]
//! holds a seeded validation part out of the training part; [`fetch`] downloads the public
//! sets. Loaders check everything they read and fail with a [`DataError`] naming
//! the file and the place in it, because a bad data file found late costs a whole run.

mod age_transform;
mod augment;
mod cifar;
mod cifar_files;
mod dataset;
mod download;
mod error;
mod fetch;
mod idx;
mod image_folder;
mod methylation;
mod methylation_options;
mod methylation_prepare;
mod methylation_series;
mod methylation_table;
mod read;
mod recipe;
mod resident;
mod source;
mod split;
#[cfg(test)]
mod test_server;

pub use age_transform::TargetTransform;
pub use augment::{Augment, augment_batch};
pub use cifar::{CIFAR_SHAPE, load_cifar10, load_cifar100};
pub use dataset::{Dataset, DatasetInfo, Inputs, Samples, Targets, Task};
pub use download::{Checksum, Downloader, Outcome, Progress};
pub use error::DataError;
pub use fetch::{DOWNLOADABLE, Remote, RemoteFile, fetch, fetch_from, official};
pub use idx::{
    FASHION_MNIST_CLASSES, IdxImages, MNIST_CLASSES, load_fashion_mnist, load_idx_folder,
    load_mnist, read_idx_images, read_idx_labels,
};
pub use image_folder::load_image_folder;
pub use methylation::{load_methylation, load_methylation_files, load_methylation_with};
pub use methylation_options::{FeatureOrder, MethylationOptions};
pub use methylation_prepare::Preparation;
pub use recipe::{LimitBy, Loaded, Recipe};
pub use resident::{DeviceSplit, DeviceTargets, Normalise, ResidentData, Standardisation};
pub use source::{DataKind, DataSource};
pub use split::{Holdout, Splits};
