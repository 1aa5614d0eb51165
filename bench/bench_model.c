/* bench_model.c — throughput of the full networks: encoder forward (batch B images/s),
 * batch-1 encoder latency, and one DRL training step (forward + backward + Adam) images/s. The
 * "team" figures run the batch as one pass split inside every layer; the others cut it into one
 * shard per thread (drl train's data-parallel step; the server's encode workers).
 * Prints one JSON object so bench/run.sh can put it beside PyTorch's figures.
 * usage: bench_model [--threads N] [--batch B] [--train-batch B] [--reps R] [--model FILE]
 *                    [--encoder-only]
 * --model measures a checkpoint's networks instead of the default config's; --encoder-only skips
 * the training step (bench/load.sh compares the server's HTTP throughput with this figure). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "model.h"
#include "optim.h"
#include "rng.h"
#include "threads.h"

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
    /* the encoder's filters prepared, as the server and drl encode / eval run it */
    if ((model_path ? drl_model_load(&err, model_path, &m) : drl_model_create(&err, &cfg, 1, &m)) ||
        drl_model_prepare(&err, m)) {
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

    /* encoder forward, batch B: one pass with the whole OpenMP team ("team": drl eval and drl
     * encode), and the batch cut into one shard per thread, each encoded on its own thread (the
     * server's one-thread encode workers) */
    double enc_team = 0.0, enc_ips = 0.0;
    {
        drl_model_acts *a = drl_model_acts_create(&err, m, B, 0);
        double best = 1e30;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = drl_clock_now_s();
            drl_model_encode(m, a, m->params.data, x, NULL, z, B);
            double dt = drl_clock_now_s() - t0;
            if (r > 0 && dt < best) best = dt;
        }
        enc_team = B / best;
        drl_model_acts_free(a);
        const int S = threads > 1 && threads <= 8 && B >= threads ? threads : 1;
        drl_model_acts *sa[8] = {0};
        for (int k = 0; k < S; k++) sa[k] = drl_model_acts_create(&err, m, (B + S - 1) / S, 0);
        best = 1e30;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = drl_clock_now_s();
#pragma omp parallel for num_threads(S) schedule(static, 1) if (S > 1)
            for (int k = 0; k < S; k++) {
                const int b0 = B * k / S, nb = B * (k + 1) / S - b0;
                drl_model_encode(m, sa[k], m->params.data, x + (size_t)b0 * n, NULL,
                                 z + (size_t)b0 * cfg.latent_dim, nb);
            }
            double dt = drl_clock_now_s() - t0;
            if (r > 0 && dt < best) best = dt;
        }
        enc_ips = B / best;
        for (int k = 0; k < S; k++) drl_model_acts_free(sa[k]);
    }
    drl_model_acts *a;
    double best;

    /* batch-1 latency */
    a = drl_model_acts_create(&err, m, 1, 0);
    best = 1e30;
    for (int r = 0; r < 20 * reps + 1; r++) {
        double t0 = drl_clock_now_s();
        drl_model_encode(m, a, m->params.data, x, NULL, z, 1);
        double dt = drl_clock_now_s() - t0;
        if (r > 0 && dt < best) best = dt;
    }
    double lat_ms = best * 1e3;
    drl_model_acts_free(a);

    if (encoder_only) {
        printf("{\"impl\":\"drl-c\",\"threads\":%d,\"encoder_batch\":%d,\"encoder_img_per_s\":%.1f,"
               "\"encoder_team_img_per_s\":%.1f,\"encoder_b1_latency_ms\":%.3f,\"params\":%zu}\n",
               threads, B, enc_ips, enc_team, lat_ms, drl_params_trainable(&m->params));
        free(x), free(eps), free(t), free(z);
        drl_model_free(m);
        return 0;
    }

    /* training step: one pass with the whole team ("team"), and the data-parallel step that
     * drl train runs (drl_model_loss_sharded); it changes the weights, so nothing prepared */
    drl_model_unprepare(m);
    size_t tot = m->params.total;
    float *am = calloc(tot, sizeof(float)), *av = calloc(tot, sizeof(float));
    drl_adam_cfg ac = drl_adam_defaults();
    double train_team = 0.0, train_ips = 0.0;
    for (int sharded = 0; sharded < 2; sharded++) {
        a = sharded ? NULL : drl_model_acts_create(&err, m, TB, 1);
        drl_model_shards *sh = sharded ? drl_model_shards_create(&err, m, TB, 1) : NULL;
        if (!a && !sh) {
            fprintf(stderr, "bench_model: %s\n", err.msg);
            return 1;
        }
        best = 1e30;
        for (int r = 0; r < reps + 1; r++) {
            double t0 = drl_clock_now_s();
            drl_params_zero_grad(&m->params);
            if (sh) drl_model_loss_sharded(m, sh, m->params.data, x, t, eps, NULL, TB, 1, 1, &rng);
            else drl_model_loss(m, a, m->params.data, x, t, eps, NULL, TB, 1, 1, &rng);
            drl_adam_step(&ac, m->params.data, m->params.grad, am, av, tot, r);
            double dt = drl_clock_now_s() - t0;
            if (r > 0 && dt < best) best = dt;
        }
        if (sharded) train_ips = TB / best;
        else train_team = TB / best;
        drl_model_acts_free(a);
        drl_model_shards_free(sh);
    }

    printf("{\"impl\":\"drl-c\",\"threads\":%d,\"encoder_batch\":%d,\"encoder_img_per_s\":%.1f,"
           "\"encoder_team_img_per_s\":%.1f,\"encoder_b1_latency_ms\":%.3f,\"train_batch\":%d,"
           "\"train_img_per_s\":%.1f,\"train_team_img_per_s\":%.1f,\"params\":%zu}\n",
           threads, B, enc_ips, enc_team, lat_ms, TB, train_ips, train_team,
           drl_params_trainable(&m->params));
    free(x), free(eps), free(t), free(z), free(am), free(av);
    drl_model_free(m);
    return 0;
}
