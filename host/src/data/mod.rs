//! Data sets in their official formats, splits, and data resident on the training device.

mod cifar;
mod cifar_files;
mod dataset;
mod error;
mod read;

pub use cifar::{CIFAR_SHAPE, load_cifar10, load_cifar100};
pub use dataset::{Dataset, DatasetInfo, Inputs, Samples, Targets, Task};
pub use error::DataError;
