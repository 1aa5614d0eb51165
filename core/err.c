/* err.c — error records for library code (see err.h). */
#include "err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

int drl_errf(drl_err *err, int code, const char *fmt, ...) {
    if (!err) return code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
    return code;
}

int drl_err_prefix(drl_err *err, const char *fmt, ...) {
    if (!err) return DRL_EINVAL;
    char pre[DRL_ERR_MAX], old[DRL_ERR_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(pre, sizeof pre, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    /* Truncation is acceptable: the message is for humans and stays NUL-terminated. */
    size_t lp = strnlen(pre, sizeof pre - 1);
    size_t off = 0;
    memcpy(err->msg, pre, lp);
    off = lp;
    if (off + 2 < sizeof err->msg) {
        err->msg[off++] = ':';
        err->msg[off++] = ' ';
    }
    size_t lo = strnlen(old, sizeof old - 1);
    if (lo > sizeof err->msg - 1 - off) lo = sizeof err->msg - 1 - off;
    memcpy(err->msg + off, old, lo);
    err->msg[off + lo] = '\0';
    return err->code;
}

void drl_err_clear(drl_err *err) {
    if (!err) return;
    err->code = 0;
    err->msg[0] = '\0';
}

const char *drl_err_name(int code) {
    switch (code) {
    case DRL_OK: return "ok";
    case DRL_EINVAL: return "invalid";
    case DRL_EFORMAT: return "format";
    case DRL_ELIMIT: return "limit";
    case DRL_ENOMEM: return "nomem";
    case DRL_EIO: return "io";
    case DRL_ENOTFOUND: return "notfound";
    case DRL_EUNSUPPORTED: return "unsupported";
    case DRL_ECANCELLED: return "cancelled";
    case DRL_EBUSY: return "busy";
    default: return "error";
    }
}

int drl_size_mul(size_t a, size_t b, size_t *out) {
    if (a != 0 && b > SIZE_MAX / a) return -1;
    *out = a * b;
    return 0;
}

int drl_size_add(size_t a, size_t b, size_t *out) {
    if (b > SIZE_MAX - a) return -1;
    *out = a + b;
    return 0;
}
