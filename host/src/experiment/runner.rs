//! Running an experiment script, and resuming one.

use std::cell::{Cell, RefCell};
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use rhai::{Dynamic, Engine, Scope};
use serde_json::{Value, json};

use super::api;
use super::hooks::ScriptHooks;
use super::journal::Journal;
use super::options::RunOptions;
use super::reload::Reloader;
use super::run_dir::RunDir;
use super::sandbox::Roots;
use super::script::{compile, describe, install_modules};
use super::snapshot::{self, Manifest};
use super::state::RunState;
use crate::executor::{Executor, RayExecutor, RayOptions};
use crate::plugin::{PluginHost, PluginPath};
use crate::session::{Hooks, NoHooks, Session};

/// Why an experiment could not run to its end.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExperimentError {
    /// The run directory.
    #[error(transparent)]
    RunDir(#[from] super::run_dir::RunDirError),
    /// No checkpoint to resume from.
    #[error(transparent)]
    Snapshot(#[from] snapshot::SnapshotError),
    /// The device.
    #[error(transparent)]
    Device(#[from] crate::device::DeviceError),
    /// The executor the run asked for could not start.
    #[error(transparent)]
    Executor(#[from] crate::executor::ExecutorError),
    /// The script failed (`file:line:col: message` and the call stack); the run directory
    /// holds everything up to the last checkpoint.
    #[error(
        "{message}\nthe run directory {run_dir} is consistent; `coevo resume` continues from its last checkpoint"
    )]
    Script {
        /// What the script did wrong.
        message: String,
        /// The run directory.
        run_dir: PathBuf,
    },
}

/// How a run ended.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outcome {
    /// The run directory.
    pub run_dir: PathBuf,
    /// The Markdown report.
    pub report: PathBuf,
    /// The script's last value.
    pub results: Value,
    /// Hot reloads that took effect.
    pub reloads: usize,
}

/// Runs `options.script` into a new run directory.
pub fn run(options: RunOptions, cancel: Arc<AtomicBool>) -> Result<Outcome, ExperimentError> {
    let run_dir = Rc::new(RunDir::create(&options.out)?);
    run_dir.write_json(
        "config.json",
        &serde_json::to_value(&options).unwrap_or(Value::Null),
    )?;
    std::fs::write(run_dir.path("seed"), format!("{}\n", options.seed)).map_err(|e| {
        super::run_dir::RunDirError {
            path: run_dir.path("seed"),
            message: e.to_string(),
        }
    })?;
    execute(run_dir, options, None, cancel)
}

/// Continues the run in `dir` from its newest good checkpoint (from the start if it has none),
/// on the Ray cluster at `ray` when given (else where the run was: its recorded address).
pub fn resume(
    dir: &Path,
    watch: bool,
    ray: Option<String>,
    cancel: Arc<AtomicBool>,
) -> Result<Outcome, ExperimentError> {
    let run_dir = Rc::new(RunDir::open(dir)?);
    let mut options: RunOptions = serde_json::from_value(run_dir.read_json("config.json")?)
        .map_err(|e| super::run_dir::RunDirError {
            path: run_dir.path("config.json"),
            message: e.to_string(),
        })?;
    options.watch = watch;
    if ray.is_some() {
        options.ray = ray;
    }
    let checkpoint = match snapshot::latest(&run_dir.path("checkpoints")) {
        Ok((path, manifest, rejected)) => {
            for reason in rejected {
                tracing::warn!("skipped a damaged checkpoint: {reason}");
                run_dir.event("checkpoint_rejected", json!({ "reason": reason }))?;
            }
            tracing::info!("resuming from {}", path.display());
            Some((path, manifest))
        }
        Err(e) => {
            tracing::warn!("{e}; starting the run again from the beginning");
            None
        }
    };
    run_dir.event(
        "resume",
        json!({ "checkpoint": checkpoint.as_ref().map(|c| c.0.clone()) }),
    )?;
    execute(run_dir, options, checkpoint, cancel)
}

fn execute(
    run_dir: Rc<RunDir>,
    options: RunOptions,
    checkpoint: Option<(PathBuf, Manifest)>,
    cancel: Arc<AtomicBool>,
) -> Result<Outcome, ExperimentError> {
    let device = options.device.to_burn()?;
    let mut host_state = Session::without_data(device.clone(), options.seed);
    host_state.set_cancel_flag(cancel.clone());
    if let Some(address) = &options.ray {
        let executor = RayExecutor::start(RayOptions::new(address, options.device)?)?;
        let described = executor.describe();
        tracing::info!("executor: {described}");
        run_dir.event("executor", json!({ "executor": described }))?;
        host_state.set_executor(Box::new(executor));
    }
    let step = Rc::new(Cell::new(0));
    let mut journal = Journal::default();
    let mut sequence = 0;
    if let Some((dir, manifest)) = &checkpoint {
        snapshot::restore(dir, manifest, &mut host_state, &device)?;
        run_dir.truncate_metrics(manifest.metric_lines)?;
        journal = Journal::resumed(manifest.results.clone(), manifest.in_progress.clone());
        step.set(manifest.step);
        sequence = manifest.sequence + 1;
    } else {
        run_dir.truncate_metrics(0)?;
    }
    {
        let (run_dir, step) = (run_dir.clone(), step.clone());
        host_state.on_metrics(move |record| {
            let mut values = serde_json::Map::new();
            values.insert("plugin_step".into(), json!(record.step));
            if let Value::Object(fields) = &record.values {
                values.extend(fields.clone());
            }
            if run_dir.log_metrics(step.get(), &values).is_ok() {
                step.set(step.get() + 1);
            }
        });
    }
    let host = Rc::new(PluginHost::new(host_state));

    let script_path = options.script.clone();
    // One engine compiles and runs the script, and compiles its reloads.
    let mut engine = script_engine(&options);
    let folder = script_path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let modules = install_modules(&mut engine, folder);
    let script =
        compile(&engine, &modules, &script_path).map_err(|message| ExperimentError::Script {
            message,
            run_dir: run_dir.root().to_path_buf(),
        })?;
    run_dir.keep_script(&script.text)?;
    for text in &script.module_texts {
        run_dir.keep_script(text)?;
    }
    if let Some((_, manifest)) = &checkpoint
        && manifest.script_hash != script.hash
    {
        tracing::warn!(
            "the script changed since the checkpoint; the replay may diverge from the original run"
        );
    }
    let ast = script.ast.clone();
    let script_hash = script.hash.clone();
    let debounce = options.watch.then_some(Duration::from_millis(100));
    let in_hook = Rc::new(Cell::new(false));
    let mut roots_list = options.data_roots.clone();
    roots_list.push(PathBuf::from("data"));
    let state = Rc::new(RefCell::new(RunState {
        host: host.clone(),
        active: None,
        run_dir: run_dir.clone(),
        journal,
        roots: Roots::new(run_dir.root(), &roots_list),
        sets: options.sets.clone(),
        step: step.clone(),
        plugin_path: PluginPath::new(&options.plugin_dirs),
        cancel,
        in_hook: in_hook.clone(),
        checkpoint_sequence: sequence,
        script_hash,
        script_hooks: None,
        pending_plugin: None,
    }));
    api::register(&mut engine, &state);
    let engine = Rc::new(engine);
    let reloader = Rc::new(Reloader::new(
        Rc::downgrade(&engine),
        modules,
        script,
        debounce,
        run_dir.clone(),
        step.clone(),
    ));
    let hooks = Rc::new(ScriptHooks::new(
        Rc::downgrade(&engine),
        reloader.clone(),
        in_hook,
    ));
    host.state_mut()
        .set_hooks(Box::new(SharedHooks(hooks.clone())));
    state.borrow_mut().script_hooks = Some(hooks);
    state.borrow_mut().pending_plugin = checkpoint.as_ref().and_then(|(_, m)| m.plugin.clone());

    let result = engine.eval_ast_with_scope::<Dynamic>(&mut Scope::new(), &ast);
    // Break the cycle engine → API closures → state → host → hooks → engine.
    host.state_mut().set_hooks(Box::new(NoHooks));
    let reloads = run_dir
        .events()
        .iter()
        .filter(|e| e["kind"] == "reload")
        .count();
    match result {
        Ok(value) => {
            let results: Value = rhai::serde::from_dynamic(&value).unwrap_or(Value::Null);
            // A completed run keeps a final checkpoint: resuming it replays to the same end.
            state
                .borrow_mut()
                .checkpoint(None)
                .map_err(|message| ExperimentError::Script {
                    message,
                    run_dir: run_dir.root().to_path_buf(),
                })?;
            run_dir.write_json(
                "summary.json",
                &json!({ "status": "completed", "results": results, "steps": step.get() }),
            )?;
            run_dir.event("finished", json!({ "step": step.get() }))?;
            let report =
                super::report::write(&run_dir).map_err(|message| ExperimentError::Script {
                    message,
                    run_dir: run_dir.root().to_path_buf(),
                })?;
            Ok(Outcome {
                run_dir: run_dir.root().to_path_buf(),
                report,
                results,
                reloads,
            })
        }
        Err(error) => {
            let message = describe(&error, &script_path);
            run_dir.write_json(
                "summary.json",
                &json!({ "status": "failed", "error": message, "steps": step.get() }),
            )?;
            run_dir.event("error", json!({ "message": message, "step": step.get() }))?;
            let _ = run_dir.write_csv();
            Err(ExperimentError::Script {
                message,
                run_dir: run_dir.root().to_path_buf(),
            })
        }
    }
}

/// An engine with the standard language and the run's limits (no file, process or network
/// functions exist in Rhai's standard packages).
fn script_engine(options: &RunOptions) -> Engine {
    let mut engine = Engine::new();
    let limits = options.limits;
    engine
        .set_max_operations(limits.max_operations)
        .set_max_call_levels(limits.max_call_levels)
        .set_max_string_size(limits.max_string_size)
        .set_max_array_size(limits.max_array_size)
        .set_max_map_size(limits.max_map_size)
        .set_max_expr_depths(128, 64);
    engine.on_print(|text| tracing::info!("{text}"));
    engine.on_debug(|text, source, pos| {
        tracing::debug!("{}:{pos}: {text}", source.unwrap_or("script"))
    });
    engine
}

/// The hooks as the host holds them.
struct SharedHooks(Rc<ScriptHooks>);

impl Hooks for SharedHooks {
    fn call(&self, name: &str, args: &Value) -> Result<Option<Value>, String> {
        self.0.call(name, args)
    }
}
