/* error.c — the API error model (error.h): a status, a stable code and a message, and the two
 * JSON shapes the server answers with. Messages may quote client text, so the bodies are
 * written through the escaping JSON writer (jsonbuf.h), which keeps them valid JSON even when a
 * message was cut in the middle of a UTF-8 sequence. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "jsonbuf.h"

static void set_code(drl_proto_error *e, const char *code) {
    snprintf(e->code, sizeof e->code, "%s", code ? code : "internal");
}

int drl_proto_errorf(drl_proto_error *e, int status, const char *code, const char *fmt, ...) {
    if (!e) return -1;
    e->status = status;
    set_code(e, code);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(e->message, sizeof e->message, fmt, ap);
    va_end(ap);
    return -1;
}

int drl_proto_error_from(drl_proto_error *e, const drl_err *err, const char *format_code,
                         int limit_status) {
    if (!e) return -1;
    const char *msg = err && err->msg[0] ? err->msg : "unknown error";
    int code = err ? err->code : DRL_EINVAL;
    switch (code) {
    case DRL_ELIMIT:
        if (limit_status == 413) return drl_proto_errorf(e, 413, "payload_too_large", "%s", msg);
        return drl_proto_errorf(e, limit_status ? limit_status : 422, "invalid_input", "%s", msg);
    case DRL_EFORMAT:
        return drl_proto_errorf(e, 400, format_code ? format_code : "bad_json", "%s", msg);
    case DRL_EINVAL: return drl_proto_errorf(e, 422, "invalid_input", "%s", msg);
    case DRL_ENOMEM: return drl_proto_errorf(e, 503, "overloaded", "%s", msg);
    case DRL_ENOTFOUND: return drl_proto_errorf(e, 404, "not_found", "%s", msg);
    default: return drl_proto_errorf(e, 500, "internal", "%s", msg);
    }
}

char *drl_proto_error_json(const drl_proto_error *e, size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 64 + strlen(e->message));
    drl_proto_buf_puts(&b, "{\"error\":{\"code\":");
    drl_proto_buf_str(&b, e->code);
    drl_proto_buf_puts(&b, ",\"message\":");
    drl_proto_buf_str(&b, e->message);
    drl_proto_buf_puts(&b, "}}");
    return drl_proto_buf_finish(&b, len);
}

char *drl_proto_error_json_oip(const drl_proto_error *e, size_t *len) {
    drl_proto_buf b;
    drl_proto_buf_init(&b, 32 + strlen(e->message));
    drl_proto_buf_puts(&b, "{\"error\":");
    drl_proto_buf_str(&b, e->message);
    drl_proto_buf_puts(&b, "}");
    return drl_proto_buf_finish(&b, len);
}
