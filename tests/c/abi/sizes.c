/*
 * Prints the version and the table sizes of the coevo.h it is built against, for the tests to
 * compare with the sizes coevo_sdk::ffi froze for each version. Built against each header
 * saved in tests/c/abi and against sdk/include/coevo.h.
 */
#include <stdio.h>
#include <string.h>

#include "coevo.h"

#ifdef COEVO_HOST_HAS
static coevo_status align(coevo_host_context *ctx, coevo_model reference, coevo_model model,
                          uint64_t seed, coevo_model *out) {
    (void)ctx, (void)reference, (void)seed;
    *out = model;
    return COEVO_OK;
}
#endif

int main(void) {
    printf("version %d.%d\n", COEVO_ABI_MAJOR, COEVO_ABI_MINOR);
    printf("coevo_host %zu\n", sizeof(coevo_host));
    printf("coevo_plugin_descriptor %zu\n", sizeof(coevo_plugin_descriptor));
#ifdef COEVO_HOST_HAS
    /* What COEVO_HOST_HAS says of model_align in a 1.0 table, a whole table, and a whole
     * table whose host left it NULL. */
    coevo_host host;
    memset(&host, 0, sizeof host);
    host.model_align = align;
    host.size = (uint32_t)offsetof(coevo_host, model_align);
    printf("has_align_1.0 %d\n", COEVO_HOST_HAS(&host, model_align));
    host.size = (uint32_t)sizeof host;
    printf("has_align %d\n", COEVO_HOST_HAS(&host, model_align));
    host.model_align = NULL;
    printf("has_null_align %d\n", COEVO_HOST_HAS(&host, model_align));
#endif
    return 0;
}
