//! The script API: the functions an experiment script calls, registered on the Rhai engine.
//!
//! Every function that touches the host's state goes through [`journaled`], which numbers the
//! call, answers it from the journal while a resumed run replays, and records its result
//! otherwise. Such functions refuse to run inside a hook: hooks compute values, the host
//! applies them. Values cross as JSON (Rhai maps and arrays ⇄ serde types).

mod baselines;
mod data;
mod figures;
mod logging;
mod models;
mod plugins;
mod training;

use std::cell::{RefCell, RefMut};
use std::rc::Rc;

use rhai::{Dynamic, Engine, EvalAltResult, Position};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::journal::{Entry, InProgress};
use super::state::RunState;

/// The state every registered function shares.
pub type Shared = Rc<RefCell<RunState>>;

/// What registered functions return.
pub type Rr<T> = Result<T, Box<EvalAltResult>>;

/// Registers the whole API on `engine`.
pub fn register(engine: &mut Engine, state: &Shared) {
    baselines::register(engine, state);
    data::register(engine, state);
    models::register(engine, state);
    training::register(engine, state);
    plugins::register(engine, state);
    logging::register(engine, state);
    figures::register(engine, state);
}

/// A script-level error at the caller's position (Rhai adds it).
pub fn fail(message: impl Into<String>) -> Box<EvalAltResult> {
    EvalAltResult::ErrorRuntime(Dynamic::from(message.into()), Position::NONE).into()
}

/// The state, unless a hook is running.
fn borrow<'a>(state: &'a Shared, function: &str) -> Rr<RefMut<'a, RunState>> {
    let st = state.try_borrow_mut().map_err(|_| fail(format!("`{function}` cannot be called from a hook: hooks compute values and the host applies them")))?;
    if st.in_hook.get() {
        return Err(fail(format!(
            "`{function}` cannot be called from a hook: hooks compute values and the host applies them"
        )));
    }
    Ok(st)
}

/// Runs a stateful call through the journal.
pub fn journaled(
    state: &Shared,
    function: &str,
    live: impl FnOnce(&mut RunState, u64, Option<InProgress>) -> Result<Value, String>,
) -> Rr<Dynamic> {
    let mut st = borrow(state, function)?;
    let value = match st.journal.next() {
        Entry::Replay(value) => value,
        Entry::Live(call, in_progress) => {
            let value = live(&mut st, call, in_progress).map_err(fail)?;
            st.journal.record(value.clone());
            value
        }
    };
    to_dynamic(&value)
}

/// A pure call: runs whether or not the run is replaying.
pub fn pure<T>(
    state: &Shared,
    function: &str,
    f: impl FnOnce(&mut RunState) -> Result<T, String>,
) -> Rr<T> {
    let mut st = borrow(state, function)?;
    f(&mut st).map_err(fail)
}

/// A Rhai value as a serde type, with the field at fault in the error.
pub fn from_dynamic<T: DeserializeOwned>(value: &Dynamic, what: &str) -> Rr<T> {
    let json: Value = rhai::serde::from_dynamic(value).map_err(|e| fail(format!("{what}: {e}")))?;
    serde_json::from_value(json).map_err(|e| fail(format!("{what}: {e}")))
}

/// A serde value as a Rhai value.
pub fn to_dynamic(value: &impl Serialize) -> Rr<Dynamic> {
    rhai::serde::to_dynamic(value).map_err(|e| fail(e.to_string()))
}

/// Model ids from a Rhai value: one id, or an array of them.
pub fn ids(value: &Dynamic) -> Rr<Vec<u64>> {
    if let Ok(id) = value.as_int() {
        return Ok(vec![id as u64]);
    }
    from_dynamic::<Vec<u64>>(value, "model ids")
}
