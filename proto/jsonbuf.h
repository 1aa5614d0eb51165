/* jsonbuf.h — a small growable buffer that writes JSON text, for response bodies.
 *
 * Responses are mostly float arrays (embeddings, latents, OIP data), which jansson would box one
 * json_t per number; here numbers go straight into the text as "%.9g" would print them (9
 * significant digits read back to the same float), by a formatter about ten times faster than
 * snprintf. Non-finite floats are written as 0 so the body stays valid JSON.
 * Strings are escaped and checked as UTF-8 (bad bytes become U+FFFD). An allocation failure is
 * sticky: later writes do nothing and drl_proto_buf_finish returns NULL. */
#ifndef DRL_PROTO_JSONBUF_H
#define DRL_PROTO_JSONBUF_H

#include <stddef.h>

typedef struct {
    char *p;
    size_t len, cap;
    int oom;
} drl_proto_buf;

void drl_proto_buf_init(drl_proto_buf *b, size_t cap);
void drl_proto_buf_put(drl_proto_buf *b, const char *s, size_t n);
void drl_proto_buf_puts(drl_proto_buf *b, const char *s);
void drl_proto_buf_printf(drl_proto_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void drl_proto_buf_float(drl_proto_buf *b, float v);
/* [v0,v1,...] */
void drl_proto_buf_floats(drl_proto_buf *b, const float *v, size_t n);
/* Writes the "%.9g" text of v (0 when not finite) into out (at least 24 bytes), NUL-terminated;
 * returns its length. */
int drl_proto_format_float(char *out, float v);
/* A quoted, escaped JSON string; NULL writes null. */
void drl_proto_buf_str(drl_proto_buf *b, const char *s);
/* Hands over the NUL-terminated text (caller frees); NULL when an allocation failed. */
char *drl_proto_buf_finish(drl_proto_buf *b, size_t *len);

#endif
