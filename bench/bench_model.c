/* bench_model.c — throughput of the full networks: encoder forward (batch B images/s),
 * batch-1 encoder latency, and one DRL training step (forward + backward + Adam) images/s.
 * Prints one JSON object so bench/run.sh can put it beside PyTorch's figures.
 * usage: bench_model [--threads N] [--batch B] [--train-batch B] [--reps R] [--model FILE]
 *                    [--encoder-only]
 * --model measures a checkpoint's networks instead of the default config's; --encoder-only skips
 * the training step (bench/load.sh compares the server's HTTP throughput with this figure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model.h"
#include "optim.h"
#include "rng.h"
#include "threads.h"

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
    int threads = 1, B = 256, TB = 64, reps = 5, encoder_only = 0;
    const char *model_path = NULL;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(argv[i], "--encoder-only")) encoder_only = 1;
        else if (!strcmp(argv[i], "--threads")) threads = atoi(v), i++;
        else if (!strcmp(argv[i], "--model")) model_path = v, i++;
        else if (!strcmp(argv[i], "--batch")) B = atoi(v), i++;
        else if (!strcmp(argv[i], "--train-batch")) TB = atoi(v), i++;
        else if (!strcmp(argv[i], "--reps")) reps = atoi(v), i++;
    }
    drl_threads_set(threads);
    drl_err err = {0};
    drl_config cfg = drl_config_defaults();
    drl_model *m = NULL;
    if (model_path ? drl_model_load(&err, model_path, &m) : drl_model_create(&err, &cfg, 1, &m)) {
        fprintf(stderr, "bench_model: %s\n", err.msg);
        return 1;
    }
    cfg = m->cfg;
    size_t n = (size_t)cfg.C * cfg.H * cfg.W;
    int maxB = B > TB ? B : TB;
    float *x = malloc((size_t)maxB * n * sizeof(float)), *eps = malloc((size_t)maxB * n * sizeof(float));
    float *t = malloc((size_t)maxB * sizeof(float)), *z = malloc((size_t)maxB * cfg.latent_dim * sizeof(float));
    drl_rng rng;
    drl_rng_seed(&rng, 7);
    drl_rng_uniform_fill(&rng, x, (size_t)maxB * n);
    drl_rng_normal_fill(&rng, eps, (size_t)maxB * n);
    for (int b = 0; b < maxB; b++) t[b] = 0.05f + 0.9f * drl_rng_uniform(&rng);

    /* encoder forward, batch B */
    drl_model_acts *a = drl_model_acts_create(&err, m, B, 0);
    double best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now_s();
        drl_model_encode(m, a, m->params.data, x, NULL, z, B);
        double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    double enc_ips = B / best;
    drl_model_acts_free(a);

    /* batch-1 latency */
    a = drl_model_acts_create(&err, m, 1, 0);
    best = 1e30;
    for (int r = 0; r < 20 * reps + 1; r++) {
        double t0 = now_s();
        drl_model_encode(m, a, m->params.data, x, NULL, z, 1);
        double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    double lat_ms = best * 1e3;
    drl_model_acts_free(a);

    if (encoder_only) {
        printf("{\"impl\":\"drl-c\",\"threads\":%d,\"encoder_batch\":%d,\"encoder_img_per_s\":%.1f,"
               "\"encoder_b1_latency_ms\":%.3f,\"params\":%zu}\n",
               threads, B, enc_ips, lat_ms, drl_params_trainable(&m->params));
        free(x), free(eps), free(t), free(z);
        drl_model_free(m);
        return 0;
    }

    /* training step */
    a = drl_model_acts_create(&err, m, TB, 1);
    size_t tot = m->params.total;
    float *am = calloc(tot, sizeof(float)), *av = calloc(tot, sizeof(float));
    drl_adam_cfg ac = drl_adam_defaults();
    best = 1e30;
    for (int r = 0; r < reps + 1; r++) {
        double t0 = now_s();
        drl_params_zero_grad(&m->params);
        drl_model_loss(m, a, m->params.data, x, t, eps, NULL, TB, 1, 1, &rng);
        drl_adam_step(&ac, m->params.data, m->params.grad, am, av, tot, r);
        double dt = now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    double train_ips = TB / best;
    drl_model_acts_free(a);

    printf("{\"impl\":\"drl-c\",\"threads\":%d,\"encoder_batch\":%d,\"encoder_img_per_s\":%.1f,"
           "\"encoder_b1_latency_ms\":%.3f,\"train_batch\":%d,\"train_img_per_s\":%.1f,\"params\":%zu}\n",
           threads, B, enc_ips, lat_ms, TB, train_ips, drl_params_trainable(&m->params));
    free(x), free(eps), free(t), free(z), free(am), free(av);
    drl_model_free(m);
    return 0;
}
