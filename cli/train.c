/* train.c — `drl train`: flags / JSON config → drl_train_run, with a progress line and SIGINT
 * handling (the trainer checkpoints and exits cleanly; `--resume` continues exactly). */
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "dataset.h"
#include "fileio.h"
#include "threads.h"
#include "trainer.h"

static volatile sig_atomic_t g_stop = 0; /* set by SIGINT/SIGTERM; the only global, by necessity */

static void on_signal(int sig) {
    (void)sig;
    g_stop = 1;
}

static const char *usage_text =
    "usage: drl train --out MODEL.safetensors [options]\n"
    "Trains an encoder E(x0[, t]) and a score model s(x_t, t, E(x0)) jointly with conditional\n"
    "denoising score matching (Diffusion-Based Representation Learning).\n\n"
    "data:\n"
    "  --data PATH          IDX images file (.gz ok) or a folder of PNGs (default: Fashion-MNIST\n"
    "                       train split from " DRL_FMNIST_DIR ")\n"
    "  --max-n N            use only the first N images\n"
    "  --flip               random horizontal flips\n"
    "model (ignored with --init-from, which keeps the base model's architecture):\n"
    "  --latent-dim D       code size (default 128)\n"
    "  --sde ve|vp          diffusion (default ve: sigma_min 0.01, sigma_max 50)\n"
    "  --t-range A,B        training times t in [A, B] (level of detail; default 1e-5,1)\n"
    "  --code-t-range A,B   the score net sees the code only at t in [A, B] (a zero code\n"
    "                       elsewhere): level of detail with a score net trained on all t\n"
    "  --tdist uniform|sigma_uniform   t uniform (log-sigma uniform for VE) or sigma uniform\n"
    "  --weighting sigma2|min_snr|truncated_snr   loss weight over t: the paper's lambda(t) =\n"
    "                       sigma^2; min-SNR (low-noise times, where the code is barely needed,\n"
    "                       weigh min(1, gamma sigma^2 / alpha^2) as much; --snr-gamma G,\n"
    "                       default 5); or truncated SNR (high-noise times weigh\n"
    "                       max(1, sigma^2 / alpha^2) as much: the implied clean image's error\n"
    "                       counts there as much as at sigma/alpha = 1; a fine-tuning recipe\n"
    "                       for a sigma2-trained model: worse from scratch)\n"
    "  --time-cond          time-conditioned encoder E(x0, t) (the time-indexed latent)\n"
    "  --variational        VDRL: probabilistic encoder with KL regulariser (set --lambda-z)\n"
    "  --reg none|l1|kl     latent regulariser, weight --lambda-z L\n"
    "  --channels A,B,C     encoder and U-Net channels per resolution (default 32,64,128)\n"
    "  --autoencoder        the baseline: same encoder, trained to reconstruct x0 through a\n"
    "                       small decoder instead of denoising\n"
    "  --init-from MODEL    fine-tune from an existing model file\n"
    "optimisation:\n"
    "  --steps N  --batch B  --lr LR  --warmup N  --clip C  --ema DECAY  --seed S\n"
    "  --lr-decay N         cooldown: the lr falls linearly over the last N of the --steps, to\n"
    "                       lr/N on the last step (default 0: constant after warm-up). To cool\n"
    "                       a long run down, stop it before its last N steps and resume it with\n"
    "                       its final --steps and --lr-decay.\n"
    "  --threads N          threads for OpenBLAS and OpenMP (default: all cores)\n"
    "checkpoints:\n"
    "  --ckpt-every N       steps between checkpoints (default 1000)\n"
    "  --log-every N        steps between progress lines / loss-curve rows (default 50)\n"
    "  --resume             continue from MODEL.state if present (same curve as one run)\n"
    "  --config FILE.json   trainer + model settings as JSON (flags given later override)\n"
    "Writes MODEL (EMA weights), MODEL.state (optimizer state) and MODEL.csv (loss curve).\n";

typedef struct {
    int tty;
    double last_print;
} progress_ctx;

static int on_progress(void *user, const drl_train_progress *p) {
    progress_ctx *pc = user;
    int eta = (int)(p->eta_s + 0.5);
    fprintf(stderr, "%sstep %ld/%ld  loss %.4f (dsm %.4f reg %.4f)  |g| %.3f  lr %.2e  %.1f img/s  ETA %dh%02dm%02ds%s",
            pc->tty ? "\r" : "", p->step, p->total, p->loss, p->dsm, p->reg, p->grad_norm, p->lr,
            p->img_per_s, eta / 3600, (eta / 60) % 60, eta % 60, pc->tty ? "   " : "\n");
    fflush(stderr);
    return 0;
}

/* "A,B,C" of integers / "A,B" of numbers, the whole string ("8,16,1e4" and "0.5,1x" fail). */
static int parse_triple(const char *s, int out[3]) {
    int end = -1;
    return sscanf(s, "%d,%d,%d%n", &out[0], &out[1], &out[2], &end) == 3 && end >= 0 && !s[end] ? 0 : -1;
}

static int parse_pair(const char *s, float *a, float *b) {
    int end = -1;
    return sscanf(s, "%f,%f%n", a, b, &end) == 2 && end >= 0 && !s[end] && isfinite(*a) && isfinite(*b) ? 0 : -1;
}

int drl_cli_train(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    drl_train_cfg cfg = drl_train_defaults();
    drl_err err = {0};
    const char *data = NULL;
    size_t max_n = 0;
    int resume = 0, threads = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED()                                                                  \
    do {                                                                        \
        if (!v) {                                                               \
            fprintf(stderr, "drl train: %s needs a value\n", a);                \
            return DRL_EXIT_USAGE;                                              \
        }                                                                       \
        i++;                                                                    \
    } while (0)
#define INTV(dst, hi)                                                           \
    do {                                                                        \
        long long n_;                                                           \
        NEED();                                                                 \
        if (drl_cli_int("train", a, v, 0, (hi), &n_)) return DRL_EXIT_USAGE;   \
        (dst) = n_;                                                             \
    } while (0)
#define FLTV(dst)                                                               \
    do {                                                                        \
        NEED();                                                                 \
        if (drl_cli_float("train", a, v, &(dst))) return DRL_EXIT_USAGE;        \
    } while (0)
        if (!strcmp(a, "--config")) {
            NEED();
            uint8_t *buf;
            size_t n;
            if (drl_file_read_all(&err, v, 1 << 20, &buf, &n)) return drl_cli_fail("train", &err);
            char *s = malloc(n + 1);
            if (!s) return DRL_EXIT_FAIL;
            memcpy(s, buf, n);
            s[n] = 0;
            free(buf);
            int rc = drl_train_cfg_from_json(&err, s, &cfg);
            free(s);
            if (rc) return drl_cli_fail("train", &err);
        } else if (!strcmp(a, "--out")) { NEED(); snprintf(cfg.out, sizeof cfg.out, "%s", v); }
        else if (!strcmp(a, "--data")) { NEED(); data = v; }
        else if (!strcmp(a, "--max-n")) INTV(max_n, LLONG_MAX);
        else if (!strcmp(a, "--flip")) cfg.flip = 1;
        else if (!strcmp(a, "--latent-dim")) INTV(cfg.model.latent_dim, INT_MAX);
        else if (!strcmp(a, "--sde")) {
            NEED();
            if (!strcmp(v, "ve")) cfg.model.sde = DRL_SDE_VE;
            else if (!strcmp(v, "vp")) cfg.model.sde = DRL_SDE_VP;
            else { fprintf(stderr, "drl train: --sde must be ve or vp\n"); return DRL_EXIT_USAGE; }
        } else if (!strcmp(a, "--t-range")) {
            NEED();
            if (parse_pair(v, &cfg.model.t_min, &cfg.model.t_max)) {
                fprintf(stderr, "drl train: --t-range wants A,B\n");
                return DRL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--code-t-range")) {
            NEED();
            if (parse_pair(v, &cfg.model.code_t_min, &cfg.model.code_t_max)) {
                fprintf(stderr, "drl train: --code-t-range wants A,B\n");
                return DRL_EXIT_USAGE;
            }
        } else if (!strcmp(a, "--tdist")) {
            NEED();
            if (!strcmp(v, "uniform")) cfg.model.tdist = DRL_TDIST_UNIFORM;
            else if (!strcmp(v, "sigma_uniform")) cfg.model.tdist = DRL_TDIST_SIGMA_UNIFORM;
            else { fprintf(stderr, "drl train: --tdist must be uniform or sigma_uniform\n"); return DRL_EXIT_USAGE; }
        } else if (!strcmp(a, "--weighting")) {
            NEED();
            if (!strcmp(v, "sigma2")) cfg.model.weighting = DRL_WEIGHT_SIGMA2;
            else if (!strcmp(v, "min_snr")) cfg.model.weighting = DRL_WEIGHT_MIN_SNR;
            else if (!strcmp(v, "truncated_snr")) cfg.model.weighting = DRL_WEIGHT_TRUNC_SNR;
            else { fprintf(stderr, "drl train: --weighting must be sigma2, min_snr or truncated_snr\n"); return DRL_EXIT_USAGE; }
        } else if (!strcmp(a, "--snr-gamma")) FLTV(cfg.model.snr_gamma);
        else if (!strcmp(a, "--time-cond")) cfg.model.time_cond = 1;
        else if (!strcmp(a, "--autoencoder")) cfg.model.mode = DRL_MODE_AE;
        else if (!strcmp(a, "--variational")) { cfg.model.variational = 1; cfg.model.reg = DRL_REG_KL; }
        else if (!strcmp(a, "--reg")) {
            NEED();
            if (!strcmp(v, "none")) cfg.model.reg = DRL_REG_NONE;
            else if (!strcmp(v, "l1")) cfg.model.reg = DRL_REG_L1;
            else if (!strcmp(v, "kl")) cfg.model.reg = DRL_REG_KL;
            else { fprintf(stderr, "drl train: --reg must be none, l1 or kl\n"); return DRL_EXIT_USAGE; }
        } else if (!strcmp(a, "--lambda-z")) FLTV(cfg.model.lambda_z);
        else if (!strcmp(a, "--channels")) {
            NEED();
            if (parse_triple(v, cfg.model.enc_ch)) { fprintf(stderr, "drl train: --channels wants A,B,C\n"); return DRL_EXIT_USAGE; }
            memcpy(cfg.model.unet_ch, cfg.model.enc_ch, sizeof cfg.model.unet_ch);
        } else if (!strcmp(a, "--init-from")) { NEED(); snprintf(cfg.init_from, sizeof cfg.init_from, "%s", v); }
        else if (!strcmp(a, "--steps")) INTV(cfg.steps, LONG_MAX);
        else if (!strcmp(a, "--batch")) INTV(cfg.batch_size, INT_MAX);
        else if (!strcmp(a, "--lr")) FLTV(cfg.adam.lr);
        else if (!strcmp(a, "--warmup")) INTV(cfg.adam.warmup, INT_MAX);
        else if (!strcmp(a, "--lr-decay")) INTV(cfg.adam.decay_steps, LONG_MAX);
        else if (!strcmp(a, "--clip")) FLTV(cfg.adam.clip);
        else if (!strcmp(a, "--ema")) FLTV(cfg.ema_decay);
        else if (!strcmp(a, "--seed")) INTV(cfg.seed, LLONG_MAX);
        else if (!strcmp(a, "--threads")) INTV(threads, INT_MAX);
        else if (!strcmp(a, "--ckpt-every")) INTV(cfg.ckpt_every, LONG_MAX);
        else if (!strcmp(a, "--log-every")) INTV(cfg.log_every, LONG_MAX);
        else if (!strcmp(a, "--resume")) resume = 1;
        else {
            fprintf(stderr, "drl train: unknown option '%s' (see drl train --help)\n", a);
            return DRL_EXIT_USAGE;
        }
#undef FLTV
#undef INTV
#undef NEED
    }
    if (!cfg.out[0]) {
        fprintf(stderr, "drl train: --out MODEL is required (see drl train --help)\n");
        return DRL_EXIT_USAGE;
    }
    if (drl_train_cfg_validate(&err, &cfg)) return drl_cli_fail("train", &err);
    drl_threads_set(threads);

    drl_dataset *ds = NULL;
    int rc;
    struct stat st;
    if (!data) rc = drl_dataset_load_fmnist(&err, "train", max_n, &ds);
    else if (stat(data, &st) == 0 && S_ISDIR(st.st_mode))
        rc = drl_dataset_load_png_dir(&err, data, cfg.model.C, NULL, max_n, &ds);
    else rc = drl_dataset_load_idx(&err, data, NULL, max_n, &ds);
    if (rc) return drl_cli_fail("train", &err);
    fprintf(stderr, "drl train: %zu images %dx%dx%d, %ld steps of batch %d, %d threads -> %s\n", ds->N,
            ds->C, ds->H, ds->W, cfg.steps, cfg.batch_size, drl_threads_get(), cfg.out);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    progress_ctx pc = {isatty(STDERR_FILENO), 0};
    rc = drl_train_run(&err, &cfg, ds, resume, &g_stop, on_progress, &pc);
    if (pc.tty) fputc('\n', stderr);
    drl_dataset_free(ds);
    if (rc == DRL_ECANCELLED) {
        fprintf(stderr, "drl train: %s (continue with --resume)\n", err.msg);
        return 130;
    }
    if (rc) return drl_cli_fail("train", &err);
    fprintf(stderr, "drl train: done, model written to %s\n", cfg.out);
    return DRL_EXIT_OK;
}
