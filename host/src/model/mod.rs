//! Models: serialisable architectures ([`ModelSpec`]), presets, and their parameters on a device.

mod forward;
mod init;
mod layout;
mod network;
mod presets;
mod spec;

pub use forward::{Forward, Mode};
pub use layout::{BufferEntry, Layout, ParamEntry, ParamRole, Shape, SpecError, Step};
pub use network::{Model, ModelError};
pub use presets::{PRESETS, PresetError, preset};
pub use spec::{Init, Layer, ModelSpec, TargetScale};
