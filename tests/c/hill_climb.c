/*
 * A coevo plugin in C, against coevo.h alone: a hill climber that perturbs a model with
 * Gaussian noise and keeps the perturbation when its validation accuracy is higher. It is
 * built by the tests (also in broken variants: -DPLUGIN_MAJOR=2, -DPLUGIN_MINOR=99,
 * -DENTRY_FAILS, -DNO_ENTRY) to show that the ABI is language-neutral and that the host refuses
 * what it must, and against the headers of earlier versions (tests/c/abi) to show that the
 * host still runs what was built against them. It uses only 1.0's host functions.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "coevo.h"

#ifndef PLUGIN_MAJOR
#define PLUGIN_MAJOR COEVO_ABI_MAJOR
#endif
#ifndef PLUGIN_MINOR
#define PLUGIN_MINOR COEVO_ABI_MINOR
#endif
#ifndef VARIANT
#define VARIANT 1
#endif

typedef struct {
    const coevo_host *host;
    coevo_model current;
    double fitness;
    int step;
    int steps;
} climber;

static char *copy(const char *text) {
    size_t n = strlen(text) + 1;
    char *c = malloc(n);
    if (c) memcpy(c, text, n);
    return c;
}

/* A failed host call, reported with the host's own explanation. */
static coevo_status fail(char **error, const coevo_host *host, const char *call) {
    char message[512];
    snprintf(message, sizeof message, "%s failed: %s", call, host->last_error(host->ctx));
    *error = copy(message);
    return COEVO_ERROR;
}

static double number_after(const char *json, const char *key, double fallback) {
    const char *at = strstr(json, key);
    return at ? atof(at + strlen(key)) : fallback;
}

static coevo_status create(const coevo_host *host, const char *config, coevo_instance **out, char **error) {
    int steps = (int)number_after(config, "\"steps\":", 3);
    if (steps < 0) {
        *error = copy("config.steps must be at least 0");
        return COEVO_INVALID_ARGUMENT;
    }
    climber *c = calloc(1, sizeof *c);
    c->host = host;
    c->steps = steps;
    c->fitness = -1.0;
    uint64_t seed = host->derive_seed(host->ctx, "c-hill-climb/init", 0);
    if (host->model_create(host->ctx, "{\"preset\": \"mlp\"}", seed, &c->current) != COEVO_OK) {
        free(c);
        return fail(error, host, "model_create");
    }
    *out = c;
    return COEVO_OK;
}

static double accuracy(climber *c, coevo_model model) {
    char *json = NULL;
    if (c->host->evaluate(c->host->ctx, &model, 1, "{}", &json, NULL, 0, NULL, 0) != COEVO_OK) return -1.0;
    double value = number_after(json, "\"accuracy\":", -1.0);
    c->host->free_string(c->host->ctx, json);
    return value;
}

static coevo_status step(coevo_instance *instance, char **out, char **error) {
    climber *c = instance;
    const coevo_host *h = c->host;
    if (c->step < c->steps) {
        if (c->fitness < 0) c->fitness = accuracy(c, c->current);
        coevo_model candidate;
        if (h->model_clone(h->ctx, c->current, &candidate) != COEVO_OK) return fail(error, h, "model_clone");
        uint64_t seed = h->derive_seed(h->ctx, "c-hill-climb/noise", (uint64_t)c->step);
        if (h->params_noise(h->ctx, candidate, 0.02, 1.0, 0, seed) != COEVO_OK) return fail(error, h, "params_noise");
        double f = accuracy(c, candidate);
        if (f > c->fitness) {
            h->model_free(h->ctx, c->current);
            c->current = candidate;
            c->fitness = f;
        } else {
            h->model_free(h->ctx, candidate);
        }
        c->step += 1;
    }
    char metrics[256], report[512];
    snprintf(metrics, sizeof metrics, "{\"fitness\": %.6f, \"variant\": %d, \"step\": %d}", c->fitness, VARIANT, c->step);
    if (h->log_metrics(h->ctx, (uint64_t)c->step, metrics) != COEVO_OK) return fail(error, h, "log_metrics");
    snprintf(report, sizeof report, "{\"done\": %s, \"metrics\": %s}", c->step >= c->steps ? "true" : "false", metrics);
    *out = copy(report);
    return COEVO_OK;
}

static coevo_status snapshot(coevo_instance *instance, char **out, char **error) {
    climber *c = instance;
    char text[256];
    (void)error;
    snprintf(text, sizeof text, "{\"current\": %llu, \"fitness\": %.17g, \"step\": %d}",
             (unsigned long long)c->current, c->fitness, c->step);
    *out = copy(text);
    return COEVO_OK;
}

static coevo_status restore(coevo_instance *instance, const char *json, char **error) {
    climber *c = instance;
    if (!strstr(json, "\"current\":") || !strstr(json, "\"step\":")) {
        *error = copy("a snapshot needs current and step");
        return COEVO_INVALID_ARGUMENT;
    }
    c->current = (coevo_model)number_after(json, "\"current\":", 0);
    c->fitness = number_after(json, "\"fitness\":", -1.0);
    c->step = (int)number_after(json, "\"step\":", 0);
    return COEVO_OK;
}

static void destroy(coevo_instance *instance) { free(instance); }

static void free_string(char *text) { free(text); }

#define STRINGIFY2(x) #x
#define STRINGIFY(x) STRINGIFY2(x)

static const coevo_plugin_descriptor descriptor = {
    PLUGIN_MAJOR,
    PLUGIN_MINOR,
    sizeof(coevo_plugin_descriptor),
    "c-hill-climb",
    "1.0." STRINGIFY(VARIANT),
    "a hill climber over Gaussian weight perturbations, written in C",
    "[]",
    "{\"type\": \"object\", \"additionalProperties\": false,"
    " \"properties\": {\"steps\": {\"type\": \"integer\", \"minimum\": 0}}}",
    create,
    step,
    snapshot,
    restore,
    destroy,
    free_string,
};

#ifndef NO_ENTRY
coevo_status coevo_plugin_entry(const coevo_plugin_descriptor **out, const char **error) {
#ifdef ENTRY_FAILS
    *error = "this build of the plugin refuses to load";
    (void)out;
    (void)descriptor;
    return COEVO_ERROR;
#else
    (void)error;
    *out = &descriptor;
    return COEVO_OK;
#endif
}
#else
/* Something to export, so that the library is a library without the entry point. */
int not_a_plugin(void) { return descriptor.abi_major == 0; }
#endif
