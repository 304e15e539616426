//! Validation of plugin configs against the plugin's JSON Schema.
//!
//! The subset understood (documented in `sdk/README.md`): `type` (a name or a list),
//! `properties`, `required`, `additionalProperties` (a boolean or a schema), `items`, `enum`,
//! `const`, `minimum`, `maximum`, `exclusiveMinimum`, `exclusiveMaximum`, `minItems`,
//! `maxItems`, `minLength`, `maxLength`. Other keywords (`description`, `default`, …) are
//! ignored. Every violation is reported with its path, not just the first, so a user fixes a
//! config in one go.

use serde_json::Value;

/// Every violation of `schema` by `value`, as `path: what is wrong` (empty when valid).
pub fn validate(schema: &Value, value: &Value) -> Vec<String> {
    let mut errors = Vec::new();
    check(schema, value, "config", &mut errors);
    errors
}

fn check(schema: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(schema) = schema.as_object() else {
        return;
    };
    if let Some(expected) = schema.get("type") {
        let names: Vec<&str> = match expected {
            Value::String(s) => vec![s.as_str()],
            Value::Array(list) => list.iter().filter_map(Value::as_str).collect(),
            _ => Vec::new(),
        };
        if !names.is_empty() && !names.iter().any(|t| has_type(value, t)) {
            errors.push(format!(
                "{path}: expected {}, found {}",
                names.join(" or "),
                describe(value)
            ));
            return;
        }
    }
    if let Some(options) = schema.get("enum").and_then(Value::as_array)
        && !options.contains(value)
    {
        let list: Vec<String> = options.iter().map(Value::to_string).collect();
        errors.push(format!("{path}: {value} is not one of {}", list.join(", ")));
    }
    if let Some(constant) = schema.get("const")
        && constant != value
    {
        errors.push(format!("{path}: must be {constant}, found {value}"));
    }
    if let Some(x) = value.as_f64() {
        bounds(schema, x, path, errors);
    }
    if let Some(s) = value.as_str() {
        lengths(schema, s.chars().count(), "characters", path, errors);
    }
    if let Some(items) = value.as_array() {
        lengths(schema, items.len(), "items", path, errors);
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter().enumerate() {
                check(item_schema, item, &format!("{path}[{i}]"), errors);
            }
        }
    }
    if let Some(object) = value.as_object() {
        let properties = schema.get("properties").and_then(Value::as_object);
        for name in schema
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            if !object.contains_key(name) {
                errors.push(format!("{path}.{name}: required but missing"));
            }
        }
        for (name, field) in object {
            let field_path = format!("{path}.{name}");
            match (
                properties.and_then(|p| p.get(name)),
                schema.get("additionalProperties"),
            ) {
                (Some(field_schema), _) => check(field_schema, field, &field_path, errors),
                (None, Some(Value::Bool(false))) => {
                    let known: Vec<&String> =
                        properties.map(|p| p.keys().collect()).unwrap_or_default();
                    let known: Vec<&str> = known.iter().map(|s| s.as_str()).collect();
                    errors.push(format!(
                        "{field_path}: unknown field; known fields: {}",
                        known.join(", ")
                    ));
                }
                (None, Some(extra @ Value::Object(_))) => check(extra, field, &field_path, errors),
                (None, _) => {}
            }
        }
    }
}

fn has_type(value: &Value, name: &str) -> bool {
    match name {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "boolean" => value.is_boolean(),
        "null" => value.is_null(),
        "number" => value.is_number(),
        "integer" => value.as_f64().is_some_and(|x| x.fract() == 0.0),
        _ => true,
    }
}

fn describe(value: &Value) -> String {
    match value {
        Value::Null => "null".into(),
        Value::Bool(b) => format!("the boolean {b}"),
        Value::Number(n) => format!("the number {n}"),
        Value::String(s) => format!("the string {s:?}"),
        Value::Array(_) => "an array".into(),
        Value::Object(_) => "an object".into(),
    }
}

fn bounds(schema: &serde_json::Map<String, Value>, x: f64, path: &str, errors: &mut Vec<String>) {
    let bound = |key: &str| schema.get(key).and_then(Value::as_f64);
    if let Some(min) = bound("minimum").filter(|&m| x < m) {
        errors.push(format!("{path}: {x} is below the minimum {min}"));
    }
    if let Some(max) = bound("maximum").filter(|&m| x > m) {
        errors.push(format!("{path}: {x} is above the maximum {max}"));
    }
    if let Some(min) = bound("exclusiveMinimum").filter(|&m| x <= m) {
        errors.push(format!("{path}: {x} must be greater than {min}"));
    }
    if let Some(max) = bound("exclusiveMaximum").filter(|&m| x >= m) {
        errors.push(format!("{path}: {x} must be less than {max}"));
    }
}

fn lengths(
    schema: &serde_json::Map<String, Value>,
    n: usize,
    unit: &str,
    path: &str,
    errors: &mut Vec<String>,
) {
    let key = |k: &str| schema.get(k).and_then(Value::as_u64).map(|v| v as usize);
    let (min, max) = if unit == "items" {
        ("minItems", "maxItems")
    } else {
        ("minLength", "maxLength")
    };
    if let Some(m) = key(min).filter(|&m| n < m) {
        errors.push(format!("{path}: {n} {unit}, at least {m} needed"));
    }
    if let Some(m) = key(max).filter(|&m| n > m) {
        errors.push(format!("{path}: {n} {unit}, at most {m} allowed"));
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn every_bad_field_is_reported_with_its_path() {
        let schema = json!({
            "type": "object",
            "additionalProperties": false,
            "required": ["population"],
            "properties": {
                "population": {"type": "integer", "minimum": 2},
                "sigma": {"type": "number", "exclusiveMinimum": 0},
                "mode": {"enum": ["element", "tensor"]},
                "layers": {"type": "array", "items": {"type": "integer"}, "maxItems": 2}
            }
        });
        let errors = validate(
            &schema,
            &json!({"sigma": 0, "mode": "row", "layers": [1, "x", 3], "sigmaa": 1}),
        );
        let expected = [
            "config.population: required but missing",
            "config.sigma: 0 must be greater than 0",
            "config.mode: \"row\" is not one of \"element\", \"tensor\"",
            "config.layers: 3 items, at most 2 allowed",
            "config.layers[1]: expected integer, found the string \"x\"",
            "config.sigmaa: unknown field; known fields: layers, mode, population, sigma",
        ];
        for e in expected {
            assert!(
                errors.iter().any(|x| x == e),
                "missing {e:?} in {errors:#?}"
            );
        }
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        assert!(validate(&schema, &json!({"population": 4, "sigma": 0.1})).is_empty());
        assert_eq!(
            validate(&schema, &json!([1])),
            ["config: expected object, found an array"]
        );
    }
}
