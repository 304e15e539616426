//! Plugins from scripts: run to completion, or started and stepped by the script.

use std::rc::Rc;

use rhai::{Dynamic, Engine, Map};
use serde_json::{Value, json};

use super::{Rr, Shared, from_dynamic, journaled};
use crate::experiment::state::{ActivePlugin, RunState};
use crate::plugin::{PluginRun, load};

pub fn register(engine: &mut Engine, state: &Shared) {
    let s = state.clone();
    engine.register_fn(
        "run_plugin",
        move |name: &str, config: Map| -> Rr<Dynamic> {
            let config: Value = from_dynamic(&Dynamic::from_map(config), "plugin config")?;
            journaled(&s, "run_plugin", |st, call, _| {
                run_to_end(st, call, name, config)
            })
        },
    );
    let s = state.clone();
    engine.register_fn(
        "start_plugin",
        move |name: &str, config: Map| -> Rr<Dynamic> {
            let config: Value = from_dynamic(&Dynamic::from_map(config), "plugin config")?;
            journaled(&s, "start_plugin", |st, call, _| {
                start(st, call, name, config).map(|()| Value::Null)
            })
        },
    );
    let s = state.clone();
    engine.register_fn("step_plugin", move || -> Rr<Dynamic> {
        journaled(&s, "step_plugin", |st, _, _| step(st))
    });
}

/// Starts again the plugin a checkpoint had running, once the replay has reached the live
/// part of the script (which has loaded its data by then).
fn restart_pending(st: &mut RunState) -> Result<(), String> {
    let Some(saved) = st.pending_plugin.take() else {
        return Ok(());
    };
    let plugin = load(&saved.path).map_err(|e| e.to_string())?;
    let name = plugin.name();
    let returns = plugin
        .plugin
        .hooks()
        .into_iter()
        .map(|h| (h.name, h.returns))
        .collect();
    if let Some(hooks) = &st.script_hooks {
        hooks.expect(returns);
    }
    let run = PluginRun::resume(
        plugin,
        saved.config.clone(),
        Rc::clone(&st.host),
        &saved.snapshot,
        saved.steps,
    )
    .map_err(|e| e.to_string())?;
    st.active = Some(ActivePlugin {
        call: saved.call,
        name,
        config: saved.config,
        run,
    });
    Ok(())
}

fn start(st: &mut RunState, call: u64, name: &str, config: Value) -> Result<(), String> {
    if let Some(active) = &st.active {
        return Err(format!(
            "plugin `{}` is still running; step it to the end first",
            active.name
        ));
    }
    let plugin = st.plugin_path.find(name).map_err(|e| e.to_string())?;
    let returns = plugin
        .plugin
        .hooks()
        .into_iter()
        .map(|h| (h.name, h.returns))
        .collect();
    if let Some(hooks) = &st.script_hooks {
        hooks.expect(returns);
    }
    let run =
        PluginRun::start(plugin, config.clone(), Rc::clone(&st.host)).map_err(|e| e.to_string())?;
    st.active = Some(ActivePlugin {
        call,
        name: name.to_string(),
        config,
        run,
    });
    Ok(())
}

/// One step of the active plugin, with a checkpoint after it.
fn step(st: &mut RunState) -> Result<Value, String> {
    restart_pending(st)?;
    let active = st
        .active
        .as_mut()
        .ok_or("no plugin is running: call start_plugin first")?;
    let report = active.run.step().map_err(|e| e.to_string())?;
    if report.done {
        st.active = None;
    }
    st.checkpoint(None)?;
    st.stop_if_cancelled(None)?;
    serde_json::to_value(&report).map_err(|e| e.to_string())
}

/// Runs a plugin until it is done; a resumed run continues the plugin its checkpoint holds.
fn run_to_end(st: &mut RunState, call: u64, name: &str, config: Value) -> Result<Value, String> {
    restart_pending(st)?;
    let resumed = st.active.as_ref().is_some_and(|a| a.call == call);
    if !resumed {
        start(st, call, name, config)?;
    }
    loop {
        let report = step(st)?;
        if report["done"] == json!(true) {
            return Ok(report.get("result").cloned().unwrap_or(Value::Null));
        }
    }
}
