/* request.h — what every request codec does first: check the media type, parse the body with
 * jansson, reject unknown keys, and read typed fields with messages naming the field
 * (`images[2].pixels: expected an array, got string`).
 *
 * Field helpers take the JSON value and its full name; they return 0, or -1 with e filled
 * (422 invalid_input). Numbers are checked in double before any conversion to float. */
#ifndef DRL_PROTO_REQUEST_H
#define DRL_PROTO_REQUEST_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "error.h"

/* Index in `accepted` (n entries, lower-case types) of the request's media type: the type before
 * any ';' parameters, compared case-insensitively. NULL/empty or not listed → -1 with a 415
 * naming the accepted types. */
int drl_proto_media_pick(drl_proto_error *e, const char *media, const char *const *accepted, int n);

/* Parses body as a JSON object (duplicate keys rejected). NULL with 400 bad_json (jansson's text,
 * line and column) or 422 when the top level is not an object. Caller json_decref's. */
json_t *drl_proto_json_load(drl_proto_error *e, const uint8_t *body, size_t n);

/* Every key of obj must be in the NULL-terminated `allowed`; else 422 naming the key. */
int drl_proto_json_keys(drl_proto_error *e, const json_t *obj, const char *where,
                        const char *const *allowed);

/* "where.key", or "key" when where is "" (static-size buffer out). */
void drl_proto_field(char *out, size_t size, const char *where, const char *key);
/* "array", "object", "string", ... for messages. */
const char *drl_proto_json_type(const json_t *v);

/* A finite number in [lo, hi] (lo excluded when lo_open). The message shows the bounds with %g. */
int drl_proto_json_number(drl_proto_error *e, const json_t *v, const char *field, double lo,
                          double hi, int lo_open, double *out);
/* A float in [lo, hi] ((lo, hi] when lo_open), bounds compared after conversion to float too. */
int drl_proto_json_float(drl_proto_error *e, const json_t *v, const char *field, float lo,
                         float hi, int lo_open, float *out);
/* An integer (an integral real such as 100.0 is accepted) in [lo, hi]. */
int drl_proto_json_int(drl_proto_error *e, const json_t *v, const char *field, long long lo,
                       long long hi, long long *out);
int drl_proto_json_bool(drl_proto_error *e, const json_t *v, const char *field, int *out);
/* A string; *out borrows from v. */
int drl_proto_json_string(drl_proto_error *e, const json_t *v, const char *field,
                          const char **out, size_t *len);
/* An array; *count gets its size. */
int drl_proto_json_array(drl_proto_error *e, const json_t *v, const char *field, size_t *count);

/* The limits with unset (<= 0) fields at their documented defaults; lim may be NULL. */
drl_proto_limits drl_proto_limits_resolve(const drl_proto_limits *lim);

#endif
