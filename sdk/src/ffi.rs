//! The raw C ABI: `#[repr(C)]` tables and `extern "C"` signatures. `include/coevo.h` is
//! generated from this file by cbindgen (`sdk/cbindgen.toml`); the doc comments here are the
//! header's comments, so they are written for C readers too.
//!
//! Rules every item here follows:
//! - Tables begin with `abi_major`, `abi_minor` and `size` (bytes), and grow only by appending
//!   fields. A reader checks the version first, accepts any table at least as large as version
//!   1.0's ([`HostTable::V1_0_SIZE`], [`PluginDescriptor::V1_0_SIZE`]), and treats the fields
//!   past the table's `size` as absent ([`crate::prefix`] is the one place that decides this).
//! - Every field after the version header is pointer-sized, and every field appended after 1.0
//!   is an optional function pointer (`Option<unsafe extern "C" fn ...>`, a nullable pointer in
//!   C), so that "absent" has one representation: null.
//! - Strings are UTF-8 and NUL-terminated; structured values are JSON strings; bulk numbers are
//!   a pointer and a length.
//! - A string one side allocates is freed by that side: strings from the host with
//!   [`HostTable::free_string`], strings from a plugin with [`PluginDescriptor::free_string`].
//! - Functions return a [`Status`]; on failure the host explains itself through
//!   [`HostTable::last_error`], a plugin through its `error` out-parameter.
//! - No panic or unwinding crosses: both sides catch it and return [`STATUS_PANIC`].

use std::ffi::{c_char, c_void};

/// Major version: a host loads only plugins of its own major.
pub const ABI_MAJOR: u32 = 1;
/// Minor version: a host loads plugins whose minor is at most its own. 1.0 is the first
/// version; 1.1 appended `model_align` to the host table; 1.2 appended `params_transfer`, and
/// a hook's description (JSON) gained `returns_schema`, which older hosts ignore; 1.3 appended
/// `evaluate_samples` and `train_samples`, and a train report gained `samples`; 1.4 appended
/// `model_compact`, and a model's description (JSON) gained `units`; 1.5 appended
/// `train_each`.
pub const ABI_MINOR: u32 = 5;
/// The symbol every plugin exports, of type [`EntryFn`]. cbindgen cannot write a string
/// constant, so `cbindgen.toml` writes `COEVO_ENTRY_SYMBOL`, and the header test checks it.
pub const ENTRY_SYMBOL: &str = "coevo_plugin_entry";

/// A function's outcome; 0 is success.
pub type Status = i32;
/// Success.
pub const STATUS_OK: Status = 0;
/// A failure explained by the accompanying message.
pub const STATUS_ERROR: Status = 1;
/// An argument was malformed (bad JSON, a null pointer, a wrong length).
pub const STATUS_INVALID_ARGUMENT: Status = 2;
/// The thing named does not exist (a model id, a hook).
pub const STATUS_NOT_FOUND: Status = 3;
/// The run was cancelled; stop at the next step boundary.
pub const STATUS_CANCELLED: Status = 4;
/// The callee panicked; the message says where.
pub const STATUS_PANIC: Status = 5;
/// The callee does not offer this (an optional ability, or a function the other side's
/// version lacks).
pub const STATUS_UNSUPPORTED: Status = 6;

/// A model held by the host; 0 is never a valid id.
pub type ModelId = u64;

/// Blend coefficients: one per model.
pub const BLEND_WHOLE: u32 = 0;
/// Blend coefficients: one per model and parametric layer, model-major.
pub const BLEND_PER_LAYER: u32 = 1;
/// Blend coefficients: one per model and parameter, model-major.
pub const BLEND_PER_ELEMENT: u32 = 2;

/// Log level: an error.
pub const LOG_ERROR: u32 = 0;
/// Log level: a warning.
pub const LOG_WARN: u32 = 1;
/// Log level: information.
pub const LOG_INFO: u32 = 2;
/// Log level: debugging detail.
pub const LOG_DEBUG: u32 = 3;

/// Opaque host state, passed back as `ctx` to every host function.
pub type HostContext = c_void;

/// The services the host offers a plugin. Every function takes `ctx` first; on a non-zero
/// status, `last_error(ctx)` explains. Strings the host returns are freed with `free_string`.
/// JSON arguments and results are described in sdk/README.md.
///
/// Functions marked "Since 1.x" are absent from an older host's table: check with
/// `COEVO_HOST_HAS(host, field)` before calling one.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct HostTable {
    /// The host's ABI major version.
    pub abi_major: u32,
    /// The host's ABI minor version.
    pub abi_minor: u32,
    /// Bytes of this table as the host built it; fields past it are absent.
    pub size: u32,
    /// The host's state, passed back to every function.
    pub ctx: *mut HostContext,
    /// The message of the last failed call on this thread; valid until the next call.
    pub last_error: unsafe extern "C" fn(ctx: *mut HostContext) -> *const c_char,
    /// Frees a string the host returned.
    pub free_string: unsafe extern "C" fn(ctx: *mut HostContext, string: *mut c_char),
    /// Writes `message` to the host's log at `level` (one of the `COEVO_LOG_*` levels).
    pub log: unsafe extern "C" fn(ctx: *mut HostContext, level: u32, message: *const c_char),
    /// Records metrics (a JSON object of numbers) at `step` in the run's metrics log.
    pub log_metrics: unsafe extern "C" fn(
        ctx: *mut HostContext,
        step: u64,
        metrics_json: *const c_char,
    ) -> Status,
    /// Reports progress (`done` of `total`) for the host's display.
    pub progress: unsafe extern "C" fn(ctx: *mut HostContext, done: u64, total: u64),
    /// 1 when the run was asked to stop.
    pub is_cancelled: unsafe extern "C" fn(ctx: *mut HostContext) -> u8,
    /// A seed derived from the run's seed for the use named `label`, number `index`: all of a
    /// plugin's randomness comes from here.
    pub derive_seed:
        unsafe extern "C" fn(ctx: *mut HostContext, label: *const c_char, index: u64) -> u64,
    /// The data set: name, task, sample shape, split sizes (JSON; free with `free_string`).
    pub dataset_info:
        unsafe extern "C" fn(ctx: *mut HostContext, out_json: *mut *mut c_char) -> Status,
    /// A new model from a spec (JSON: a model spec, or `{"preset": name}`), initialised from
    /// `seed`.
    pub model_create: unsafe extern "C" fn(
        ctx: *mut HostContext,
        spec_json: *const c_char,
        seed: u64,
        out: *mut ModelId,
    ) -> Status,
    /// A new model with `model`'s parameters.
    pub model_clone:
        unsafe extern "C" fn(ctx: *mut HostContext, model: ModelId, out: *mut ModelId) -> Status,
    /// Releases `model`.
    pub model_free: unsafe extern "C" fn(ctx: *mut HostContext, model: ModelId) -> Status,
    /// The number of parameters of `model`.
    pub model_param_count:
        unsafe extern "C" fn(ctx: *mut HostContext, model: ModelId, out: *mut u64) -> Status,
    /// The model's spec and parameter layout (JSON; free with `free_string`).
    pub model_spec: unsafe extern "C" fn(
        ctx: *mut HostContext,
        model: ModelId,
        out_json: *mut *mut c_char,
    ) -> Status,
    /// Copies the flat parameter vector into `out` (`len` must be the parameter count).
    pub params_read: unsafe extern "C" fn(
        ctx: *mut HostContext,
        model: ModelId,
        out: *mut f32,
        len: usize,
    ) -> Status,
    /// Replaces the flat parameter vector by `values` (`len` must be the parameter count).
    pub params_write: unsafe extern "C" fn(
        ctx: *mut HostContext,
        model: ModelId,
        values: *const f32,
        len: usize,
    ) -> Status,
    /// A new model `sum of c_k theta_k` of `models`; `granularity` is one of the
    /// `COEVO_BLEND_*` constants and says how many of the `len` coefficients each model has.
    pub params_blend: unsafe extern "C" fn(
        ctx: *mut HostContext,
        models: *const ModelId,
        count: usize,
        granularity: u32,
        coefficients: *const f32,
        len: usize,
        out: *mut ModelId,
    ) -> Status,
    /// Adds N(0, sigma^2) noise to each parameter with probability `probability` (to whole
    /// tensors when `per_tensor` is 1), drawn from `seed`.
    pub params_noise: unsafe extern "C" fn(
        ctx: *mut HostContext,
        model: ModelId,
        sigma: f64,
        probability: f64,
        per_tensor: u8,
        seed: u64,
    ) -> Status,
    /// Masks parameters with a 0/1 vector of the parameter count that stays applied through
    /// training; `len` 0 removes the mask.
    pub params_mask: unsafe extern "C" fn(
        ctx: *mut HostContext,
        model: ModelId,
        mask: *const f32,
        len: usize,
    ) -> Status,
    /// Trains `models` (jointly, as members, when there are several) by a JSON training spec,
    /// on the training samples `subset` (all when `subset_len` is 0). Returns a JSON report.
    pub train: unsafe extern "C" fn(
        ctx: *mut HostContext,
        models: *const ModelId,
        count: usize,
        spec_json: *const c_char,
        subset: *const u32,
        subset_len: usize,
        out_json: *mut *mut c_char,
    ) -> Status,
    /// Evaluates `models` and their ensemble on a split (never the test split) by a JSON
    /// evaluation spec. Per-sample losses (`count x samples`, model-major) and class
    /// probabilities (`count x samples x classes`) are written where buffers are given.
    pub evaluate: unsafe extern "C" fn(
        ctx: *mut HostContext,
        models: *const ModelId,
        count: usize,
        spec_json: *const c_char,
        out_json: *mut *mut c_char,
        losses: *mut f32,
        losses_len: usize,
        probabilities: *mut f32,
        probabilities_len: usize,
    ) -> Status,
    /// Calls the experiment script's function `name` with JSON arguments; `COEVO_NOT_FOUND`
    /// when the script defines none, in which case the plugin uses its default.
    pub call_hook: unsafe extern "C" fn(
        ctx: *mut HostContext,
        name: *const c_char,
        args_json: *const c_char,
        out_json: *mut *mut c_char,
    ) -> Status,
    /// Since 1.1. A new model: `model` with its hidden units reordered to match `reference`'s
    /// by weight matching, so the two can be blended; it computes what `model` computes.
    /// `seed` orders the search.
    pub model_align: Option<
        unsafe extern "C" fn(
            ctx: *mut HostContext,
            reference: ModelId,
            model: ModelId,
            seed: u64,
            out: *mut ModelId,
        ) -> Status,
    >,
    /// Since 1.2. Copies into model `to` every parameter tensor and running statistic of model
    /// `from` whose name and shape match, leaving the rest of `to` as it was (weights passed
    /// between partner networks of different architectures); writes the number of parameter
    /// values copied to `out`.
    pub params_transfer: Option<
        unsafe extern "C" fn(
            ctx: *mut HostContext,
            from: ModelId,
            to: ModelId,
            out: *mut u64,
        ) -> Status,
    >,
    /// Since 1.3. Each sample's loss and, for class labels, whether it was predicted right
    /// (1) or not (0), of `model` on the split and subset a JSON evaluation spec names, in one
    /// pass: what a selection rule scores any number of subsets from. `losses` and `correct`
    /// hold `len` values each, the samples evaluated in order; `correct` is null for
    /// real-valued targets (or when not wanted).
    pub evaluate_samples: Option<
        unsafe extern "C" fn(
            ctx: *mut HostContext,
            model: ModelId,
            spec_json: *const c_char,
            losses: *mut f32,
            correct: *mut u8,
            len: usize,
        ) -> Status,
    >,
    /// Since 1.3. `train`, also writing what the last epoch's training pass itself measured
    /// of each position of `subset` (of every training sample when null): its loss (NaN
    /// where no step trained it) and whether its predicted class was its label. `losses` and
    /// `correct` hold `len = count x positions` values, model-major; `correct` is null for
    /// real-valued targets (or when not wanted).
    pub train_samples: Option<
        unsafe extern "C" fn(
            ctx: *mut HostContext,
            models: *const ModelId,
            count: usize,
            spec_json: *const c_char,
            subset: *const u32,
            subset_len: usize,
            losses: *mut f32,
            correct: *mut u8,
            len: usize,
            out_json: *mut *mut c_char,
        ) -> Status,
    >,
    /// Since 1.4. A new model: `model` without its dead units (channels or features whose
    /// weights, bias and batch norm scale and shift are all zero), physically smaller, with the
    /// layers that read them narrowed to match; it computes what `model` computes.
    pub model_compact: Option<
        unsafe extern "C" fn(ctx: *mut HostContext, model: ModelId, out: *mut ModelId) -> Status,
    >,
    /// Since 1.5. Trains each of `models` alone, model `i` by the `i`-th spec of a JSON array
    /// of training specs, on all training samples: the same as calling `train` with each
    /// model in turn, but the host may train them at once (on other machines, when its run
    /// has an executor). Returns a JSON array of reports, in the models' order.
    pub train_each: Option<
        unsafe extern "C" fn(
            ctx: *mut HostContext,
            models: *const ModelId,
            count: usize,
            specs_json: *const c_char,
            out_json: *mut *mut c_char,
        ) -> Status,
    >,
}

/// cbindgen:ignore
impl HostTable {
    /// Bytes of a 1.0 table: the version header, `ctx` and 21 functions up to `call_hook`.
    pub const V1_0_SIZE: u32 = table_size(22);
    /// Bytes of a 1.1 table: 1.0 and `model_align`.
    pub const V1_1_SIZE: u32 = table_size(23);
    /// Bytes of a 1.2 table: 1.1 and `params_transfer`.
    pub const V1_2_SIZE: u32 = table_size(24);
    /// Bytes of a 1.3 table: 1.2, `evaluate_samples` and `train_samples`.
    pub const V1_3_SIZE: u32 = table_size(26);
    /// Bytes of a 1.4 table: 1.3 and `model_compact`.
    pub const V1_4_SIZE: u32 = table_size(27);
    /// Bytes of a 1.5 table: 1.4 and `train_each`.
    pub const V1_5_SIZE: u32 = table_size(28);
}

/// Opaque plugin state.
pub type Instance = c_void;

/// What a plugin is and how to drive it: a static descriptor the entry point returns. Strings
/// a plugin returns (step reports, snapshots, error messages) are freed with its
/// `free_string`.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct PluginDescriptor {
    /// The ABI major version the plugin was built for.
    pub abi_major: u32,
    /// The ABI minor version the plugin was built for.
    pub abi_minor: u32,
    /// Bytes of this descriptor as the plugin built it: `sizeof(coevo_plugin_descriptor)`.
    pub size: u32,
    /// The plugin's name.
    pub name: *const c_char,
    /// The plugin's own version.
    pub version: *const c_char,
    /// What it does, in one line.
    pub description: *const c_char,
    /// JSON array of `{"name", "args", "returns", "default"}`: the script hooks it calls.
    pub hooks_json: *const c_char,
    /// JSON Schema (the subset in sdk/README.md) of the config.
    pub schema_json: *const c_char,
    /// Builds an instance from a config the host validated against `schema_json`. `host`
    /// stays valid until `destroy`.
    pub create: unsafe extern "C" fn(
        host: *const HostTable,
        config_json: *const c_char,
        out: *mut *mut Instance,
        error: *mut *mut c_char,
    ) -> Status,
    /// Does one step; `out_json` is a step report (`{"done": bool, "metrics": {...}}`).
    pub step: unsafe extern "C" fn(
        instance: *mut Instance,
        out_json: *mut *mut c_char,
        error: *mut *mut c_char,
    ) -> Status,
    /// The instance's state as JSON; models are referred to by id.
    pub snapshot: unsafe extern "C" fn(
        instance: *mut Instance,
        out_json: *mut *mut c_char,
        error: *mut *mut c_char,
    ) -> Status,
    /// Replaces the instance's state by a snapshot.
    pub restore: unsafe extern "C" fn(
        instance: *mut Instance,
        snapshot_json: *const c_char,
        error: *mut *mut c_char,
    ) -> Status,
    /// Frees the instance.
    pub destroy: unsafe extern "C" fn(instance: *mut Instance),
    /// Frees a string the plugin returned (step reports, snapshots, error messages).
    pub free_string: unsafe extern "C" fn(string: *mut c_char),
}

/// cbindgen:ignore
impl PluginDescriptor {
    /// Bytes of a 1.0 descriptor: the version header, five strings and six functions.
    pub const V1_0_SIZE: u32 = table_size(11);
    /// Bytes of a 1.1 descriptor: 1.1 appended nothing to it.
    pub const V1_1_SIZE: u32 = table_size(11);
}

/// The type of the entry point `coevo_plugin_entry`: on success points `out` at a static
/// descriptor and returns `COEVO_OK`; on failure returns a non-zero status and may point
/// `error` at a static message.
pub type EntryFn =
    unsafe extern "C" fn(out: *mut *const PluginDescriptor, error: *mut *const c_char) -> Status;

/// The leading fields every version of a table starts with, to read before anything else.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VersionHeader {
    /// Major version.
    pub abi_major: u32,
    /// Minor version.
    pub abi_minor: u32,
    /// Size in bytes.
    pub size: u32,
}

/// Bytes of a table of this layout: the version header, padded to a pointer's alignment, then
/// `pointers` pointer-sized fields. A version's size is frozen as its count of fields, so a
/// field inserted before the end cannot move it unnoticed (the tests compare it with the
/// real layout).
const fn table_size(pointers: usize) -> u32 {
    let header = size_of::<VersionHeader>().next_multiple_of(align_of::<*const c_void>());
    (header + pointers * size_of::<*const c_void>()) as u32
}

#[cfg(test)]
mod tests {
    use std::mem::offset_of;

    use super::*;

    /// A field of any function-pointer type, for its size.
    type AnyFn = Option<unsafe extern "C" fn()>;

    #[test]
    fn the_host_table_sizes_are_where_each_version_ended() {
        assert_eq!(
            HostTable::V1_0_SIZE as usize,
            offset_of!(HostTable, model_align)
        );
        assert_eq!(
            HostTable::V1_1_SIZE as usize,
            offset_of!(HostTable, model_align) + size_of::<AnyFn>()
        );
        assert_eq!(
            HostTable::V1_2_SIZE as usize,
            offset_of!(HostTable, params_transfer) + size_of::<AnyFn>()
        );
        assert_eq!(
            HostTable::V1_3_SIZE as usize,
            offset_of!(HostTable, train_samples) + size_of::<AnyFn>()
        );
        assert_eq!(
            HostTable::V1_4_SIZE as usize,
            offset_of!(HostTable, model_compact) + size_of::<AnyFn>()
        );
        assert_eq!(
            HostTable::V1_5_SIZE as usize,
            offset_of!(HostTable, train_each) + size_of::<AnyFn>()
        );
        // Nothing appended since 1.5: today's table is the 1.5 table.
        assert_eq!(size_of::<HostTable>(), HostTable::V1_5_SIZE as usize);
    }

    #[test]
    fn the_descriptor_sizes_are_where_each_version_ended() {
        assert_eq!(
            PluginDescriptor::V1_0_SIZE as usize,
            offset_of!(PluginDescriptor, free_string) + size_of::<AnyFn>()
        );
        assert_eq!(PluginDescriptor::V1_1_SIZE, PluginDescriptor::V1_0_SIZE);
        assert_eq!(
            size_of::<PluginDescriptor>(),
            PluginDescriptor::V1_1_SIZE as usize
        );
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn the_frozen_sizes_on_64_bit_targets() {
        assert_eq!(HostTable::V1_0_SIZE, 192);
        assert_eq!(HostTable::V1_1_SIZE, 200);
        assert_eq!(HostTable::V1_2_SIZE, 208);
        assert_eq!(HostTable::V1_3_SIZE, 224);
        assert_eq!(HostTable::V1_4_SIZE, 232);
        assert_eq!(PluginDescriptor::V1_0_SIZE, 104);
        assert_eq!(PluginDescriptor::V1_1_SIZE, 104);
    }

    #[test]
    fn an_absent_appended_function_is_a_null_pointer() {
        // `prefix::read` relies on zeroed bytes reading as `None`, and C plugins on `None`
        // being NULL: both hold because `Option` of a function pointer is a nullable pointer.
        assert_eq!(size_of::<AnyFn>(), size_of::<*const c_void>());
        // SAFETY: all-zero bytes are a valid `Option` of a function pointer.
        let zero: AnyFn = unsafe { std::mem::zeroed() };
        assert!(zero.is_none());
    }
}
