/* base64.c — strict RFC 4648 base64 (base64.h).
 *
 * Decoding goes through a 256-entry table (-1 for bytes outside the alphabet). Only canonical
 * text is accepted: length a multiple of 4, '=' only as the last one or two characters, and the
 * bits the padding discards must be zero, so one byte string has exactly one accepted text. */
#include "base64.h"

#include <stdint.h>
#include <stdlib.h>

static const char ALPHABET[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/* Value of each base64 character, -1 for everything else (including '='). */
static const int8_t DECODE[256] = {
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 62, -1, -1, -1, 63,
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, -1, -1, -1, -1, -1, -1,
    -1, 0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14,
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, -1, -1, -1, -1, -1,
    -1, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
    -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
};

size_t drl_base64_decoded_max(size_t n) { return n / 4 * 3 + (n % 4 ? 3 : 0); }

static int bad_char(drl_err *err, const char *in, size_t i) {
    unsigned char c = (unsigned char)in[i];
    if (c == '=') return drl_errf(err, DRL_EFORMAT, "base64: misplaced '=' at offset %zu", i);
    if (c > 0x20 && c < 0x7f)
        return drl_errf(err, DRL_EFORMAT, "base64: invalid character '%c' at offset %zu", c, i);
    return drl_errf(err, DRL_EFORMAT, "base64: invalid byte 0x%02x at offset %zu", c, i);
}

int drl_base64_decode(drl_err *err, const char *in, size_t n, size_t max_out, uint8_t **out,
                      size_t *out_n) {
    *out = NULL;
    *out_n = 0;
    if (n % 4)
        return drl_errf(err, DRL_EFORMAT, "base64: length %zu is not a multiple of 4", n);
    size_t pad = 0;
    if (n && in[n - 1] == '=') pad = (n >= 2 && in[n - 2] == '=') ? 2 : 1;
    size_t len = n / 4 * 3 - pad;
    if (len > max_out)
        return drl_errf(err, DRL_ELIMIT, "base64: %zu decoded bytes exceed the limit of %zu", len,
                        max_out);
    uint8_t *o = malloc(len ? len : 1);
    if (!o) return drl_errf(err, DRL_ENOMEM, "base64: out of memory for %zu bytes", len);

    /* Full quanta, then the last one (which may carry padding). */
    size_t full = n ? n - 4 : 0, j = 0;
    for (size_t i = 0; i < full; i += 4) {
        int a = DECODE[(unsigned char)in[i]], b = DECODE[(unsigned char)in[i + 1]];
        int c = DECODE[(unsigned char)in[i + 2]], d = DECODE[(unsigned char)in[i + 3]];
        if ((a | b | c | d) < 0) {
            size_t k = i;
            while (DECODE[(unsigned char)in[k]] >= 0) k++;
            free(o);
            return bad_char(err, in, k);
        }
        uint32_t v = (uint32_t)a << 18 | (uint32_t)b << 12 | (uint32_t)c << 6 | (uint32_t)d;
        o[j++] = (uint8_t)(v >> 16);
        o[j++] = (uint8_t)(v >> 8);
        o[j++] = (uint8_t)v;
    }
    if (n) {
        size_t i = n - 4, keep = 4 - pad;
        uint32_t v = 0;
        for (size_t k = 0; k < 4; k++) {
            int d = k < keep ? DECODE[(unsigned char)in[i + k]] : 0;
            if (d < 0) {
                free(o);
                return bad_char(err, in, i + k);
            }
            v = v << 6 | (uint32_t)d;
        }
        if ((pad == 2 && (v & 0xffff)) || (pad == 1 && (v & 0xff))) {
            free(o);
            return drl_errf(err, DRL_EFORMAT, "base64: non-zero padding bits at offset %zu",
                            i + keep - 1);
        }
        o[j++] = (uint8_t)(v >> 16);
        if (pad < 2) o[j++] = (uint8_t)(v >> 8);
        if (pad < 1) o[j++] = (uint8_t)v;
    }
    *out = o;
    *out_n = len;
    return 0;
}

char *drl_base64_encode(const uint8_t *in, size_t n, size_t *out_n) {
    size_t groups = n / 3 + (n % 3 ? 1 : 0);
    if (groups > (SIZE_MAX - 1) / 4) return NULL;
    size_t len = groups * 4;
    char *o = malloc(len + 1);
    if (!o) return NULL;
    size_t i = 0, j = 0;
    for (; i + 3 <= n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];
        o[j++] = ALPHABET[v >> 18];
        o[j++] = ALPHABET[(v >> 12) & 63];
        o[j++] = ALPHABET[(v >> 6) & 63];
        o[j++] = ALPHABET[v & 63];
    }
    if (n - i == 1) {
        uint32_t v = (uint32_t)in[i] << 16;
        o[j++] = ALPHABET[v >> 18];
        o[j++] = ALPHABET[(v >> 12) & 63];
        o[j++] = '=';
        o[j++] = '=';
    } else if (n - i == 2) {
        uint32_t v = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;
        o[j++] = ALPHABET[v >> 18];
        o[j++] = ALPHABET[(v >> 12) & 63];
        o[j++] = ALPHABET[(v >> 6) & 63];
        o[j++] = '=';
    }
    o[j] = '\0';
    if (out_n) *out_n = len;
    return o;
}
