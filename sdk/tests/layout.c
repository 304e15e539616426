/* Prints the size and every field offset of coevo.h's tables, for the Rust side to compare. */
#include <stddef.h>
#include <stdio.h>

#include "coevo.h"

#define FIELD(type, field) printf("%s.%s %zu\n", #type, #field, offsetof(type, field))

int main(void) {
    printf("coevo_host %zu\n", sizeof(coevo_host));
    FIELD(coevo_host, abi_major); FIELD(coevo_host, abi_minor); FIELD(coevo_host, size);
    FIELD(coevo_host, ctx); FIELD(coevo_host, last_error); FIELD(coevo_host, free_string);
    FIELD(coevo_host, log); FIELD(coevo_host, log_metrics); FIELD(coevo_host, progress);
    FIELD(coevo_host, is_cancelled); FIELD(coevo_host, derive_seed); FIELD(coevo_host, dataset_info);
    FIELD(coevo_host, model_create); FIELD(coevo_host, model_clone); FIELD(coevo_host, model_free);
    FIELD(coevo_host, model_param_count); FIELD(coevo_host, model_spec); FIELD(coevo_host, params_read);
    FIELD(coevo_host, params_write); FIELD(coevo_host, params_blend); FIELD(coevo_host, params_noise);
    FIELD(coevo_host, params_mask); FIELD(coevo_host, train); FIELD(coevo_host, evaluate);
    FIELD(coevo_host, call_hook); FIELD(coevo_host, model_align);
    printf("coevo_plugin_descriptor %zu\n", sizeof(coevo_plugin_descriptor));
    FIELD(coevo_plugin_descriptor, abi_major); FIELD(coevo_plugin_descriptor, abi_minor);
    FIELD(coevo_plugin_descriptor, size); FIELD(coevo_plugin_descriptor, name);
    FIELD(coevo_plugin_descriptor, version); FIELD(coevo_plugin_descriptor, description);
    FIELD(coevo_plugin_descriptor, hooks_json); FIELD(coevo_plugin_descriptor, schema_json);
    FIELD(coevo_plugin_descriptor, create); FIELD(coevo_plugin_descriptor, step);
    FIELD(coevo_plugin_descriptor, snapshot); FIELD(coevo_plugin_descriptor, restore);
    FIELD(coevo_plugin_descriptor, destroy); FIELD(coevo_plugin_descriptor, free_string);
    printf("COEVO_ABI_MAJOR %d\nCOEVO_ABI_MINOR %d\n", COEVO_ABI_MAJOR, COEVO_ABI_MINOR);
    printf("COEVO_ENTRY_SYMBOL %s\n", COEVO_ENTRY_SYMBOL);
    return 0;
}
