//! The trait a plugin author implements, and what it reports.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::host::{Host, HostError};

/// A failure inside a plugin, reported to the host with its message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PluginError(pub String);

impl std::fmt::Display for PluginError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for PluginError {}

impl From<HostError> for PluginError {
    fn from(e: HostError) -> Self {
        Self(format!("host call failed: {e}"))
    }
}

impl From<serde_json::Error> for PluginError {
    fn from(e: serde_json::Error) -> Self {
        Self(format!("JSON: {e}"))
    }
}

impl From<String> for PluginError {
    fn from(message: String) -> Self {
        Self(message)
    }
}

impl From<&str> for PluginError {
    fn from(message: &str) -> Self {
        Self(message.to_string())
    }
}

/// A script function a plugin calls, and what it does without one.
///
/// It crosses the C ABI as JSON. `returns` was at first only words, under the key `returns`;
/// the words keep that key and the schema was appended as `returns_schema`, so a plugin built
/// before it still loads (its hooks' results are then checked only for finite numbers).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookInfo {
    /// The function's name in the script.
    pub name: String,
    /// Its arguments, in words.
    pub args: String,
    /// What it returns, in words.
    #[serde(rename = "returns")]
    pub returns_text: String,
    /// What the plugin does when the script does not define it.
    pub default: String,
    /// What it must return, as a JSON Schema: the host checks every result against it, so a
    /// script's mistake is reported at the hook's line. `true` (anything) when absent.
    #[serde(rename = "returns_schema", default = "anything")]
    pub returns: Value,
}

fn anything() -> Value {
    Value::Bool(true)
}

impl HookInfo {
    /// A hook that returns an `R`: its schema is derived from the type, so the host checks
    /// what the plugin will read (`HookInfo::new::<f64>(...)`).
    pub fn new<R: JsonSchema>(name: &str, args: &str, returns: &str, default: &str) -> Self {
        Self {
            name: name.into(),
            args: args.into(),
            returns_text: returns.into(),
            default: default.into(),
            returns: crate::schema::of::<R>(),
        }
    }
}

/// What one step did.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct StepReport {
    /// Whether the algorithm has finished.
    pub done: bool,
    /// Numbers worth logging (already logged by the SDK when it is a search).
    #[serde(default)]
    pub metrics: Value,
    /// The outcome, once done (e.g. the best model's id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result: Option<Value>,
}

/// An algorithm plugin: created from a validated config, stepped by the host, and
/// snapshotted/restored between steps (for checkpoints and hot swaps).
///
/// Its state is serialisable, so snapshot and restore come for free: the state itself, as
/// JSON. Override them only to check a snapshot beyond what deserialising checks.
pub trait Algorithm: Serialize + DeserializeOwned + Sized + 'static {
    /// The config, deserialised from the JSON the host validated against [`Algorithm::schema`].
    type Config: DeserializeOwned + JsonSchema;

    /// Short name (`mega`, `random-search`).
    const NAME: &'static str;
    /// Version of the plugin.
    const VERSION: &'static str;
    /// One line on what it does.
    const DESCRIPTION: &'static str;

    /// JSON Schema of the config: by default derived from [`Algorithm::Config`], so its
    /// defaults, descriptions and bounds are written once, on the type.
    fn schema() -> Value {
        crate::schema::of::<Self::Config>()
    }

    /// The script hooks it calls.
    fn hooks() -> Vec<HookInfo> {
        Vec::new()
    }

    /// A new instance.
    fn create(config: Self::Config, host: &Host) -> Result<Self, PluginError>;

    /// One step: a generation, an epoch, whatever unit the algorithm checkpoints at.
    fn step(&mut self, host: &Host) -> Result<StepReport, PluginError>;

    /// The state, as JSON, from which [`Algorithm::restore`] continues exactly (by default
    /// the serialised state).
    fn snapshot(&self) -> Result<Value, PluginError> {
        Ok(serde_json::to_value(self)?)
    }

    /// Continues from a snapshot (by default, the deserialised state replaces this one).
    fn restore(&mut self, snapshot: Value, _host: &Host) -> Result<(), PluginError> {
        *self = serde_json::from_value(snapshot)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_hook_says_what_it_returns_as_a_schema_and_older_descriptions_still_read() {
        let hook = HookInfo::new::<Vec<[usize; 2]>>("merge_order", "(models)", "pairs", "in order");
        let wire = serde_json::to_value(&hook).unwrap();
        assert_eq!(wire["returns"], "pairs");
        assert_eq!(wire["returns_schema"]["type"], "array");
        assert_eq!(wire["returns_schema"]["items"]["maxItems"], 2);
        let back: HookInfo = serde_json::from_value(wire).unwrap();
        assert_eq!(back, hook);
        // A plugin built before `returns_schema` existed.
        let old: HookInfo = serde_json::from_value(json!({
            "name": "fitness", "args": "(metrics)", "returns": "a number", "default": "accuracy"
        }))
        .unwrap();
        assert_eq!(old.returns_text, "a number");
        assert_eq!(old.returns, json!(true));
    }
}
