//! Data sets in their official formats, splits, and data resident on the training device.

mod dataset;

pub use dataset::{Dataset, DatasetInfo, Inputs, Samples, Targets, Task};
