//! The host table: `extern "C"` adapters from the ABI to the [`Session`]'s services.
//!
//! Each adapter checks its pointers, catches any panic, and turns a failure into a status and a
//! message the plugin reads with `last_error`. Strings the host hands out are `CString`s freed
//! by `free_string`.

use std::cell::{Ref, RefCell, RefMut};
use std::ffi::{CStr, CString, c_char};
use std::panic::{AssertUnwindSafe, catch_unwind};

use coevo_sdk::ffi::{self, HostContext, HostTable, ModelId, Status};
use coevo_sdk::{Coefficients, EvalSpec, Noise, TrainSpec};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::session::{ServiceError, Session};

/// The state and the last error message, behind the table's `ctx` pointer.
struct Cell {
    state: RefCell<Session>,
    last_error: RefCell<CString>,
}

/// A host table over a [`Session`], with a stable address for as long as it lives.
pub struct PluginHost {
    cell: Box<Cell>,
    table: Box<HostTable>,
}

impl std::fmt::Debug for PluginHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PluginHost")
            .field("state", &self.cell.state)
            .finish()
    }
}

impl PluginHost {
    /// The table for `state`.
    pub fn new(state: Session) -> Self {
        let cell = Box::new(Cell {
            state: RefCell::new(state),
            last_error: RefCell::new(CString::default()),
        });
        let ctx = std::ptr::from_ref::<Cell>(&cell)
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
            params_transfer: Some(params_transfer),
            evaluate_samples: Some(evaluate_samples),
            train_samples: Some(train_samples),
            model_compact: Some(model_compact),
            train_each: Some(train_each),
        });
        Self { cell, table }
    }

    /// The raw table to hand a plugin; valid while `self` lives.
    pub fn table(&self) -> *const HostTable {
        self.table.as_ref()
    }

    /// The state, to read.
    pub fn state(&self) -> Ref<'_, Session> {
        self.cell.state.borrow()
    }

    /// The state, to change (not while a plugin call is under way).
    pub fn state_mut(&self) -> RefMut<'_, Session> {
        self.cell.state.borrow_mut()
    }
}

fn cell<'a>(ctx: *mut HostContext) -> &'a Cell {
    // SAFETY: `ctx` is the pointer PluginHost::new put in the table, to a boxed Cell that
    // outlives every plugin instance using the table.
    unsafe { &*ctx.cast::<Cell>() }
}

/// Runs a service, recording its failure (or panic) for `last_error`.
fn serve(ctx: *mut HostContext, body: impl FnOnce(&Cell) -> Result<(), ServiceError>) -> Status {
    if ctx.is_null() {
        return ffi::STATUS_INVALID_ARGUMENT;
    }
    let cell = cell(ctx);
    let error = match catch_unwind(AssertUnwindSafe(|| body(cell))) {
        Ok(Ok(())) => return ffi::STATUS_OK,
        Ok(Err(e)) => e,
        Err(panic) => ServiceError {
            status: ffi::STATUS_PANIC,
            message: format!(
                "the host panicked: {}",
                panic
                    .downcast_ref::<String>()
                    .cloned()
                    .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_string()))
                    .unwrap_or_default()
            ),
        },
    };
    if let Ok(mut last) = cell.last_error.try_borrow_mut() {
        *last = CString::new(error.message.replace('\0', "")).unwrap_or_default();
    }
    error.status
}

fn invalid(message: impl Into<String>) -> ServiceError {
    ServiceError {
        status: ffi::STATUS_INVALID_ARGUMENT,
        message: message.into(),
    }
}

fn text<'a>(p: *const c_char, what: &str) -> Result<&'a str, ServiceError> {
    if p.is_null() {
        return Err(invalid(format!("{what} is null")));
    }
    // SAFETY: plugins pass NUL-terminated strings valid for the call.
    unsafe { CStr::from_ptr(p) }
        .to_str()
        .map_err(|_| invalid(format!("{what} is not UTF-8")))
}

fn json<T: DeserializeOwned>(p: *const c_char, what: &str) -> Result<T, ServiceError> {
    serde_json::from_str(text(p, what)?).map_err(|e| invalid(format!("{what}: {e}")))
}

fn slice<'a, T>(p: *const T, len: usize, what: &str) -> Result<&'a [T], ServiceError> {
    if len == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(invalid(format!("{what} is null")));
    }
    // SAFETY: the plugin passes a pointer to `len` values valid for the call.
    Ok(unsafe { std::slice::from_raw_parts(p, len) })
}

fn put<T>(out: *mut T, value: T) -> Result<(), ServiceError> {
    if out.is_null() {
        return Err(invalid("the output pointer is null"));
    }
    // SAFETY: non-null place the plugin provides for one value.
    unsafe { *out = value };
    Ok(())
}

fn put_json(out: *mut *mut c_char, value: &impl serde::Serialize) -> Result<(), ServiceError> {
    let text = serde_json::to_string(value).map_err(|e| ServiceError {
        status: ffi::STATUS_ERROR,
        message: e.to_string(),
    })?;
    put(
        out,
        CString::new(text.replace('\0', ""))
            .unwrap_or_default()
            .into_raw(),
    )
}

unsafe extern "C" fn last_error(ctx: *mut HostContext) -> *const c_char {
    if ctx.is_null() {
        return std::ptr::null();
    }
    cell(ctx)
        .last_error
        .try_borrow()
        .map_or(std::ptr::null(), |e| e.as_ptr())
}

unsafe extern "C" fn free_string(_: *mut HostContext, string: *mut c_char) {
    if !string.is_null() {
        // SAFETY: strings the host hands out come from CString::into_raw.
        drop(unsafe { CString::from_raw(string) });
    }
}

unsafe extern "C" fn log(ctx: *mut HostContext, level: u32, message: *const c_char) {
    serve(ctx, |_| {
        let message = text(message, "message")?;
        match level {
            ffi::LOG_ERROR => tracing::error!("{message}"),
            ffi::LOG_WARN => tracing::warn!("{message}"),
            ffi::LOG_INFO => tracing::info!("{message}"),
            _ => tracing::debug!("{message}"),
        }
        Ok(())
    });
}

unsafe extern "C" fn log_metrics(
    ctx: *mut HostContext,
    step: u64,
    metrics: *const c_char,
) -> Status {
    serve(ctx, |c| {
        let values: Value = json(metrics, "metrics")?;
        c.state.borrow_mut().log_metrics(step, values)
    })
}

unsafe extern "C" fn progress(ctx: *mut HostContext, done: u64, total: u64) {
    serve(ctx, |c| {
        c.state.borrow_mut().progress(done, total);
        Ok(())
    });
}

unsafe extern "C" fn is_cancelled(ctx: *mut HostContext) -> u8 {
    if ctx.is_null() {
        return 0;
    }
    cell(ctx)
        .state
        .try_borrow()
        .map_or(0, |s| u8::from(s.is_cancelled()))
}

unsafe extern "C" fn derive_seed(ctx: *mut HostContext, label: *const c_char, index: u64) -> u64 {
    let mut seed = 0;
    serve(ctx, |c| {
        seed = c.state.borrow().derive_seed(text(label, "label")?, index);
        Ok(())
    });
    seed
}

unsafe extern "C" fn dataset_info(ctx: *mut HostContext, out: *mut *mut c_char) -> Status {
    serve(ctx, |c| put_json(out, &c.state.borrow().dataset_info()?))
}

unsafe extern "C" fn model_create(
    ctx: *mut HostContext,
    spec: *const c_char,
    seed: u64,
    out: *mut ModelId,
) -> Status {
    serve(ctx, |c| {
        let spec: Value = json(spec, "model spec")?;
        let id = c.state.borrow_mut().create_model(&spec, seed)?;
        put(out, id)
    })
}

unsafe extern "C" fn model_clone(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut ModelId,
) -> Status {
    serve(ctx, |c| {
        let id = c.state.borrow_mut().clone_model(model)?;
        put(out, id)
    })
}

unsafe extern "C" fn model_free(ctx: *mut HostContext, model: ModelId) -> Status {
    serve(ctx, |c| c.state.borrow_mut().free_model(model))
}

unsafe extern "C" fn model_param_count(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut u64,
) -> Status {
    serve(ctx, |c| {
        let n = c.state.borrow().model(model)?.param_count();
        put(out, n as u64)
    })
}

unsafe extern "C" fn model_spec(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut *mut c_char,
) -> Status {
    serve(ctx, |c| put_json(out, &c.state.borrow().model_spec(model)?))
}

unsafe extern "C" fn params_read(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut f32,
    len: usize,
) -> Status {
    serve(ctx, |c| {
        let values = c.state.borrow().model(model)?.flat_params();
        if values.len() != len || out.is_null() {
            return Err(invalid(format!(
                "a buffer of {len} floats for {} parameters",
                values.len()
            )));
        }
        // SAFETY: the plugin's buffer holds `len` floats, equal to the values' length.
        unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, len) };
        Ok(())
    })
}

unsafe extern "C" fn params_write(
    ctx: *mut HostContext,
    model: ModelId,
    values: *const f32,
    len: usize,
) -> Status {
    serve(ctx, |c| {
        let values = slice(values, len, "values")?;
        c.state.borrow_mut().write_params(model, values)
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
    serve(ctx, |c| {
        let ids = slice(models, count, "models")?;
        let coefficients = slice(coefficients, len, "coefficients")?.to_vec();
        let coefficients = match granularity {
            ffi::BLEND_WHOLE => Coefficients::Whole(coefficients),
            ffi::BLEND_PER_LAYER => Coefficients::PerLayer(coefficients),
            ffi::BLEND_PER_ELEMENT => Coefficients::PerElement(coefficients),
            other => return Err(invalid(format!("unknown blend granularity {other}"))),
        };
        let id = c.state.borrow_mut().blend(ids, coefficients)?;
        put(out, id)
    })
}

unsafe extern "C" fn params_noise(
    ctx: *mut HostContext,
    model: ModelId,
    sigma: f64,
    probability: f64,
    per_tensor: u8,
    seed: u64,
) -> Status {
    serve(ctx, |c| {
        if !(sigma.is_finite() && sigma >= 0.0 && (0.0..=1.0).contains(&probability)) {
            return Err(invalid(format!(
                "noise needs σ ≥ 0 and a probability in [0, 1], found {sigma} and {probability}"
            )));
        }
        c.state.borrow_mut().add_noise(
            model,
            Noise {
                sigma,
                probability,
                per_tensor: per_tensor != 0,
                seed,
            },
        )
    })
}

unsafe extern "C" fn params_mask(
    ctx: *mut HostContext,
    model: ModelId,
    mask: *const f32,
    len: usize,
) -> Status {
    serve(ctx, |c| {
        let mask = (len > 0).then(|| slice(mask, len, "mask")).transpose()?;
        c.state.borrow_mut().set_mask(model, mask)
    })
}

unsafe extern "C" fn train(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    subset: *const u32,
    subset_len: usize,
    out: *mut *mut c_char,
) -> Status {
    serve(ctx, |c| {
        let ids = slice(models, count, "models")?.to_vec();
        let spec: TrainSpec = json(spec, "train spec")?;
        let subset = train_subset(subset, subset_len)?;
        let report = c.state.borrow_mut().train(&ids, spec, subset)?;
        put_json(out, &report)
    })
}

unsafe extern "C" fn train_each(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    specs: *const c_char,
    out: *mut *mut c_char,
) -> Status {
    serve(ctx, |c| {
        let ids = slice(models, count, "models")?;
        let specs: Vec<TrainSpec> = json(specs, "train specs")?;
        if specs.len() != ids.len() {
            return Err(ServiceError::invalid(format!(
                "{} models but {} train specs",
                ids.len(),
                specs.len()
            )));
        }
        let items: Vec<(ModelId, TrainSpec)> = ids.iter().copied().zip(specs).collect();
        let reports = c.state.borrow_mut().train_each(&items)?;
        put_json(out, &reports)
    })
}

fn train_subset(subset: *const u32, len: usize) -> Result<Option<Vec<usize>>, ServiceError> {
    (len > 0)
        .then(|| slice(subset, len, "subset").map(|s| s.iter().map(|&i| i as usize).collect()))
        .transpose()
}

#[allow(clippy::too_many_arguments)] // the ABI's signature
unsafe extern "C" fn train_samples(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    subset: *const u32,
    subset_len: usize,
    losses: *mut f32,
    correct: *mut u8,
    len: usize,
    out: *mut *mut c_char,
) -> Status {
    serve(ctx, |c| {
        let ids = slice(models, count, "models")?.to_vec();
        let spec: TrainSpec = json(spec, "train spec")?;
        let subset = train_subset(subset, subset_len)?;
        let (report, record) = c.state.borrow_mut().train_recording(&ids, spec, subset)?;
        write_samples(&record.loss, &record.correct, losses, correct, len)?;
        put_json(out, &report)
    })
}

unsafe extern "C" fn evaluate_samples(
    ctx: *mut HostContext,
    model: ModelId,
    spec: *const c_char,
    losses: *mut f32,
    correct: *mut u8,
    len: usize,
) -> Status {
    serve(ctx, |c| {
        let spec: EvalSpec = json(spec, "eval spec")?;
        let evaluation = c.state.borrow().evaluate_samples(&[model], &spec)?;
        let loss = first_row(evaluation.per_sample_loss);
        let hits = first_row(evaluation.per_sample_correct);
        write_samples(&loss, &hits, losses, correct, len)
    })
}

/// The first model's row of per-sample values (empty when none were measured).
fn first_row<T>(rows: Option<Vec<Vec<T>>>) -> Vec<T> {
    rows.and_then(|r| r.into_iter().next()).unwrap_or_default()
}

/// Writes per-sample losses and correctness into a plugin's buffers of `len` values each;
/// `correct` is null when not wanted, and must be for real-valued targets (none measured).
fn write_samples(
    loss: &[f32],
    hits: &[u8],
    losses: *mut f32,
    correct: *mut u8,
    len: usize,
) -> Result<(), ServiceError> {
    if losses.is_null() {
        return Err(invalid("losses is null"));
    }
    copy_into(loss, losses, len, "losses")?;
    if !correct.is_null() {
        if hits.is_empty() && !loss.is_empty() {
            return Err(invalid(
                "correct: real-valued targets have no right or wrong; pass null",
            ));
        }
        copy_into(hits, correct, len, "correct")?;
    }
    Ok(())
}

#[allow(clippy::too_many_arguments)] // the ABI's signature
unsafe extern "C" fn evaluate(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    out: *mut *mut c_char,
    losses: *mut f32,
    losses_len: usize,
    probabilities: *mut f32,
    probabilities_len: usize,
) -> Status {
    serve(ctx, |c| {
        let ids = slice(models, count, "models")?;
        let spec: EvalSpec = json(spec, "eval spec")?;
        let want_losses = !losses.is_null() && losses_len > 0;
        let want_probs = !probabilities.is_null() && probabilities_len > 0;
        let evaluation = c
            .state
            .borrow()
            .evaluate(ids, &spec, want_losses, want_probs)?;
        if let Some(per_sample) = &evaluation.per_sample_loss {
            let flat: Vec<f32> = per_sample.iter().flatten().copied().collect();
            copy_into(&flat, losses, losses_len, "losses")?;
        }
        if let Some(probs) = &evaluation.probabilities {
            copy_into(probs, probabilities, probabilities_len, "probabilities")?;
        }
        put_json(out, &evaluation.metrics)
    })
}

fn copy_into<T: Copy>(
    values: &[T],
    out: *mut T,
    len: usize,
    what: &str,
) -> Result<(), ServiceError> {
    if values.len() != len {
        return Err(invalid(format!(
            "{what}: a buffer of {len} values for {} samples",
            values.len()
        )));
    }
    // SAFETY: the plugin's buffer holds `len` values, equal to the values' length.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, len) };
    Ok(())
}

unsafe extern "C" fn call_hook(
    ctx: *mut HostContext,
    name: *const c_char,
    args: *const c_char,
    out: *mut *mut c_char,
) -> Status {
    serve(ctx, |c| {
        let name = text(name, "hook name")?;
        let args: Value = json(args, "hook arguments")?;
        let value = c.state.borrow().call_hook(name, &args)?;
        put_json(out, &value)
    })
}

unsafe extern "C" fn model_align(
    ctx: *mut HostContext,
    reference: ModelId,
    model: ModelId,
    seed: u64,
    out: *mut ModelId,
) -> Status {
    serve(ctx, |c| {
        let id = c.state.borrow_mut().align(reference, model, seed)?;
        put(out, id)
    })
}

unsafe extern "C" fn params_transfer(
    ctx: *mut HostContext,
    from: ModelId,
    to: ModelId,
    out: *mut u64,
) -> Status {
    serve(ctx, |c| {
        let copied = c.state.borrow_mut().transfer(from, to)?;
        put(out, copied.values as u64)
    })
}

unsafe extern "C" fn model_compact(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut ModelId,
) -> Status {
    serve(ctx, |c| {
        let id = c.state.borrow_mut().compact(model)?;
        put(out, id)
    })
}
