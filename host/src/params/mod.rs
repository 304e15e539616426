//! Parameter algebra: flat vectors, blends, noise, masks, transfers between architectures and
//! compaction of pruned networks, all on the model's device.
//!
//! A model is a value: `Model::clone` copies it (tensors are immutable, so the copy is cheap
//! and updates to one never show in the other).

mod align;
mod blend;
mod compact;
mod flat;
mod mask;
mod noise;
mod transfer;
mod units;

pub use align::{AlignError, PermutationSpec, align};
pub use blend::{BlendError, Coefficients, blend};
pub use compact::{CompactError, Compacted, compact};
pub use flat::ParamSlot;
pub use noise::{Noise, NoiseMode};
pub use transfer::{Transfer, TransferError, transfer};
pub use units::{UnitLayer, dropping_units, unit_layers};
