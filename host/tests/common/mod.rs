//! What the command-line test files share.

use serde_json::Value;

/// `value` without its clock fields (`seconds`, `seconds_masked`, …), which no two runs share.
pub fn without_seconds(value: &Value) -> Value {
    match value {
        Value::Object(map) => map
            .iter()
            .filter(|(k, _)| !k.starts_with("seconds"))
            .map(|(k, v)| (k.clone(), without_seconds(v)))
            .collect(),
        Value::Array(items) => items.iter().map(without_seconds).collect(),
        other => other.clone(),
    }
}
