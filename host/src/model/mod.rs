//! Models: serialisable architectures ([`ModelSpec`]), presets, and their parameters on a device.

// burn-tch is deprecated upstream (0.22 is pinned for it), and the LibTorch block names it.
#[cfg_attr(feature = "tch", allow(deprecated))]
mod conv_block;
mod flex_conv;
mod flex_pool;
mod forward;
mod init;
mod layout;
mod network;
mod pool_kernel;
mod presets;
mod spec;
#[cfg(feature = "tch")]
mod tch_pool;
mod trunk;

pub use forward::{Forward, Mode};
pub use layout::{BufferEntry, Layout, ParamEntry, ParamRole, Shape, SpecError, Step};
pub use network::{Model, ModelError};
pub use presets::{PRESETS, PresetError, preset, widen};
pub use spec::{Init, Layer, ModelSpec, TargetScale};
pub use trunk::Trunk;
