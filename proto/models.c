/* models.c — GET /v1/models and POST /v1/models/reload bodies (docs/api.md). */
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "jsonbuf.h"
#include "request.h"

char *drl_proto_models_response(const drl_proto_model *m, size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 512);
    drl_proto_buf_puts(&b, "{\"models\":[{\"name\":");
    drl_proto_buf_str(&b, m->name);
    drl_proto_buf_puts(&b, ",\"version\":");
    drl_proto_buf_str(&b, m->version);
    drl_proto_buf_puts(&b, ",\"sha256\":");
    drl_proto_buf_str(&b, m->sha256);
    drl_proto_buf_printf(&b, ",\"generation\":%ld,\"path\":", m->generation);
    drl_proto_buf_str(&b, m->path);
    drl_proto_buf_printf(&b, ",\"dim\":%d,\"image\":{\"channels\":%d,\"height\":%d,\"width\":%d}",
                         m->dim, m->C, m->H, m->W);
    drl_proto_buf_puts(&b, ",\"sde\":");
    drl_proto_buf_str(&b, m->sde);
    drl_proto_buf_puts(&b, ",\"t_range\":[");
    drl_proto_buf_float(&b, m->t_min);
    drl_proto_buf_puts(&b, ",");
    drl_proto_buf_float(&b, m->t_max);
    drl_proto_buf_printf(&b, "],\"time_conditioned\":%s,\"variational\":%s,\"loaded_at\":",
                         m->time_cond ? "true" : "false", m->variational ? "true" : "false");
    drl_proto_buf_str(&b, m->loaded_at);
    drl_proto_buf_puts(&b, "}]}");
    return drl_proto_buf_finish(&b, len);
}

int drl_proto_reload_parse(drl_proto_error *e, const uint8_t *body, size_t n, char **path) {
    *path = NULL;
    size_t i = 0;
    while (i < n && (body[i] == ' ' || body[i] == '\t' || body[i] == '\r' || body[i] == '\n')) i++;
    if (i == n) return 0; /* empty body: reload the current path */
    json_t *root = drl_proto_json_load(e, body, n);
    if (!root) return -1;
    static const char *const keys[] = {"path", NULL};
    int rc = -1;
    const json_t *p = json_object_get(root, "path");
    const char *s;
    size_t len;
    if (drl_proto_json_keys(e, root, "", keys)) goto done;
    if (p) {
        if (drl_proto_json_string(e, p, "path", &s, &len)) goto done;
        if (len == 0 || strlen(s) != len) {
            drl_proto_errorf(e, 422, "invalid_input", "path: expected a non-empty file path");
            goto done;
        }
        if (!(*path = strdup(s))) {
            drl_proto_errorf(e, 503, "overloaded", "out of memory");
            goto done;
        }
    }
    rc = 0;
done:
    json_decref(root);
    return rc;
}

char *drl_proto_reload_response(const drl_proto_model *m, const char *previous_version,
                                size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 256);
    drl_proto_buf_puts(&b, "{\"model\":");
    drl_proto_buf_str(&b, m->name);
    drl_proto_buf_puts(&b, ",\"version\":");
    drl_proto_buf_str(&b, m->version);
    drl_proto_buf_puts(&b, ",\"sha256\":");
    drl_proto_buf_str(&b, m->sha256);
    drl_proto_buf_printf(&b, ",\"generation\":%ld,\"previous_version\":", m->generation);
    drl_proto_buf_str(&b, previous_version);
    drl_proto_buf_puts(&b, "}");
    return drl_proto_buf_finish(&b, len);
}
