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

/* Powers of ten exact in double (10^0 .. 10^22). */
static const double POW10[23] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                 1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

/* v · 10^k (k in [-30, 53] here), within two double roundings. */
static double scale10(double v, int k) {
    if (k < 0) {
        while (k < -22) {
            v /= 1e22;
            k += 22;
        }
        return v / POW10[-k];
    }
    while (k > 22) {
        v *= 1e22;
        k -= 22;
    }
    return v * POW10[k];
}

/* Writes the same text as snprintf("%.9g") for a finite float, about ten times faster. The 9
 * significant digits are s = v · 10^(8 - e10) rounded, with s computed in double: below 1e9, its
 * error is a few 1e-7, so only a value whose fractional part is within that of .5 could round
 * the other way than printf's exact decimal conversion, and those go through snprintf. The
 * result is therefore identical to printf's in every case (tests compare millions of values). */
static int format_g9(char *out, float f) {
    double v = f;
    char *p = out;
    if (v == 0.0) {
        if (signbit(v)) *p++ = '-';
        *p++ = '0';
        *p = '\0';
        return (int)(p - out);
    }
    if (v < 0) {
        *p++ = '-';
        v = -v;
    }
    /* floor(log10 v) from the binary exponent: floor(e2 · log10 2), which is the answer or one
     * less; the checks below fix the latter. */
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    int biased = (int)(bits >> 23 & 0xff);
    int e10 = biased ? (((biased - 127) * 78913) >> 18) : (int)floor(log10(v));
    double s = scale10(v, 8 - e10);
    if (s < 99999999.5) { /* (denormals) log10 rounded up across a power of ten */
        e10--;
        s = scale10(v, 8 - e10);
    } else if (s >= 999999999.5) {
        e10++;
        s = scale10(v, 8 - e10);
    }
    double r = floor(s), frac = s - r;
    if (fabs(frac - 0.5) < 1e-6 || s < 99999999.5 || s >= 999999999.5)
        return snprintf(out, FLOAT_MAX_CHARS, "%.9g", (double)f);
    uint32_t d = (uint32_t)r + (frac > 0.5); /* < 1e9 since s < 999999999.5 */
    char dig[9];
    for (int i = 8; i >= 0; i--) {
        dig[i] = (char)('0' + d % 10);
        d /= 10;
    }
    int n = 9;
    while (n > 1 && dig[n - 1] == '0') n--;
    if (e10 < -4 || e10 >= 9) {
        *p++ = dig[0];
        if (n > 1) {
            *p++ = '.';
            for (int i = 1; i < n; i++) *p++ = dig[i];
        }
        *p++ = 'e';
        *p++ = e10 < 0 ? '-' : '+';
        int ae = e10 < 0 ? -e10 : e10;
        if (ae >= 100) *p++ = (char)('0' + ae / 100);
        *p++ = (char)('0' + ae / 10 % 10);
        *p++ = (char)('0' + ae % 10);
    } else if (e10 >= 0) {
        for (int i = 0; i <= e10; i++) *p++ = dig[i];
        if (n > e10 + 1) {
            *p++ = '.';
            for (int i = e10 + 1; i < n; i++) *p++ = dig[i];
        }
    } else {
        *p++ = '0';
        *p++ = '.';
        for (int i = 0; i < -e10 - 1; i++) *p++ = '0';
        for (int i = 0; i < n; i++) *p++ = dig[i];
    }
    *p = '\0';
    return (int)(p - out);
}

int drl_proto_format_float(char *out, float v) { return format_g9(out, isfinite(v) ? v : 0.0f); }

static inline void put_float(drl_proto_buf *b, float v) {
    b->len += (size_t)format_g9(b->p + b->len, isfinite(v) ? v : 0.0f);
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
