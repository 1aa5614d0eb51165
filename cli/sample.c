/* sample.c — `drl sample`: images sampled by the reverse SDE / probability-flow ODE,
 * conditioned on the code of an image, an explicit code, an interpolation between two images'
 * codes, or (for 2-D codes) a K×K grid of codes with the same noise in every cell, the paper's
 * picture of a latent space; written as one PNG grid (and optionally one PNG per sample). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model.h"
#include "npy.h"
#include "png.h"
#include "sampler.h"
#include "tensor.h"
#include "threads.h"

static const char *usage_text =
    "usage: drl sample --model MODEL (--image X.png | --code Z.npy | --interpolate A.png B.png |\n"
    "                  --latent-grid [K] [--range R]) [--n N] [--sampler pc|em|ode] [--steps S]\n"
    "                  [--seed K] [--t-init T]\n"
    "                  [--snr R] [--no-denoise] [--each DIR] --out GRID.png\n"
    "Samples images from the score model conditioned on a latent code.\n"
    "  --image X.png       condition on E(X) (for time-conditioned models E(X, t) at every step);\n"
    "                      with --t-init < 1, start from X noised to that time (reconstruction)\n"
    "  --code Z.npy        condition on an explicit code: float32 (d,) or (1, d)\n"
    "  --interpolate A B   N samples along the line from E(A) to E(B)\n"
    "  --latent-grid [K]   models with 2-D codes: a KxK grid (K 2..16, default 8) whose cell in row i,\n"
    "                      column j is conditioned on z = (x_j, y_i), x_j = y_j = -R + 2Rj/(K-1), top\n"
    "                      left (-R, -R); every cell gets the same noise, so only the code changes\n"
    "  --range R           half-width of the --latent-grid square (default 2)\n"
    "  --n N               samples (default 8; at most 256)\n"
    "  --sampler           pc (predictor-corrector, default), em (Euler-Maruyama), ode (Heun)\n"
    "  --steps S           time steps (default 500; ode: 100)\n"
    "  --seed K            the same seed gives the same images (default 0)\n"
    "  --out GRID.png      the samples tiled in a grid; --each DIR also writes DIR/sample_i.png\n";

static int read_image(drl_err *err, const drl_model *m, const char *path, float *dst) {
    float *img = NULL;
    int C, H, W;
    int rc = drl_png_read_file(err, path, m->cfg.C, NULL, &img, &C, &H, &W);
    if (!rc && (H != m->cfg.H || W != m->cfg.W))
        rc = drl_errf(err, DRL_EINVAL, "%s: image is %dx%d but the model expects %dx%d", path, W, H, m->cfg.W, m->cfg.H);
    if (!rc) memcpy(dst, img, (size_t)C * H * W * sizeof(float));
    free(img);
    return rc;
}

/* Tiles N (C, H, W) images into a grid of `cols` columns with a 2-pixel border. */
static int write_grid(drl_err *err, const char *path, const float *x, int N, int cols, int C, int H, int W) {
    int rows = (N + cols - 1) / cols, pad = 2;
    int GH = rows * (H + pad) + pad, GW = cols * (W + pad) + pad;
    float *g = calloc((size_t)C * GH * GW, sizeof(float));
    if (!g) return drl_errf(err, DRL_ENOMEM, "out of memory");
    for (int i = 0; i < N; i++) {
        int r = i / cols, q = i % cols;
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++)
                for (int xx = 0; xx < W; xx++)
                    g[((size_t)c * GH + pad + r * (H + pad) + y) * GW + pad + q * (W + pad) + xx] =
                        x[(((size_t)i * C + c) * H + y) * W + xx];
    }
    int rc = drl_png_write_file(err, path, g, C, GH, GW);
    free(g);
    return rc;
}

int drl_cli_sample(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    const char *model_path = NULL, *image = NULL, *code = NULL, *ia = NULL, *ib = NULL, *out = NULL, *each = NULL;
    int N = 8, threads = 0, steps = -1, grid = 0, n_given = 0;
    float range = 2.0f;
    drl_sampler_cfg sc = drl_sampler_defaults();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int need = strcmp(a, "--no-denoise") != 0 && strcmp(a, "--latent-grid") != 0;
        if (need && i + 1 >= argc) {
            fprintf(stderr, "drl sample: %s needs a value\n", a);
            return DRL_EXIT_USAGE;
        }
        long long n = 0;
        int bad = 0;
        if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--image")) image = argv[++i];
        else if (!strcmp(a, "--code")) code = argv[++i];
        else if (!strcmp(a, "--interpolate")) {
            if (i + 2 >= argc) {
                fprintf(stderr, "drl sample: --interpolate needs two images\n");
                return DRL_EXIT_USAGE;
            }
            ia = argv[++i];
            ib = argv[++i];
        } else if (!strcmp(a, "--n")) bad = drl_cli_count("sample", a, argv[++i], &N), n_given = 1;
        else if (!strcmp(a, "--latent-grid")) { /* K is optional */
            grid = 8;
            if (i + 1 < argc && argv[i + 1][0] >= '0' && argv[i + 1][0] <= '9')
                bad = drl_cli_count("sample", a, argv[++i], &grid);
        } else if (!strcmp(a, "--range")) bad = drl_cli_float("sample", a, argv[++i], &range);
        else if (!strcmp(a, "--sampler")) {
            int k = drl_sampler_parse(argv[++i]);
            if (k < 0) {
                fprintf(stderr, "drl sample: --sampler must be pc, em or ode\n");
                return DRL_EXIT_USAGE;
            }
            sc.kind = (drl_sampler_kind)k;
        } else if (!strcmp(a, "--steps")) bad = drl_cli_count("sample", a, argv[++i], &steps);
        else if (!strcmp(a, "--seed")) bad = drl_cli_int("sample", a, argv[++i], 0, LLONG_MAX, &n), sc.seed = (uint64_t)n;
        else if (!strcmp(a, "--t-init")) bad = drl_cli_float("sample", a, argv[++i], &sc.t_init);
        else if (!strcmp(a, "--snr")) bad = drl_cli_float("sample", a, argv[++i], &sc.snr);
        else if (!strcmp(a, "--no-denoise")) sc.denoise = 0;
        else if (!strcmp(a, "--threads")) bad = drl_cli_count("sample", a, argv[++i], &threads);
        else if (!strcmp(a, "--each")) each = argv[++i];
        else if (!strcmp(a, "--out")) out = argv[++i];
        else {
            fprintf(stderr, "drl sample: unknown option '%s' (see --help)\n", a);
            return DRL_EXIT_USAGE;
        }
        if (bad) return DRL_EXIT_USAGE;
    }
    if (!model_path || !out || (!!image + !!code + !!ia + (grid != 0)) != 1) {
        fprintf(stderr, "drl sample: --model, --out and exactly one of --image, --code, --interpolate, --latent-grid are required\n");
        return DRL_EXIT_USAGE;
    }
    if (grid) {
        if (grid < 2 || grid > 16 || n_given || !(range > 0.0f && range <= 1000.0f)) {
            fprintf(stderr, "drl sample: --latent-grid K needs K in 2..16, no --n (the grid has KxK samples) and --range in (0, 1000]\n");
            return DRL_EXIT_USAGE;
        }
        N = grid * grid;
        sc.shared_noise = 1;
    }
    if (N < 1 || N > 256) {
        fprintf(stderr, "drl sample: --n must be 1..256\n");
        return DRL_EXIT_USAGE;
    }
    sc.steps = steps > 0 ? steps : sc.kind == DRL_SAMPLER_ODE ? 100 : 500;
    drl_threads_set(threads);
    drl_err err = {0};
    drl_model *m = NULL;
    int rc = drl_model_load(&err, model_path, &m);
    if (!rc) rc = drl_model_prepare(&err, m);
    if (!rc && m->cfg.mode != DRL_MODE_DRL) rc = drl_errf(&err, DRL_EINVAL, "%s is an autoencoder-baseline model: it has no score model to sample with", model_path);
    if (!rc && grid && m->cfg.latent_dim != 2)
        rc = drl_errf(&err, DRL_EINVAL, "--latent-grid needs a model with 2-D codes; %s has %d-D codes (train one with --latent-dim 2)",
                      model_path, m->cfg.latent_dim);
    if (!rc) rc = drl_sampler_validate(&err, &m->cfg, &sc);
    if (rc) {
        drl_model_free(m);
        return drl_cli_fail("sample", &err);
    }
    const drl_config *c = &m->cfg;
    int d = c->latent_dim;
    size_t n = (size_t)c->C * c->H * c->W;
    float *x0 = calloc((size_t)N * n, sizeof(float)), *z = calloc((size_t)N * d, sizeof(float));
    float *x = malloc((size_t)N * n * sizeof(float)), *work = malloc(3 * (size_t)N * n * sizeof(float));
    float *zb = malloc((size_t)N * d * sizeof(float)), *tb = malloc((size_t)N * sizeof(float));
    drl_model_acts *acts = drl_model_acts_create(&err, m, N, 0);
    if (!x0 || !z || !x || !work || !zb || !tb || !acts) rc = err.code ? err.code : drl_errf(&err, DRL_ENOMEM, "out of memory");
    int have_x0 = 0;
    if (!rc && image) {
        rc = read_image(&err, m, image, x0);
        for (int i = 1; !rc && i < N; i++) memcpy(x0 + i * n, x0, n * sizeof(float));
        have_x0 = 1;
        if (!rc) drl_model_encode(m, acts, m->params.data, x0, NULL, z, N);
    } else if (!rc && code) {
        float *zc = NULL;
        size_t rows, cols;
        rc = drl_npy_read(&err, code, &zc, &rows, &cols);
        size_t len = cols ? rows * cols : rows;
        if (!rc && len != (size_t)d) rc = drl_errf(&err, DRL_EINVAL, "%s: code has %zu numbers, the model's codes have %d", code, len, d);
        if (!rc && !drl_all_finite(zc, len)) rc = drl_errf(&err, DRL_EINVAL, "%s: code contains NaN or Inf", code);
        for (int i = 0; !rc && i < N; i++) memcpy(z + (size_t)i * d, zc, (size_t)d * sizeof(float));
        free(zc);
        if (!rc && sc.t_init < 1.0f) rc = drl_errf(&err, DRL_EINVAL, "--t-init < 1 needs an --image to noise");
    } else if (!rc && grid) {
        for (int i = 0; i < grid; i++)
            for (int j = 0; j < grid; j++) {
                z[(size_t)(i * grid + j) * 2] = -range + 2 * range * j / (grid - 1);
                z[(size_t)(i * grid + j) * 2 + 1] = -range + 2 * range * i / (grid - 1);
            }
        if (sc.t_init < 1.0f) rc = drl_errf(&err, DRL_EINVAL, "--t-init < 1 needs an --image to noise");
    } else if (!rc) {
        float *two = calloc(2 * n, sizeof(float)), zz[2 * 4096];
        rc = two ? read_image(&err, m, ia, two) : drl_errf(&err, DRL_ENOMEM, "out of memory");
        if (!rc) rc = read_image(&err, m, ib, two + n);
        if (!rc) {
            drl_model_encode(m, acts, m->params.data, two, NULL, zz, 2);
            for (int i = 0; i < N; i++) {
                float w = N > 1 ? (float)i / (N - 1) : 0.0f;
                for (int j = 0; j < d; j++) z[(size_t)i * d + j] = (1 - w) * zz[j] + w * zz[d + j];
                memcpy(x0 + i * n, two + (w < 0.5f ? 0 : n), n * sizeof(float));
            }
        }
        free(two);
        if (!rc && sc.t_init < 1.0f) have_x0 = 1;
    }
    if (!rc) {
        /* Time-conditioned models re-encode x0 at every step's t when conditioned on an image. */
        drl_model_score_ctx ctx = {m, acts, m->params.data, z, (image && c->time_cond) ? x0 : NULL, zb, tb};
        rc = drl_sample(&err, c, &sc, drl_model_score_fn, &ctx, have_x0 ? x0 : NULL, x, N, n, work);
    }
    if (!rc) {
        for (size_t i = 0; i < (size_t)N * n; i++) x[i] = x[i] < 0 ? 0 : x[i] > 1 ? 1 : x[i];
        rc = write_grid(&err, out, x, N, grid ? grid : N < 8 ? N : 8, c->C, c->H, c->W);
        for (int i = 0; !rc && each && i < N; i++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/sample_%03d.png", each, i);
            rc = drl_png_write_file(&err, p, x + (size_t)i * n, c->C, c->H, c->W);
        }
        if (!rc && grid) fprintf(stderr, "drl sample: %dx%d latent grid over [-%g, %g]^2 (%s, %d steps, seed %llu) -> %s\n", grid,
                                 grid, range, range, drl_sampler_name(sc.kind), sc.steps, (unsigned long long)sc.seed, out);
        else if (!rc) fprintf(stderr, "drl sample: %d samples (%s, %d steps, seed %llu) -> %s\n", N, drl_sampler_name(sc.kind),
                              sc.steps, (unsigned long long)sc.seed, out);
    }
    drl_model_acts_free(acts);
    free(x0), free(z), free(x), free(work), free(zb), free(tb);
    drl_model_free(m);
    return rc ? drl_cli_fail("sample", &err) : DRL_EXIT_OK;
}
