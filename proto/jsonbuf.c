/* jsonbuf.c — JSON text writer for responses (jsonbuf.h). */
#include "jsonbuf.h"

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Makes room for `extra` more bytes plus the terminating NUL. */
static int reserve(drl_proto_buf *b, size_t extra) {
    if (b->oom) return -1;
    if (extra < b->cap - b->len) return 0;
    size_t need = b->len + extra + 1;
    if (need < b->len) goto fail;
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        if (cap > SIZE_MAX / 2) goto fail;
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) goto fail;
    b->p = p;
    b->cap = cap;
    return 0;
fail:
    b->oom = 1;
    return -1;
}

void drl_proto_buf_init(drl_proto_buf *b, size_t cap) {
    b->p = NULL;
    b->len = b->cap = 0;
    b->oom = 0;
    reserve(b, cap ? cap : 255);
}

void drl_proto_buf_put(drl_proto_buf *b, const char *s, size_t n) {
    if (reserve(b, n)) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

void drl_proto_buf_puts(drl_proto_buf *b, const char *s) { drl_proto_buf_put(b, s, strlen(s)); }

void drl_proto_buf_printf(drl_proto_buf *b, const char *fmt, ...) {
    if (b->oom) return;
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    va_end(ap);
    if (k < 0) return;
    if ((size_t)k >= b->cap - b->len) {
        if (reserve(b, (size_t)k)) return;
        va_start(ap, fmt);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
    }
    b->len += (size_t)k;
}

/* "%.9g" of a float is at most 15 characters ("-1.17549435e-38"). */
#define FLOAT_MAX_CHARS 24

static inline void put_float(drl_proto_buf *b, float v) {
    if (!isfinite(v)) v = 0.0f;
    int k = snprintf(b->p + b->len, FLOAT_MAX_CHARS, "%.9g", (double)v);
    b->len += (size_t)k;
}

void drl_proto_buf_float(drl_proto_buf *b, float v) {
    if (reserve(b, FLOAT_MAX_CHARS)) return;
    put_float(b, v);
}

void drl_proto_buf_floats(drl_proto_buf *b, const float *v, size_t n) {
    if (reserve(b, 2)) return;
    b->p[b->len++] = '[';
    for (size_t i = 0; i < n; i++) {
        if (reserve(b, FLOAT_MAX_CHARS + 2)) return;
        if (i) b->p[b->len++] = ',';
        put_float(b, v[i]);
    }
    if (reserve(b, 1)) return;
    b->p[b->len++] = ']';
}

/* Length of the valid UTF-8 sequence at s (n bytes left), or 0 if it is not one (RFC 3629:
 * no overlong forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s, size_t n) {
    unsigned c = s[0];
    size_t len;
    unsigned lo = 0x80, hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) len = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else return 0;
    if (n < len || s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < len; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return len;
}

void drl_proto_buf_str(drl_proto_buf *b, const char *str) {
    if (!str) {
        drl_proto_buf_put(b, "null", 4);
        return;
    }
    const unsigned char *s = (const unsigned char *)str;
    size_t n = strlen(str);
    if (reserve(b, n + 2)) return;
    b->p[b->len++] = '"';
    for (size_t i = 0; i < n;) {
        unsigned c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            size_t j = i + 1;
            while (j < n && s[j] >= 0x20 && s[j] < 0x80 && s[j] != '"' && s[j] != '\\') j++;
            drl_proto_buf_put(b, str + i, j - i);
            i = j;
            continue;
        }
        if (c < 0x80) {
            char esc[8];
            switch (c) {
            case '"': drl_proto_buf_put(b, "\\\"", 2); break;
            case '\\': drl_proto_buf_put(b, "\\\\", 2); break;
            case '\n': drl_proto_buf_put(b, "\\n", 2); break;
            case '\r': drl_proto_buf_put(b, "\\r", 2); break;
            case '\t': drl_proto_buf_put(b, "\\t", 2); break;
            case '\b': drl_proto_buf_put(b, "\\b", 2); break;
            case '\f': drl_proto_buf_put(b, "\\f", 2); break;
            default:
                snprintf(esc, sizeof esc, "\\u%04x", c);
                drl_proto_buf_put(b, esc, 6);
            }
            i++;
            continue;
        }
        size_t k = utf8_len(s + i, n - i);
        if (k) {
            drl_proto_buf_put(b, str + i, k);
            i += k;
        } else {
            drl_proto_buf_put(b, "\\ufffd", 6);
            i++;
        }
    }
    drl_proto_buf_put(b, "\"", 1);
}

char *drl_proto_buf_finish(drl_proto_buf *b, size_t *len) {
    if (b->oom || !b->p) {
        free(b->p);
        b->p = NULL;
        if (len) *len = 0;
        return NULL;
    }
    b->p[b->len] = '\0';
    if (len) *len = b->len;
    char *p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}
