/* encode.c — `drl encode`: embeddings of PNG files or an IDX file, to .npy or JSON lines. */
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "dataset.h"
#include "idx.h"
#include "model.h"
#include "npy.h"
#include "png.h"
#include "threads.h"

static const char *usage_text =
    "usage: drl encode --model MODEL [--t T | --times K] [--out F.npy] [--batch B] [--threads N] INPUT...\n"
    "Embeds images with the model's encoder E(x0) (the mean for VDRL models).\n"
    "  INPUT          PNG files, or one IDX images file (.gz ok)\n"
    "  --t T          encoder time for a time-conditioned model (default: its t_min)\n"
    "  --times K      the time-indexed latent: E(x0, t) on K times evenly spaced over the model's\n"
    "                 [t_min, t_max], concatenated (time-conditioned models only)\n"
    "  --max-n N      with an IDX input, only the first N images\n"
    "  --out F.npy    write a float32 (N, dim) array; without it, JSON lines on stdout:\n"
    "                 {\"input\": NAME, \"embedding\": [...]}\n";

static int load_inputs(drl_err *err, const drl_model *m, char **files, int n, size_t max_n,
                       drl_dataset **out) {
    const drl_config *c = &m->cfg;
    size_t len = strlen(files[0]);
    int is_png = len > 4 && !strcmp(files[0] + len - 4, ".png");
    if (!is_png) {
        if (n != 1) return drl_errf(err, DRL_EINVAL, "give one IDX file, or PNG files (*.png)");
        return drl_dataset_load_idx(err, files[0], NULL, max_n, out);
    }
    drl_dataset *ds = calloc(1, sizeof *ds);
    size_t per = (size_t)c->C * c->H * c->W;
    if (!ds || !(ds->images = malloc((size_t)n * per * sizeof(float)))) {
        free(ds);
        return drl_errf(err, DRL_ENOMEM, "out of memory");
    }
    ds->C = c->C, ds->H = c->H, ds->W = c->W;
    for (int i = 0; i < n; i++) {
        float *img = NULL;
        int C, H, W;
        int rc = drl_png_read_file(err, files[i], c->C, NULL, &img, &C, &H, &W);
        if (!rc && (H != c->H || W != c->W))
            rc = drl_errf(err, DRL_EINVAL, "%s: image is %dx%d but the model expects %dx%d", files[i], W, H, c->W, c->H);
        if (rc) {
            free(img);
            drl_dataset_free(ds);
            return rc;
        }
        memcpy(ds->images + (size_t)i * per, img, per * sizeof(float));
        free(img);
        ds->N++;
    }
    *out = ds;
    return 0;
}

int drl_cli_encode(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    const char *model_path = NULL, *out_path = NULL;
    float t = -1.0f;
    int K = 0, B = 128, threads = 0, nin = 0;
    size_t max_n = 0;
    char **inputs = calloc((size_t)argc, sizeof *inputs);
    if (!inputs) return DRL_EXIT_FAIL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--model") || !strcmp(a, "--out") || !strcmp(a, "--t") || !strcmp(a, "--times") ||
                    !strcmp(a, "--batch") || !strcmp(a, "--threads") || !strcmp(a, "--max-n");
        if (takes && !v) {
            fprintf(stderr, "drl encode: %s needs a value\n", a);
            free(inputs);
            return DRL_EXIT_USAGE;
        }
        long long n = 0;
        int bad = 0;
        if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--out")) out_path = argv[++i];
        else if (!strcmp(a, "--t")) bad = drl_cli_float("encode", a, argv[++i], &t);
        else if (!strcmp(a, "--times")) bad = drl_cli_count("encode", a, argv[++i], &K);
        else if (!strcmp(a, "--batch")) bad = drl_cli_count("encode", a, argv[++i], &B);
        else if (!strcmp(a, "--threads")) bad = drl_cli_count("encode", a, argv[++i], &threads);
        else if (!strcmp(a, "--max-n")) bad = drl_cli_int("encode", a, argv[++i], 0, LLONG_MAX, &n), max_n = (size_t)n;
        else if (a[0] == '-' && a[1] == '-') {
            fprintf(stderr, "drl encode: unknown option '%s'\n", a);
            free(inputs);
            return DRL_EXIT_USAGE;
        } else inputs[nin++] = argv[i];
        if (bad) {
            free(inputs);
            return DRL_EXIT_USAGE;
        }
    }
    if (!model_path || nin == 0) {
        fprintf(stderr, "drl encode: --model and at least one INPUT are required (see --help)\n");
        free(inputs);
        return DRL_EXIT_USAGE;
    }
    if (K < 0 || K > 1000 || B < 1 || B > 4096) {
        fprintf(stderr, "drl encode: --times must be 0..1000 and --batch 1..4096\n");
        free(inputs);
        return DRL_EXIT_USAGE;
    }
    drl_threads_set(threads);
    drl_err err = {0};
    drl_model *m = NULL;
    drl_dataset *ds = NULL;
    float *emb = NULL, *times = NULL;
    int rc = drl_model_load(&err, model_path, &m);
    if (!rc) rc = drl_model_prepare(&err, m);
    if (!rc) rc = load_inputs(&err, m, inputs, nin, max_n, &ds);
    if (!rc && (ds->C != m->cfg.C || ds->H != m->cfg.H || ds->W != m->cfg.W))
        rc = drl_errf(&err, DRL_EINVAL, "inputs are %dx%dx%d but the model expects %dx%dx%d", ds->C, ds->H, ds->W,
                      m->cfg.C, m->cfg.H, m->cfg.W);
    if (!rc && (t >= 0.0f || K > 0) && !m->cfg.time_cond)
        rc = drl_errf(&err, DRL_EINVAL, "--t / --times need a time-conditioned model (this one is not)");
    if (!rc && t >= 0.0f && !(t >= m->cfg.t_eps && t <= 1.0f))
        rc = drl_errf(&err, DRL_EINVAL, "--t must be in [%g, 1]", m->cfg.t_eps);
    int Kc = K > 0 ? K : 1;
    if (!rc) {
        times = malloc((size_t)Kc * sizeof(float));
        for (int k = 0; k < Kc; k++)
            times[k] = K > 1 ? m->cfg.t_min + (m->cfg.t_max - m->cfg.t_min) * k / (K - 1)
                             : (t >= 0.0f ? t : m->cfg.t_min);
        int dim = drl_model_embed_dim(m, Kc);
        emb = malloc(ds->N * (size_t)dim * sizeof(float));
        if (!times || !emb) rc = drl_errf(&err, DRL_ENOMEM, "out of memory");
        if (!rc) rc = drl_model_embed_all(&err, m, m->params.data, ds->images, ds->N, m->cfg.time_cond ? times : NULL,
                                          m->cfg.time_cond ? Kc : 0, B, emb);
        if (!rc && out_path) {
            rc = drl_npy_write(&err, out_path, emb, ds->N, (size_t)dim);
            if (!rc) fprintf(stderr, "drl encode: wrote %zu x %d embeddings to %s\n", ds->N, dim, out_path);
        } else if (!rc) {
            for (size_t i = 0; i < ds->N; i++) {
                char name[4200];
                if (nin > 1 || ds->N == 1) snprintf(name, sizeof name, "%s", inputs[nin > 1 ? i : 0]);
                else snprintf(name, sizeof name, "%s#%zu", inputs[0], i);
                json_t *js = json_string(name);
                char *q = js ? json_dumps(js, JSON_ENCODE_ANY) : NULL;
                printf("{\"input\":%s,\"embedding\":[", q ? q : "null");
                free(q);
                json_decref(js);
                for (int j = 0; j < dim; j++) printf(j ? ",%.7g" : "%.7g", (double)emb[i * dim + j]);
                printf("]}\n");
            }
        }
    }
    free(emb), free(times), free(inputs);
    drl_dataset_free(ds);
    drl_model_free(m);
    return rc ? drl_cli_fail("encode", &err) : DRL_EXIT_OK;
}
