/* config.c — model configuration defaults, validation and JSON form (see config.h). */
#include "config.h"

#include <jansson.h>
#include <math.h>
#include <string.h>

drl_config drl_config_defaults(void) {
    drl_config c;
    memset(&c, 0, sizeof c);
    c.C = 1;
    c.H = 28;
    c.W = 28;
    c.latent_dim = 128;
    c.time_cond = 0;
    c.variational = 0;
    c.reg = DRL_REG_NONE;
    c.lambda_z = 0.0f;
    c.mode = DRL_MODE_DRL;
    c.enc_ch[0] = 32, c.enc_ch[1] = 64, c.enc_ch[2] = 128;
    c.unet_ch[0] = 32, c.unet_ch[1] = 64, c.unet_ch[2] = 128;
    c.groups = 8;
    c.fourier_dim = 64;
    c.fourier_scale = 16.0f;
    c.temb_dim = 128;
    c.dropout = 0.0f;
    c.sde = DRL_SDE_VE;
    c.sigma_min = 0.01f;
    c.sigma_max = 50.0f;
    c.beta_min = 0.1f;
    c.beta_max = 20.0f;
    c.t_eps = 1e-5f;
    c.t_min = 1e-5f;
    c.t_max = 1.0f;
    c.tdist = DRL_TDIST_UNIFORM;
    c.code_t_min = 0.0f;
    c.code_t_max = 1.0f;
    c.weighting = DRL_WEIGHT_SIGMA2;
    c.snr_gamma = 5.0f;
    return c;
}

const char *drl_sde_name(drl_sde_kind k) { return k == DRL_SDE_VP ? "vp" : "ve"; }
const char *drl_tdist_name(drl_tdist k) { return k == DRL_TDIST_SIGMA_UNIFORM ? "sigma_uniform" : "uniform"; }
const char *drl_weighting_name(drl_weighting k) {
    return k == DRL_WEIGHT_MIN_SNR ? "min_snr" : k == DRL_WEIGHT_TRUNC_SNR ? "truncated_snr" : "sigma2";
}
const char *drl_reg_name(drl_reg k) { return k == DRL_REG_L1 ? "l1" : k == DRL_REG_KL ? "kl" : "none"; }
const char *drl_mode_name(drl_mode k) { return k == DRL_MODE_AE ? "autoencoder" : "drl"; }

int drl_config_validate(drl_err *err, const drl_config *c) {
    if (c->C != 1 && c->C != 3) return drl_errf(err, DRL_EINVAL, "config: channels must be 1 or 3, got %d", c->C);
    if (c->H < 4 || c->W < 4 || c->H % 4 || c->W % 4 || c->H > 1024 || c->W > 1024)
        return drl_errf(err, DRL_EINVAL, "config: image %dx%d must be 4..1024 and divisible by 4", c->H, c->W);
    if (c->latent_dim < 1 || c->latent_dim > 4096)
        return drl_errf(err, DRL_EINVAL, "config: latent_dim %d out of range 1..4096", c->latent_dim);
    if (c->groups < 1) return drl_errf(err, DRL_EINVAL, "config: groups must be >= 1");
    for (int i = 0; i < 3; i++) {
        if (c->enc_ch[i] < 1 || c->enc_ch[i] % c->groups || c->enc_ch[i] > 4096)
            return drl_errf(err, DRL_EINVAL, "config: enc_ch[%d] = %d must be a positive multiple of groups %d", i, c->enc_ch[i], c->groups);
        if (c->unet_ch[i] < 1 || c->unet_ch[i] % c->groups || c->unet_ch[i] > 4096)
            return drl_errf(err, DRL_EINVAL, "config: unet_ch[%d] = %d must be a positive multiple of groups %d", i, c->unet_ch[i], c->groups);
    }
    if (c->fourier_dim < 1 || c->fourier_dim > 4096 || c->temb_dim < 1 || c->temb_dim > 8192)
        return drl_errf(err, DRL_EINVAL, "config: fourier_dim / temb_dim out of range");
    if (!(c->dropout >= 0.0f && c->dropout < 1.0f)) return drl_errf(err, DRL_EINVAL, "config: dropout must be in [0, 1)");
    if (!(c->sigma_min > 0.0f && c->sigma_max > c->sigma_min))
        return drl_errf(err, DRL_EINVAL, "config: need 0 < sigma_min < sigma_max");
    if (!(c->beta_min > 0.0f && c->beta_max > c->beta_min))
        return drl_errf(err, DRL_EINVAL, "config: need 0 < beta_min < beta_max");
    if (!(c->t_eps > 0.0f && c->t_eps < 1.0f)) return drl_errf(err, DRL_EINVAL, "config: t_eps must be in (0, 1)");
    if (!(c->t_min >= c->t_eps && c->t_max <= 1.0f && c->t_min <= c->t_max))
        return drl_errf(err, DRL_EINVAL, "config: t range [%g, %g] must lie in [t_eps, 1] with t_min <= t_max", c->t_min, c->t_max);
    if (!(c->code_t_min >= 0.0f && c->code_t_max <= 1.0f && c->code_t_min < c->code_t_max))
        return drl_errf(err, DRL_EINVAL, "config: code window [%g, %g] must lie in [0, 1] with code_t_min < code_t_max",
                        c->code_t_min, c->code_t_max);
    if (c->mode == DRL_MODE_AE && (c->code_t_min > 0.0f || c->code_t_max < 1.0f))
        return drl_errf(err, DRL_EINVAL, "config: the autoencoder baseline has no time: a code window needs mode \"drl\"");
    if (!(c->snr_gamma > 0.0f) || !isfinite(c->snr_gamma)) return drl_errf(err, DRL_EINVAL, "config: snr_gamma must be > 0");
    if (c->mode == DRL_MODE_AE && c->weighting != DRL_WEIGHT_SIGMA2)
        return drl_errf(err, DRL_EINVAL, "config: the autoencoder baseline has no time: weighting needs mode \"drl\"");
    if (!(c->lambda_z >= 0.0f) || !isfinite(c->lambda_z)) return drl_errf(err, DRL_EINVAL, "config: lambda_z must be >= 0");
    if (c->mode == DRL_MODE_AE && c->time_cond)
        return drl_errf(err, DRL_EINVAL, "config: the autoencoder baseline has no time: time_cond needs mode \"drl\"");
    if (c->reg == DRL_REG_KL && !c->variational)
        return drl_errf(err, DRL_EINVAL, "config: reg \"kl\" needs a variational encoder");
    return 0;
}

char *drl_config_to_json(const drl_config *c) {
    json_t *o = json_object();
    json_object_set_new(o, "C", json_integer(c->C));
    json_object_set_new(o, "H", json_integer(c->H));
    json_object_set_new(o, "W", json_integer(c->W));
    json_object_set_new(o, "latent_dim", json_integer(c->latent_dim));
    json_object_set_new(o, "time_cond", json_boolean(c->time_cond));
    json_object_set_new(o, "variational", json_boolean(c->variational));
    json_object_set_new(o, "reg", json_string(drl_reg_name(c->reg)));
    json_object_set_new(o, "lambda_z", json_real(c->lambda_z));
    json_object_set_new(o, "mode", json_string(drl_mode_name(c->mode)));
    json_object_set_new(o, "enc_ch", json_pack("[iii]", c->enc_ch[0], c->enc_ch[1], c->enc_ch[2]));
    json_object_set_new(o, "unet_ch", json_pack("[iii]", c->unet_ch[0], c->unet_ch[1], c->unet_ch[2]));
    json_object_set_new(o, "groups", json_integer(c->groups));
    json_object_set_new(o, "fourier_dim", json_integer(c->fourier_dim));
    json_object_set_new(o, "fourier_scale", json_real(c->fourier_scale));
    json_object_set_new(o, "temb_dim", json_integer(c->temb_dim));
    json_object_set_new(o, "dropout", json_real(c->dropout));
    json_object_set_new(o, "sde", json_string(drl_sde_name(c->sde)));
    json_object_set_new(o, "sigma_min", json_real(c->sigma_min));
    json_object_set_new(o, "sigma_max", json_real(c->sigma_max));
    json_object_set_new(o, "beta_min", json_real(c->beta_min));
    json_object_set_new(o, "beta_max", json_real(c->beta_max));
    json_object_set_new(o, "t_eps", json_real(c->t_eps));
    json_object_set_new(o, "t_min", json_real(c->t_min));
    json_object_set_new(o, "t_max", json_real(c->t_max));
    json_object_set_new(o, "tdist", json_string(drl_tdist_name(c->tdist)));
    json_object_set_new(o, "code_t_min", json_real(c->code_t_min));
    json_object_set_new(o, "code_t_max", json_real(c->code_t_max));
    json_object_set_new(o, "weighting", json_string(drl_weighting_name(c->weighting)));
    json_object_set_new(o, "snr_gamma", json_real(c->snr_gamma));
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(o);
    return s;
}

/* ---------------------------------------------------------------- parsing */

static int get_int(drl_err *err, json_t *v, const char *key, int *out) {
    if (!json_is_integer(v)) return drl_errf(err, DRL_EINVAL, "config: \"%s\" must be an integer", key);
    json_int_t x = json_integer_value(v);
    if (x < -1000000 || x > 1000000) return drl_errf(err, DRL_EINVAL, "config: \"%s\" out of range", key);
    *out = (int)x;
    return 0;
}

static int get_float(drl_err *err, json_t *v, const char *key, float *out) {
    if (!json_is_number(v)) return drl_errf(err, DRL_EINVAL, "config: \"%s\" must be a number", key);
    *out = (float)json_number_value(v);
    return 0;
}

static int get_bool(drl_err *err, json_t *v, const char *key, int *out) {
    if (json_is_boolean(v)) *out = json_is_true(v);
    else if (json_is_integer(v)) *out = json_integer_value(v) != 0;
    else return drl_errf(err, DRL_EINVAL, "config: \"%s\" must be a boolean", key);
    return 0;
}

static int get_enum(drl_err *err, json_t *v, const char *key, const char *const *names, int n, int *out) {
    if (!json_is_string(v)) return drl_errf(err, DRL_EINVAL, "config: \"%s\" must be a string", key);
    for (int i = 0; i < n; i++)
        if (!strcmp(json_string_value(v), names[i])) {
            *out = i;
            return 0;
        }
    return drl_errf(err, DRL_EINVAL, "config: \"%s\" has unknown value \"%s\"", key, json_string_value(v));
}

static int get_triple(drl_err *err, json_t *v, const char *key, int out[3]) {
    if (!json_is_array(v) || json_array_size(v) != 3)
        return drl_errf(err, DRL_EINVAL, "config: \"%s\" must be an array of 3 integers", key);
    for (int i = 0; i < 3; i++)
        if (get_int(err, json_array_get(v, (size_t)i), key, &out[i])) return DRL_EINVAL;
    return 0;
}

int drl_config_from_json(drl_err *err, const char *json, drl_config *c) {
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    if (!o) return drl_errf(err, DRL_EFORMAT, "config: invalid JSON at line %d: %s", je.line, je.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return drl_errf(err, DRL_EFORMAT, "config: not a JSON object");
    }
    static const char *const sdes[] = {"ve", "vp"};
    static const char *const tdists[] = {"uniform", "sigma_uniform"};
    static const char *const regs[] = {"none", "l1", "kl"};
    static const char *const modes[] = {"drl", "autoencoder"};
    static const char *const weightings[] = {"sigma2", "min_snr", "truncated_snr"};
    const char *key;
    json_t *v;
    int rc = 0, e = 0;
    json_object_foreach(o, key, v) {
        if (!strcmp(key, "C")) rc = get_int(err, v, key, &c->C);
        else if (!strcmp(key, "H")) rc = get_int(err, v, key, &c->H);
        else if (!strcmp(key, "W")) rc = get_int(err, v, key, &c->W);
        else if (!strcmp(key, "latent_dim")) rc = get_int(err, v, key, &c->latent_dim);
        else if (!strcmp(key, "time_cond")) rc = get_bool(err, v, key, &c->time_cond);
        else if (!strcmp(key, "variational")) rc = get_bool(err, v, key, &c->variational);
        else if (!strcmp(key, "reg")) { rc = get_enum(err, v, key, regs, 3, &e); c->reg = (drl_reg)e; }
        else if (!strcmp(key, "lambda_z")) rc = get_float(err, v, key, &c->lambda_z);
        else if (!strcmp(key, "mode")) { rc = get_enum(err, v, key, modes, 2, &e); c->mode = (drl_mode)e; }
        else if (!strcmp(key, "enc_ch")) rc = get_triple(err, v, key, c->enc_ch);
        else if (!strcmp(key, "unet_ch")) rc = get_triple(err, v, key, c->unet_ch);
        else if (!strcmp(key, "groups")) rc = get_int(err, v, key, &c->groups);
        else if (!strcmp(key, "fourier_dim")) rc = get_int(err, v, key, &c->fourier_dim);
        else if (!strcmp(key, "fourier_scale")) rc = get_float(err, v, key, &c->fourier_scale);
        else if (!strcmp(key, "temb_dim")) rc = get_int(err, v, key, &c->temb_dim);
        else if (!strcmp(key, "dropout")) rc = get_float(err, v, key, &c->dropout);
        else if (!strcmp(key, "sde")) { rc = get_enum(err, v, key, sdes, 2, &e); c->sde = (drl_sde_kind)e; }
        else if (!strcmp(key, "sigma_min")) rc = get_float(err, v, key, &c->sigma_min);
        else if (!strcmp(key, "sigma_max")) rc = get_float(err, v, key, &c->sigma_max);
        else if (!strcmp(key, "beta_min")) rc = get_float(err, v, key, &c->beta_min);
        else if (!strcmp(key, "beta_max")) rc = get_float(err, v, key, &c->beta_max);
        else if (!strcmp(key, "t_eps")) rc = get_float(err, v, key, &c->t_eps);
        else if (!strcmp(key, "t_min")) rc = get_float(err, v, key, &c->t_min);
        else if (!strcmp(key, "t_max")) rc = get_float(err, v, key, &c->t_max);
        else if (!strcmp(key, "code_t_min")) rc = get_float(err, v, key, &c->code_t_min);
        else if (!strcmp(key, "code_t_max")) rc = get_float(err, v, key, &c->code_t_max);
        else if (!strcmp(key, "snr_gamma")) rc = get_float(err, v, key, &c->snr_gamma);
        else if (!strcmp(key, "weighting")) { rc = get_enum(err, v, key, weightings, 3, &e); c->weighting = (drl_weighting)e; }
        else if (!strcmp(key, "tdist")) { rc = get_enum(err, v, key, tdists, 2, &e); c->tdist = (drl_tdist)e; }
        else rc = drl_errf(err, DRL_EINVAL, "config: unknown key \"%s\"", key);
        if (rc) break;
    }
    json_decref(o);
    return rc ? rc : drl_config_validate(err, c);
}
