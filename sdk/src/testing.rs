//! A mock host, so a plugin can be tested without coevo.
//!
//! Models are plain parameter vectors of a size the spec gives (`{"params": n}`), fitness is a
//! function of the parameters, training is a function that edits them, hooks are closures.
//! Every call goes through a real [`HostTable`], so the plugin's FFI glue is tested too.

use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
use std::ffi::{CStr, CString, c_char};

use serde_json::{Value, json};

use crate::ffi::{self, HostContext, HostTable, ModelId, Status};
use crate::host::{Host, c_string};
use crate::metrics::{DatasetInfo, EvalSpec, Evaluation, Metrics, Task, TrainReport};
use crate::training::TrainSpec;

type Fitness = Box<dyn Fn(&[f32]) -> f64>;
type Trainer = Box<dyn Fn(&mut [f32], &TrainSpec)>;
type Hook = Box<dyn Fn(Value) -> Value>;

#[derive(Default)]
struct State {
    models: BTreeMap<ModelId, Vec<f32>>,
    next_id: ModelId,
    fitness: Option<Fitness>,
    trainer: Option<Trainer>,
    hooks: HashMap<String, Hook>,
    metrics: Vec<(u64, Value)>,
    logs: Vec<String>,
    last_error: CString,
    seed: u64,
    calls: u64,
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
    /// A host whose fitness is minus the mean squared parameter (best at zero).
    pub fn new() -> Self {
        let state = Box::new(RefCell::new(State {
            next_id: 1,
            ..State::default()
        }));
        let ctx = std::ptr::from_ref(state.as_ref())
            .cast_mut()
            .cast::<HostContext>();
        let table = Box::new(HostTable {
            abi_major: ffi::ABI_MAJOR,
            abi_minor: ffi::ABI_MINOR,
            size: size_of::<HostTable>() as u32,
            ctx,
            last_error,
            free_string,
            log,
            log_metrics,
            progress,
            is_cancelled,
            derive_seed,
            dataset_info,
            model_create,
            model_clone,
            model_free,
            model_param_count,
            model_spec,
            params_read,
            params_write,
            params_blend,
            params_noise,
            params_mask,
            train,
            evaluate,
            call_hook,
            model_align: Some(model_align),
        });
        Self { table, state }
    }

    /// Fitness (reported as validation accuracy) as a function of the parameters.
    pub fn with_fitness(self, f: impl Fn(&[f32]) -> f64 + 'static) -> Self {
        self.state.borrow_mut().fitness = Some(Box::new(f));
        self
    }

    /// What a training call does to each model's parameters.
    pub fn with_trainer(self, f: impl Fn(&mut [f32], &TrainSpec) + 'static) -> Self {
        self.state.borrow_mut().trainer = Some(Box::new(f));
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

    /// Adds a model with the given parameters.
    pub fn insert_model(&self, params: Vec<f32>) -> ModelId {
        let mut state = self.state.borrow_mut();
        let id = state.next_id;
        state.next_id += 1;
        state.models.insert(id, params);
        id
    }

    /// A model's parameters.
    pub fn params(&self, model: ModelId) -> Option<Vec<f32>> {
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

    /// Host calls made so far.
    pub fn calls(&self) -> u64 {
        self.state.borrow().calls
    }
}

fn state<'a>(ctx: *mut HostContext) -> &'a RefCell<State> {
    // SAFETY: `ctx` is the mock's own state pointer, alive as long as its table.
    unsafe { &*ctx.cast::<RefCell<State>>() }
}

fn fail(ctx: *mut HostContext, status: Status, message: String) -> Status {
    state(ctx).borrow_mut().last_error = c_string(&message);
    status
}

fn read_str<'a>(p: *const c_char) -> &'a str {
    if p.is_null() {
        return "";
    }
    // SAFETY: callers pass NUL-terminated strings valid for the call.
    unsafe { CStr::from_ptr(p) }.to_str().unwrap_or("")
}

fn write_json(out: *mut *mut c_char, value: &Value) -> Status {
    if out.is_null() {
        return ffi::STATUS_INVALID_ARGUMENT;
    }
    // SAFETY: non-null place for one pointer; freed by `free_string`.
    unsafe { *out = c_string(&value.to_string()).into_raw() };
    ffi::STATUS_OK
}

fn with_model(
    ctx: *mut HostContext,
    model: ModelId,
    f: impl FnOnce(&mut Vec<f32>) -> Status,
) -> Status {
    let mut st = state(ctx).borrow_mut();
    st.calls += 1;
    match st.models.get_mut(&model) {
        Some(params) => f(params),
        None => {
            drop(st);
            fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {model}"))
        }
    }
}

fn new_model(ctx: *mut HostContext, params: Vec<f32>, out: *mut ModelId) -> Status {
    let mut st = state(ctx).borrow_mut();
    let id = st.next_id;
    st.next_id += 1;
    st.models.insert(id, params);
    // SAFETY: the caller passes a valid out place.
    unsafe { *out = id };
    ffi::STATUS_OK
}

/// A small deterministic generator for noise, so the mock needs no dependency.
fn splitmix(x: &mut u64) -> f64 {
    *x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

unsafe extern "C" fn last_error(ctx: *mut HostContext) -> *const c_char {
    state(ctx).borrow().last_error.as_ptr()
}

unsafe extern "C" fn free_string(_: *mut HostContext, string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: the mock's strings come from CString::into_raw.
        drop(unsafe { CString::from_raw(string) });
    }
}

unsafe extern "C" fn log(ctx: *mut HostContext, _: u32, message: *const c_char) {
    state(ctx)
        .borrow_mut()
        .logs
        .push(read_str(message).to_string());
}

unsafe extern "C" fn log_metrics(ctx: *mut HostContext, step: u64, json: *const c_char) -> Status {
    match serde_json::from_str(read_str(json)) {
        Ok(value) => {
            state(ctx).borrow_mut().metrics.push((step, value));
            ffi::STATUS_OK
        }
        Err(e) => fail(ctx, ffi::STATUS_INVALID_ARGUMENT, format!("metrics: {e}")),
    }
}

unsafe extern "C" fn progress(_: *mut HostContext, _: u64, _: u64) {}

unsafe extern "C" fn is_cancelled(ctx: *mut HostContext) -> u8 {
    state(ctx).borrow_mut().calls += 1;
    0
}

unsafe extern "C" fn derive_seed(ctx: *mut HostContext, label: *const c_char, index: u64) -> u64 {
    let mut x = state(ctx).borrow().seed ^ index.wrapping_mul(0x9e37_79b9);
    for b in read_str(label).bytes() {
        x = (x ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    (splitmix(&mut x) * u64::MAX as f64) as u64
}

unsafe extern "C" fn dataset_info(_: *mut HostContext, out: *mut *mut c_char) -> Status {
    let info = DatasetInfo {
        name: "mock".into(),
        task: Task::Classification { classes: 10 },
        sample_shape: vec![4],
        train: 100,
        validation: 20,
    };
    write_json(out, &serde_json::to_value(info).expect("serialises"))
}

unsafe extern "C" fn model_create(
    ctx: *mut HostContext,
    spec: *const c_char,
    seed: u64,
    out: *mut ModelId,
) -> Status {
    let spec: Value = serde_json::from_str(read_str(spec)).unwrap_or(Value::Null);
    let Some(n) = spec.get("params").and_then(Value::as_u64) else {
        return fail(
            ctx,
            ffi::STATUS_INVALID_ARGUMENT,
            "the mock host needs a spec {\"params\": n}".into(),
        );
    };
    let mut x = seed;
    let params = (0..n)
        .map(|_| (splitmix(&mut x) * 2.0 - 1.0) as f32)
        .collect();
    new_model(ctx, params, out)
}

unsafe extern "C" fn model_clone(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut ModelId,
) -> Status {
    let params = state(ctx).borrow().models.get(&model).cloned();
    match params {
        Some(p) => new_model(ctx, p, out),
        None => fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {model}")),
    }
}

unsafe extern "C" fn model_free(ctx: *mut HostContext, model: ModelId) -> Status {
    let removed = state(ctx).borrow_mut().models.remove(&model);
    if removed.is_some() {
        ffi::STATUS_OK
    } else {
        fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {model}"))
    }
}

unsafe extern "C" fn model_param_count(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut u64,
) -> Status {
    with_model(ctx, model, |p| {
        // SAFETY: the caller passes a valid out place.
        unsafe { *out = p.len() as u64 };
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn model_spec(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut *mut c_char,
) -> Status {
    with_model(ctx, model, |p| {
        write_json(out, &json!({ "params": p.len() }))
    })
}

unsafe extern "C" fn params_read(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut f32,
    len: usize,
) -> Status {
    with_model(ctx, model, |p| {
        if len != p.len() || out.is_null() {
            return ffi::STATUS_INVALID_ARGUMENT;
        }
        // SAFETY: the caller's buffer holds `len` floats, checked equal to ours.
        unsafe { std::ptr::copy_nonoverlapping(p.as_ptr(), out, len) };
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn params_write(
    ctx: *mut HostContext,
    model: ModelId,
    values: *const f32,
    len: usize,
) -> Status {
    with_model(ctx, model, |p| {
        if len != p.len() || values.is_null() {
            return ffi::STATUS_INVALID_ARGUMENT;
        }
        // SAFETY: the caller's slice holds `len` floats.
        p.copy_from_slice(unsafe { std::slice::from_raw_parts(values, len) });
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn params_blend(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    granularity: u32,
    coefficients: *const f32,
    len: usize,
    out: *mut ModelId,
) -> Status {
    if models.is_null() || coefficients.is_null() || count == 0 {
        return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, "blend of nothing".into());
    }
    // SAFETY: pointer and length of the caller's slices.
    let (ids, c) = unsafe {
        (
            std::slice::from_raw_parts(models, count),
            std::slice::from_raw_parts(coefficients, len),
        )
    };
    let params: Option<Vec<Vec<f32>>> = ids
        .iter()
        .map(|id| state(ctx).borrow().models.get(id).cloned())
        .collect();
    let Some(params) = params else {
        return fail(
            ctx,
            ffi::STATUS_NOT_FOUND,
            "a blended model does not exist".into(),
        );
    };
    let n = params[0].len();
    let per_element = granularity == ffi::BLEND_PER_ELEMENT;
    if (per_element && len != count * n) || (granularity == ffi::BLEND_WHOLE && len != count) {
        return fail(
            ctx,
            ffi::STATUS_INVALID_ARGUMENT,
            format!("{len} coefficients for {count} models"),
        );
    }
    if granularity == ffi::BLEND_PER_LAYER {
        return fail(
            ctx,
            ffi::STATUS_UNSUPPORTED,
            "the mock host's models have no layers".into(),
        );
    }
    let blended = (0..n)
        .map(|i| {
            (0..count)
                .map(|k| params[k][i] * if per_element { c[k * n + i] } else { c[k] })
                .sum()
        })
        .collect();
    new_model(ctx, blended, out)
}

unsafe extern "C" fn params_noise(
    ctx: *mut HostContext,
    model: ModelId,
    sigma: f64,
    probability: f64,
    _per_tensor: u8,
    seed: u64,
) -> Status {
    with_model(ctx, model, |p| {
        let mut x = seed;
        for v in p.iter_mut() {
            if splitmix(&mut x) < probability {
                // Box-Muller from two uniforms.
                let (u1, u2) = (splitmix(&mut x).max(1e-12), splitmix(&mut x));
                *v += (sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32;
            }
        }
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn params_mask(
    ctx: *mut HostContext,
    model: ModelId,
    mask: *const f32,
    len: usize,
) -> Status {
    with_model(ctx, model, |p| {
        if len == 0 {
            return ffi::STATUS_OK;
        }
        if len != p.len() || mask.is_null() {
            return ffi::STATUS_INVALID_ARGUMENT;
        }
        // SAFETY: the caller's slice holds `len` floats.
        let mask = unsafe { std::slice::from_raw_parts(mask, len) };
        for (v, m) in p.iter_mut().zip(mask) {
            if *m == 0.0 {
                *v = 0.0;
            }
        }
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn train(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    _subset: *const u32,
    _subset_len: usize,
    out: *mut *mut c_char,
) -> Status {
    let spec: TrainSpec = match serde_json::from_str(read_str(spec)) {
        Ok(spec) => spec,
        Err(e) => {
            return fail(
                ctx,
                ffi::STATUS_INVALID_ARGUMENT,
                format!("train spec: {e}"),
            );
        }
    };
    // SAFETY: pointer and length of the caller's slice.
    let ids = unsafe { std::slice::from_raw_parts(models, count) };
    let mut st = state(ctx).borrow_mut();
    let State {
        models, trainer, ..
    } = &mut *st;
    for id in ids {
        if let (Some(p), Some(trainer)) = (models.get_mut(id), trainer.as_ref()) {
            trainer(p, &spec);
        }
    }
    drop(st);
    let report = TrainReport {
        steps: spec.epochs as u64,
        train_loss: vec![0.0; count],
    };
    write_json(out, &serde_json::to_value(report).expect("serialises"))
}

#[allow(clippy::too_many_arguments)] // the ABI's signature
unsafe extern "C" fn evaluate(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    out: *mut *mut c_char,
    _losses: *mut f32,
    _losses_len: usize,
    _probabilities: *mut f32,
    _probabilities_len: usize,
) -> Status {
    if let Err(e) = serde_json::from_str::<EvalSpec>(read_str(spec)) {
        return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, format!("eval spec: {e}"));
    }
    // SAFETY: pointer and length of the caller's slice.
    let ids = unsafe { std::slice::from_raw_parts(models, count) };
    let st = state(ctx).borrow();
    let mut members = Vec::with_capacity(count);
    for id in ids {
        let Some(p) = st.models.get(id) else {
            drop(st);
            return fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {id}"));
        };
        let fitness = match &st.fitness {
            Some(f) => f(p),
            None => -(p.iter().map(|v| f64::from(v * v)).sum::<f64>() / p.len().max(1) as f64),
        };
        members.push(Metrics {
            loss: -fitness,
            accuracy: Some(fitness),
            samples: 20,
            ..Metrics::default()
        });
    }
    drop(st);
    let evaluation = Evaluation {
        members,
        ensemble: None,
        diagnostics: None,
    };
    write_json(out, &serde_json::to_value(evaluation).expect("serialises"))
}

unsafe extern "C" fn call_hook(
    ctx: *mut HostContext,
    name: *const c_char,
    args: *const c_char,
    out: *mut *mut c_char,
) -> Status {
    let name = read_str(name).to_string();
    let args: Value = serde_json::from_str(read_str(args)).unwrap_or(Value::Null);
    let st = state(ctx).borrow();
    let Some(hook) = st.hooks.get(&name) else {
        drop(st);
        return fail(
            ctx,
            ffi::STATUS_NOT_FOUND,
            format!("no hook `{name}` is defined"),
        );
    };
    let value = hook(args);
    drop(st);
    write_json(out, &value)
}

/// The mock has no architectures to match, so its alignment is the identity: a copy.
unsafe extern "C" fn model_align(
    ctx: *mut HostContext,
    _reference: ModelId,
    model: ModelId,
    _seed: u64,
    out: *mut ModelId,
) -> Status {
    // SAFETY: forwarded as received.
    unsafe { model_clone(ctx, model, out) }
}
