//! A run's options, resolved and recorded in its `config.json`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ComputeDevice;

/// Limits on what a script may do, so that a runaway hook is stopped with an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Limits {
    /// Operations per top-level run or hook call.
    pub max_operations: u64,
    /// Depth of nested function calls.
    pub max_call_levels: usize,
    /// Bytes in one string.
    pub max_string_size: usize,
    /// Items in one array.
    pub max_array_size: usize,
    /// Entries in one map.
    pub max_map_size: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_operations: 50_000_000,
            max_call_levels: 64,
            max_string_size: 1 << 20,
            max_array_size: 1 << 20,
            max_map_size: 1 << 16,
        }
    }
}

/// What `coevo run` was asked.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunOptions {
    /// The experiment script.
    pub script: PathBuf,
    /// The run directory.
    pub out: PathBuf,
    /// `--set key=value` values (JSON where they parse as JSON, else strings).
    pub sets: BTreeMap<String, Value>,
    /// The device.
    pub device: ComputeDevice,
    /// The run's seed.
    pub seed: u64,
    /// Reload the script when it changes.
    #[serde(default)]
    pub watch: bool,
    /// Folders scripts may read data from (besides the run directory).
    pub data_roots: Vec<PathBuf>,
    /// Folders searched for plugins first.
    pub plugin_dirs: Vec<PathBuf>,
    /// Script limits.
    #[serde(default)]
    pub limits: Limits,
    /// The Ray cluster independent evaluations fan out to (`None`: all in this process).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ray: Option<String>,
}

/// `key=value` as a `--set` entry; the value is JSON if it parses, else a string.
pub fn parse_set(text: &str) -> Result<(String, Value), String> {
    let (key, value) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: expected key=value"))?;
    let value = serde_json::from_str(value).unwrap_or_else(|_| Value::String(value.to_string()));
    Ok((key.trim().to_string(), value))
}

/// `runs/<script name>-<n>` for the first `n` not taken.
pub fn default_out(script: &std::path::Path) -> PathBuf {
    let stem = script
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| "run".into());
    (1..)
        .map(|n| PathBuf::from("runs").join(format!("{stem}-{n}")))
        .find(|p| !p.exists())
        .unwrap_or_default()
}
