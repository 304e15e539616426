//! Validation of plugin configs (and of hook results) against the plugin's JSON Schemas.
//!
//! The `jsonschema` crate does the validating, every keyword of the schema's draft included;
//! this module only words its errors the way coevo reports a bad config: every violation, not
//! just the first, each as `config.path.to.field: what is wrong`, so a user fixes a config in
//! one go. Only references inside the schema resolve: the host never fetches a schema.

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::paths::Location;
use jsonschema::{ValidationError, Validator};
use serde_json::Value;

/// A schema that does not compile (not a schema, or a reference that does not resolve).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct InvalidSchema(String);

/// A schema compiled once, checked against many values.
#[derive(Debug)]
pub struct CompiledSchema {
    validator: Validator,
    /// The schema itself, to name the known fields beside an unknown one.
    schema: Value,
}

/// Every violation of `schema` by a config, as `config.path: what is wrong` (empty when
/// valid). A plugin that declares no schema (`null`) accepts every config.
pub fn validate(schema: &Value, config: &Value) -> Result<Vec<String>, InvalidSchema> {
    if schema.is_null() {
        return Ok(Vec::new());
    }
    Ok(CompiledSchema::new(schema)?.violations(config, "config"))
}

impl CompiledSchema {
    /// Compiles `schema`. Formats (`uint`, `double`, …) are annotations, as the 2020-12 draft
    /// has them by default: a derived schema names Rust's number types there.
    pub fn new(schema: &Value) -> Result<Self, InvalidSchema> {
        let validator = jsonschema::options()
            .should_validate_formats(false)
            .build(schema)
            .map_err(|e| InvalidSchema(e.to_string()))?;
        Ok(Self {
            validator,
            schema: schema.clone(),
        })
    }

    /// Every violation by `value`, each as `root.path: what is wrong`.
    pub fn violations(&self, value: &Value, root: &str) -> Vec<String> {
        let mut lines = Vec::new();
        for error in self.validator.iter_errors(value) {
            self.describe(&error, &Wording { root, value }, &mut lines);
        }
        lines
    }

    fn describe(&self, error: &ValidationError<'_>, at: &Wording<'_>, lines: &mut Vec<String>) {
        let path = at.path(error.instance_path());
        let found = error.instance().as_ref();
        let what = match error.kind() {
            ValidationErrorKind::Type { kind } => {
                format!("expected {}, found {}", type_names(kind), describe(found))
            }
            ValidationErrorKind::Enum { options } => {
                let options = options.as_array().map_or(&[][..], Vec::as_slice);
                format!("{found} is not one of {}", list(options.iter()))
            }
            ValidationErrorKind::Constant { expected_value } => {
                format!("must be {expected_value}, found {found}")
            }
            ValidationErrorKind::Minimum { limit } => {
                format!("{} is below the minimum {}", number(found), number(limit))
            }
            ValidationErrorKind::Maximum { limit } => {
                format!("{} is above the maximum {}", number(found), number(limit))
            }
            ValidationErrorKind::ExclusiveMinimum { limit } => {
                format!("{} must be greater than {}", number(found), number(limit))
            }
            ValidationErrorKind::ExclusiveMaximum { limit } => {
                format!("{} must be less than {}", number(found), number(limit))
            }
            ValidationErrorKind::MinItems { limit } => {
                format!("{} items, at least {limit} needed", count(found))
            }
            ValidationErrorKind::MaxItems { limit } => {
                format!("{} items, at most {limit} allowed", count(found))
            }
            ValidationErrorKind::MinLength { limit } => {
                format!("{} characters, at least {limit} needed", count(found))
            }
            ValidationErrorKind::MaxLength { limit } => {
                format!("{} characters, at most {limit} allowed", count(found))
            }
            ValidationErrorKind::Required { property } => {
                let name = property
                    .as_str()
                    .map_or_else(|| property.to_string(), str::to_owned);
                lines.push(format!("{path}.{name}: required but missing"));
                return;
            }
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let known = self.known_fields(error.schema_path());
                for name in unexpected {
                    lines.push(format!(
                        "{path}.{name}: unknown field; known fields: {known}"
                    ));
                }
                return;
            }
            ValidationErrorKind::AnyOf { context }
            | ValidationErrorKind::OneOfNotValid { context } => {
                self.alternatives(error.instance_path(), context, at, lines);
                return;
            }
            ValidationErrorKind::OneOfMultipleValid { .. } => {
                "matches more than one of the allowed forms".to_string()
            }
            // The rest (patterns, formats, `not`, …) in the validator's own words.
            _ => error.to_string(),
        };
        lines.push(format!("{path}: {what}"));
    }

    /// The properties of the object schema whose `additionalProperties` the error is from.
    fn known_fields(&self, keyword: &Location) -> String {
        let object = keyword
            .as_str()
            .strip_suffix("/additionalProperties")
            .and_then(|pointer| self.schema.pointer(pointer));
        let mut names: Vec<&str> = object
            .and_then(|o| o.get("properties"))
            .and_then(Value::as_object)
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        names.sort_unstable();
        names.join(", ")
    }

    /// A value that fits none of `anyOf`/`oneOf`'s alternatives. The alternatives the value
    /// has the shape of (its type, its tag) are the ones the user meant, so the errors of the
    /// closest of them are reported; when it has the shape of none, what shapes there are.
    fn alternatives(
        &self,
        place: &Location,
        context: &[Vec<ValidationError<'static>>],
        at: &Wording<'_>,
        lines: &mut Vec<String>,
    ) {
        let shape: Vec<Vec<&ValidationError<'static>>> = context
            .iter()
            .map(|errors| errors.iter().filter(|e| rejects_shape(e, place)).collect())
            .collect();
        let fitting = context
            .iter()
            .zip(&shape)
            .filter(|(_, shape)| shape.is_empty())
            .map(|(errors, _)| errors)
            .min_by_key(|errors| errors.len());
        let rejections: Vec<&ValidationError<'static>> = shape.into_iter().flatten().collect();
        let one_place = rejections
            .windows(2)
            .all(|w| w[0].instance_path() == w[1].instance_path());
        let closest = fitting.or_else(|| {
            (!one_place)
                .then(|| context.iter().min_by_key(|errors| errors.len()))
                .flatten()
        });
        if let Some(errors) = closest {
            for error in errors {
                self.describe(error, at, lines);
            }
            return;
        }
        // Every alternative rejects the value's shape at one place (the value, or its tag):
        // one line says what the alternatives expect there.
        let Some(first) = rejections.first() else {
            return;
        };
        let found = first.instance().as_ref();
        let mut types = Vec::new();
        let mut values = Vec::new();
        for e in &rejections {
            match e.kind() {
                ValidationErrorKind::Type { kind } => types.push(type_names(kind)),
                ValidationErrorKind::Constant { expected_value } => {
                    values.push(expected_value.as_ref().clone());
                }
                ValidationErrorKind::Enum { options } => {
                    values.extend(options.as_array().into_iter().flatten().cloned());
                }
                _ => {}
            }
        }
        types.dedup();
        let what = match (types.is_empty(), values.is_empty()) {
            (false, true) => format!("expected {}, found {}", types.join(" or "), describe(found)),
            (true, _) => format!("{found} is not one of {}", list(values.iter())),
            (false, false) => format!(
                "expected {} or one of {}, found {}",
                types.join(" or "),
                list(values.iter()),
                describe(found)
            ),
        };
        lines.push(format!("{}: {what}", at.path(first.instance_path())));
    }
}

/// Whether `error` says the value at `place` is not of this alternative's shape: a wrong type
/// or value there, or a wrong tag (a `const` property, as serde's tagged enums have) in it.
fn rejects_shape(error: &ValidationError<'_>, place: &Location) -> bool {
    let at = error.instance_path();
    match error.kind() {
        ValidationErrorKind::Type { .. } | ValidationErrorKind::Enum { .. } => at == place,
        ValidationErrorKind::Constant { .. } => {
            at == place
                || at
                    .as_str()
                    .rsplit_once('/')
                    .is_some_and(|(up, _)| up == place.as_str())
        }
        _ => false,
    }
}

/// How paths are written: from `root`, through the value that was checked.
struct Wording<'a> {
    root: &'a str,
    value: &'a Value,
}

impl Wording<'_> {
    /// `root.a.b[2]` for the JSON pointer `/a/b/2`: an index where the value has an array, so
    /// an object's key that looks like a number still reads as a field.
    fn path(&self, pointer: &Location) -> String {
        let mut path = self.root.to_string();
        let mut node = Some(self.value);
        for segment in pointer.segments() {
            let segment = segment.to_string();
            match node {
                Some(Value::Array(items)) if segment.parse::<usize>().is_ok() => {
                    node = segment.parse::<usize>().ok().and_then(|i| items.get(i));
                    path.push_str(&format!("[{segment}]"));
                }
                _ => {
                    node = node.and_then(|n| n.get(&segment));
                    path.push('.');
                    path.push_str(&segment);
                }
            }
        }
        path
    }
}

fn type_names(kind: &TypeKind) -> String {
    match kind {
        TypeKind::Single(t) => t.to_string(),
        TypeKind::Multiple(set) => set
            .iter()
            .map(|t| t.to_string())
            .collect::<Vec<_>>()
            .join(" or "),
    }
}

fn list<'a>(values: impl Iterator<Item = &'a Value>) -> String {
    values.map(Value::to_string).collect::<Vec<_>>().join(", ")
}

/// A number as a bound reads (`0`, not `0.0`).
fn number(value: &Value) -> String {
    value
        .as_f64()
        .map_or_else(|| value.to_string(), |x| x.to_string())
}

fn count(value: &Value) -> usize {
    match value {
        Value::Array(items) => items.len(),
        Value::String(s) => s.chars().count(),
        _ => 0,
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn errors(schema: &Value, value: Value) -> Vec<String> {
        validate(schema, &value).expect("a valid schema")
    }

    fn assert_same(found: Vec<String>, expected: &[&str]) {
        for e in expected {
            assert!(found.iter().any(|x| x == e), "missing {e:?} in {found:#?}");
        }
        assert_eq!(found.len(), expected.len(), "{found:#?}");
    }

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
        let found = errors(
            &schema,
            json!({"sigma": 0, "mode": "row", "layers": [1, "x", 3], "sigmaa": 1}),
        );
        assert_same(
            found,
            &[
                "config.population: required but missing",
                "config.sigma: 0 must be greater than 0",
                "config.mode: \"row\" is not one of \"element\", \"tensor\"",
                "config.layers: 3 items, at most 2 allowed",
                "config.layers[1]: expected integer, found the string \"x\"",
                "config.sigmaa: unknown field; known fields: layers, mode, population, sigma",
            ],
        );
        assert!(errors(&schema, json!({"population": 4, "sigma": 0.1})).is_empty());
        assert_eq!(
            errors(&schema, json!([1])),
            ["config: expected object, found an array"]
        );
    }

    /// `{"type": "sgd", ...}` or `{"type": "adam", ...}`, as schemars derives serde's
    /// internally tagged enums, optional.
    fn tagged() -> Value {
        let variant = |tag: &str, field: &str| {
            json!({
                "type": "object",
                "additionalProperties": false,
                "required": ["type", "lr"],
                "properties": {
                    "type": {"type": "string", "const": tag},
                    "lr": {"type": "number", "exclusiveMinimum": 0},
                    field: {"type": "number", "minimum": 0, "exclusiveMaximum": 1}
                }
            })
        };
        json!({
            "type": "object",
            "properties": {
                "optimizer": {"oneOf": [variant("sgd", "momentum"), variant("adam", "beta1")]},
                "loss": {"anyOf": [{"oneOf": [{"const": "mse"}, {"const": "mae"}]}, {"type": "null"}]},
                "counts": {"type": "object", "additionalProperties": {"type": "integer"}}
            }
        })
    }

    #[test]
    fn a_tagged_alternative_is_checked_field_by_field() {
        let schema = tagged();
        assert_same(
            errors(
                &schema,
                json!({"optimizer": {"type": "sgd", "lr": 0, "momentun": 0.9}}),
            ),
            &[
                "config.optimizer.lr: 0 must be greater than 0",
                "config.optimizer.momentun: unknown field; known fields: lr, momentum, type",
            ],
        );
        assert_same(
            errors(
                &schema,
                json!({"optimizer": {"type": "adam", "lr": 0.1, "beta1": 1}}),
            ),
            &["config.optimizer.beta1: 1 must be less than 1"],
        );
        assert_same(
            errors(&schema, json!({"optimizer": {"type": "sgdd", "lr": 0.1}})),
            &["config.optimizer.type: \"sgdd\" is not one of \"sgd\", \"adam\""],
        );
        assert_same(
            errors(&schema, json!({"optimizer": 5})),
            &["config.optimizer: expected object, found the number 5"],
        );
    }

    #[test]
    fn an_optional_choice_names_its_choices() {
        let schema = tagged();
        assert!(errors(&schema, json!({"loss": null})).is_empty());
        assert_same(
            errors(&schema, json!({"loss": "msee"})),
            &["config.loss: \"msee\" is not one of \"mse\", \"mae\""],
        );
    }

    #[test]
    fn keys_that_look_like_indices_stay_fields() {
        assert_same(
            errors(&tagged(), json!({"counts": {"2": "x"}})),
            &["config.counts.2: expected integer, found the string \"x\""],
        );
    }

    #[test]
    fn references_inside_the_schema_resolve_and_others_are_refused() {
        let schema = json!({
            "$defs": {"Rate": {"type": "number", "maximum": 1}},
            "type": "object",
            "properties": {"rates": {"type": "array", "items": {"$ref": "#/$defs/Rate"}}}
        });
        assert_same(
            errors(&schema, json!({"rates": [0.5, 2]})),
            &["config.rates[1]: 2 is above the maximum 1"],
        );
        let remote = json!({"$ref": "https://example.com/schema.json"});
        assert!(validate(&remote, &json!({})).is_err());
        assert!(validate(&json!({"type": 5}), &json!({})).is_err());
        assert!(
            validate(&Value::Null, &json!({"anything": 1}))
                .unwrap()
                .is_empty()
        );
    }
}
