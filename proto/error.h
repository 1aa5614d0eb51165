/* error.h — the API error model: an HTTP status, a stable code and a message naming the problem.
 *
 * Codecs fill a drl_proto_error instead of a drl_err because what went wrong decides the status
 * (400 for bytes that do not parse, 422 for valid JSON with wrong content, ...). The server turns
 * it into `{"error":{"code":...,"message":...}}` (or the OIP v2 shape `{"error":"..."}`). */
#ifndef DRL_PROTO_ERROR_H
#define DRL_PROTO_ERROR_H

#include <stddef.h>

#include "err.h"

typedef struct {
    int status;              /* HTTP status, e.g. 422 */
    char code[32];           /* "invalid_input", "bad_json", ... (docs/api.md) */
    char message[DRL_ERR_MAX];
} drl_proto_error;

/* Fills e; returns -1 so codecs can `return drl_proto_errorf(...)`. Safe with e == NULL. */
int drl_proto_errorf(drl_proto_error *e, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* From a core error: DRL_ELIMIT → 413/422 as given by limit_status, DRL_EFORMAT → 400 with
 * format_code ("bad_png"), DRL_EINVAL → 422 invalid_input, DRL_ENOMEM → 503 overloaded,
 * DRL_ENOTFOUND → 404, others → 500 internal. Returns -1. */
int drl_proto_error_from(drl_proto_error *e, const drl_err *err, const char *format_code, int limit_status);
/* Malloc'd JSON bodies (caller frees); *len gets the length. NULL only when out of memory. */
char *drl_proto_error_json(const drl_proto_error *e, size_t *len);     /* {"error":{"code","message"}} */
char *drl_proto_error_json_oip(const drl_proto_error *e, size_t *len); /* {"error":"message"} */

#endif
