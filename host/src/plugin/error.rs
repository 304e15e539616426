//! Why a plugin could not be loaded, configured or run.

use std::path::PathBuf;

use coevo_sdk::client::{CallError, VersionMismatch};

/// A plugin failure, with the file or plugin it concerns.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PluginError {
    /// The file does not exist.
    #[error("{0}: no such plugin file")]
    Missing(PathBuf),
    /// The file is not a loadable shared library.
    #[error("{path}: not a shared library: {reason}")]
    NotALibrary {
        /// The file.
        path: PathBuf,
        /// The loader's reason.
        reason: String,
    },
    /// The library exports no `coevo_plugin_entry`.
    #[error("{0}: not a coevo plugin (no `coevo_plugin_entry` symbol)")]
    NoEntry(PathBuf),
    /// A shared library in a plugin folder whose file name does not say it is a plugin: it
    /// is not loaded (loading runs a library's initialisers, so folders are not trusted
    /// wholesale).
    #[error(
        "{0}: not loaded: a plugin folder loads only files whose name contains `coevo_plugin` \
         (libcoevo_plugin_NAME.so, .dylib, coevo_plugin_NAME.dll); rename it, or give its path"
    )]
    Unnamed(PathBuf),
    /// A second plugin of a name already found earlier on the search path.
    #[error("{path}: not loaded: plugin `{name}` was already found in {first}")]
    Shadowed {
        /// The file.
        path: PathBuf,
        /// The plugin's name.
        name: String,
        /// The file that won.
        first: PathBuf,
    },
    /// The descriptor's ABI version is not one this host accepts.
    #[error("{path}: {mismatch}")]
    Version {
        /// The file.
        path: PathBuf,
        /// Both versions.
        mismatch: VersionMismatch,
    },
    /// The entry function reported a failure.
    #[error("{path}: the plugin's entry failed (status {status}): {message}")]
    Entry {
        /// The file.
        path: PathBuf,
        /// Its status.
        status: i32,
        /// Its message.
        message: String,
    },
    /// The config does not satisfy the plugin's schema; every bad field is listed.
    #[error("plugin `{plugin}` config:\n  {}", .errors.join("\n  "))]
    Config {
        /// The plugin.
        plugin: String,
        /// One line per bad field, each starting with its path.
        errors: Vec<String>,
    },
    /// The plugin's config schema does not compile, so no config can be checked against it.
    #[error("plugin `{plugin}` declares a config schema the host cannot use: {reason}")]
    Schema {
        /// The plugin.
        plugin: String,
        /// What is wrong with the schema.
        reason: String,
    },
    /// A call into the plugin failed (or it panicked; the host carries on).
    #[error("plugin `{plugin}` failed in {call}: {error}")]
    Call {
        /// The plugin.
        plugin: String,
        /// `create`, `step`, `snapshot` or `restore`.
        call: &'static str,
        /// Its status and message.
        error: CallError,
    },
    /// No plugin of that name was found.
    #[error("no plugin named `{name}` in {searched}; `coevo plugins list` shows what there is")]
    NotFound {
        /// The name asked for.
        name: String,
        /// The folders searched.
        searched: String,
    },
    /// Reading or copying a plugin file failed.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
}
