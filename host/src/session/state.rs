//! The session's state: data, models by id, optimiser states, hooks, metrics, cancellation.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use burn::tensor::Device;
use coevo_sdk::DatasetInfo;
use coevo_sdk::ffi::ModelId;
use serde_json::Value;

use super::{Hooks, NoHooks, OptimizerStates, ServiceError};
use crate::data::{Recipe, ResidentData};
use crate::device::is_cpu;
use crate::executor::{Executor, Identity, Job, Outcome};
use crate::model::Model;
use crate::seed;

/// One `log_metrics` record.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRecord {
    /// The plugin's step.
    pub step: u64,
    /// The numbers it logged.
    pub values: Value,
}

type MetricSink = Box<dyn FnMut(&MetricRecord)>;
type ProgressSink = Box<dyn FnMut(u64, u64)>;

pub(super) type Result<T> = std::result::Result<T, ServiceError>;

/// Everything the services act on.
pub struct Session {
    pub(super) data: Option<ResidentData>,
    /// How `data` was loaded, when a recipe made it: what a worker elsewhere needs to hold
    /// the same splits.
    recipe: Option<Recipe>,
    /// Where independent evaluations run when not in this process.
    pub(super) executor: Option<Mutex<Box<dyn Executor>>>,
    pub(super) device: Device,
    seed: u64,
    pub(super) models: BTreeMap<ModelId, Model>,
    pub(super) next_id: ModelId,
    pub(super) optimizers: OptimizerStates,
    hooks: Box<dyn Hooks>,
    cancel: Arc<AtomicBool>,
    metrics: Vec<MetricRecord>,
    on_metrics: Option<MetricSink>,
    on_progress: Option<ProgressSink>,
}

impl std::fmt::Debug for Session {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Session")
            .field("data", &self.data.as_ref().map(|d| d.name.clone()))
            .field("models", &self.models.len())
            .field("optimizer_states", &self.optimizers.len())
            .finish()
    }
}

impl Session {
    /// A session over `data` on `device`, deriving every seed from `seed`.
    pub fn new(data: ResidentData, device: Device, seed: u64) -> Self {
        let mut session = Self::without_data(device, seed);
        session.data = Some(data);
        session
    }

    /// A session with no data set yet (an experiment loads one).
    pub fn without_data(device: Device, seed: u64) -> Self {
        Self {
            data: None,
            recipe: None,
            executor: None,
            device,
            seed,
            models: BTreeMap::new(),
            next_id: 1,
            optimizers: OptimizerStates::default(),
            hooks: Box::new(NoHooks),
            cancel: Arc::new(AtomicBool::new(false)),
            metrics: Vec::new(),
            on_metrics: None,
            on_progress: None,
        }
    }

    /// Routes hook calls to `hooks`.
    pub fn set_hooks(&mut self, hooks: Box<dyn Hooks>) {
        self.hooks = hooks;
    }

    /// Called with each metrics record as it is logged.
    pub fn on_metrics(&mut self, sink: impl FnMut(&MetricRecord) + 'static) {
        self.on_metrics = Some(Box::new(sink));
    }

    /// Called with each progress report.
    pub fn on_progress(&mut self, sink: impl FnMut(u64, u64) + 'static) {
        self.on_progress = Some(Box::new(sink));
    }

    /// Shares `flag` as the run's cancellation flag (set by Ctrl-C).
    pub fn set_cancel_flag(&mut self, flag: Arc<AtomicBool>) {
        self.cancel = flag;
    }

    /// The flag that cancels the run when set.
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        self.cancel.clone()
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    /// Metrics logged so far.
    pub fn metrics(&self) -> &[MetricRecord] {
        &self.metrics
    }

    /// The data.
    pub fn data(&self) -> Result<&ResidentData> {
        self.data
            .as_ref()
            .ok_or_else(|| ServiceError::failed("no data set is loaded"))
    }

    /// The data, taken out of the session (which then has none).
    pub fn take_data(&mut self) -> Option<ResidentData> {
        self.recipe = None;
        self.data.take()
    }

    /// Makes `data` the data set every service works on.
    pub fn set_data(&mut self, data: ResidentData) {
        self.data = Some(data);
        self.recipe = None;
    }

    /// Makes `data`, loaded by `recipe`, the data set every service works on.
    pub fn set_data_from(&mut self, recipe: Recipe, data: ResidentData) {
        self.data = Some(data);
        self.recipe = Some(recipe);
    }

    /// Sends independent units of work to `executor` from now on.
    pub fn set_executor(&mut self, executor: Box<dyn Executor>) {
        self.executor = Some(Mutex::new(executor));
    }

    /// Runs the jobs `make` builds (given the driver's identity) on the executor, answered in
    /// their order; fails when the session has none.
    pub(super) fn run_jobs(
        &self,
        make: impl FnOnce(&Identity) -> Vec<Job>,
    ) -> Result<Vec<Outcome>> {
        if self.is_cancelled() {
            return Err(ServiceError::cancelled());
        }
        let executor = (self.executor.as_ref())
            .ok_or_else(|| ServiceError::failed("no executor to run jobs on"))?;
        let mut executor = executor
            .lock()
            .map_err(|_| ServiceError::failed("the executor failed in another call"))?;
        let identity = Identity::current(executor.device()).map_err(ServiceError::failed)?;
        executor
            .run(make(&identity))
            .map_err(|e| ServiceError::failed(e.to_string()))
    }

    /// What the executor is, when there is one (`None`: everything runs in this process).
    pub fn executor_description(&self) -> Option<Value> {
        let executor = self.executor.as_ref()?.lock().ok()?;
        Some(executor.describe())
    }

    /// The recipe an executor's workers load this session's data by, when work may go to them:
    /// there is an executor, a recipe loaded the data, and models live on a CPU (on a GPU one
    /// stacked pass here beats shipping models out).
    pub(super) fn remote_recipe(&self) -> Option<&Recipe> {
        let recipe = self.recipe.as_ref()?;
        (self.executor.is_some() && is_cpu(&self.device)).then_some(recipe)
    }

    /// How the data was loaded, when a recipe loaded it.
    pub fn data_recipe(&self) -> Option<&Recipe> {
        self.recipe.as_ref()
    }

    /// The device models live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// A seed derived from the run's for `label` and `index`.
    pub fn derive_seed(&self, label: &str, index: u64) -> u64 {
        seed::derive(self.seed, label, index)
    }

    /// Optimiser states of the live models and groups.
    pub fn optimizer_states(&self) -> &OptimizerStates {
        &self.optimizers
    }

    /// Restores the optimiser state of a group (from a checkpoint).
    pub fn set_optimizer_state(&mut self, ids: Vec<ModelId>, state: crate::train::TrainerState) {
        self.optimizers.insert(ids, state);
    }

    /// Records a plugin's metrics.
    pub fn log_metrics(&mut self, step: u64, values: Value) -> Result<()> {
        if !values.is_object() {
            return Err(ServiceError::invalid("metrics must be a JSON object"));
        }
        let record = MetricRecord { step, values };
        if let Some(sink) = &mut self.on_metrics {
            sink(&record);
        }
        self.metrics.push(record);
        Ok(())
    }

    /// Passes a plugin's progress on.
    pub fn progress(&mut self, done: u64, total: u64) {
        if let Some(sink) = &mut self.on_progress {
            sink(done, total);
        }
    }

    /// The data set, as plugins see it.
    pub fn dataset_info(&self) -> Result<DatasetInfo> {
        let data = self.data()?;
        Ok(DatasetInfo {
            name: data.name.clone(),
            task: data.task,
            sample_shape: data.train.sample_shape.clone(),
            train: data.train.len(),
            validation: data.validation.as_ref().map_or(0, |v| v.len()),
        })
    }

    /// Calls the script's hook `name`.
    pub fn call_hook(&self, name: &str, args: &Value) -> Result<Value> {
        match self.hooks.call(name, args) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(ServiceError::not_found(format!(
                "no hook `{name}` is defined"
            ))),
            Err(message) => Err(ServiceError::failed(message)),
        }
    }
}
