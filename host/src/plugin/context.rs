//! The host's state behind the host table: data, models by id, hooks, metrics, cancellation.
//!
//! Every service of the table is a method here returning `Result`; `super::table` only adapts
//! them to the C ABI. The same state serves scripts, which hand model ids to plugins.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::tensor::Device;
use coevo_sdk::ffi::{self, ModelId, Status};
use coevo_sdk::{Coefficients, DatasetInfo, EvalSpec, Noise, Split, TrainReport, TrainSpec};
use serde_json::{Value, json};

use crate::data::{ResidentData, Targets};
use crate::device::is_cpu;
use crate::model::{Init, Model, ModelSpec, preset};
use crate::params::{self, NoiseMode};
use crate::seed;
use crate::train::{
    EvalOptions, EvaluateError, Evaluation, Trainer, TrainerState, default_loss, eval_batch_size,
    evaluate, evaluate_each, loss,
};

/// A failed service call: the status for the plugin and the message it can ask for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceError {
    /// The status.
    pub status: Status,
    /// The explanation.
    pub message: String,
}

impl ServiceError {
    fn new(status: Status, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
    fn invalid(message: impl Into<String>) -> Self {
        Self::new(ffi::STATUS_INVALID_ARGUMENT, message)
    }
}

/// The script functions plugins may call (wired to Rhai by the experiments layer).
pub trait Hooks {
    /// Calls `name` with `args`; `Ok(None)` when no such function is defined.
    fn call(&self, name: &str, args: &Value) -> std::result::Result<Option<Value>, String>;
}

/// No script: every hook is absent, so plugins use their defaults.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoHooks;

impl Hooks for NoHooks {
    fn call(&self, _: &str, _: &Value) -> std::result::Result<Option<Value>, String> {
        Ok(None)
    }
}

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

/// Everything the services act on.
pub struct HostState {
    data: Option<ResidentData>,
    device: Device,
    seed: u64,
    models: BTreeMap<ModelId, Model>,
    next_id: ModelId,
    /// Optimiser state of each group of models trained together, so momentum carries over
    /// from one training call to the next.
    optimizers: HashMap<Vec<ModelId>, TrainerState>,
    hooks: Box<dyn Hooks>,
    cancel: Arc<AtomicBool>,
    metrics: Vec<MetricRecord>,
    on_metrics: Option<MetricSink>,
    on_progress: Option<ProgressSink>,
}

impl std::fmt::Debug for HostState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostState")
            .field("data", &self.data.as_ref().map(|d| d.name.clone()))
            .field("models", &self.models.len())
            .finish()
    }
}

type Result<T> = std::result::Result<T, ServiceError>;

impl HostState {
    /// A host over `data` on `device`, deriving every plugin seed from `seed`.
    pub fn new(data: ResidentData, device: Device, seed: u64) -> Self {
        let mut state = Self::without_data(device, seed);
        state.data = Some(data);
        state
    }

    /// A host with no data set yet (an experiment loads one).
    pub fn without_data(device: Device, seed: u64) -> Self {
        Self {
            data: None,
            device,
            seed,
            models: BTreeMap::new(),
            next_id: 1,
            optimizers: HashMap::new(),
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

    /// Metrics logged so far.
    pub fn metrics(&self) -> &[MetricRecord] {
        &self.metrics
    }

    /// The data.
    pub fn data(&self) -> Result<&ResidentData> {
        self.data
            .as_ref()
            .ok_or_else(|| ServiceError::new(ffi::STATUS_ERROR, "no data set is loaded"))
    }

    /// Makes `data` the data set every service works on.
    pub fn set_data(&mut self, data: ResidentData) {
        self.data = Some(data);
    }

    /// The device models live on.
    pub fn device(&self) -> &Device {
        &self.device
    }

    /// The run's seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The model with id `id`.
    pub fn model(&self, id: ModelId) -> Result<&Model> {
        self.models
            .get(&id)
            .ok_or_else(|| ServiceError::new(ffi::STATUS_NOT_FOUND, format!("no model {id}")))
    }

    /// Registers `model`, returning its id.
    pub fn insert_model(&mut self, model: Model) -> ModelId {
        let id = self.next_id;
        self.next_id += 1;
        self.models.insert(id, model);
        id
    }

    /// Registers `model` under a given id (restoring a checkpoint).
    pub fn insert_model_as(&mut self, id: ModelId, model: Model) {
        self.next_id = self.next_id.max(id + 1);
        self.models.insert(id, model);
    }

    /// The id the next model will get.
    pub fn next_id(&self) -> ModelId {
        self.next_id
    }

    /// Drops the models with ids from `first` on and hands out ids from `first` again: what a
    /// plugin's `create` made before a `restore` replaced its state.
    pub fn forget_models_from(&mut self, first: ModelId) {
        self.models.retain(|&id, _| id < first);
        self.next_id = first;
    }

    /// Every live model.
    pub fn models(&self) -> impl Iterator<Item = (ModelId, &Model)> {
        self.models.iter().map(|(&id, m)| (id, m))
    }

    /// Optimiser states by group of models trained together.
    pub fn optimizer_states(&self) -> &HashMap<Vec<ModelId>, TrainerState> {
        &self.optimizers
    }

    /// Restores the optimiser state of a group.
    pub fn set_optimizer_state(&mut self, ids: Vec<ModelId>, state: TrainerState) {
        self.optimizers.insert(ids, state);
    }

    /// Ids of the live models.
    pub fn model_ids(&self) -> Vec<ModelId> {
        self.models.keys().copied().collect()
    }

    fn model_mut(&mut self, id: ModelId) -> Result<&mut Model> {
        self.models
            .get_mut(&id)
            .ok_or_else(|| ServiceError::new(ffi::STATUS_NOT_FOUND, format!("no model {id}")))
    }

    pub(super) fn log_metrics(&mut self, step: u64, values: Value) -> Result<()> {
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

    pub(super) fn progress(&mut self, done: u64, total: u64) {
        if let Some(sink) = &mut self.on_progress {
            sink(done, total);
        }
    }

    /// Whether the run was cancelled.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }

    pub(super) fn derive_seed(&self, label: &str, index: u64) -> u64 {
        seed::derive(self.seed, label, index)
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

    /// A spec from JSON: a model spec, or `{"preset": name}` sized for the data (with an
    /// optional `"init"` replacing the preset's initialisation).
    pub fn spec_from_json(&self, spec: &Value) -> Result<ModelSpec> {
        let spec_json = spec;
        let data = self.data()?;
        let mut spec = match spec.get("preset").and_then(Value::as_str) {
            Some(name) => {
                let outputs = match data.task {
                    coevo_sdk::Task::Classification { classes } => classes,
                    coevo_sdk::Task::Regression => 1,
                };
                let mut spec = preset(name, &data.train.sample_shape, outputs)
                    .map_err(|e| ServiceError::invalid(e.to_string()))?;
                // A preset with another initialisation (co-learning's LeNet-5 uses Xavier's).
                if let Some(init) = spec_init(spec_json)? {
                    spec.init = init;
                }
                spec
            }
            None => serde_json::from_value(spec.clone())
                .map_err(|e| ServiceError::invalid(format!("model spec: {e}")))?,
        };
        if let (Targets::Values(values), None) = (&data.train.host_targets, spec.target_scale) {
            spec.target_scale = Some(loss::target_scale(values));
        }
        Ok(spec)
    }

    pub fn create_model(&mut self, spec: &Value, seed: u64) -> Result<ModelId> {
        let spec = self.spec_from_json(spec)?;
        let model = Model::new(spec, &self.device, seed)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(model))
    }

    pub fn clone_model(&mut self, id: ModelId) -> Result<ModelId> {
        let copy = self.model(id)?.clone();
        Ok(self.insert_model(copy))
    }

    /// A new model: `model` reordered to match `reference` (see [`params::align`]).
    pub fn align(&mut self, reference: ModelId, model: ModelId, seed: u64) -> Result<ModelId> {
        let aligned = params::align(self.model(reference)?, self.model(model)?, seed)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(aligned))
    }

    pub fn free_model(&mut self, id: ModelId) -> Result<()> {
        self.models
            .remove(&id)
            .map(|_| ())
            .ok_or_else(|| ServiceError::new(ffi::STATUS_NOT_FOUND, format!("no model {id}")))
    }

    pub(super) fn model_spec(&self, id: ModelId) -> Result<Value> {
        let model = self.model(id)?;
        Ok(json!({
            "spec": model.spec(),
            "params": model.param_count(),
            "layers": model.layout().layers,
            "tensors": model.param_slots(),
        }))
    }

    pub(super) fn write_params(&mut self, id: ModelId, values: &[f32]) -> Result<()> {
        self.model_mut(id)?
            .set_flat_params(values)
            .map_err(|e| ServiceError::invalid(e.to_string()))
    }

    pub(super) fn blend(&mut self, ids: &[ModelId], coefficients: Coefficients) -> Result<ModelId> {
        let models = ids
            .iter()
            .map(|&id| self.model(id))
            .collect::<Result<Vec<&Model>>>()?;
        let per_model = |flat: Vec<f32>| -> Vec<Vec<f32>> {
            let chunk = (flat.len() / ids.len().max(1)).max(1);
            flat.chunks(chunk).map(<[f32]>::to_vec).collect()
        };
        let coefficients = match coefficients {
            Coefficients::Whole(c) => params::Coefficients::Whole(c),
            Coefficients::PerLayer(c) => params::Coefficients::PerLayer(per_model(c)),
            Coefficients::PerElement(c) => params::Coefficients::PerElement(per_model(c)),
        };
        let blended = params::blend(&models, &coefficients)
            .map_err(|e| ServiceError::invalid(e.to_string()))?;
        Ok(self.insert_model(blended))
    }

    pub(super) fn add_noise(&mut self, id: ModelId, noise: Noise) -> Result<()> {
        let mode = if noise.per_tensor {
            NoiseMode::PerTensor
        } else {
            NoiseMode::PerElement
        };
        let noise = params::Noise {
            sigma: noise.sigma,
            probability: noise.probability,
            mode,
            seed: noise.seed,
        };
        self.model_mut(id)?.add_noise(&noise);
        Ok(())
    }

    pub(super) fn set_mask(&mut self, id: ModelId, mask: Option<&[f32]>) -> Result<()> {
        let model = self.model_mut(id)?;
        match mask {
            Some(mask) => model
                .set_flat_mask(mask)
                .map_err(|e| ServiceError::invalid(e.to_string())),
            None => {
                model.clear_masks();
                Ok(())
            }
        }
    }

    /// Trains `ids` as one stack of members on the training samples `subset`.
    pub fn train(
        &mut self,
        ids: &[ModelId],
        spec: TrainSpec,
        subset: Option<&[usize]>,
    ) -> Result<TrainReport> {
        if ids.is_empty() {
            return Err(ServiceError::invalid("train needs at least one model"));
        }
        let train_len = self.data()?.train.len();
        if let Some(&bad) = subset.and_then(|s| s.iter().find(|&&i| i >= train_len)) {
            return Err(ServiceError::invalid(format!(
                "subset index {bad} is past the {} training samples",
                train_len
            )));
        }
        let members = ids
            .iter()
            .map(|&id| self.model(id).cloned())
            .collect::<Result<Vec<Model>>>()?;
        let mut stack = Model::stack(&members).map_err(|e| ServiceError::invalid(e.to_string()))?;
        let teacher = match &spec.distill {
            Some(d) => Some(self.model(d.teacher)?.clone()),
            None => None,
        };
        let task = self.data()?.task;
        let mut trainer = match self.optimizers.get(ids) {
            Some(state) => Trainer::restore(
                spec.clone(),
                task,
                &TrainerState {
                    epoch: 0,
                    ..state.clone()
                },
                &self.device,
            ),
            None => Trainer::new(spec.clone(), task),
        }
        .map_err(|e| ServiceError::invalid(e.to_string()))?;
        if let Some(teacher) = teacher {
            trainer.set_teacher(teacher);
        }
        let mut last = Vec::new();
        let steps_before = trainer.state().step;
        while !trainer.finished() {
            if self.is_cancelled() {
                return Err(ServiceError::new(
                    ffi::STATUS_CANCELLED,
                    "the run was cancelled",
                ));
            }
            let report = trainer
                .run_epoch(
                    &mut stack,
                    &self.data.as_ref().expect("checked above").train,
                    subset,
                    &mut |_| {},
                )
                .map_err(|e| ServiceError::new(ffi::STATUS_ERROR, e.to_string()))?;
            last = report.train_loss;
        }
        let state = trainer.state();
        let steps = state.step - steps_before;
        self.optimizers.insert(ids.to_vec(), state);
        for (&id, member) in ids.iter().zip(stack.unstack()) {
            self.models.insert(id, member);
        }
        Ok(TrainReport {
            steps,
            train_loss: last,
        })
    }

    /// Evaluates `ids` (stacked when they share an architecture) on a split.
    pub fn evaluate(
        &self,
        ids: &[ModelId],
        spec: &EvalSpec,
        per_sample: bool,
        probabilities: bool,
    ) -> Result<Evaluation> {
        if ids.is_empty() {
            return Err(ServiceError::invalid("evaluate needs at least one model"));
        }
        let split = match spec.split {
            Split::Train => &self.data()?.train,
            Split::Validation => self.data()?.selection(),
        };
        let subset = spec
            .subset
            .as_ref()
            .map(|s| s.iter().map(|&i| i as usize).collect::<Vec<_>>());
        if let Some(&bad) = subset.iter().flatten().find(|&&i| i >= split.len()) {
            return Err(ServiceError::invalid(format!(
                "subset index {bad} is past the split's {} samples",
                split.len()
            )));
        }
        let members = ids
            .iter()
            .map(|&id| self.model(id).cloned())
            .collect::<Result<Vec<Model>>>()?;
        let options = EvalOptions {
            per_sample_loss: per_sample,
            probabilities,
            combination: spec.combination,
            subset,
            diagnostics: spec.diagnostics,
            batch_size: eval_batch_size(&self.device),
        };
        let loss = default_loss(self.data()?.task);
        // A stack computes all members in one pass, which pays on a GPU; CPU kernels run each
        // model's convolutions faster on their own (see BENCHMARKS.md, MeGA).
        let evaluation = match is_cpu(&self.device) {
            true => evaluate_each(&members, split, loss, options),
            false => Model::stack(&members)
                .map_err(EvaluateError::from)
                .and_then(|stack| Ok(evaluate(&stack, split, loss, options)?)),
        };
        evaluation.map_err(|e| match e {
            EvaluateError::Architecture(_) => ServiceError::invalid(e.to_string()),
            _ => ServiceError::new(ffi::STATUS_ERROR, e.to_string()),
        })
    }

    pub(super) fn call_hook(&self, name: &str, args: &Value) -> Result<Value> {
        match self.hooks.call(name, args) {
            Ok(Some(value)) => Ok(value),
            Ok(None) => Err(ServiceError::new(
                ffi::STATUS_NOT_FOUND,
                format!("no hook `{name}` is defined"),
            )),
            Err(message) => Err(ServiceError::new(ffi::STATUS_ERROR, message)),
        }
    }
}

/// The `init` of a `{"preset": name, "init": scheme}` spec, if it has one.
fn spec_init(spec: &Value) -> Result<Option<Init>> {
    spec.get("init")
        .map(|init| {
            serde_json::from_value(init.clone())
                .map_err(|e| ServiceError::invalid(format!("model spec: init: {e}")))
        })
        .transpose()
}
