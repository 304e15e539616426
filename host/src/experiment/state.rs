//! The state a run's script API works on, shared by every registered function.

use std::cell::{Cell, Ref, RefMut};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::journal::{InProgress, Journal};
use super::run_dir::RunDir;
use super::sandbox::Roots;
use super::snapshot::{self, Manifest};
use crate::plugin::{PluginHost, PluginPath, PluginRun};
use crate::session::Session;

/// A plugin started by the script and not finished yet.
#[derive(Debug)]
pub struct ActivePlugin {
    /// The journal call that started it.
    pub call: u64,
    /// Its name.
    pub name: String,
    /// Its config.
    pub config: Value,
    /// The run.
    pub run: PluginRun,
}

/// What a checkpoint keeps of an active plugin, to start it again on resume.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PluginCheckpoint {
    /// The journal call that started it.
    pub call: u64,
    /// The library file it was loaded from.
    pub path: PathBuf,
    /// Its config.
    pub config: Value,
    /// Steps done.
    pub steps: u64,
    /// Its snapshot after those steps.
    pub snapshot: Value,
}

/// Everything the API functions share.
#[derive(Debug)]
pub struct RunState {
    /// The host, shared with the active plugin's run.
    pub host: Rc<PluginHost>,
    /// The plugin the script started and has not finished.
    pub active: Option<ActivePlugin>,
    /// The run directory.
    pub run_dir: Rc<RunDir>,
    /// The journal of stateful calls.
    pub journal: Journal,
    /// Where files may be read and written.
    pub roots: Roots,
    /// `--set` values.
    pub sets: BTreeMap<String, Value>,
    /// The metrics step counter (shared with the reloader, which records it).
    pub step: Rc<Cell<u64>>,
    /// Where plugins are found.
    pub plugin_path: PluginPath,
    /// Set by Ctrl-C.
    pub cancel: Arc<AtomicBool>,
    /// Set while a hook runs.
    pub in_hook: Rc<Cell<bool>>,
    /// Number of the next checkpoint.
    pub checkpoint_sequence: u64,
    /// Hash of the script version running.
    pub script_hash: String,
    /// A plugin the checkpoint had running, started again when the replay reaches it (after
    /// the script has loaded its data).
    pub pending_plugin: Option<PluginCheckpoint>,
    /// The script's hooks, told what the running plugin expects of them.
    pub script_hooks: Option<Rc<super::hooks::ScriptHooks>>,
}

impl RunState {
    /// The host's state.
    pub fn host(&self) -> Ref<'_, Session> {
        self.host.state()
    }

    /// The host's state, to change.
    pub fn host_mut(&self) -> RefMut<'_, Session> {
        self.host.state_mut()
    }

    /// Logs metrics at the next step.
    pub fn log_metrics(&self, values: &serde_json::Map<String, Value>) -> Result<(), String> {
        let step = self.step.get();
        self.run_dir
            .log_metrics(step, values)
            .map_err(|e| e.to_string())?;
        self.step.set(step + 1);
        Ok(())
    }

    /// Writes a checkpoint; `in_progress` describes the call under way, if any.
    pub fn checkpoint(&mut self, in_progress: Option<InProgress>) -> Result<(), String> {
        let plugin = match &mut self.active {
            Some(active) => {
                let snapshot = active.run.snapshot().map_err(|e| e.to_string())?;
                Some(PluginCheckpoint {
                    call: active.call,
                    path: active.run.plugin().path.clone(),
                    config: active.config.clone(),
                    steps: active.run.steps(),
                    snapshot,
                })
            }
            None => None,
        };
        let manifest = Manifest {
            sequence: self.checkpoint_sequence,
            results: self.journal.results().to_vec(),
            in_progress,
            metric_lines: self.run_dir.metric_lines(),
            step: self.step.get(),
            next_id: 0,
            models: Vec::new(),
            optimizers: Vec::new(),
            files: BTreeMap::new(),
            plugin,
            script_hash: self.script_hash.clone(),
        };
        let dir = snapshot::write(&self.run_dir.path("checkpoints"), &self.host(), manifest)
            .map_err(|e| e.to_string())?;
        self.checkpoint_sequence += 1;
        tracing::debug!("checkpoint {}", dir.display());
        Ok(())
    }

    /// At a step boundary: if Ctrl-C was pressed, checkpoint and stop.
    pub fn stop_if_cancelled(&mut self, in_progress: Option<InProgress>) -> Result<(), String> {
        if !self.cancel.load(Ordering::SeqCst) {
            return Ok(());
        }
        self.checkpoint(in_progress)?;
        let _ = self
            .run_dir
            .event("interrupted", json!({ "step": self.step.get() }));
        Err(format!(
            "interrupted at step {}; continue with `coevo resume {}`",
            self.step.get(),
            self.run_dir.root().display()
        ))
    }
}
