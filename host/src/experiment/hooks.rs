//! Script functions as plugin hooks: looked up by name in the current version of the script,
//! called with JSON arguments, and their results checked.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};

use rhai::{CallFnOptions, Dynamic, Engine, Scope};
use serde_json::Value;

use super::reload::Reloader;
use super::script::describe;
use crate::plugin::CompiledSchema;
use crate::session::Hooks;

/// Hooks served by the experiment script.
pub struct ScriptHooks {
    engine: Weak<Engine>,
    reloader: Rc<Reloader>,
    /// Set while a hook runs, so that API functions called from one refuse (hooks compute
    /// values; the host applies them).
    in_hook: Rc<Cell<bool>>,
    /// What the running plugin says each hook must return (`HookInfo::returns`), compiled.
    returns: RefCell<Vec<(String, CompiledSchema)>>,
}

impl std::fmt::Debug for ScriptHooks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScriptHooks").finish_non_exhaustive()
    }
}

impl ScriptHooks {
    /// Hooks from the script `reloader` keeps current, run by `engine`.
    pub fn new(engine: Weak<Engine>, reloader: Rc<Reloader>, in_hook: Rc<Cell<bool>>) -> Self {
        Self {
            engine,
            reloader,
            in_hook,
            returns: RefCell::new(Vec::new()),
        }
    }

    /// Records what each hook of the plugin now running must return (`HookInfo::returns`, a
    /// JSON Schema). A schema that accepts anything (a plugin older than the field) or that
    /// does not compile leaves that hook's results checked only for finite numbers.
    pub fn expect(&self, returns: Vec<(String, Value)>) {
        let compiled = returns
            .into_iter()
            .filter(|(_, schema)| *schema != Value::Bool(true))
            .filter_map(|(name, schema)| match CompiledSchema::new(&schema) {
                Ok(compiled) => Some((name, compiled)),
                Err(e) => {
                    tracing::warn!(
                        "hook `{name}`: its return schema is not usable ({e}); not checked"
                    );
                    None
                }
            })
            .collect();
        *self.returns.borrow_mut() = compiled;
    }

    fn check(&self, name: &str, value: Value, at: &str) -> Result<Value, String> {
        if let Some(bad) = non_finite(&value) {
            return Err(format!(
                "hook `{name}` at {at} returned {bad}; hooks must return finite numbers"
            ));
        }
        let returns = self.returns.borrow();
        let Some((_, schema)) = returns.iter().find(|(hook, _)| hook == name) else {
            return Ok(value);
        };
        let violations = schema.violations(&value, "result");
        if !violations.is_empty() {
            return Err(format!(
                "hook `{name}` at {at} returned {} the plugin cannot use: {}",
                kind(&value),
                violations.join("; ")
            ));
        }
        Ok(value)
    }
}

impl Hooks for ScriptHooks {
    fn call(&self, name: &str, args: &Value) -> Result<Option<Value>, String> {
        self.reloader.poll();
        let script = self.reloader.current();
        let args: Vec<Value> = match args {
            Value::Array(items) => items.clone(),
            other => vec![other.clone()],
        };
        if !script.defines(name, args.len()) {
            return Ok(None);
        }
        let engine = self.engine.upgrade().ok_or("the script engine is gone")?;
        let at = script.location_of(name);
        let dynamic_args: Vec<Dynamic> = args
            .iter()
            .map(|a| rhai::serde::to_dynamic(a).unwrap_or(Dynamic::UNIT))
            .collect();
        let options = CallFnOptions::new().eval_ast(false).rewind_scope(true);
        self.in_hook.set(true);
        let result = engine.call_fn_with_options::<Dynamic>(
            options,
            &mut Scope::new(),
            &script.ast,
            name,
            dynamic_args,
        );
        self.in_hook.set(false);
        let value = result.map_err(|e| match *e {
            rhai::EvalAltResult::ErrorTooManyOperations(_) => {
                format!(
                    "hook `{name}` at {at} was stopped after too many operations (an endless loop?)"
                )
            }
            ref other => format!("hook `{name}` failed: {}", describe(other, &script.path)),
        })?;
        if let Ok(x) = value.as_float()
            && !x.is_finite()
        {
            return Err(format!(
                "hook `{name}` at {at} returned {x}; hooks must return finite numbers"
            ));
        }
        let json: Value = rhai::serde::from_dynamic(&value)
            .map_err(|e| format!("hook `{name}` at {at} returned a value that is not data: {e}"))?;
        self.check(name, json, &at).map(Some)
    }
}

fn non_finite(value: &Value) -> Option<String> {
    match value {
        Value::Number(n) if n.as_f64().is_some_and(|x| !x.is_finite()) => Some(n.to_string()),
        Value::Array(items) => items.iter().find_map(non_finite),
        Value::Object(map) => map.values().find_map(non_finite),
        _ => None,
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "nothing (unit)",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "a map",
    }
}
