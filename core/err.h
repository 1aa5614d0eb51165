/* err.h — the error model of core/ and proto/.
 *
 * Library code never prints and never exits: a function returns 0 on success or a negative
 * DRL_E* status, and writes a human-readable reason into a caller-owned drl_err. Drivers (the
 * CLI, the server) decide what to do with it. A NULL drl_err is allowed and discards the text.
 */
#ifndef DRL_ERR_H
#define DRL_ERR_H

#include <stddef.h>

enum {
    DRL_OK = 0,
    DRL_EINVAL = -1,   /* bad argument or request (the caller's fault) */
    DRL_EFORMAT = -2,  /* malformed input bytes (corrupt file, bad PNG, bad JSON) */
    DRL_ELIMIT = -3,   /* input exceeds a configured limit (size, dims, count) */
    DRL_ENOMEM = -4,   /* allocation failed */
    DRL_EIO = -5,      /* filesystem or OS error */
    DRL_ENOTFOUND = -6,/* a named thing (file, tensor, model) does not exist */
    DRL_EUNSUPPORTED = -7, /* valid input we do not handle (dtype, format variant) */
    DRL_ECANCELLED = -8,   /* work stopped on request */
    DRL_EBUSY = -9,        /* the resource is in use (retry later) */
};

#define DRL_ERR_MAX 512

typedef struct {
    int code;               /* last DRL_E* stored by drl_errf */
    char msg[DRL_ERR_MAX];  /* NUL-terminated reason */
} drl_err;

/* Records code and a printf-style message; returns code so callers can `return drl_errf(...)`.
 * Safe with err == NULL. */
int drl_errf(drl_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the existing message with "prefix: " (context added on the way up). Returns err->code. */
int drl_err_prefix(drl_err *err, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Clears the record. */
void drl_err_clear(drl_err *err);

/* A short stable name for a status code ("invalid", "format", ...). */
const char *drl_err_name(int code);

/* Overflow-checked size arithmetic: return 0 and store the result, or -1 on overflow. */
int drl_size_mul(size_t a, size_t b, size_t *out);
int drl_size_add(size_t a, size_t b, size_t *out);

#endif
