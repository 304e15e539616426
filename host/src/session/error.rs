//! A failed service call, as the plugin table and the script API report it.

use coevo_sdk::ffi::{self, Status};

/// A failed service call: the status for the plugin and the message it can ask for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ServiceError {
    /// The status.
    pub status: Status,
    /// The explanation.
    pub message: String,
}

impl ServiceError {
    /// A failure with `status`.
    pub fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// An argument the service cannot take.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(ffi::STATUS_INVALID_ARGUMENT, message)
    }

    /// No model (or hook) by that name.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ffi::STATUS_NOT_FOUND, message)
    }

    /// The service ran and failed.
    pub fn failed(message: impl Into<String>) -> Self {
        Self::new(ffi::STATUS_ERROR, message)
    }

    /// The run was cancelled (Ctrl-C).
    pub fn cancelled() -> Self {
        Self::new(ffi::STATUS_CANCELLED, "the run was cancelled")
    }
}
