//! [`Host`]: the host table behind a safe, typed handle.

use std::ffi::{CStr, CString, c_char};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::ffi::{self, HostTable, ModelId, Status};
use crate::metrics::{DatasetInfo, EvalSpec, Evaluation, Split, Task, TrainReport};
use crate::prefix;
use crate::samples::SampleResults;
use crate::training::TrainSpec;

/// A host call that failed: its status and the host's explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostError {
    /// The status the host returned.
    pub status: Status,
    /// What the host said.
    pub message: String,
}

impl std::fmt::Display for HostError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} (status {})", self.message, self.status)
    }
}

impl std::error::Error for HostError {}

/// Blend coefficients (see [`Host::blend`]).
#[derive(Debug, Clone, PartialEq)]
pub enum Coefficients {
    /// One per model.
    Whole(Vec<f32>),
    /// One per model and parametric layer, model-major.
    PerLayer(Vec<f32>),
    /// One per model and parameter, model-major.
    PerElement(Vec<f32>),
}

/// Gaussian perturbation (see [`Host::add_noise`]).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, serde::Deserialize)]
pub struct Noise {
    /// Standard deviation.
    pub sigma: f64,
    /// Probability that a parameter (or a tensor) is perturbed.
    pub probability: f64,
    /// Decide per tensor instead of per parameter.
    #[serde(default)]
    pub per_tensor: bool,
    /// Seed of the draw.
    pub seed: u64,
}

impl Noise {
    /// Noise of standard deviation `sigma` on every parameter, drawn from `seed`.
    pub fn gaussian(sigma: f64, seed: u64) -> Self {
        Self {
            sigma,
            probability: 1.0,
            per_tensor: false,
            seed,
        }
    }
}

/// The services of the host, for the duration of a plugin instance.
///
/// Calls go through the C ABI; JSON crosses as strings and bulk numbers as slices. The handle
/// holds a copy of the host's table as the host built it (see [`crate::prefix`]), so the
/// functions of later versions than the host's read as `None`.
#[derive(Debug, Clone, Copy)]
pub struct Host {
    table: HostTable,
}

impl Host {
    /// Wraps the host table a plugin was given, after checking its version and size.
    ///
    /// # Safety
    /// `table` must point at a host table whose context and functions stay valid for every
    /// use of the returned handle.
    pub unsafe fn from_raw(table: *const HostTable) -> Result<Self, HostError> {
        if table.is_null() {
            return Err(error(
                ffi::STATUS_INVALID_ARGUMENT,
                "the host table is null",
            ));
        }
        // SAFETY: non-null, and the caller promises it points at a live table; the version
        // header is the one part every version shares.
        let header = unsafe { prefix::header(table) };
        if header.abi_major != ffi::ABI_MAJOR {
            return Err(error(
                ffi::STATUS_UNSUPPORTED,
                &format!(
                    "host ABI {}.{}, plugin built for {}.x",
                    header.abi_major,
                    header.abi_minor,
                    ffi::ABI_MAJOR
                ),
            ));
        }
        // SAFETY: a table of this major: `size` bytes of its layout.
        let table = unsafe { prefix::read(table) }.ok_or_else(|| {
            error(
                ffi::STATUS_UNSUPPORTED,
                &format!(
                    "host table of {} bytes, version 1.0 has {}",
                    header.size,
                    HostTable::V1_0_SIZE
                ),
            )
        })?;
        Ok(Self { table })
    }

    /// The table as the host built it, for calls the typed layer does not cover. Functions
    /// appended after 1.0 are `None` where the host predates them.
    pub fn raw(&self) -> &HostTable {
        &self.table
    }

    fn check(&self, status: Status) -> Result<(), HostError> {
        if status == ffi::STATUS_OK {
            return Ok(());
        }
        let t = self.raw();
        // SAFETY: `last_error` returns null or a NUL-terminated string valid until the next call.
        let message = unsafe {
            let p = (t.last_error)(t.ctx);
            if p.is_null() {
                String::from("the host gave no reason")
            } else {
                CStr::from_ptr(p).to_string_lossy().into_owned()
            }
        };
        Err(HostError { status, message })
    }

    /// Takes ownership of a host-allocated string and frees it on the host's side.
    fn take_string(&self, p: *mut c_char) -> String {
        if p.is_null() {
            return String::new();
        }
        let t = self.raw();
        // SAFETY: the host returned `p` as a NUL-terminated string it allocated; it is read
        // once and handed back to the host's own `free_string`.
        unsafe {
            let text = CStr::from_ptr(p).to_string_lossy().into_owned();
            (t.free_string)(t.ctx, p);
            text
        }
    }

    fn take_json<T: DeserializeOwned>(&self, p: *mut c_char) -> Result<T, HostError> {
        let text = self.take_string(p);
        serde_json::from_str(&text).map_err(|e| {
            error(
                ffi::STATUS_ERROR,
                &format!("the host's JSON did not parse: {e}"),
            )
        })
    }

    /// Writes a log line through the host's logger.
    pub fn log(&self, level: u32, message: &str) {
        let t = self.raw();
        let message = c_string(message);
        // SAFETY: a valid C string for the duration of the call.
        unsafe { (t.log)(t.ctx, level, message.as_ptr()) }
    }

    /// Records metrics at `step` in the run's metrics log.
    pub fn log_metrics(&self, step: u64, metrics: &Value) -> Result<(), HostError> {
        let t = self.raw();
        let json = c_string(&metrics.to_string());
        // SAFETY: a valid C string for the duration of the call.
        self.check(unsafe { (t.log_metrics)(t.ctx, step, json.as_ptr()) })
    }

    /// Reports progress for the host's display.
    pub fn progress(&self, done: u64, total: u64) {
        let t = self.raw();
        // SAFETY: plain values.
        unsafe { (t.progress)(t.ctx, done, total) }
    }

    /// Whether the run was asked to stop.
    pub fn is_cancelled(&self) -> bool {
        let t = self.raw();
        // SAFETY: plain values.
        unsafe { (t.is_cancelled)(t.ctx) != 0 }
    }

    /// A seed for the use named `label`, number `index`, derived from the run's seed.
    pub fn derive_seed(&self, label: &str, index: u64) -> u64 {
        let t = self.raw();
        let label = c_string(label);
        // SAFETY: a valid C string for the duration of the call.
        unsafe { (t.derive_seed)(t.ctx, label.as_ptr(), index) }
    }

    /// The data set.
    pub fn dataset_info(&self) -> Result<DatasetInfo, HostError> {
        let t = self.raw();
        let mut out = std::ptr::null_mut();
        // SAFETY: `out` is a valid place for the host to write a string pointer.
        self.check(unsafe { (t.dataset_info)(t.ctx, &mut out) })?;
        self.take_json(out)
    }

    /// A new model from a spec (a model spec, or `{"preset": "lenet5"}`), initialised from `seed`.
    pub fn create_model(&self, spec: &Value, seed: u64) -> Result<ModelId, HostError> {
        let t = self.raw();
        let json = c_string(&spec.to_string());
        let mut id = 0;
        // SAFETY: valid C string and out-pointer for the duration of the call.
        self.check(unsafe { (t.model_create)(t.ctx, json.as_ptr(), seed, &mut id) })?;
        Ok(id)
    }

    /// A copy of `model`.
    pub fn clone_model(&self, model: ModelId) -> Result<ModelId, HostError> {
        let t = self.raw();
        let mut id = 0;
        // SAFETY: valid out-pointer.
        self.check(unsafe { (t.model_clone)(t.ctx, model, &mut id) })?;
        Ok(id)
    }

    /// Copies into `to` every tensor of `from` whose name and shape match (a partner of
    /// another architecture restarting from what `from` learned); returns the parameter values
    /// copied. Needs a host of ABI 1.2 or later; an older one answers
    /// [`ffi::STATUS_UNSUPPORTED`].
    pub fn transfer(&self, from: ModelId, to: ModelId) -> Result<u64, HostError> {
        let Some(transfer) = self.raw().params_transfer else {
            return Err(error(
                ffi::STATUS_UNSUPPORTED,
                "this host predates ABI 1.2 and cannot transfer weights",
            ));
        };
        let ctx = self.raw().ctx;
        let mut copied = 0;
        // SAFETY: valid out-pointer.
        self.check(unsafe { transfer(ctx, from, to, &mut copied) })?;
        Ok(copied)
    }

    /// A new model: `model` without its dead units (channels or features whose weights, bias
    /// and batch norm scale and shift are all zero), physically smaller and computing what
    /// `model` computes. Needs a host of ABI 1.4 or later; an older one answers
    /// [`ffi::STATUS_UNSUPPORTED`].
    pub fn compact(&self, model: ModelId) -> Result<ModelId, HostError> {
        let Some(compact) = self.raw().model_compact else {
            return Err(error(
                ffi::STATUS_UNSUPPORTED,
                "this host predates ABI 1.4 and cannot compact models",
            ));
        };
        let ctx = self.raw().ctx;
        let mut id = 0;
        // SAFETY: valid out-pointer.
        self.check(unsafe { compact(ctx, model, &mut id) })?;
        Ok(id)
    }

    /// A new model: `model` with its hidden units reordered to match `reference`'s (weight
    /// matching), ready to be blended with it. Needs a host of ABI 1.1 or later; an older one
    /// answers [`ffi::STATUS_UNSUPPORTED`].
    pub fn align(
        &self,
        reference: ModelId,
        model: ModelId,
        seed: u64,
    ) -> Result<ModelId, HostError> {
        let Some(align) = self.raw().model_align else {
            return Err(error(
                ffi::STATUS_UNSUPPORTED,
                "this host predates ABI 1.1 and cannot align models",
            ));
        };
        let ctx = self.raw().ctx;
        let mut id = 0;
        // SAFETY: valid out-pointer.
        self.check(unsafe { align(ctx, reference, model, seed, &mut id) })?;
        Ok(id)
    }

    /// Releases `model`.
    pub fn free_model(&self, model: ModelId) -> Result<(), HostError> {
        let t = self.raw();
        // SAFETY: plain values.
        self.check(unsafe { (t.model_free)(t.ctx, model) })
    }

    /// Parameters of `model`.
    pub fn param_count(&self, model: ModelId) -> Result<usize, HostError> {
        let t = self.raw();
        let mut n = 0u64;
        // SAFETY: valid out-pointer.
        self.check(unsafe { (t.model_param_count)(t.ctx, model, &mut n) })?;
        Ok(n as usize)
    }

    /// The model's spec and parameter layout.
    pub fn model_spec(&self, model: ModelId) -> Result<Value, HostError> {
        let t = self.raw();
        let mut out = std::ptr::null_mut();
        // SAFETY: valid out-pointer.
        self.check(unsafe { (t.model_spec)(t.ctx, model, &mut out) })?;
        self.take_json(out)
    }

    /// The flat parameter vector.
    pub fn read_params(&self, model: ModelId) -> Result<Vec<f32>, HostError> {
        let n = self.param_count(model)?;
        let mut values = vec![0f32; n];
        let t = self.raw();
        // SAFETY: `values` has room for exactly `n` floats.
        self.check(unsafe { (t.params_read)(t.ctx, model, values.as_mut_ptr(), n) })?;
        Ok(values)
    }

    /// Replaces the flat parameter vector.
    pub fn write_params(&self, model: ModelId, values: &[f32]) -> Result<(), HostError> {
        let t = self.raw();
        // SAFETY: pointer and length of a live slice.
        self.check(unsafe { (t.params_write)(t.ctx, model, values.as_ptr(), values.len()) })
    }

    /// A new model `Σ c_k θ_k` of `models`.
    pub fn blend(
        &self,
        models: &[ModelId],
        coefficients: &Coefficients,
    ) -> Result<ModelId, HostError> {
        let (granularity, c) = match coefficients {
            Coefficients::Whole(c) => (ffi::BLEND_WHOLE, c),
            Coefficients::PerLayer(c) => (ffi::BLEND_PER_LAYER, c),
            Coefficients::PerElement(c) => (ffi::BLEND_PER_ELEMENT, c),
        };
        let t = self.raw();
        let mut id = 0;
        // SAFETY: pointers and lengths of live slices, a valid out-pointer.
        self.check(unsafe {
            (t.params_blend)(
                t.ctx,
                models.as_ptr(),
                models.len(),
                granularity,
                c.as_ptr(),
                c.len(),
                &mut id,
            )
        })?;
        Ok(id)
    }

    /// Perturbs `model`'s parameters in place.
    pub fn add_noise(&self, model: ModelId, noise: Noise) -> Result<(), HostError> {
        let t = self.raw();
        // SAFETY: plain values.
        self.check(unsafe {
            (t.params_noise)(
                t.ctx,
                model,
                noise.sigma,
                noise.probability,
                u8::from(noise.per_tensor),
                noise.seed,
            )
        })
    }

    /// Masks `model`'s parameters (0 removes a parameter); `None` removes the mask.
    pub fn set_mask(&self, model: ModelId, mask: Option<&[f32]>) -> Result<(), HostError> {
        let t = self.raw();
        let (ptr, len) = mask.map_or((std::ptr::null(), 0), |m| (m.as_ptr(), m.len()));
        // SAFETY: pointer and length of a live slice (or null and 0).
        self.check(unsafe { (t.params_mask)(t.ctx, model, ptr, len) })
    }

    /// Trains `models` (jointly when several) on the training samples `subset` (all if `None`).
    pub fn train(
        &self,
        models: &[ModelId],
        spec: &TrainSpec,
        subset: Option<&[u32]>,
    ) -> Result<TrainReport, HostError> {
        let t = self.raw();
        let json = c_string(&serde_json::to_string(spec).expect("a train spec serialises"));
        let (ptr, len) = subset.map_or((std::ptr::null(), 0), |s| (s.as_ptr(), s.len()));
        let mut out = std::ptr::null_mut();
        // SAFETY: pointers and lengths of live slices, a valid C string and out-pointer.
        self.check(unsafe {
            (t.train)(
                t.ctx,
                models.as_ptr(),
                models.len(),
                json.as_ptr(),
                ptr,
                len,
                &mut out,
            )
        })?;
        self.take_json(out)
    }

    /// Trains each model alone, `items[i].0` by `items[i].1`, on all training samples: the
    /// same as [`Host::train`] with each in turn, which is what a host older than ABI 1.5 is
    /// asked. A newer host may train them at once (on other machines, when its run has an
    /// executor). Reports come back in the items' order. A model listed twice is refused by
    /// every host, older ones included, before anything trains.
    pub fn train_each(
        &self,
        items: &[(ModelId, TrainSpec)],
    ) -> Result<Vec<TrainReport>, HostError> {
        // A newer host refuses it too; checking here keeps the older hosts' fallback the same.
        let mut seen = std::collections::HashSet::new();
        if let Some((id, _)) = items.iter().find(|(id, _)| !seen.insert(*id)) {
            return Err(HostError {
                status: ffi::STATUS_INVALID_ARGUMENT,
                message: format!(
                    "train_each lists model {id} twice: each model trains once a call"
                ),
            });
        }
        let Some(train_each) = self.raw().train_each else {
            return (items.iter())
                .map(|(model, spec)| self.train(&[*model], spec, None))
                .collect();
        };
        let models: Vec<ModelId> = items.iter().map(|(m, _)| *m).collect();
        let specs: Vec<&TrainSpec> = items.iter().map(|(_, s)| s).collect();
        let json = c_string(&serde_json::to_string(&specs).expect("train specs serialise"));
        let ctx = self.raw().ctx;
        let mut out = std::ptr::null_mut();
        // SAFETY: a live slice and its length, a valid C string and out-pointer.
        self.check(unsafe {
            train_each(ctx, models.as_ptr(), models.len(), json.as_ptr(), &mut out)
        })?;
        self.take_json(out)
    }

    /// Evaluates `models` and their ensemble; the host batches them on its device.
    pub fn evaluate(&self, models: &[ModelId], spec: &EvalSpec) -> Result<Evaluation, HostError> {
        self.evaluate_into(models, spec, None, None)
    }

    /// As [`Host::evaluate`], also writing per-sample losses (`models × samples`) and class
    /// probabilities (`models × samples × classes`) into the buffers given.
    pub fn evaluate_into(
        &self,
        models: &[ModelId],
        spec: &EvalSpec,
        losses: Option<&mut [f32]>,
        probabilities: Option<&mut [f32]>,
    ) -> Result<Evaluation, HostError> {
        let t = self.raw();
        let json = c_string(&serde_json::to_string(spec).expect("an eval spec serialises"));
        let (lp, ll) = losses.map_or((std::ptr::null_mut(), 0), |l| (l.as_mut_ptr(), l.len()));
        let (pp, pl) =
            probabilities.map_or((std::ptr::null_mut(), 0), |p| (p.as_mut_ptr(), p.len()));
        let mut out = std::ptr::null_mut();
        // SAFETY: pointers and lengths of live slices, a valid C string and out-pointer.
        self.check(unsafe {
            (t.evaluate)(
                t.ctx,
                models.as_ptr(),
                models.len(),
                json.as_ptr(),
                &mut out,
                lp,
                ll,
                pp,
                pl,
            )
        })?;
        self.take_json(out)
    }

    /// Each sample's loss and correctness for `model` on the split and subset of `spec`, in
    /// one pass. Needs a host of ABI 1.3 or later; an older one answers
    /// [`ffi::STATUS_UNSUPPORTED`].
    pub fn sample_results(
        &self,
        model: ModelId,
        spec: &EvalSpec,
    ) -> Result<SampleResults, HostError> {
        let Some(evaluate_samples) = self.raw().evaluate_samples else {
            return Err(unsupported_before_1_3("measure samples"));
        };
        let info = self.dataset_info()?;
        let len = match (&spec.subset, spec.split) {
            (Some(subset), _) => subset.len(),
            (None, Split::Train) => info.train,
            // Without a holdout the host validates on the training samples.
            (None, Split::Validation) if info.validation == 0 => info.train,
            (None, Split::Validation) => info.validation,
        };
        let (mut loss, mut correct) = buffers(len, info.task);
        let json = c_string(&serde_json::to_string(spec).expect("an eval spec serialises"));
        let ctx = self.raw().ctx;
        // SAFETY: buffers of `len` values (or null), a valid C string.
        self.check(unsafe {
            evaluate_samples(
                ctx,
                model,
                json.as_ptr(),
                loss.as_mut_ptr(),
                correct_ptr(&mut correct),
                len,
            )
        })?;
        Ok(SampleResults::from_buffers(loss, &correct))
    }

    /// As [`Host::train`], also returning, per model, what the last epoch's training pass
    /// measured of each position of `subset` (of every training sample when `None`): no
    /// forward pass besides training's own. Needs a host of ABI 1.3 or later.
    pub fn train_recording(
        &self,
        models: &[ModelId],
        spec: &TrainSpec,
        subset: Option<&[u32]>,
    ) -> Result<(TrainReport, Vec<SampleResults>), HostError> {
        let Some(train_samples) = self.raw().train_samples else {
            return Err(unsupported_before_1_3("record training samples"));
        };
        let info = self.dataset_info()?;
        let positions = subset.map_or(info.train, <[u32]>::len);
        let len = positions * models.len();
        let (mut loss, mut correct) = buffers(len, info.task);
        let json = c_string(&serde_json::to_string(spec).expect("a train spec serialises"));
        let (ptr, subset_len) = subset.map_or((std::ptr::null(), 0), |s| (s.as_ptr(), s.len()));
        let ctx = self.raw().ctx;
        let mut out = std::ptr::null_mut();
        // SAFETY: pointers and lengths of live slices, buffers of `len` values (or null), a
        // valid C string and out-pointer.
        self.check(unsafe {
            train_samples(
                ctx,
                models.as_ptr(),
                models.len(),
                json.as_ptr(),
                ptr,
                subset_len,
                loss.as_mut_ptr(),
                correct_ptr(&mut correct),
                len,
                &mut out,
            )
        })?;
        let report = self.take_json(out)?;
        let per_model = (0..models.len())
            .map(|m| {
                let rows = m * positions..(m + 1) * positions;
                let hits = correct.get(rows.clone()).unwrap_or(&[]);
                SampleResults::from_buffers(loss[rows].to_vec(), hits)
            })
            .collect();
        Ok((report, per_model))
    }

    /// Calls the script's hook `name`; `None` when the script defines none (use the default).
    pub fn call_hook(&self, name: &str, args: &Value) -> Result<Option<Value>, HostError> {
        let t = self.raw();
        let (name_c, args_c) = (c_string(name), c_string(&args.to_string()));
        let mut out = std::ptr::null_mut();
        // SAFETY: valid C strings and out-pointer.
        let status = unsafe { (t.call_hook)(t.ctx, name_c.as_ptr(), args_c.as_ptr(), &mut out) };
        if status == ffi::STATUS_NOT_FOUND {
            return Ok(None);
        }
        self.check(status)?;
        self.take_json(out).map(Some)
    }
}

/// Loss and (for class labels) correctness buffers of `len` values.
fn buffers(len: usize, task: Task) -> (Vec<f32>, Vec<u8>) {
    let correct = match task {
        Task::Classification { .. } => vec![0u8; len],
        Task::Regression => Vec::new(),
    };
    (vec![f32::NAN; len], correct)
}

/// The correctness buffer's pointer: null when there is none to fill.
fn correct_ptr(correct: &mut [u8]) -> *mut u8 {
    match correct.is_empty() {
        true => std::ptr::null_mut(),
        false => correct.as_mut_ptr(),
    }
}

fn unsupported_before_1_3(what: &str) -> HostError {
    error(
        ffi::STATUS_UNSUPPORTED,
        &format!("this host predates ABI 1.3 and cannot {what}"),
    )
}

fn error(status: Status, message: &str) -> HostError {
    HostError {
        status,
        message: message.to_string(),
    }
}

/// A C string of `text`, interior NULs (never meaningful in JSON or names) removed.
pub(crate) fn c_string(text: &str) -> CString {
    CString::new(text.replace('\0', "")).expect("NULs were removed")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::MockHost;

    #[test]
    fn align_is_refused_by_a_host_older_than_the_function() {
        let mock = MockHost::new();
        let model = mock.insert_model(vec![1.0, 2.0]);
        let aligned = mock
            .host()
            .align(model, model, 0)
            .expect("a 1.1 table has it");
        assert_eq!(mock.params(aligned), Some(vec![1.0, 2.0]));

        // The same table as a 1.0 host would have built it: everything before `model_align`.
        // SAFETY: the mock's table is live for the test.
        let mut old = unsafe { *mock.table() };
        old.abi_minor = 0;
        old.size = HostTable::V1_0_SIZE;
        // SAFETY: `old` lives until the end of the test.
        let host = unsafe { Host::from_raw(&old) }.expect("a 1.0 table is accepted");
        let error = host
            .align(model, model, 0)
            .expect_err("1.0 has no alignment");
        assert_eq!(error.status, ffi::STATUS_UNSUPPORTED);
        assert!(error.message.contains("1.1"), "{}", error.message);
    }

    #[test]
    fn transfer_copies_what_matches_and_is_refused_by_a_1_1_host() {
        let mock = MockHost::new();
        let host = mock.host();
        let from = host
            .create_model(&serde_json::json!({"tensors": [2, 3, 1]}), 1)
            .unwrap();
        let to = host
            .create_model(&serde_json::json!({"tensors": [2, 4, 1]}), 2)
            .unwrap();
        let before = mock.params(to).unwrap();
        assert_eq!(host.transfer(from, to).expect("a 1.2 table has it"), 3);
        let (source, after) = (mock.params(from).unwrap(), mock.params(to).unwrap());
        assert_eq!(after[..2], source[..2]);
        assert_eq!(
            after[2..6],
            before[2..6],
            "a tensor of another size is kept"
        );
        assert_eq!(after[6], source[5]);

        // The same table as a 1.1 host would have built it: everything before the transfer.
        // SAFETY: the mock's table is live for the test.
        let mut old = unsafe { *mock.table() };
        old.abi_minor = 1;
        old.size = HostTable::V1_1_SIZE;
        // SAFETY: `old` lives until the end of the test.
        let old_host = unsafe { Host::from_raw(&old) }.expect("a 1.1 table is accepted");
        let error = old_host
            .transfer(from, to)
            .expect_err("1.1 has no transfer");
        assert_eq!(error.status, ffi::STATUS_UNSUPPORTED);
        assert!(error.message.contains("1.2"), "{}", error.message);
    }

    #[test]
    fn compact_is_refused_by_a_1_3_host() {
        let mock = MockHost::new();
        let model = mock
            .host()
            .create_model(&serde_json::json!({"params": 4}), 1)
            .unwrap();
        let copy = mock.host().compact(model).expect("a 1.4 table has it");
        assert_eq!(mock.params(copy).unwrap(), mock.params(model).unwrap());
        // SAFETY: the mock's table is live for the test.
        let mut old = unsafe { *mock.table() };
        old.abi_minor = 3;
        old.size = HostTable::V1_3_SIZE;
        // SAFETY: `old` lives until the end of the test.
        let old_host = unsafe { Host::from_raw(&old) }.expect("a 1.3 table is accepted");
        let error = old_host.compact(model).expect_err("1.3 has no compaction");
        assert_eq!(error.status, ffi::STATUS_UNSUPPORTED);
        assert!(error.message.contains("1.4"), "{}", error.message);
    }

    #[test]
    fn a_1_4_host_trains_each_model_in_turn_and_refuses_one_listed_twice() {
        let mock = MockHost::new();
        let a = mock.insert_model(vec![1.0, 2.0]);
        let b = mock.insert_model(vec![3.0, 4.0]);
        // SAFETY: the mock's table is live for the test.
        let mut old = unsafe { *mock.table() };
        old.abi_minor = 4;
        old.size = HostTable::V1_4_SIZE;
        // SAFETY: `old` lives until the end of the test.
        let old_host = unsafe { Host::from_raw(&old) }.expect("a 1.4 table is accepted");
        let spec = TrainSpec::default();
        let error = old_host
            .train_each(&[(a, spec.clone()), (b, spec.clone()), (a, spec.clone())])
            .expect_err("a listed twice");
        assert_eq!(error.status, ffi::STATUS_INVALID_ARGUMENT);
        assert!(error.message.contains("twice"), "{}", error.message);
        assert!(
            mock.trained().is_empty(),
            "nothing trains before the refusal"
        );
        let reports = old_host
            .train_each(&[(b, spec.clone()), (a, spec)])
            .expect("train in turn");
        assert_eq!(reports.len(), 2);
        let calls: Vec<Vec<ModelId>> = mock.trained().into_iter().map(|c| c.models).collect();
        assert_eq!(
            calls,
            vec![vec![b], vec![a]],
            "one train call each, in the items' order"
        );
    }

    #[test]
    fn a_host_table_smaller_than_1_0_is_refused() {
        let mock = MockHost::new();
        // SAFETY: the mock's table is live for the test.
        let mut short = unsafe { *mock.table() };
        short.size = HostTable::V1_0_SIZE - 8;
        // SAFETY: `short` lives until the end of the test.
        let error = unsafe { Host::from_raw(&short) }.expect_err("smaller than 1.0");
        assert_eq!(error.status, ffi::STATUS_UNSUPPORTED);
        assert!(
            error.message.contains("version 1.0 has"),
            "{}",
            error.message
        );
    }
}
