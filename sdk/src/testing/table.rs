//! The mock's host table: `extern "C"` functions over its [`State`].

use std::cell::RefCell;
use std::ffi::{CStr, CString, c_char};

use serde_json::{Value, json};

use super::{MockModel, SampleModel, State, TrainCall};
use crate::ffi::{self, HostContext, HostTable, ModelId, Status};
use crate::host::c_string;
use crate::metrics::{DatasetInfo, EvalSpec, Evaluation, Metrics, Split, Task, TrainReport};
use crate::training::TrainSpec;

/// The table over `state`, whose box gives it a stable address.
pub(super) fn host_table(state: &RefCell<State>) -> HostTable {
    let ctx = std::ptr::from_ref(state).cast_mut().cast::<HostContext>();
    HostTable {
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
    f: impl FnOnce(&mut MockModel) -> Status,
) -> Status {
    let mut st = state(ctx).borrow_mut();
    st.calls += 1;
    match st.models.get_mut(&model) {
        Some(m) => f(m),
        None => {
            drop(st);
            fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {model}"))
        }
    }
}

fn new_model(ctx: *mut HostContext, model: MockModel, out: *mut ModelId) -> Status {
    let id = state(ctx).borrow_mut().insert(model);
    // SAFETY: the caller passes a valid out place.
    unsafe { *out = id };
    ffi::STATUS_OK
}

/// A small deterministic generator for noise, so the mock needs no dependency.
pub(super) fn splitmix(x: &mut u64) -> f64 {
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

unsafe extern "C" fn dataset_info(ctx: *mut HostContext, out: *mut *mut c_char) -> Status {
    let st = state(ctx).borrow();
    let info = DatasetInfo {
        name: "mock".into(),
        task: st.task,
        sample_shape: vec![4],
        train: st.train_samples,
        validation: st.validation_samples,
    };
    drop(st);
    write_json(out, &serde_json::to_value(info).expect("serialises"))
}

unsafe extern "C" fn model_create(
    ctx: *mut HostContext,
    spec: *const c_char,
    seed: u64,
    out: *mut ModelId,
) -> Status {
    let spec: Value = serde_json::from_str(read_str(spec)).unwrap_or(Value::Null);
    let tensors: Option<Vec<usize>> = match (spec.get("tensors"), spec.get("params")) {
        (Some(t), _) => serde_json::from_value(t.clone()).ok(),
        (None, Some(n)) => n.as_u64().map(|n| vec![n as usize]),
        (None, None) => None,
    };
    let Some(tensors) = tensors else {
        return fail(
            ctx,
            ffi::STATUS_INVALID_ARGUMENT,
            "the mock host needs a spec {\"params\": n} or {\"tensors\": [sizes]}".into(),
        );
    };
    let mut x = seed;
    let params = (0..tensors.iter().sum::<usize>())
        .map(|_| (splitmix(&mut x) * 2.0 - 1.0) as f32)
        .collect();
    let model = MockModel {
        params,
        tensors,
        mask: None,
    };
    new_model(ctx, model, out)
}

/// A copy keeps the mask, as the host's does.
unsafe extern "C" fn model_clone(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut ModelId,
) -> Status {
    let copy = state(ctx).borrow().models.get(&model).cloned();
    match copy {
        Some(m) => new_model(ctx, m, out),
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
    with_model(ctx, model, |m| {
        // SAFETY: the caller passes a valid out place.
        unsafe { *out = m.params.len() as u64 };
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn model_spec(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut *mut c_char,
) -> Status {
    with_model(ctx, model, |m| {
        write_json(
            out,
            &json!({ "params": m.params.len(), "tensors": m.tensors }),
        )
    })
}

unsafe extern "C" fn params_read(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut f32,
    len: usize,
) -> Status {
    with_model(ctx, model, |m| {
        if len != m.params.len() || out.is_null() {
            return ffi::STATUS_INVALID_ARGUMENT;
        }
        // SAFETY: the caller's buffer holds `len` floats, checked equal to ours.
        unsafe { std::ptr::copy_nonoverlapping(m.params.as_ptr(), out, len) };
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn params_write(
    ctx: *mut HostContext,
    model: ModelId,
    values: *const f32,
    len: usize,
) -> Status {
    with_model(ctx, model, |m| {
        if len != m.params.len() || values.is_null() {
            return ffi::STATUS_INVALID_ARGUMENT;
        }
        // SAFETY: the caller's slice holds `len` floats.
        m.params
            .copy_from_slice(unsafe { std::slice::from_raw_parts(values, len) });
        m.apply_mask();
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
        .map(|id| state(ctx).borrow().models.get(id).map(|m| m.params.clone()))
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
    let tensors = state(ctx)
        .borrow()
        .models
        .get(&ids[0])
        .map(|m| m.tensors.clone());
    let model = MockModel {
        params: blended,
        tensors: tensors.unwrap_or_else(|| vec![n]),
        mask: None,
    };
    new_model(ctx, model, out)
}

unsafe extern "C" fn params_noise(
    ctx: *mut HostContext,
    model: ModelId,
    sigma: f64,
    probability: f64,
    per_tensor: u8,
    seed: u64,
) -> Status {
    with_model(ctx, model, |m| {
        let mut x = seed;
        let gaussian = |x: &mut u64| {
            // Box-Muller from two uniforms.
            let (u1, u2) = (splitmix(x).max(1e-12), splitmix(x));
            (sigma * (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
        };
        let mut start = 0;
        for &size in &m.tensors {
            let tensor = &mut m.params[start..start + size];
            start += size;
            // Per tensor, one draw decides for all its elements; else each element draws.
            let whole = per_tensor != 0 && splitmix(&mut x) < probability;
            for v in tensor {
                if whole || (per_tensor == 0 && splitmix(&mut x) < probability) {
                    *v += gaussian(&mut x);
                }
            }
        }
        m.apply_mask();
        ffi::STATUS_OK
    })
}

unsafe extern "C" fn params_mask(
    ctx: *mut HostContext,
    model: ModelId,
    mask: *const f32,
    len: usize,
) -> Status {
    with_model(ctx, model, |m| {
        if len == 0 {
            m.mask = None;
            return ffi::STATUS_OK;
        }
        if len != m.params.len() || mask.is_null() {
            return ffi::STATUS_INVALID_ARGUMENT;
        }
        // SAFETY: the caller's slice holds `len` floats.
        m.mask = Some(unsafe { std::slice::from_raw_parts(mask, len) }.to_vec());
        m.apply_mask();
        ffi::STATUS_OK
    })
}

/// `len` indices at `p`, as a list (`None` when there are none: all samples).
fn subset(p: *const u32, len: usize) -> Option<Vec<u32>> {
    if p.is_null() || len == 0 {
        return None;
    }
    // SAFETY: pointer and length of the caller's slice.
    Some(unsafe { std::slice::from_raw_parts(p, len) }.to_vec())
}

/// The first index of `subset` past a split of `len` samples, as the host's error.
fn check_subset(subset: &[u32], len: usize) -> Result<(), String> {
    match subset.iter().find(|&&i| i as usize >= len) {
        Some(bad) => Err(format!(
            "subset index {bad} is past the split's {len} samples"
        )),
        None => Ok(()),
    }
}

/// `train` with each model in turn, as the host does without an executor.
unsafe extern "C" fn train_each(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    specs: *const c_char,
    out: *mut *mut c_char,
) -> Status {
    let specs: Vec<Value> = match serde_json::from_str(read_str(specs)) {
        Ok(specs) => specs,
        Err(e) => {
            let message = format!("train specs: {e}");
            return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, message);
        }
    };
    // SAFETY: pointer and length of the caller's slice.
    let ids = unsafe { std::slice::from_raw_parts(models, count) };
    if specs.len() != ids.len() {
        let message = format!("{} models but {} train specs", ids.len(), specs.len());
        return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, message);
    }
    // As the real host: a model listed twice is refused, not trained twice.
    let mut seen = std::collections::HashSet::new();
    if let Some(id) = ids.iter().find(|id| !seen.insert(**id)) {
        let message = format!("train_each lists model {id} twice: each model trains once a call");
        return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, message);
    }
    let mut reports = Vec::new();
    for (id, spec) in ids.iter().zip(&specs) {
        let spec = c_string(&spec.to_string());
        let mut one = std::ptr::null_mut();
        // SAFETY: a live id, a valid C string and out-pointer.
        let status = unsafe { train(ctx, id, 1, spec.as_ptr(), std::ptr::null(), 0, &mut one) };
        if status != ffi::STATUS_OK {
            return status;
        }
        // SAFETY: `train` wrote a string this table allocated.
        let text = unsafe { CString::from_raw(one) };
        match serde_json::from_str::<Value>(&text.to_string_lossy()) {
            Ok(report) => reports.push(report),
            Err(e) => {
                let message = format!("model {id}'s training report is not JSON: {e}");
                return fail(ctx, ffi::STATUS_ERROR, message);
            }
        }
    }
    write_json(out, &Value::Array(reports))
}

unsafe extern "C" fn train(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    subset_ptr: *const u32,
    subset_len: usize,
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
    let subset = subset(subset_ptr, subset_len);
    let train_samples = state(ctx).borrow().train_samples;
    if let Some(Err(e)) = subset.as_deref().map(|s| check_subset(s, train_samples)) {
        return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, e);
    }
    // SAFETY: pointer and length of the caller's slice.
    let ids = unsafe { std::slice::from_raw_parts(models, count) }.to_vec();
    let call = TrainCall {
        models: ids.clone(),
        spec,
        subset,
    };
    let mut st = state(ctx).borrow_mut();
    st.calls += 1;
    if let Some(missing) = ids.iter().find(|id| !st.models.contains_key(id)) {
        drop(st);
        return fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {missing}"));
    }
    let State {
        models, trainer, ..
    } = &mut *st;
    for id in &ids {
        if let (Some(m), Some(trainer)) = (models.get_mut(id), trainer.as_ref()) {
            trainer(&mut m.params, &call);
            m.apply_mask();
        }
    }
    let samples: Vec<usize> = match &call.subset {
        Some(s) => s.iter().map(|&i| i as usize).collect(),
        None => (0..st.train_samples).collect(),
    };
    let train_loss = ids
        .iter()
        .map(|id| mean_loss(&st, &st.models[id].params, Split::Train, &samples))
        .collect();
    let batches = samples.len().div_ceil(call.spec.batch_size.max(1));
    let report = TrainReport {
        samples: (call.spec.epochs * samples.len()) as u64,
        steps: (call.spec.epochs * batches) as u64,
        train_loss,
        lr: call.spec.optimizer.map_or(0.0, |o| o.lr()),
    };
    st.trained.push(call);
    drop(st);
    write_json(out, &serde_json::to_value(report).expect("serialises"))
}

/// `train`, then each position's loss and correctness under the trained parameters (the
/// mock's training pass is the call itself).
#[allow(clippy::too_many_arguments)] // the ABI's signature
unsafe extern "C" fn train_samples(
    ctx: *mut HostContext,
    models: *const ModelId,
    count: usize,
    spec: *const c_char,
    subset_ptr: *const u32,
    subset_len: usize,
    losses: *mut f32,
    correct: *mut u8,
    len: usize,
    out: *mut *mut c_char,
) -> Status {
    // SAFETY: the caller's arguments, passed on as they came.
    let status = unsafe { train(ctx, models, count, spec, subset_ptr, subset_len, out) };
    if status != ffi::STATUS_OK {
        return status;
    }
    // SAFETY: pointer and length of the caller's slice, checked by `train`.
    let ids = unsafe { std::slice::from_raw_parts(models, count) };
    let st = state(ctx).borrow();
    let samples: Vec<usize> = match subset(subset_ptr, subset_len) {
        Some(s) => s.iter().map(|&i| i as usize).collect(),
        None => (0..st.train_samples).collect(),
    };
    let (mut loss, mut hits) = (Vec::new(), Vec::new());
    for id in ids {
        let (l, c) = sample_values(&st, &st.models[id].params, Split::Train, &samples);
        loss.extend(l);
        hits.extend(c);
    }
    drop(st);
    match write_samples(&loss, &hits, losses, correct, len) {
        Ok(()) => ffi::STATUS_OK,
        Err(e) => fail(ctx, ffi::STATUS_INVALID_ARGUMENT, e),
    }
}

unsafe extern "C" fn evaluate_samples(
    ctx: *mut HostContext,
    model: ModelId,
    spec: *const c_char,
    losses: *mut f32,
    correct: *mut u8,
    len: usize,
) -> Status {
    let spec = match serde_json::from_str::<EvalSpec>(read_str(spec)) {
        Ok(spec) => spec,
        Err(e) => return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, format!("eval spec: {e}")),
    };
    let mut st = state(ctx).borrow_mut();
    st.calls += 1;
    let split_len = match spec.split {
        Split::Train => st.train_samples,
        Split::Validation => st.validation_samples,
    };
    let samples: Vec<usize> = match &spec.subset {
        Some(s) => match check_subset(s, split_len) {
            Ok(()) => s.iter().map(|&i| i as usize).collect(),
            Err(e) => {
                drop(st);
                return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, e);
            }
        },
        None => (0..split_len).collect(),
    };
    let Some(m) = st.models.get(&model) else {
        drop(st);
        return fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {model}"));
    };
    let (loss, hits) = sample_values(&st, &m.params, spec.split, &samples);
    drop(st);
    match write_samples(&loss, &hits, losses, correct, len) {
        Ok(()) => ffi::STATUS_OK,
        Err(e) => fail(ctx, ffi::STATUS_INVALID_ARGUMENT, e),
    }
}

/// Each sample's loss and (for classes) whether its label's probability is the largest.
fn sample_values(
    st: &State,
    params: &[f32],
    split: Split,
    samples: &[usize],
) -> (Vec<f32>, Vec<u8>) {
    let fitness = st.fitness(params);
    let loss: Vec<f32> = samples
        .iter()
        .map(|&i| st.samples.loss(params, fitness, split, i) as f32)
        .collect();
    let hits = match st.task {
        Task::Classification { classes } => loss
            .iter()
            .map(|&l| u8::from(SampleModel::is_right(f64::from(l), classes)))
            .collect(),
        Task::Regression => Vec::new(),
    };
    (loss, hits)
}

fn write_samples(
    loss: &[f32],
    hits: &[u8],
    losses: *mut f32,
    correct: *mut u8,
    len: usize,
) -> Result<(), String> {
    if losses.is_null() {
        return Err("losses is null".into());
    }
    fill(losses, len, loss, "losses")?;
    if !correct.is_null() {
        fill(correct, len, hits, "correct")?;
    }
    Ok(())
}

fn mean_loss(st: &State, params: &[f32], split: Split, samples: &[usize]) -> f64 {
    let fitness = st.fitness(params);
    let total: f64 = samples
        .iter()
        .map(|&i| st.samples.loss(params, fitness, split, i))
        .sum();
    total / samples.len().max(1) as f64
}

/// Copies `values` into the caller's buffer of `len` values, which must fit them exactly.
fn fill<T: Copy>(out: *mut T, len: usize, values: &[T], what: &str) -> Result<(), String> {
    if values.len() != len {
        return Err(format!(
            "{what}: a buffer of {len} values for {} samples",
            values.len()
        ));
    }
    // SAFETY: the caller's buffer holds `len` values, equal to the values' length.
    unsafe { std::ptr::copy_nonoverlapping(values.as_ptr(), out, len) };
    Ok(())
}

/// What an evaluation computes: the metrics, then per-sample losses `[model][sample]` and
/// probabilities `[model][sample][class]`, flat.
type Scored = (Evaluation, Vec<f32>, Vec<f32>);

/// Metrics, per-sample losses and probabilities of `ids` on the samples of `spec`.
fn score(st: &State, ids: &[ModelId], spec: &EvalSpec) -> Result<Scored, (Status, String)> {
    let len = match spec.split {
        Split::Train => st.train_samples,
        Split::Validation => st.validation_samples,
    };
    let samples: Vec<usize> = match &spec.subset {
        Some(s) => {
            check_subset(s, len).map_err(|e| (ffi::STATUS_INVALID_ARGUMENT, e))?;
            s.iter().map(|&i| i as usize).collect()
        }
        None => (0..len).collect(),
    };
    let classes = match st.task {
        Task::Classification { classes } => classes,
        Task::Regression => 1,
    };
    let (mut members, mut losses, mut probabilities) = (Vec::new(), Vec::new(), Vec::new());
    for id in ids {
        let m = st
            .models
            .get(id)
            .ok_or((ffi::STATUS_NOT_FOUND, format!("no model {id}")))?;
        let fitness = st.fitness(&m.params);
        for &i in &samples {
            let loss = st.samples.loss(&m.params, fitness, spec.split, i);
            losses.push(loss as f32);
            probabilities.extend(SampleModel::probabilities(loss, i, classes));
        }
        members.push(Metrics {
            loss: mean_loss(st, &m.params, spec.split, &samples),
            accuracy: Some(fitness),
            samples: samples.len(),
            ..Metrics::default()
        });
    }
    let evaluation = Evaluation {
        members,
        ensemble: None,
        diagnostics: None,
    };
    Ok((evaluation, losses, probabilities))
}

/// Accuracy is the fitness function's value; the loss is the mean of the samples' losses
/// (see [`SampleModel`]), which also fill the buffers when they are given.
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
    let spec = match serde_json::from_str::<EvalSpec>(read_str(spec)) {
        Ok(spec) => spec,
        Err(e) => return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, format!("eval spec: {e}")),
    };
    // SAFETY: pointer and length of the caller's slice.
    let ids = unsafe { std::slice::from_raw_parts(models, count) };
    state(ctx).borrow_mut().calls += 1;
    let scored = score(&state(ctx).borrow(), ids, &spec);
    let (evaluation, sample_losses, sample_probabilities) = match scored {
        Ok(scored) => scored,
        Err((status, message)) => return fail(ctx, status, message),
    };
    let filled = (|| {
        if !losses.is_null() && losses_len > 0 {
            fill(losses, losses_len, &sample_losses, "losses")?;
        }
        if !probabilities.is_null() && probabilities_len > 0 {
            fill(
                probabilities,
                probabilities_len,
                &sample_probabilities,
                "probabilities",
            )?;
        }
        Ok::<(), String>(())
    })();
    if let Err(e) = filled {
        return fail(ctx, ffi::STATUS_INVALID_ARGUMENT, e);
    }
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

/// The mock's models have no units to remove: a compacted model is a copy.
unsafe extern "C" fn model_compact(
    ctx: *mut HostContext,
    model: ModelId,
    out: *mut ModelId,
) -> Status {
    // SAFETY: forwarded as received.
    unsafe { model_clone(ctx, model, out) }
}

/// The mock's tensors have no names, so a transfer copies the tensors at the same position
/// that have the same size, as the host's does by name and shape.
unsafe extern "C" fn params_transfer(
    ctx: *mut HostContext,
    from: ModelId,
    to: ModelId,
    out: *mut u64,
) -> Status {
    let Some(source) = state(ctx).borrow().models.get(&from).cloned() else {
        return fail(ctx, ffi::STATUS_NOT_FOUND, format!("no model {from}"));
    };
    with_model(ctx, to, |m| {
        let (mut copied, mut start_from, mut start_to) = (0, 0, 0);
        for (k, &size) in m.tensors.iter().enumerate() {
            if source.tensors.get(k) == Some(&size) {
                m.params[start_to..start_to + size]
                    .copy_from_slice(&source.params[start_from..start_from + size]);
                copied += size;
            }
            start_to += size;
            start_from += source.tensors.get(k).copied().unwrap_or(0);
        }
        m.apply_mask();
        // SAFETY: the caller passes a valid out place.
        unsafe { *out = copied as u64 };
        ffi::STATUS_OK
    })
}
