/* inspect.c — `drl inspect [--json] FILE`: the tensors and metadata of a safetensors file.
 *
 * The file goes through the same validating reader as model loading, so inspect doubles as a
 * checker: a file it lists is a file drl can load (as far as the container format goes). */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "safetensors.h"

static const char *usage_text =
    "usage: drl inspect [--json] FILE\n"
    "Lists the tensors (name, dtype, shape, element count), the total parameter count and the\n"
    "__metadata__ of a safetensors file, after validating it.\n"
    "  --json   print one JSON object: {\"file\", \"tensors\": [{\"name\", \"dtype\", \"shape\",\n"
    "           \"numel\"}], \"parameters\", \"metadata\"}\n";

/* "[2, 3, 4]" ("[]" for a scalar) into s. */
static void shape_str(const drl_st_tensor *t, char *s, size_t cap) {
    size_t k = (size_t)snprintf(s, cap, "[");
    for (int d = 0; d < t->ndim && k < cap; d++)
        k += (size_t)snprintf(s + k, cap - k, "%s%lld", d ? ", " : "", (long long)t->shape[d]);
    if (k < cap) snprintf(s + k, cap - k, "]");
}

static size_t total_params(const drl_safetensors *st) {
    size_t total = 0;
    for (size_t i = 0; i < st->n_tensors; i++) total += st->tensors[i].numel;
    return total;
}

static void print_text(const char *path, const drl_safetensors *st) {
    int wn = 4, ws = 5; /* column widths: at least the headings */
    char shape[256];
    for (size_t i = 0; i < st->n_tensors; i++) {
        int l = (int)strlen(st->tensors[i].name);
        if (l > wn) wn = l;
        shape_str(&st->tensors[i], shape, sizeof shape);
        l = (int)strlen(shape);
        if (l > ws) ws = l;
    }
    printf("%s: %zu tensors\n", path, st->n_tensors);
    if (st->n_tensors)
        printf("  %-*s  %-5s  %-*s  %s\n", wn, "name", "dtype", ws, "shape", "numel");
    for (size_t i = 0; i < st->n_tensors; i++) {
        const drl_st_tensor *t = &st->tensors[i];
        shape_str(t, shape, sizeof shape);
        printf("  %-*s  %-5s  %-*s  %zu\n", wn, t->name, t->dtype, ws, shape, t->numel);
    }
    printf("parameters: %zu\n", total_params(st));
    if (st->n_meta) printf("metadata:\n");
    for (size_t i = 0; i < st->n_meta; i++)
        printf("  %s = %s\n", st->meta_keys[i], st->meta_vals[i]);
}

/* Builds the --json object; NULL when out of memory. */
static json_t *to_json(const char *path, const drl_safetensors *st) {
    json_t *tensors = json_array(), *meta = json_object();
    json_t *o = json_pack("{s:s, s:o, s:I, s:o}", "file", path, "tensors", tensors, "parameters",
                          (json_int_t)total_params(st), "metadata", meta);
    if (!o) return NULL; /* json_pack releases what it was given */
    for (size_t i = 0; i < st->n_tensors; i++) {
        const drl_st_tensor *t = &st->tensors[i];
        json_t *shape = json_array();
        int ok = shape != NULL;
        for (int d = 0; ok && d < t->ndim; d++)
            ok = json_array_append_new(shape, json_integer(t->shape[d])) == 0;
        if (!ok) json_decref(shape);
        /* "o" steals shape; json_array_append_new steals row, freeing it if it fails. */
        json_t *row = ok ? json_pack("{s:s, s:s, s:o, s:I}", "name", t->name, "dtype", t->dtype,
                                     "shape", shape, "numel", (json_int_t)t->numel)
                         : NULL;
        if (!row || json_array_append_new(tensors, row) != 0) {
            json_decref(o);
            return NULL;
        }
    }
    for (size_t i = 0; i < st->n_meta; i++)
        if (json_object_set_new(meta, st->meta_keys[i], json_string(st->meta_vals[i])) != 0) {
            json_decref(o);
            return NULL;
        }
    return o;
}

int drl_cli_inspect(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    const char *path = NULL;
    int as_json = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) as_json = 1;
        else if (!strcmp(a, "--") && i + 1 < argc && !path) path = argv[++i];
        else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "drl inspect: unknown option '%s'\n%s", a, usage_text);
            return DRL_EXIT_USAGE;
        } else if (!path) path = a;
        else {
            fprintf(stderr, "drl inspect: one FILE only ('%s' is extra)\n%s", a, usage_text);
            return DRL_EXIT_USAGE;
        }
    }
    if (!path) {
        fprintf(stderr, "drl inspect: missing FILE\n%s", usage_text);
        return DRL_EXIT_USAGE;
    }

    drl_err err = {0};
    drl_safetensors *st = NULL;
    if (drl_safetensors_load(&err, path, 0, &st) != 0) {
        /* A bad file is a runtime failure (exit 1), never a usage error. */
        if (err.code == DRL_EINVAL) err.code = DRL_EFORMAT;
        return drl_cli_fail("inspect", &err);
    }
    int rc = DRL_EXIT_OK;
    if (as_json) {
        json_t *o = to_json(path, st);
        char *s = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
        if (s) printf("%s\n", s);
        else {
            drl_errf(&err, DRL_ENOMEM, "out of memory building the JSON output");
            rc = drl_cli_fail("inspect", &err);
        }
        free(s);
        json_decref(o);
    } else {
        print_text(path, st);
    }
    drl_safetensors_free(st);
    if (rc == DRL_EXIT_OK && (fflush(stdout) != 0 || ferror(stdout))) {
        fprintf(stderr, "drl inspect: error writing output\n");
        rc = DRL_EXIT_FAIL;
    }
    return rc;
}
