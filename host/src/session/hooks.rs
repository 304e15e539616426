//! The script functions a session calls on a plugin's behalf.

use serde_json::Value;

/// The script functions plugins may call (wired to Rhai by the experiments layer).
pub trait Hooks {
    /// Calls `name` with `args`; `Ok(None)` when no such function is defined.
    fn call(&self, name: &str, args: &Value) -> Result<Option<Value>, String>;
}

/// No script: every hook is absent, so plugins use their defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn call(&self, _: &str, _: &Value) -> Result<Option<Value>, String> {
        Ok(None)
    }
}
