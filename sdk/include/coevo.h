/*
 * coevo.h: the coevo plugin ABI, for plugins written in C or C++.
 *
 * A plugin is a shared library exporting `coevo_plugin_entry` (of type `coevo_entry_fn`),
 * which returns a static `coevo_plugin_descriptor` filled with `sizeof` of it as `size`. The
 * host checks the descriptor's version fields before anything else: the major must equal the
 * host's, the minor must be at most the host's.
 *
 * Tables only ever grow by appending. `size` says how many bytes the writer knew of; a reader
 * accepts any table at least as large as version 1.0's and treats the fields past `size` as
 * absent. Every function appended after 1.0 is optional: before calling one (marked "Since
 * 1.x"), check `COEVO_HOST_HAS(host, field)`.
 *
 * Strings are UTF-8 and NUL-terminated; structured values are JSON; bulk numbers are a pointer
 * and a length. Each side frees what it allocated. Never let a C++ exception or a longjmp cross
 * the boundary. See sdk/README.md for the JSON documents and the versioning rules.
 */
#ifndef COEVO_H
#define COEVO_H

/*
 * Generated from sdk/src/ffi.rs by cbindgen (sdk/cbindgen.toml); do not edit. Regenerate with
 *     COEVO_BLESS=1 cargo test -p coevo-sdk --test header
 */

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** The symbol every plugin exports, of type `coevo_entry_fn`. */
#define COEVO_ENTRY_SYMBOL "coevo_plugin_entry"

/**
 * True when the host table `host` (a `const coevo_host *`) has the function `field`: its
 * declared size covers the field and the host set it. Functions marked "Since 1.x" are absent
 * from older hosts' tables, so check this before calling one.
 */
#define COEVO_HOST_HAS(host, field)                                                  \
    ((host)->size >= offsetof(coevo_host, field) + sizeof((host)->field) &&          \
     (host)->field != NULL)

/**
 * Major version: a host loads only plugins of its own major.
 */
#define COEVO_ABI_MAJOR 1

/**
 * Minor version: a host loads plugins whose minor is at most its own. 1.0 is the first
 * version; 1.1 appended `model_align` to the host table; 1.2 appended `params_transfer`, and
 * a hook's description (JSON) gained `returns_schema`, which older hosts ignore; 1.3 appended
 * `evaluate_samples` and `train_samples`, and a train report gained `samples`; 1.4 appended
 * `model_compact`, and a model's description (JSON) gained `units`; 1.5 appended
 * `train_each`.
 */
#define COEVO_ABI_MINOR 5

/**
 * Blend coefficients: one per model.
 */
#define COEVO_BLEND_WHOLE 0

/**
 * Blend coefficients: one per model and parametric layer, model-major.
 */
#define COEVO_BLEND_PER_LAYER 1

/**
 * Blend coefficients: one per model and parameter, model-major.
 */
#define COEVO_BLEND_PER_ELEMENT 2

/**
 * Log level: an error.
 */
#define COEVO_LOG_ERROR 0

/**
 * Log level: a warning.
 */
#define COEVO_LOG_WARN 1

/**
 * Log level: information.
 */
#define COEVO_LOG_INFO 2

/**
 * Log level: debugging detail.
 */
#define COEVO_LOG_DEBUG 3

/**
 * A function's outcome; 0 is success.
 */
typedef int32_t coevo_status;

/**
 * Opaque host state, passed back as `ctx` to every host function.
 */
typedef void coevo_host_context;

/**
 * A model held by the host; 0 is never a valid id.
 */
typedef uint64_t coevo_model;

/**
 * The services the host offers a plugin. Every function takes `ctx` first; on a non-zero
 * status, `last_error(ctx)` explains. Strings the host returns are freed with `free_string`.
 * JSON arguments and results are described in sdk/README.md.
 *
 * Functions marked "Since 1.x" are absent from an older host's table: check with
 * `COEVO_HOST_HAS(host, field)` before calling one.
 */
typedef struct coevo_host {
    /**
     * The host's ABI major version.
     */
    uint32_t abi_major;
    /**
     * The host's ABI minor version.
     */
    uint32_t abi_minor;
    /**
     * Bytes of this table as the host built it; fields past it are absent.
     */
    uint32_t size;
    /**
     * The host's state, passed back to every function.
     */
    coevo_host_context *ctx;
    /**
     * The message of the last failed call on this thread; valid until the next call.
     */
    const char *(*last_error)(coevo_host_context *ctx);
    /**
     * Frees a string the host returned.
     */
    void (*free_string)(coevo_host_context *ctx, char *string);
    /**
     * Writes `message` to the host's log at `level` (one of the `COEVO_LOG_*` levels).
     */
    void (*log)(coevo_host_context *ctx, uint32_t level, const char *message);
    /**
     * Records metrics (a JSON object of numbers) at `step` in the run's metrics log.
     */
    coevo_status (*log_metrics)(coevo_host_context *ctx, uint64_t step, const char *metrics_json);
    /**
     * Reports progress (`done` of `total`) for the host's display.
     */
    void (*progress)(coevo_host_context *ctx, uint64_t done, uint64_t total);
    /**
     * 1 when the run was asked to stop.
     */
    uint8_t (*is_cancelled)(coevo_host_context *ctx);
    /**
     * A seed derived from the run's seed for the use named `label`, number `index`: all of a
     * plugin's randomness comes from here.
     */
    uint64_t (*derive_seed)(coevo_host_context *ctx, const char *label, uint64_t index);
    /**
     * The data set: name, task, sample shape, split sizes (JSON; free with `free_string`).
     */
    coevo_status (*dataset_info)(coevo_host_context *ctx, char **out_json);
    /**
     * A new model from a spec (JSON: a model spec, or `{"preset": name}`), initialised from
     * `seed`.
     */
    coevo_status (*model_create)(coevo_host_context *ctx,
                                 const char *spec_json,
                                 uint64_t seed,
                                 coevo_model *out);
    /**
     * A new model with `model`'s parameters.
     */
    coevo_status (*model_clone)(coevo_host_context *ctx, coevo_model model, coevo_model *out);
    /**
     * Releases `model`.
     */
    coevo_status (*model_free)(coevo_host_context *ctx, coevo_model model);
    /**
     * The number of parameters of `model`.
     */
    coevo_status (*model_param_count)(coevo_host_context *ctx, coevo_model model, uint64_t *out);
    /**
     * The model's spec and parameter layout (JSON; free with `free_string`).
     */
    coevo_status (*model_spec)(coevo_host_context *ctx, coevo_model model, char **out_json);
    /**
     * Copies the flat parameter vector into `out` (`len` must be the parameter count).
     */
    coevo_status (*params_read)(coevo_host_context *ctx, coevo_model model, float *out, size_t len);
    /**
     * Replaces the flat parameter vector by `values` (`len` must be the parameter count).
     */
    coevo_status (*params_write)(coevo_host_context *ctx,
                                 coevo_model model,
                                 const float *values,
                                 size_t len);
    /**
     * A new model `sum of c_k theta_k` of `models`; `granularity` is one of the
     * `COEVO_BLEND_*` constants and says how many of the `len` coefficients each model has.
     */
    coevo_status (*params_blend)(coevo_host_context *ctx,
                                 const coevo_model *models,
                                 size_t count,
                                 uint32_t granularity,
                                 const float *coefficients,
                                 size_t len,
                                 coevo_model *out);
    /**
     * Adds N(0, sigma^2) noise to each parameter with probability `probability` (to whole
     * tensors when `per_tensor` is 1), drawn from `seed`.
     */
    coevo_status (*params_noise)(coevo_host_context *ctx,
                                 coevo_model model,
                                 double sigma,
                                 double probability,
                                 uint8_t per_tensor,
                                 uint64_t seed);
    /**
     * Masks parameters with a 0/1 vector of the parameter count that stays applied through
     * training; `len` 0 removes the mask.
     */
    coevo_status (*params_mask)(coevo_host_context *ctx,
                                coevo_model model,
                                const float *mask,
                                size_t len);
    /**
     * Trains `models` (jointly, as members, when there are several) by a JSON training spec,
     * on the training samples `subset` (all when `subset_len` is 0). Returns a JSON report.
     */
    coevo_status (*train)(coevo_host_context *ctx,
                          const coevo_model *models,
                          size_t count,
                          const char *spec_json,
                          const uint32_t *subset,
                          size_t subset_len,
                          char **out_json);
    /**
     * Evaluates `models` and their ensemble on a split (never the test split) by a JSON
     * evaluation spec. Per-sample losses (`count x samples`, model-major) and class
     * probabilities (`count x samples x classes`) are written where buffers are given.
     */
    coevo_status (*evaluate)(coevo_host_context *ctx,
                             const coevo_model *models,
                             size_t count,
                             const char *spec_json,
                             char **out_json,
                             float *losses,
                             size_t losses_len,
                             float *probabilities,
                             size_t probabilities_len);
    /**
     * Calls the experiment script's function `name` with JSON arguments; `COEVO_NOT_FOUND`
     * when the script defines none, in which case the plugin uses its default.
     */
    coevo_status (*call_hook)(coevo_host_context *ctx,
                              const char *name,
                              const char *args_json,
                              char **out_json);
    /**
     * Since 1.1. A new model: `model` with its hidden units reordered to match `reference`'s
     * by weight matching, so the two can be blended; it computes what `model` computes.
     * `seed` orders the search.
     */
    coevo_status (*model_align)(coevo_host_context *ctx,
                                coevo_model reference,
                                coevo_model model,
                                uint64_t seed,
                                coevo_model *out);
    /**
     * Since 1.2. Copies into model `to` every parameter tensor and running statistic of model
     * `from` whose name and shape match, leaving the rest of `to` as it was (weights passed
     * between partner networks of different architectures); writes the number of parameter
     * values copied to `out`.
     */
    coevo_status (*params_transfer)(coevo_host_context *ctx,
                                    coevo_model from,
                                    coevo_model to,
                                    uint64_t *out);
    /**
     * Since 1.3. Each sample's loss and, for class labels, whether it was predicted right
     * (1) or not (0), of `model` on the split and subset a JSON evaluation spec names, in one
     * pass: what a selection rule scores any number of subsets from. `losses` and `correct`
     * hold `len` values each, the samples evaluated in order; `correct` is null for
     * real-valued targets (or when not wanted).
     */
    coevo_status (*evaluate_samples)(coevo_host_context *ctx,
                                     coevo_model model,
                                     const char *spec_json,
                                     float *losses,
                                     uint8_t *correct,
                                     size_t len);
    /**
     * Since 1.3. `train`, also writing what the last epoch's training pass itself measured
     * of each position of `subset` (of every training sample when null): its loss (NaN
     * where no step trained it) and whether its predicted class was its label. `losses` and
     * `correct` hold `len = count x positions` values, model-major; `correct` is null for
     * real-valued targets (or when not wanted).
     */
    coevo_status (*train_samples)(coevo_host_context *ctx,
                                  const coevo_model *models,
                                  size_t count,
                                  const char *spec_json,
                                  const uint32_t *subset,
                                  size_t subset_len,
                                  float *losses,
                                  uint8_t *correct,
                                  size_t len,
                                  char **out_json);
    /**
     * Since 1.4. A new model: `model` without its dead units (channels or features whose
     * weights, bias and batch norm scale and shift are all zero), physically smaller, with the
     * layers that read them narrowed to match; it computes what `model` computes.
     */
    coevo_status (*model_compact)(coevo_host_context *ctx, coevo_model model, coevo_model *out);
    /**
     * Since 1.5. Trains each of `models` alone, model `i` by the `i`-th spec of a JSON array
     * of training specs, on all training samples: the same as calling `train` with each
     * model in turn, but the host may train them at once (on other machines, when its run
     * has an executor). Returns a JSON array of reports, in the models' order.
     */
    coevo_status (*train_each)(coevo_host_context *ctx,
                               const coevo_model *models,
                               size_t count,
                               const char *specs_json,
                               char **out_json);
} coevo_host;

/**
 * Opaque plugin state.
 */
typedef void coevo_instance;

/**
 * What a plugin is and how to drive it: a static descriptor the entry point returns. Strings
 * a plugin returns (step reports, snapshots, error messages) are freed with its
 * `free_string`.
 */
typedef struct coevo_plugin_descriptor {
    /**
     * The ABI major version the plugin was built for.
     */
    uint32_t abi_major;
    /**
     * The ABI minor version the plugin was built for.
     */
    uint32_t abi_minor;
    /**
     * Bytes of this descriptor as the plugin built it: `sizeof(coevo_plugin_descriptor)`.
     */
    uint32_t size;
    /**
     * The plugin's name.
     */
    const char *name;
    /**
     * The plugin's own version.
     */
    const char *version;
    /**
     * What it does, in one line.
     */
    const char *description;
    /**
     * JSON array of `{"name", "args", "returns", "default"}`: the script hooks it calls.
     */
    const char *hooks_json;
    /**
     * JSON Schema (the subset in sdk/README.md) of the config.
     */
    const char *schema_json;
    /**
     * Builds an instance from a config the host validated against `schema_json`. `host`
     * stays valid until `destroy`.
     */
    coevo_status (*create)(const struct coevo_host *host,
                           const char *config_json,
                           coevo_instance **out,
                           char **error);
    /**
     * Does one step; `out_json` is a step report (`{"done": bool, "metrics": {...}}`).
     */
    coevo_status (*step)(coevo_instance *instance, char **out_json, char **error);
    /**
     * The instance's state as JSON; models are referred to by id.
     */
    coevo_status (*snapshot)(coevo_instance *instance, char **out_json, char **error);
    /**
     * Replaces the instance's state by a snapshot.
     */
    coevo_status (*restore)(coevo_instance *instance, const char *snapshot_json, char **error);
    /**
     * Frees the instance.
     */
    void (*destroy)(coevo_instance *instance);
    /**
     * Frees a string the plugin returned (step reports, snapshots, error messages).
     */
    void (*free_string)(char *string);
} coevo_plugin_descriptor;

/**
 * The type of the entry point `coevo_plugin_entry`: on success points `out` at a static
 * descriptor and returns `COEVO_OK`; on failure returns a non-zero status and may point
 * `error` at a static message.
 */
typedef coevo_status (*coevo_entry_fn)(const struct coevo_plugin_descriptor **out,
                                       const char **error);

/**
 * Success.
 */
#define COEVO_OK 0

/**
 * A failure explained by the accompanying message.
 */
#define COEVO_ERROR 1

/**
 * An argument was malformed (bad JSON, a null pointer, a wrong length).
 */
#define COEVO_INVALID_ARGUMENT 2

/**
 * The thing named does not exist (a model id, a hook).
 */
#define COEVO_NOT_FOUND 3

/**
 * The run was cancelled; stop at the next step boundary.
 */
#define COEVO_CANCELLED 4

/**
 * The callee panicked; the message says where.
 */
#define COEVO_PANIC 5

/**
 * The callee does not offer this (an optional ability, or a function the other side's
 * version lacks).
 */
#define COEVO_UNSUPPORTED 6

#ifdef __cplusplus
}
#endif

#endif /* COEVO_H */
