//! Algorithm plugins: loading libraries, the host table they call, and running them.

mod discovery;
mod error;
mod library;
mod run;
mod schema;
mod table;
mod watch;

pub use discovery::PluginPath;
pub use error::PluginError;
pub use library::{LoadedPlugin, load, load_fresh_copy};
pub use run::{PluginRun, Swap};
pub use schema::{CompiledSchema, InvalidSchema, validate};
pub use table::PluginHost;
pub use watch::FileWatch;
