/*
 * coevo.h: the coevo plugin ABI, version 1.0, for plugins written in C or C++.
 *
 * A plugin is a shared library exporting `coevo_plugin_entry`. The host checks the
 * descriptor's version fields before anything else: the major must equal the host's, the
 * minor must be at most the host's. Tables only ever grow by appending fields; `size` says how
 * many bytes the writer knew of. Strings are UTF-8 and NUL-terminated; structured values are
 * JSON; bulk numbers are a pointer and a length. Each side frees what it allocated. Never let
 * a C++ exception or a longjmp cross the boundary. See sdk/README.md for the JSON documents.
 *
 * The Rust side of this file is coevo_sdk::ffi; a test compiles this header and compares every
 * size and offset.
 */
#ifndef COEVO_H
#define COEVO_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define COEVO_ABI_MAJOR 1
#define COEVO_ABI_MINOR 0
#define COEVO_ENTRY_SYMBOL "coevo_plugin_entry"

typedef int32_t coevo_status;
#define COEVO_OK 0
#define COEVO_ERROR 1
#define COEVO_INVALID_ARGUMENT 2
#define COEVO_NOT_FOUND 3
#define COEVO_CANCELLED 4
#define COEVO_PANIC 5
#define COEVO_UNSUPPORTED 6

/* A model held by the host; 0 is never a valid id. */
typedef uint64_t coevo_model;

#define COEVO_BLEND_WHOLE 0       /* one coefficient per model */
#define COEVO_BLEND_PER_LAYER 1   /* per model and parametric layer, model-major */
#define COEVO_BLEND_PER_ELEMENT 2 /* per model and parameter, model-major */

#define COEVO_LOG_ERROR 0
#define COEVO_LOG_WARN 1
#define COEVO_LOG_INFO 2
#define COEVO_LOG_DEBUG 3

typedef void coevo_host_context;

/* The services the host offers. Every function takes `ctx` first; on a non-zero status,
 * `last_error(ctx)` explains (valid until the next call). Strings the host returns are freed
 * with `free_string`. */
typedef struct coevo_host {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* bytes of this table as the host built it */
    coevo_host_context *ctx;
    const char *(*last_error)(coevo_host_context *ctx);
    void (*free_string)(coevo_host_context *ctx, char *string);
    void (*log)(coevo_host_context *ctx, uint32_t level, const char *message);
    coevo_status (*log_metrics)(coevo_host_context *ctx, uint64_t step, const char *metrics_json);
    void (*progress)(coevo_host_context *ctx, uint64_t done, uint64_t total);
    uint8_t (*is_cancelled)(coevo_host_context *ctx);
    uint64_t (*derive_seed)(coevo_host_context *ctx, const char *label, uint64_t index);
    coevo_status (*dataset_info)(coevo_host_context *ctx, char **out_json);
    coevo_status (*model_create)(coevo_host_context *ctx, const char *spec_json, uint64_t seed,
                                 coevo_model *out);
    coevo_status (*model_clone)(coevo_host_context *ctx, coevo_model model, coevo_model *out);
    coevo_status (*model_free)(coevo_host_context *ctx, coevo_model model);
    coevo_status (*model_param_count)(coevo_host_context *ctx, coevo_model model, uint64_t *out);
    coevo_status (*model_spec)(coevo_host_context *ctx, coevo_model model, char **out_json);
    coevo_status (*params_read)(coevo_host_context *ctx, coevo_model model, float *out, size_t len);
    coevo_status (*params_write)(coevo_host_context *ctx, coevo_model model, const float *values,
                                 size_t len);
    coevo_status (*params_blend)(coevo_host_context *ctx, const coevo_model *models, size_t count,
                                 uint32_t granularity, const float *coefficients, size_t len,
                                 coevo_model *out);
    coevo_status (*params_noise)(coevo_host_context *ctx, coevo_model model, double sigma,
                                 double probability, uint8_t per_tensor, uint64_t seed);
    coevo_status (*params_mask)(coevo_host_context *ctx, coevo_model model, const float *mask,
                                size_t len);
    coevo_status (*train)(coevo_host_context *ctx, const coevo_model *models, size_t count,
                          const char *spec_json, const uint32_t *subset, size_t subset_len,
                          char **out_json);
    coevo_status (*evaluate)(coevo_host_context *ctx, const coevo_model *models, size_t count,
                             const char *spec_json, char **out_json, float *losses,
                             size_t losses_len, float *probabilities, size_t probabilities_len);
    coevo_status (*call_hook)(coevo_host_context *ctx, const char *name, const char *args_json,
                              char **out_json);
} coevo_host;

typedef void coevo_instance;

/* What a plugin is and how to drive it. Strings a plugin returns (step reports, snapshots,
 * error messages) are freed with its `free_string`. */
typedef struct coevo_plugin_descriptor {
    uint32_t abi_major;
    uint32_t abi_minor;
    uint32_t size; /* bytes of this descriptor as the plugin built it */
    const char *name;
    const char *version;
    const char *description;
    const char *hooks_json;
    const char *schema_json;
    coevo_status (*create)(const coevo_host *host, const char *config_json, coevo_instance **out,
                           char **error);
    coevo_status (*step)(coevo_instance *instance, char **out_json, char **error);
    coevo_status (*snapshot)(coevo_instance *instance, char **out_json, char **error);
    coevo_status (*restore)(coevo_instance *instance, const char *snapshot_json, char **error);
    void (*destroy)(coevo_instance *instance);
    void (*free_string)(char *string);
} coevo_plugin_descriptor;

/* The entry point: on success points `*out` at a static descriptor and returns COEVO_OK. */
typedef coevo_status (*coevo_entry_fn)(const coevo_plugin_descriptor **out, const char **error);

#ifdef __cplusplus
}
#endif

#endif /* COEVO_H */
