//! Parameter algebra: flat vectors, blends, noise, masks and transfers between architectures,
//! all on the model's device.
//!
//! A model is a value: `Model::clone` copies it (tensors are immutable, so the copy is cheap
//! and updates to one never show in the other).

mod align;
mod blend;
mod flat;
mod mask;
mod noise;
mod transfer;

pub use align::{AlignError, PermutationSpec, align};
pub use blend::{BlendError, Coefficients, blend};
pub use flat::ParamSlot;
pub use noise::{Noise, NoiseMode};
pub use transfer::{Transfer, TransferError, transfer};
