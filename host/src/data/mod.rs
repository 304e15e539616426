//! Data sets in their official formats, splits, and data resident on the training device.

mod augment;
mod dataset;
mod resident;

pub use augment::Augment;
pub use dataset::{Dataset, DatasetInfo, Inputs, Samples, Targets, Task};
pub use resident::{DeviceSplit, DeviceTargets, Normalise, ResidentData, Standardisation};
