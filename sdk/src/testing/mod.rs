//! A mock host, so a plugin can be tested without coevo.
//!
//! Models are plain parameter vectors, split into tensors of the sizes the spec gives
//! (`{"params": n}` or `{"tensors": [a, b, …]}`). Fitness is a function of the parameters,
//! training a function that edits them, hooks are closures. Every call goes through a real
//! [`HostTable`], so the plugin's FFI glue is tested too, and the mock honours what the real
//! host does with each argument: training and evaluation subsets, per-sample loss and
//! probability buffers, masks that stay applied, per-tensor noise.
//!
//! [`MockHost::instance`] runs an algorithm of the crate under test through its exported
//! table, with no `unsafe` in the test.

mod instance;
mod samples;
mod table;

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::CString;

use serde_json::Value;

use crate::ffi::{HostTable, ModelId};
use crate::host::Host;
use crate::metrics::Task;
use crate::training::TrainSpec;

pub use instance::MockInstance;
pub use samples::SampleModel;

type Fitness = Box<dyn Fn(&[f32]) -> f64>;
type Trainer = Box<dyn Fn(&mut [f32], &TrainCall)>;
type Hook = Box<dyn Fn(Value) -> Value>;

/// One model of the mock: its parameters, the sizes of its tensors, its mask.
#[derive(Debug, Clone, PartialEq)]
pub struct MockModel {
    /// The parameters, tensor after tensor.
    pub params: Vec<f32>,
    /// The tensors' sizes (summing to the parameters' count).
    pub tensors: Vec<usize>,
    /// The mask set with `set_mask`, kept applied through writes and training.
    pub mask: Option<Vec<f32>>,
}

impl MockModel {
    fn new(params: Vec<f32>) -> Self {
        let tensors = vec![params.len()];
        Self {
            params,
            tensors,
            mask: None,
        }
    }

    /// Zeroes what the mask removes, as the host's forward pass does.
    fn apply_mask(&mut self) {
        if let Some(mask) = &self.mask {
            for (v, m) in self.params.iter_mut().zip(mask) {
                if *m == 0.0 {
                    *v = 0.0;
                }
            }
        }
    }
}

/// What one training call asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainCall {
    /// The models trained together.
    pub models: Vec<ModelId>,
    /// The spec.
    pub spec: TrainSpec,
    /// The training samples (`None`: all).
    pub subset: Option<Vec<u32>>,
}

struct State {
    models: BTreeMap<ModelId, MockModel>,
    next_id: ModelId,
    fitness: Option<Fitness>,
    trainer: Option<Trainer>,
    samples: SampleModel,
    hooks: HashMap<String, Hook>,
    metrics: Vec<(u64, Value)>,
    logs: Vec<String>,
    trained: Vec<TrainCall>,
    last_error: CString,
    seed: u64,
    calls: u64,
    task: Task,
    train_samples: usize,
    validation_samples: usize,
}

impl Default for State {
    fn default() -> Self {
        Self {
            models: BTreeMap::new(),
            next_id: 1,
            fitness: None,
            trainer: None,
            samples: SampleModel::default(),
            hooks: HashMap::new(),
            metrics: Vec::new(),
            logs: Vec::new(),
            trained: Vec::new(),
            last_error: CString::default(),
            seed: 0,
            calls: 0,
            task: Task::Classification { classes: 10 },
            train_samples: 100,
            validation_samples: 20,
        }
    }
}

impl State {
    fn insert(&mut self, model: MockModel) -> ModelId {
        let id = self.next_id;
        self.next_id += 1;
        self.models.insert(id, model);
        id
    }

    /// The fitness of parameters: the given function, or minus their mean square.
    fn fitness(&self, params: &[f32]) -> f64 {
        match &self.fitness {
            Some(f) => f(params),
            None => {
                -(params.iter().map(|v| f64::from(v * v)).sum::<f64>()) / params.len().max(1) as f64
            }
        }
    }
}

/// An in-memory host with a real host table.
pub struct MockHost {
    table: Box<HostTable>,
    state: Box<RefCell<State>>,
}

impl std::fmt::Debug for MockHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockHost")
            .field("models", &self.state.borrow().models.len())
            .finish()
    }
}

impl Default for MockHost {
    fn default() -> Self {
        Self::new()
    }
}

impl MockHost {
    /// A host whose fitness is minus the mean squared parameter (best at zero), over 100
    /// training and 20 validation samples of a 10-class task.
    pub fn new() -> Self {
        let state = Box::new(RefCell::new(State::default()));
        let table = Box::new(table::host_table(&state));
        Self { table, state }
    }

    /// Fitness (reported as validation accuracy) as a function of the parameters.
    pub fn with_fitness(self, f: impl Fn(&[f32]) -> f64 + 'static) -> Self {
        self.state.borrow_mut().fitness = Some(Box::new(f));
        self
    }

    /// What a training call does to each model's parameters.
    pub fn with_trainer(self, f: impl Fn(&mut [f32], &TrainCall) + 'static) -> Self {
        self.state.borrow_mut().trainer = Some(Box::new(f));
        self
    }

    /// How each sample's loss and correctness follow from a model (see [`SampleModel`]).
    pub fn with_samples(self, samples: SampleModel) -> Self {
        self.state.borrow_mut().samples = samples;
        self
    }

    /// The data set's task and its training and validation sizes.
    pub fn with_dataset(self, task: Task, train: usize, validation: usize) -> Self {
        {
            let mut state = self.state.borrow_mut();
            state.task = task;
            state.train_samples = train;
            state.validation_samples = validation;
        }
        self
    }

    /// Defines the script hook `name`.
    pub fn with_hook(self, name: &str, f: impl Fn(Value) -> Value + 'static) -> Self {
        self.state
            .borrow_mut()
            .hooks
            .insert(name.into(), Box::new(f));
        self
    }

    /// Replaces or removes a hook while a plugin runs (as a script reload would).
    pub fn set_hook(&self, name: &str, f: Option<Hook>) {
        let mut state = self.state.borrow_mut();
        match f {
            Some(f) => state.hooks.insert(name.into(), f),
            None => state.hooks.remove(name),
        };
    }

    /// The run's seed.
    pub fn with_seed(self, seed: u64) -> Self {
        self.state.borrow_mut().seed = seed;
        self
    }

    /// The raw table to hand a plugin.
    pub fn table(&self) -> *const HostTable {
        self.table.as_ref()
    }

    /// The typed handle over the table.
    pub fn host(&self) -> Host {
        // SAFETY: the table lives as long as `self`.
        unsafe { Host::from_raw(self.table()) }.expect("the mock's table has the SDK's version")
    }

    /// Adds a model with the given parameters (one tensor).
    pub fn insert_model(&self, params: Vec<f32>) -> ModelId {
        self.state.borrow_mut().insert(MockModel::new(params))
    }

    /// A model's parameters.
    pub fn params(&self, model: ModelId) -> Option<Vec<f32>> {
        self.model(model).map(|m| m.params)
    }

    /// A model whole: parameters, tensor sizes and mask.
    pub fn model(&self, model: ModelId) -> Option<MockModel> {
        self.state.borrow().models.get(&model).cloned()
    }

    /// Models alive (to check that a plugin frees what it no longer needs).
    pub fn live_models(&self) -> usize {
        self.state.borrow().models.len()
    }

    /// Metrics logged so far.
    pub fn metrics(&self) -> Vec<(u64, Value)> {
        self.state.borrow().metrics.clone()
    }

    /// Every training call so far, in order.
    pub fn trained(&self) -> Vec<TrainCall> {
        self.state.borrow().trained.clone()
    }

    /// Host calls made so far.
    pub fn calls(&self) -> u64 {
        self.state.borrow().calls
    }
}

#[cfg(test)]
mod tests;
