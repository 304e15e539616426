//! JSON Schemas derived from Rust types: a plugin's config, and what each of its hooks returns.
//!
//! A key design decision: a schema is derived from the serde type with `schemars`, never
//! written beside it, so a default (`#[serde(default = ...)]`), a description (the `///`
//! comment) and a bound (`#[schemars(range(min = ..., max = ...))]`) each live in one place,
//! and the host checks exactly what the plugin then deserialises.

use schemars::generate::SchemaSettings;
use schemars::transform::RecursiveTransform;
use schemars::{JsonSchema, Schema};
use serde_json::{Value, json};

/// The JSON Schema of `T`, as a plugin describes its config or a hook's result.
///
/// Subschemas are written in place rather than under `$defs`, so that `coevo plugins show`
/// reads top to bottom and every bound stands next to its field; a description is its doc
/// comment with the source's line wrapping undone. The root's `title`, the Rust type's name
/// (`Array_of_Array_size_2_of_uint`), is dropped: it tells a user nothing.
pub fn of<T: JsonSchema + ?Sized>() -> Value {
    let mut schema = SchemaSettings::draft2020_12()
        .with(|s| s.inline_subschemas = true)
        .with_transform(RecursiveTransform(unwrap_description))
        .into_generator()
        .into_root_schema_for::<T>();
    schema.remove("title");
    schema.to_value()
}

/// Joins the lines of a description that a doc comment wrapped; blank lines stay paragraphs.
fn unwrap_description(schema: &mut Schema) {
    let Some(text) = schema.get("description").and_then(Value::as_str) else {
        return;
    };
    let paragraphs: Vec<String> = text
        .split("\n\n")
        .map(|p| p.split('\n').map(str::trim).collect::<Vec<_>>().join(" "))
        .collect();
    schema.insert("description".into(), paragraphs.join("\n\n").into());
}

/// An interval a number must lie in, stated once for both the derived schema
/// (`#[schemars(transform = INTERVAL.in_schema())]`) and the checks of values that reach the host without
/// passing a schema (a `coevo train` config, a plugin's training call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Interval {
    /// The lower end (`-∞` for none).
    pub min: f64,
    /// Whether the lower end itself is outside.
    pub min_open: bool,
    /// The upper end (`∞` for none).
    pub max: f64,
    /// Whether the upper end itself is outside.
    pub max_open: bool,
}

impl Interval {
    /// `(0, ∞)`.
    pub const POSITIVE: Self = Self {
        min: 0.0,
        min_open: true,
        max: f64::INFINITY,
        max_open: true,
    };
    /// `[0, ∞)`.
    pub const NON_NEGATIVE: Self = Self {
        min: 0.0,
        min_open: false,
        max: f64::INFINITY,
        max_open: true,
    };
    /// `[0, 1)`: a decay or momentum that still forgets.
    pub const FRACTION_BELOW_ONE: Self = Self {
        min: 0.0,
        min_open: false,
        max: 1.0,
        max_open: true,
    };

    /// Whether `x` lies inside (never for NaN).
    pub fn contains(&self, x: f64) -> bool {
        let above = if self.min_open {
            x > self.min
        } else {
            x >= self.min
        };
        let below = if self.max_open {
            x < self.max
        } else {
            x <= self.max
        };
        above && below
    }

    /// `Ok` inside, else `field: x is not in [a, b)`.
    pub fn check(&self, field: &str, x: f64) -> Result<(), String> {
        if self.contains(x) {
            Ok(())
        } else {
            Err(format!("{field}: {x} is not in {self}"))
        }
    }
}

impl std::fmt::Display for Interval {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let open = if self.min_open { '(' } else { '[' };
        let close = if self.max_open { ')' } else { ']' };
        let end = |x: f64| {
            if x.is_infinite() {
                if x > 0.0 { "∞".into() } else { "-∞".into() }
            } else {
                x.to_string()
            }
        };
        write!(f, "{open}{}, {}{close}", end(self.min), end(self.max))
    }
}

impl Interval {
    /// The transform that writes the interval into a field's schema:
    /// `#[schemars(transform = LR.in_schema())]`.
    pub fn in_schema(self) -> impl FnMut(&mut Schema) {
        move |schema: &mut Schema| {
            let mut bound = |open: bool, x: f64, inclusive: &str, exclusive: &str| {
                if x.is_finite() {
                    schema.insert((if open { exclusive } else { inclusive }).into(), json!(x));
                }
            };
            bound(self.min_open, self.min, "minimum", "exclusiveMinimum");
            bound(self.max_open, self.max, "maximum", "exclusiveMaximum");
        }
    }
}

#[cfg(test)]
mod tests {
    use schemars::JsonSchema;
    use serde::Deserialize;

    use super::*;

    /// A config as a plugin writes it.
    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Config {
        /// Individuals per generation.
        #[serde(default = "four")]
        #[schemars(range(min = 2, max = 100))]
        population: usize,
        /// Momentum of the updates, which a long comment wraps
        /// over two lines.
        #[schemars(transform = Interval::FRACTION_BELOW_ONE.in_schema())]
        momentum: f64,
    }

    fn four() -> usize {
        4
    }

    #[test]
    fn defaults_descriptions_and_bounds_come_from_the_type() {
        let schema = of::<Config>();
        let population = &schema["properties"]["population"];
        assert_eq!(population["default"], 4);
        assert_eq!(population["description"], "Individuals per generation.");
        assert_eq!(
            schema["properties"]["momentum"]["description"],
            "Momentum of the updates, which a long comment wraps over two lines."
        );
        assert_eq!(
            (&population["minimum"], &population["maximum"]),
            (&json!(2), &json!(100))
        );
        let momentum = &schema["properties"]["momentum"];
        assert_eq!(momentum["minimum"], 0.0);
        assert_eq!(momentum["exclusiveMaximum"], 1.0);
        assert_eq!(schema["additionalProperties"], false);
        assert_eq!(schema["required"], json!(["momentum"]));
        assert!(schema.get("title").is_none());
    }

    #[test]
    fn intervals_check_what_their_schema_says() {
        let unit = Interval::FRACTION_BELOW_ONE;
        assert!(unit.contains(0.0) && unit.contains(0.9) && !unit.contains(1.0));
        assert!(!Interval::POSITIVE.contains(0.0) && !Interval::POSITIVE.contains(f64::NAN));
        assert_eq!(
            unit.check("optimizer.momentum", 1.0),
            Err("optimizer.momentum: 1 is not in [0, 1)".into())
        );
        assert_eq!(Interval::POSITIVE.to_string(), "(0, ∞)");
    }
}
