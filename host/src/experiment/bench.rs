//! Measurements of the scripting layer for `coevo bench`: a hook call's cost and the delay from
//! saving a script to its new definition being active.

use std::cell::Cell;
use std::rc::Rc;
use std::time::{Duration, Instant};

use rhai::Engine;
use serde_json::json;

use super::hooks::ScriptHooks;
use super::reload::Reloader;
use super::run_dir::RunDir;
use super::script::{compile, install_modules};
use crate::session::Hooks;

const HOOK: &str = "fn fitness(metrics, ctx) { metrics.accuracy - 0.01 * ctx.generation }\n";

fn hooks(
    dir: &std::path::Path,
    watch: Option<Duration>,
) -> Result<(Rc<Engine>, ScriptHooks, Rc<Reloader>), String> {
    let script = dir.join("hooks.rhai");
    std::fs::write(&script, HOOK).map_err(|e| e.to_string())?;
    let run_dir = Rc::new(RunDir::create(&dir.join("run")).map_err(|e| e.to_string())?);
    let mut engine = Engine::new();
    let modules = install_modules(&mut engine, dir);
    let loaded = compile(&engine, &modules, &script)?;
    let engine = Rc::new(engine);
    let reloader = Rc::new(Reloader::new(
        Rc::downgrade(&engine),
        modules,
        loaded,
        watch,
        run_dir,
        Rc::new(Cell::new(0)),
    ));
    let hooks = ScriptHooks::new(
        Rc::downgrade(&engine),
        reloader.clone(),
        Rc::new(Cell::new(false)),
    );
    Ok((engine, hooks, reloader))
}

/// Median nanoseconds of one `fitness(metrics, ctx)` call with a typical metrics map, over
/// `rounds` rounds of `calls` calls (JSON in, script call, JSON out, checks).
pub fn hook_call_ns(calls: u64, rounds: usize) -> Result<f64, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_engine, hooks, _) = hooks(dir.path(), None)?;
    let args = json!([{ "loss": 0.52, "accuracy": 0.81, "samples": 5000 }, { "generation": 3, "index": 7 }]);
    let mut times: Vec<f64> = (0..rounds.max(1))
        .map(|_| {
            let started = Instant::now();
            for _ in 0..calls {
                std::hint::black_box(hooks.call("fitness", &args)).ok();
            }
            started.elapsed().as_secs_f64() * 1e9 / calls as f64
        })
        .collect();
    times.sort_by(f64::total_cmp);
    Ok(times[times.len() / 2])
}

/// Seconds from writing a new version of the script to a hook call that runs it, per round.
pub fn reload_latency(rounds: usize, debounce: Duration) -> Result<Vec<f64>, String> {
    let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let (_engine, hooks, _reloader) = hooks(dir.path(), Some(debounce))?;
    let script = dir.path().join("hooks.rhai");
    let args = json!([{ "accuracy": 0.5 }, { "generation": 0 }]);
    let mut latencies = Vec::with_capacity(rounds);
    for round in 1..=rounds {
        let text = format!("fn fitness(metrics, ctx) {{ {round}.0 }}\n");
        // Written elsewhere and renamed into place, as editors save.
        let staging = dir.path().join("staging.rhai");
        std::fs::write(&staging, text).map_err(|e| e.to_string())?;
        let started = Instant::now();
        std::fs::rename(&staging, &script).map_err(|e| e.to_string())?;
        loop {
            let value = hooks.call("fitness", &args)?.and_then(|v| v.as_f64());
            if value == Some(round as f64) {
                break;
            }
            if started.elapsed() > Duration::from_secs(10) {
                return Err("the new definition never became active".into());
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        latencies.push(started.elapsed().as_secs_f64());
    }
    Ok(latencies)
}
