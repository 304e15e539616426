//! A config schema in words, for `coevo plugins show`: one line per field with its type,
//! bounds, default and description, the fields of nested objects and of each form of a tagged
//! choice indented below. `--json` prints the schema itself.

use serde_json::Value;

/// The lines describing the fields of `schema`, indented by `indent` spaces.
pub fn fields(schema: &Value, indent: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return lines;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let width = properties.keys().map(String::len).max().unwrap_or(0);
    for (name, field) in properties {
        let mut line = format!("{:indent$}{name:<width$}  {}", "", summary(field));
        if required.contains(&name.as_str()) {
            line.push_str(", required");
        }
        if let Some(default) = field.get("default") {
            line.push_str(&format!(", default {default}"));
        }
        if let Some(text) = description(field) {
            line.push_str(&format!(": {text}"));
        }
        lines.push(line);
        lines.extend(children(field, indent + 2));
    }
    lines
}

/// What a field holds: its type or values, and its bounds.
fn summary(schema: &Value) -> String {
    if let Some(values) = values(schema) {
        return values.join(" | ");
    }
    if alternatives(schema).is_some() {
        return "one of the forms below".into();
    }
    let mut text = match schema.get("type") {
        Some(Value::String(t)) if t == "array" => match schema.get("items") {
            Some(items) => format!("array of {}", summary(items)),
            None => "array".into(),
        },
        Some(Value::String(t)) => t.clone(),
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" or "),
        _ => "any".into(),
    };
    let mut bounds = Vec::new();
    for (key, words) in [
        ("minimum", "≥"),
        ("exclusiveMinimum", ">"),
        ("maximum", "≤"),
        ("exclusiveMaximum", "<"),
    ] {
        if let Some(bound) = schema.get(key) {
            bounds.push(format!("{words} {bound}"));
        }
    }
    for (key, words) in [("minItems", "at least"), ("maxItems", "at most")] {
        if let Some(n) = schema.get(key) {
            bounds.push(format!("{words} {n} items"));
        }
    }
    // An array's own bounds come after its items' (`array of integer ≥ 1, at least 2 items`).
    let lead = if text.starts_with("array") { ", " } else { " " };
    match bounds.first() {
        Some(first) => text.push_str(&format!("{lead}{first}")),
        None => return text,
    }
    for bound in &bounds[1..] {
        text.push_str(&format!(", {bound}"));
    }
    text
}

/// The values of an enumeration (`enum`, or a choice of `const`s, `null` among them).
fn values(schema: &Value) -> Option<Vec<String>> {
    if let Some(options) = schema.get("enum").and_then(Value::as_array) {
        return Some(options.iter().map(Value::to_string).collect());
    }
    if let Some(constant) = schema.get("const") {
        return Some(vec![constant.to_string()]);
    }
    if schema.get("type").and_then(Value::as_str) == Some("null") {
        return Some(vec!["null".into()]);
    }
    let forms = alternatives(schema)?;
    forms
        .iter()
        .map(values)
        .collect::<Option<Vec<_>>>()
        .map(|v| v.concat())
}

/// The forms of a choice (`oneOf` or `anyOf`).
fn alternatives(schema: &Value) -> Option<&Vec<Value>> {
    schema
        .get("oneOf")
        .or_else(|| schema.get("anyOf"))
        .and_then(Value::as_array)
}

/// The lines under a field: an object's own fields, or each form of a choice with its fields
/// (a tagged form named by its tag).
fn children(schema: &Value, indent: usize) -> Vec<String> {
    if schema.get("properties").is_some() {
        return fields(schema, indent);
    }
    let Some(forms) = alternatives(schema).filter(|_| values(schema).is_none()) else {
        return Vec::new();
    };
    let mut lines = Vec::new();
    for form in forms {
        if form.get("type").and_then(Value::as_str) == Some("null") {
            lines.push(format!("{:indent$}or null", ""));
            continue;
        }
        let tag = form
            .get("properties")
            .and_then(Value::as_object)
            .and_then(|p| p.iter().find(|(_, f)| f.get("const").is_some()));
        let mut line = match tag {
            Some((key, field)) => format!("{:indent$}{key} = {}", "", field["const"]),
            None => format!("{:indent$}{}", "", summary(form)),
        };
        if let Some(text) = description(form) {
            line.push_str(&format!(": {text}"));
        }
        lines.push(line);
        let mut inner = form.clone();
        if let (Some((key, _)), Some(properties)) = (
            tag,
            inner.get_mut("properties").and_then(Value::as_object_mut),
        ) {
            properties.remove(key);
        }
        lines.extend(children(&inner, indent + 2));
    }
    lines
}

fn description(schema: &Value) -> Option<&str> {
    schema.get("description").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn fields_read_with_their_type_bounds_default_and_forms() {
        let schema = json!({
            "type": "object",
            "required": ["parents"],
            "properties": {
                "parents": {"type": "array", "items": {"type": "integer", "minimum": 1},
                            "minItems": 2, "description": "Models to merge."},
                "loss": {"anyOf": [{"oneOf": [{"const": "mse"}, {"const": "mae"}]}, {"type": "null"}]},
                "optimizer": {
                    "default": {"type": "sgd", "lr": 0.01},
                    "oneOf": [{
                        "type": "object",
                        "description": "SGD.",
                        "properties": {
                            "type": {"type": "string", "const": "sgd"},
                            "lr": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1,
                       "description": "Rate."}
                        }
                    }]
                }
            }
        });
        assert_eq!(
            fields(&schema, 2),
            [
                "  loss       \"mse\" | \"mae\" | null",
                "  optimizer  one of the forms below, default {\"lr\":0.01,\"type\":\"sgd\"}",
                "    type = \"sgd\": SGD.",
                "      lr  number > 0, < 1: Rate.",
                "  parents    array of integer ≥ 1, at least 2 items, required: Models to merge.",
            ]
        );
    }
}
