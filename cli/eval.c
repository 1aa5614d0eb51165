/* eval.c — `drl eval`: the paper's representation protocols on Fashion-MNIST's test split:
 * a linear probe trained on the full train split, and few-label probes (100 and 1000 labels,
 * averaged over seeds), for the model's embeddings and, in the same run, for raw pixels. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "dataset.h"
#include "model.h"
#include "probe.h"
#include "threads.h"

static const char *usage_text =
    "usage: drl eval --model MODEL [options]\n"
    "Linear-probe and few-label accuracy of the model's embeddings vs raw pixels.\n"
    "  --max-train N   use the first N training images (default: all 60000)\n"
    "  --max-test N    use the first N test images (default: all 10000)\n"
    "  --runs R        seeds averaged in the few-label protocol (default 10)\n"
    "  --times K       time-conditioned models: accuracy per t on K times and for the concatenated\n"
    "                  trajectory (default 4)\n"
    "  --no-pixels     skip the raw-pixel baseline\n"
    "  --json          machine-readable output\n"
    "  --threads N     threads (default: all cores)\n";

typedef struct {
    char name[64];
    double linear, few100, few100_sd, few1000, few1000_sd;
} eval_row;

static int evaluate(drl_err *err, const char *name, const float *Xtr, const int *ytr, size_t Ntr,
                    const float *Xte, const int *yte, size_t Nte, int D, int runs, eval_row *row) {
    drl_probe_cfg pc = drl_probe_defaults();
    drl_probe *p = NULL;
    snprintf(row->name, sizeof row->name, "%s", name);
    int rc = drl_probe_fit(err, &pc, Xtr, ytr, Ntr, D, 10, &p);
    if (rc) return rc;
    row->linear = drl_probe_accuracy(p, Xte, yte, Nte);
    drl_probe_free(p);
    row->few100 = row->few1000 = -1;
    if (Ntr >= 100) rc = drl_probe_few_label(err, &pc, Xtr, ytr, Ntr, Xte, yte, Nte, D, 10, 100, runs, 100, &row->few100, &row->few100_sd);
    if (!rc && Ntr >= 1000)
        rc = drl_probe_few_label(err, &pc, Xtr, ytr, Ntr, Xte, yte, Nte, D, 10, 1000, runs, 1000, &row->few1000, &row->few1000_sd);
    return rc;
}

int drl_cli_eval(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    const char *model_path = NULL;
    size_t max_train = 0, max_test = 0;
    int runs = 10, K = 4, pixels = 1, as_json = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--model") || !strcmp(a, "--max-train") || !strcmp(a, "--max-test") ||
                    !strcmp(a, "--runs") || !strcmp(a, "--times") || !strcmp(a, "--threads");
        if (takes && !v) {
            fprintf(stderr, "drl eval: %s needs a value\n", a);
            return DRL_EXIT_USAGE;
        }
        if (!strcmp(a, "--model")) model_path = argv[++i];
        else if (!strcmp(a, "--max-train")) max_train = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--max-test")) max_test = strtoul(argv[++i], NULL, 10);
        else if (!strcmp(a, "--runs")) runs = atoi(argv[++i]);
        else if (!strcmp(a, "--times")) K = atoi(argv[++i]);
        else if (!strcmp(a, "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--no-pixels")) pixels = 0;
        else if (!strcmp(a, "--json")) as_json = 1;
        else if (!strcmp(a, "--sampling")) {
            fprintf(stderr, "drl eval: --sampling is not built yet in this version\n");
            return DRL_EXIT_UNAVAILABLE;
        } else {
            fprintf(stderr, "drl eval: unknown option '%s'\n", a);
            return DRL_EXIT_USAGE;
        }
    }
    if (!model_path) {
        fprintf(stderr, "drl eval: --model is required (see --help)\n");
        return DRL_EXIT_USAGE;
    }
    if (runs < 1 || runs > 1000 || K < 1 || K > 64) {
        fprintf(stderr, "drl eval: --runs must be 1..1000 and --times 1..64\n");
        return DRL_EXIT_USAGE;
    }
    drl_threads_set(threads);
    drl_err err = {0};
    drl_model *m = NULL;
    drl_dataset *tr = NULL, *te = NULL;
    float *Etr = NULL, *Ete = NULL, *times = NULL;
    eval_row rows[70];
    int nrows = 0, rc;
    rc = drl_model_load(&err, model_path, &m);
    if (!rc) rc = drl_dataset_load_fmnist(&err, "train", max_train, &tr);
    if (!rc) rc = drl_dataset_load_fmnist(&err, "test", max_test, &te);
    if (!rc && (tr->C != m->cfg.C || tr->H != m->cfg.H || tr->W != m->cfg.W))
        rc = drl_errf(&err, DRL_EINVAL, "the model expects %dx%dx%d images, Fashion-MNIST is 1x28x28", m->cfg.C, m->cfg.H, m->cfg.W);
    int Kt = m && m->cfg.time_cond ? K : 1, d = m ? m->cfg.latent_dim : 0;
    if (!rc) {
        times = malloc((size_t)Kt * sizeof(float));
        Etr = malloc(tr->N * (size_t)Kt * d * sizeof(float));
        Ete = malloc(te->N * (size_t)Kt * d * sizeof(float));
        if (!times || !Etr || !Ete) rc = drl_errf(&err, DRL_ENOMEM, "out of memory");
    }
    if (!rc) {
        for (int k = 0; k < Kt; k++)
            times[k] = Kt > 1 ? m->cfg.t_min + (m->cfg.t_max - m->cfg.t_min) * k / (Kt - 1) : m->cfg.t_min;
        clock_t c0 = clock();
        rc = drl_model_embed_all(&err, m, m->params.data, tr->images, tr->N, m->cfg.time_cond ? times : NULL,
                                 m->cfg.time_cond ? Kt : 0, 256, Etr);
        if (!rc) rc = drl_model_embed_all(&err, m, m->params.data, te->images, te->N, m->cfg.time_cond ? times : NULL,
                                          m->cfg.time_cond ? Kt : 0, 256, Ete);
        if (!as_json) fprintf(stderr, "drl eval: embedded %zu + %zu images (%.1f s CPU)\n", tr->N, te->N,
                              (double)(clock() - c0) / CLOCKS_PER_SEC);
    }
    if (!rc && pixels) {
        int D = tr->C * tr->H * tr->W;
        rc = evaluate(&err, "raw pixels", tr->images, tr->labels, tr->N, te->images, te->labels, te->N, D, runs, &rows[nrows++]);
    }
    if (!rc) {
        size_t row = (size_t)Kt * d;
        if (Kt == 1) {
            rc = evaluate(&err, "model", Etr, tr->labels, tr->N, Ete, te->labels, te->N, d, runs, &rows[nrows++]);
        } else {
            float *A = malloc(tr->N * (size_t)d * sizeof(float)), *Bt = malloc(te->N * (size_t)d * sizeof(float));
            if (!A || !Bt) rc = drl_errf(&err, DRL_ENOMEM, "out of memory");
            for (int k = 0; k < Kt && !rc; k++) {
                for (size_t i = 0; i < tr->N; i++) memcpy(A + i * d, Etr + i * row + (size_t)k * d, (size_t)d * sizeof(float));
                for (size_t i = 0; i < te->N; i++) memcpy(Bt + i * d, Ete + i * row + (size_t)k * d, (size_t)d * sizeof(float));
                char name[64];
                snprintf(name, sizeof name, "model, t = %.3g", times[k]);
                rc = evaluate(&err, name, A, tr->labels, tr->N, Bt, te->labels, te->N, d, runs, &rows[nrows++]);
            }
            free(A), free(Bt);
            if (!rc) rc = evaluate(&err, "model, trajectory", Etr, tr->labels, tr->N, Ete, te->labels, te->N, (int)row, runs, &rows[nrows++]);
        }
    }
    if (!rc) {
        if (as_json) {
            json_t *o = json_pack("{s:s, s:I, s:I, s:i}", "model", model_path, "train", (json_int_t)tr->N,
                                  "test", (json_int_t)te->N, "runs", runs);
            json_t *arr = json_array();
            for (int i = 0; i < nrows; i++)
                json_array_append_new(arr, json_pack("{s:s, s:f, s:f, s:f, s:f, s:f}", "representation", rows[i].name,
                                                     "linear", rows[i].linear, "labels_100", rows[i].few100,
                                                     "labels_100_std", rows[i].few100_sd, "labels_1000", rows[i].few1000,
                                                     "labels_1000_std", rows[i].few1000_sd));
            json_object_set_new(o, "results", arr);
            char *s = json_dumps(o, JSON_INDENT(2));
            puts(s);
            free(s);
            json_decref(o);
        } else {
            printf("%-24s %8s %14s %14s\n", "representation", "linear", "100 labels", "1000 labels");
            for (int i = 0; i < nrows; i++)
                printf("%-24s %7.2f%% %7.2f ± %4.2f %7.2f ± %4.2f\n", rows[i].name, 100 * rows[i].linear,
                       100 * rows[i].few100, 100 * rows[i].few100_sd, 100 * rows[i].few1000, 100 * rows[i].few1000_sd);
        }
    }
    free(Etr), free(Ete), free(times);
    drl_dataset_free(tr);
    drl_dataset_free(te);
    drl_model_free(m);
    return rc ? drl_cli_fail("eval", &err) : DRL_EXIT_OK;
}
