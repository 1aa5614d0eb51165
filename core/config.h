/* config.h — every architecture and method constant of a drl model, with the paper's names.
 *
 * One struct describes a model completely: it is written into the checkpoint's __metadata__ as
 * JSON ("drl.config") and a network is rebuilt from it alone. Defaults follow Mittal et al. 2023
 * and Song et al. 2021 (σ_min 0.01, σ_max 50, β_min 0.1, β_max 20, ε = 1e-5). */
#ifndef DRL_CONFIG_H
#define DRL_CONFIG_H

#include "err.h"

typedef enum { DRL_SDE_VE = 0, DRL_SDE_VP = 1 } drl_sde_kind;

/* How training times are drawn. */
typedef enum {
    DRL_TDIST_UNIFORM = 0,       /* t ~ U[t_min, t_max]: for VE, log σ is uniform */
    DRL_TDIST_SIGMA_UNIFORM = 1, /* σ ~ U[σ(t_min), σ(t_max)]: mass on high noise, coarse codes */
} drl_tdist;

/* The loss weight λ(t) of denoising score matching, relative to the paper's λ(t) = σ(t)²
 * (the unit weight on the noise-prediction error ‖σ s + ε‖²). */
typedef enum {
    DRL_WEIGHT_SIGMA2 = 0,  /* λ(t) = σ(t)², the paper's */
    DRL_WEIGHT_MIN_SNR = 1, /* λ(t) = σ(t)² min(1, γ/SNR(t)), SNR = α²/σ² (Hang et al. 2023):
                             * low-noise times, where the noisy image already holds almost
                             * everything and the code is barely needed, weigh less */
    DRL_WEIGHT_TRUNC_SNR = 2, /* λ(t) = σ(t)² max(1, 1/SNR(t)) (Salimans & Ho 2022, "truncated
                               * SNR"): the error in the implied clean image x̂0 weighted by
                               * max(SNR, 1). Under σ² alone that error counts 1/σ², so at high
                               * noise, where only the code can tell what the image is (its
                               * class, its shape), getting it right is worth almost nothing;
                               * here it is worth as much as at σ/α = 1 */
} drl_weighting;

typedef enum { DRL_REG_NONE = 0, DRL_REG_L1 = 1, DRL_REG_KL = 2 } drl_reg;

/* What is trained: the DRL score model, or the autoencoder baseline on the same encoder. */
typedef enum { DRL_MODE_DRL = 0, DRL_MODE_AE = 1 } drl_mode;

typedef struct {
    /* data */
    int C, H, W;           /* image shape; H and W divisible by 4 */
    /* representation */
    int latent_dim;        /* d, size of E(x0) */
    int time_cond;         /* 1: E(x0, t), the time-indexed latent */
    int variational;       /* 1: VDRL, the encoder outputs mean and log-variance */
    drl_reg reg;           /* latent regulariser */
    float lambda_z;        /* its weight */
    drl_mode mode;
    /* architecture */
    int enc_ch[3];         /* encoder channels per resolution */
    int unet_ch[3];        /* score U-Net channels per resolution */
    int groups;            /* GroupNorm groups (divides every channel count) */
    int fourier_dim;       /* F: Gaussian Fourier features give 2F numbers */
    float fourier_scale;   /* std of the fixed random frequencies */
    int temb_dim;          /* E: time-embedding width (the latent projection has the same width) */
    float dropout;
    /* SDE */
    drl_sde_kind sde;
    float sigma_min, sigma_max; /* VE */
    float beta_min, beta_max;   /* VP */
    float t_eps;                /* smallest time used anywhere (sampling end, training floor) */
    /* level of detail: the training distribution of t */
    float t_min, t_max;
    drl_tdist tdist;
    /* code window: the score net sees E(x0) only at times in [code_t_min, code_t_max] and a zero
     * code elsewhere, so the encoder keeps only what denoising in that window needs while the
     * score net still learns every t (default [0, 1]: always) */
    float code_t_min, code_t_max;
    /* loss weighting over t and its γ (min_snr only) */
    drl_weighting weighting;
    float snr_gamma;
} drl_config;

drl_config drl_config_defaults(void);
/* Checks ranges and divisibility; names the first bad field. */
int drl_config_validate(drl_err *err, const drl_config *c);
/* Serialises to a malloc'd JSON string (caller frees). */
char *drl_config_to_json(const drl_config *c);
/* Parses JSON (missing keys keep their defaults; unknown keys and wrong types are errors). */
int drl_config_from_json(drl_err *err, const char *json, drl_config *c);

const char *drl_sde_name(drl_sde_kind k);
const char *drl_tdist_name(drl_tdist k);
const char *drl_reg_name(drl_reg k);
const char *drl_weighting_name(drl_weighting k);
const char *drl_mode_name(drl_mode k);

#endif
