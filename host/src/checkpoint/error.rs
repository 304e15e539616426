//! Errors of reading and writing checkpoints.

use std::path::PathBuf;

/// Why a checkpoint could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CheckpointError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The file is not a checkpoint of this format, or is damaged.
    #[error("{path}: not a valid {format} checkpoint: {reason}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// `safetensors` or `burnpack`.
        format: &'static str,
        /// What the reader found.
        reason: String,
    },
    /// The file is whole but does not hold the model asked for.
    #[error("{path}: {reason}")]
    Mismatch {
        /// The file.
        path: PathBuf,
        /// Which tensor or field disagrees, expected against found.
        reason: String,
    },
    /// The file's extension names no known format.
    #[error("{0}: unknown checkpoint format; use a .safetensors or .bpk (burnpack) file")]
    Format(PathBuf),
}
