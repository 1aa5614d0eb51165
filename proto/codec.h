/* codec.h — request decoding and response encoding for every drl API route (docs/api.md).
 *
 * No HTTP here: the server hands over a body, its media type and the served model's description;
 * a codec returns a plain C request (float images in the model's shape, parameters checked
 * against the server's limits) or a drl_proto_error naming the field at fault. Response builders
 * return malloc'd JSON text. Limits are checked before anything is allocated from a size that
 * came from the client. */
#ifndef DRL_PROTO_CODEC_H
#define DRL_PROTO_CODEC_H

#include <stddef.h>
#include <stdint.h>

#include "error.h"
#include "sampler.h"

/* What the codecs need to know about the served model. */
typedef struct {
    const char *name;      /* "drl-fmnist" */
    const char *version;   /* 12 hex digits of sha256 */
    const char *sha256;    /* 64 hex digits */
    const char *path;
    const char *loaded_at; /* ISO 8601 UTC */
    long generation;
    int dim;               /* latent dimension d */
    int C, H, W;
    const char *sde;       /* "ve" / "vp" */
    float t_min, t_max;    /* training time range */
    float t_eps;
    int time_cond, variational;
} drl_proto_model;

typedef struct {
    int max_images;        /* per encode / infer request */
    int max_side;          /* PNG width/height, checked before decoding */
    int max_sample_n;
    int max_sample_steps;
    int max_times;         /* trajectory grid size, 256 */
} drl_proto_limits;

/* The documented defaults (256, 1024, 16, 1000, 256). Codecs take lim == NULL, or a field <= 0,
 * as its default. */
drl_proto_limits drl_proto_default_limits(void);

/* ---- images ---------------------------------------------------------------------------- */
/* Decodes an IMAGE JSON object ({"png": b64} or {"pixels","width","height","channels"}) into dst
 * (C·H·W floats of the model's shape). `where` names the field in messages ("images[2]"). */
int drl_proto_image_from_json(drl_proto_error *e, const void *json_obj, const drl_proto_model *m,
                              const drl_proto_limits *lim, const char *where, float *dst);
/* Decodes PNG bytes into dst (model shape; colour converted to the model's channel count). */
int drl_proto_image_from_png(drl_proto_error *e, const uint8_t *png, size_t n,
                             const drl_proto_model *m, const drl_proto_limits *lim,
                             const char *where, float *dst);

/* ---- /v1/encode ------------------------------------------------------------------------ */
typedef struct {
    int n;          /* images */
    float *x;       /* (n, C, H, W), malloc'd; freed by drl_proto_encode_req_release */
    int has_t;
    float t;        /* encoder time (time-conditioned models) */
    int single;     /* body was one image/png: answer also carries "embedding" */
} drl_proto_encode_req;

/* media: "application/json" or "image/png" (parameters such as "; charset=utf-8" ignored);
 * anything else → 415. */
int drl_proto_encode_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                           const drl_proto_model *m, const drl_proto_limits *lim,
                           drl_proto_encode_req *out);
void drl_proto_encode_req_release(drl_proto_encode_req *r);
/* z (n, d) → {"model","version","dim","embeddings"[, "embedding"]}. */
char *drl_proto_encode_response(const drl_proto_model *m, const float *z, int n, int single,
                                size_t *len);

/* ---- /v1/trajectory -------------------------------------------------------------------- */
typedef struct {
    float *x;       /* (C, H, W) malloc'd */
    int K;
    float *times;   /* (K) malloc'd */
} drl_proto_trajectory_req;

/* 422 not_time_conditioned when !m->time_cond (checked first). */
int drl_proto_trajectory_parse(drl_proto_error *e, const char *media, const uint8_t *body,
                               size_t n, const drl_proto_model *m, const drl_proto_limits *lim,
                               drl_proto_trajectory_req *out);
void drl_proto_trajectory_req_release(drl_proto_trajectory_req *r);
/* z (K, d) → {"model","version","dim","times","latents"}. */
char *drl_proto_trajectory_response(const drl_proto_model *m, const float *times, const float *z,
                                    int K, size_t *len);

/* ---- /v1/sample ------------------------------------------------------------------------ */
typedef struct {
    int n;
    float *x0;             /* (C, H, W) malloc'd, or NULL when a code was given */
    float *code;           /* (d) malloc'd, or NULL when an image was given */
    drl_sampler_cfg cfg;   /* kind, steps, t_init, snr, denoise, seed (corrector_steps 1) */
} drl_proto_sample_req;

int drl_proto_sample_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                           const drl_proto_model *m, const drl_proto_limits *lim,
                           drl_proto_sample_req *out);
void drl_proto_sample_req_release(drl_proto_sample_req *r);
/* imgs (n, C, H, W) in [0,1] → {"model","version","n","sampler","steps","seed","images":[{"png"}]}.
 * NULL with e filled (500) when PNG encoding fails. */
char *drl_proto_sample_response(drl_proto_error *e, const drl_proto_model *m,
                                const drl_proto_sample_req *r, const float *imgs, size_t *len);
/* A PNG grid of n images, up to 8 per row, 2-pixel black gutters; malloc'd. */
int drl_proto_sample_grid_png(drl_proto_error *e, const float *imgs, int n, int C, int H, int W,
                              uint8_t **png, size_t *len);

/* ---- /v1/models, reload, health -------------------------------------------------------- */
char *drl_proto_models_response(const drl_proto_model *m, size_t *len);
/* Optional body {"path": "..."}; empty body → *path = NULL. *path is malloc'd. */
int drl_proto_reload_parse(drl_proto_error *e, const uint8_t *body, size_t n, char **path);
char *drl_proto_reload_response(const drl_proto_model *m, const char *previous_version,
                                size_t *len);

/* ---- Open Inference Protocol v2 -------------------------------------------------------- */
typedef struct {
    char *id;       /* malloc'd, or NULL when the request had none */
    int n;
    float *x;       /* (n, C, H, W) malloc'd */
} drl_proto_oip_req;

/* FP32 input [N,C,H,W] (data flat or nested, count must match the shape) or BYTES input [N] of
 * base64 PNG strings. Errors as in docs/api.md (the server renders them in the OIP shape). */
int drl_proto_oip_parse(drl_proto_error *e, const char *media, const uint8_t *body, size_t n,
                        const drl_proto_model *m, const drl_proto_limits *lim,
                        drl_proto_oip_req *out);
void drl_proto_oip_req_release(drl_proto_oip_req *r);
char *drl_proto_oip_response(const drl_proto_model *m, const drl_proto_oip_req *r, const float *z,
                             size_t *len);
char *drl_proto_oip_model_metadata(const drl_proto_model *m, size_t *len);
char *drl_proto_oip_server_metadata(const char *drl_version, size_t *len);

#endif
