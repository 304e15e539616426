//! coevo: a workbench for evolutionary and cooperative training of neural networks.
//!
//! This crate is the host: it owns data sets, models, training and evaluation, on burn's
//! pure-Rust `flex` CPU backend or (feature `tch`) LibTorch on CPU and CUDA. Algorithms live in
//! plugins and experiments in scripts; both reach the compute through this crate.
//!
//! A key design decision: models are not burn `Module` structs but a serialisable
//! [`model::ModelSpec`] interpreted by one functional forward pass over flat parameter tensors.
//! That is what lets a genetic algorithm write an architecture as data, lets parameters be
//! blended, masked and copied as flat vectors in one documented order, and lets `M` members of
//! one architecture be trained as one stacked model with grouped convolutions.

pub mod checkpoint;
pub mod data;
pub mod device;
pub mod executor;
pub mod experiment;
pub mod model;
pub mod params;
pub mod plugin;
pub mod seed;
pub mod session;
pub mod tensors;
#[cfg(test)]
mod testing;
pub mod train;

pub use device::ComputeDevice;
