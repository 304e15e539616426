//! [`PluginRun`]: one plugin instance driven step by step, swappable for a rebuilt library.

use std::rc::Rc;
use std::time::Instant;

use coevo_sdk::StepReport;
use coevo_sdk::client::PluginInstance;
use serde::Serialize;
use serde_json::Value;

use super::error::PluginError;
use super::library::LoadedPlugin;
use super::schema;
use super::table::PluginHost;

/// One hot swap: which library replaced which, at what step, and how long it took.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Swap {
    /// Steps completed when the new library took over.
    pub step: u64,
    /// SHA-256 of the old library.
    pub from: String,
    /// SHA-256 of the new library.
    pub to: String,
    /// Seconds from the start of the swap to the new instance restored.
    pub seconds: f64,
}

/// A plugin instance with its host, stepped until done.
///
/// The host is shared (a script keeps using it between plugin runs); field order drops the
/// instance before this run's reference to the host table it points to.
#[derive(Debug)]
pub struct PluginRun {
    instance: PluginInstance,
    plugin: LoadedPlugin,
    config: Value,
    host: Rc<PluginHost>,
    steps: u64,
    swaps: Vec<Swap>,
}

impl PluginRun {
    /// Validates `config` against the plugin's schema (reporting every bad field), then
    /// creates the instance.
    pub fn start(
        plugin: LoadedPlugin,
        config: Value,
        host: Rc<PluginHost>,
    ) -> Result<Self, PluginError> {
        let errors = schema::validate(&plugin.plugin.schema(), &config).map_err(|e| {
            PluginError::Schema {
                plugin: plugin.name(),
                reason: e.to_string(),
            }
        })?;
        if !errors.is_empty() {
            return Err(PluginError::Config {
                plugin: plugin.name(),
                errors,
            });
        }
        let instance = create(&plugin, &config, &host)?;
        Ok(Self {
            instance,
            plugin,
            config,
            host,
            steps: 0,
            swaps: Vec::new(),
        })
    }

    /// The host the plugin calls.
    pub fn host(&self) -> &PluginHost {
        &self.host
    }

    /// The plugin now running.
    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    /// Steps completed.
    pub fn steps(&self) -> u64 {
        self.steps
    }

    /// Hot swaps so far.
    pub fn swaps(&self) -> &[Swap] {
        &self.swaps
    }

    /// A run continuing from a snapshot taken after `steps` steps (a resumed experiment).
    pub fn resume(
        plugin: LoadedPlugin,
        config: Value,
        host: Rc<PluginHost>,
        snapshot: &Value,
        steps: u64,
    ) -> Result<Self, PluginError> {
        let instance = recreate(&plugin, &config, &host, &snapshot.to_string())?;
        Ok(Self {
            instance,
            plugin,
            config,
            host,
            steps,
            swaps: Vec::new(),
        })
    }

    /// One step of the plugin.
    pub fn step(&mut self) -> Result<StepReport, PluginError> {
        let report = self
            .instance
            .step()
            .map_err(|error| self.call_error("step", error))?;
        self.steps += 1;
        Ok(report)
    }

    /// The plugin's state.
    pub fn snapshot(&mut self) -> Result<Value, PluginError> {
        let text = self
            .instance
            .snapshot()
            .map_err(|error| self.call_error("snapshot", error))?;
        serde_json::from_str(&text).map_err(|e| {
            self.call_error(
                "snapshot",
                coevo_sdk::client::CallError {
                    status: 1,
                    message: format!("not JSON: {e}"),
                },
            )
        })
    }

    /// Continues from a snapshot taken after `steps` steps.
    pub fn restore(&mut self, snapshot: &Value, steps: u64) -> Result<(), PluginError> {
        self.instance
            .restore(&snapshot.to_string())
            .map_err(|error| self.call_error("restore", error))?;
        self.steps = steps;
        Ok(())
    }

    /// Replaces the library between two steps: snapshot, a new instance from `new`, restore.
    /// If anything fails the old instance keeps running and the error is returned.
    pub fn swap(&mut self, new: LoadedPlugin) -> Result<Swap, PluginError> {
        let started = Instant::now();
        let snapshot = self
            .instance
            .snapshot()
            .map_err(|error| self.call_error("snapshot", error))?;
        let instance = recreate(&new, &self.config, &self.host, &snapshot)?;
        // The old instance is destroyed here; its library stays loaded (see `library`).
        self.instance = instance;
        let swap = Swap {
            step: self.steps,
            from: self.plugin.hash.clone(),
            to: new.hash.clone(),
            seconds: started.elapsed().as_secs_f64(),
        };
        self.plugin = new;
        self.swaps.push(swap.clone());
        Ok(swap)
    }

    fn call_error(&self, call: &'static str, error: coevo_sdk::client::CallError) -> PluginError {
        PluginError::Call {
            plugin: self.plugin.name(),
            call,
            error,
        }
    }
}

/// A new instance continuing from `snapshot`. Whatever its `create` made in the host (models)
/// is dropped again, so ids continue as they would have without the new instance.
fn recreate(
    plugin: &LoadedPlugin,
    config: &Value,
    host: &PluginHost,
    snapshot: &str,
) -> Result<PluginInstance, PluginError> {
    let first = host.state().next_id();
    let result = create(plugin, config, host).and_then(|mut instance| {
        instance
            .restore(snapshot)
            .map_err(|error| PluginError::Call {
                plugin: plugin.name(),
                call: "restore",
                error,
            })?;
        Ok(instance)
    });
    host.state_mut().forget_models_from(first);
    result
}

fn create(
    plugin: &LoadedPlugin,
    config: &Value,
    host: &PluginHost,
) -> Result<PluginInstance, PluginError> {
    // SAFETY: the table lives in `host`, which the run keeps alive longer than the instance.
    unsafe { PluginInstance::create(plugin.plugin, host.table(), &config.to_string()) }.map_err(
        |error| PluginError::Call {
            plugin: plugin.name(),
            call: "create",
            error,
        },
    )
}
