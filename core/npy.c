/* npy.c — NumPy .npy files of float32 (see npy.h).
 *
 * Layout: "\x93NUMPY", version bytes, a little-endian header length (u16 in 1.0, u32 in 2.0),
 * then a Python dict literal padded with spaces to a multiple of 64 bytes and ending in '\n',
 * then the raw little-endian data. We write version 1.0; the reader accepts 1.0 and 2.0 and
 * parses the dict with a small literal parser (strings, True/False, tuples of integers) rather
 * than pattern-matching one spelling, so files from any numpy version load. */
#include "npy.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#define NPY_READ_MAX ((size_t)4 << 30)

static const char npy_magic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};

int drl_npy_serialize(drl_err *err, const float *data, size_t rows, size_t cols, uint8_t **buf,
                      size_t *len) {
    *buf = NULL;
    *len = 0;
    size_t count, bytes, total;
    if (drl_size_mul(rows, cols ? cols : 1, &count) || drl_size_mul(count, 4, &bytes))
        return drl_errf(err, DRL_ELIMIT, "npy: %zu x %zu array too large", rows, cols);
    if (count && !data) return drl_errf(err, DRL_EINVAL, "npy: NULL data");
    char dict[160];
    int dl = cols ? snprintf(dict, sizeof dict,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                             rows, cols)
                  : snprintf(dict, sizeof dict,
                             "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu,), }", rows);
    if (dl < 0 || (size_t)dl >= sizeof dict)
        return drl_errf(err, DRL_EINVAL, "npy: header overflow");
    /* magic(6) + version(2) + hlen(2) + dict + spaces + '\n', rounded up to 64 */
    size_t hdr = 10 + (size_t)dl + 1;
    hdr = (hdr + 63) / 64 * 64;
    if (drl_size_add(hdr, bytes, &total))
        return drl_errf(err, DRL_ELIMIT, "npy: %zu x %zu array too large", rows, cols);
    uint8_t *b = malloc(total);
    if (!b) return drl_errf(err, DRL_ENOMEM, "npy: out of memory for %zu bytes", total);
    size_t hlen = hdr - 10;
    memcpy(b, npy_magic, 6);
    b[6] = 1;
    b[7] = 0;
    b[8] = (uint8_t)(hlen & 0xff);
    b[9] = (uint8_t)(hlen >> 8);
    memcpy(b + 10, dict, (size_t)dl);
    memset(b + 10 + dl, ' ', hlen - (size_t)dl - 1);
    b[hdr - 1] = '\n';
    uint8_t *p = b + hdr;
    for (size_t i = 0; i < count; i++, p += 4) {
        uint32_t u;
        memcpy(&u, &data[i], 4);
        p[0] = (uint8_t)u;
        p[1] = (uint8_t)(u >> 8);
        p[2] = (uint8_t)(u >> 16);
        p[3] = (uint8_t)(u >> 24);
    }
    *buf = b;
    *len = total;
    return 0;
}

int drl_npy_write(drl_err *err, const char *path, const float *data, size_t rows, size_t cols) {
    uint8_t *buf;
    size_t len;
    int rc = drl_npy_serialize(err, data, rows, cols, &buf, &len);
    if (rc) return rc;
    rc = drl_file_write_atomic(err, path, buf, len);
    free(buf);
    return rc;
}

/* -------------------------------------------------------------------------------------------- */
/* Header dict parser */

typedef struct {
    const char *p, *end;
} cursor;

static void skip_ws(cursor *c) {
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
        c->p++;
}

static int accept(cursor *c, char ch) {
    skip_ws(c);
    if (c->p < c->end && *c->p == ch) {
        c->p++;
        return 1;
    }
    return 0;
}

/* A quoted string (no escapes needed for npy keys and dtypes) into out; 0 on success. */
static int parse_str(cursor *c, char *out, size_t cap) {
    skip_ws(c);
    if (c->p >= c->end || (*c->p != '\'' && *c->p != '"')) return -1;
    char q = *c->p++;
    size_t k = 0;
    while (c->p < c->end && *c->p != q) {
        if (*c->p == '\\' || k + 1 >= cap) return -1;
        out[k++] = *c->p++;
    }
    if (c->p >= c->end) return -1;
    c->p++;
    out[k] = '\0';
    return 0;
}

static int parse_word(cursor *c, const char *w) {
    skip_ws(c);
    size_t l = strlen(w);
    if ((size_t)(c->end - c->p) < l || memcmp(c->p, w, l) != 0) return 0;
    c->p += l;
    return 1;
}

/* A tuple of non-negative integers "(a, b, )"; *nd gets the count (at most max). */
static int parse_shape(cursor *c, uint64_t *dims, int max, int *nd) {
    *nd = 0;
    if (!accept(c, '(')) return -1;
    for (;;) {
        if (accept(c, ')')) return 0;
        skip_ws(c);
        if (c->p >= c->end || *c->p < '0' || *c->p > '9') return -1;
        uint64_t v = 0;
        while (c->p < c->end && *c->p >= '0' && *c->p <= '9') {
            if (v > (UINT64_MAX - 9) / 10) return -1;
            v = v * 10 + (uint64_t)(*c->p++ - '0');
        }
        if (*nd >= max) return -1;
        dims[(*nd)++] = v;
        if (!accept(c, ',')) return accept(c, ')') ? 0 : -1;
    }
}

/* Parses the header dict; fills descr, fortran flag and shape. */
static int parse_header(drl_err *err, const char *h, size_t n, char *descr, size_t dcap,
                        int *fortran, uint64_t *dims, int *nd) {
    cursor c = {h, h + n};
    int have_descr = 0, have_fortran = 0, have_shape = 0;
    if (!accept(&c, '{')) return drl_errf(err, DRL_EFORMAT, "npy: header is not a dict");
    for (;;) {
        if (accept(&c, '}')) break;
        char key[32];
        if (parse_str(&c, key, sizeof key) || !accept(&c, ':'))
            return drl_errf(err, DRL_EFORMAT, "npy: bad header dict key");
        if (!strcmp(key, "descr")) {
            if (parse_str(&c, descr, dcap))
                return drl_errf(err, DRL_EUNSUPPORTED, "npy: unsupported descr (want '<f4')");
            have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (parse_word(&c, "True")) *fortran = 1;
            else if (parse_word(&c, "False")) *fortran = 0;
            else return drl_errf(err, DRL_EFORMAT, "npy: bad fortran_order value");
            have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (parse_shape(&c, dims, 3, nd))
                return drl_errf(err, DRL_EFORMAT, "npy: bad or unsupported shape tuple");
            have_shape = 1;
        } else {
            return drl_errf(err, DRL_EFORMAT, "npy: unexpected header key '%s'", key);
        }
        if (!accept(&c, ',')) {
            if (!accept(&c, '}')) return drl_errf(err, DRL_EFORMAT, "npy: bad header dict");
            break;
        }
    }
    skip_ws(&c);
    if (c.p != c.end) return drl_errf(err, DRL_EFORMAT, "npy: junk after header dict");
    if (!have_descr || !have_fortran || !have_shape)
        return drl_errf(err, DRL_EFORMAT, "npy: header lacks descr, fortran_order or shape");
    return 0;
}

int drl_npy_read(drl_err *err, const char *path, float **data, size_t *rows, size_t *cols) {
    *data = NULL;
    *rows = *cols = 0;
    uint8_t *b;
    size_t n;
    int rc = drl_file_read_all(err, path, NPY_READ_MAX, &b, &n);
    if (rc) return rc;
    size_t hlen, hstart;
    char descr[32];
    int fortran = 0, nd = 0;
    uint64_t dims[3] = {0};
    size_t count = 1, bytes = 0;
    if (n < 10 || memcmp(b, npy_magic, 6) != 0) {
        rc = drl_errf(err, DRL_EFORMAT, "npy: bad magic (not a .npy file)");
        goto done;
    }
    if (b[6] == 1 && b[7] == 0) {
        hlen = (size_t)b[8] | (size_t)b[9] << 8;
        hstart = 10;
    } else if (b[6] == 2 && b[7] == 0) {
        if (n < 12) {
            rc = drl_errf(err, DRL_EFORMAT, "npy: truncated header");
            goto done;
        }
        hlen = (size_t)b[8] | (size_t)b[9] << 8 | (size_t)b[10] << 16 | (size_t)b[11] << 24;
        hstart = 12;
    } else {
        rc = drl_errf(err, DRL_EUNSUPPORTED, "npy: unsupported format version %u.%u", b[6], b[7]);
        goto done;
    }
    if (hlen > n - hstart || hlen == 0 || b[hstart + hlen - 1] != '\n') {
        rc = drl_errf(err, DRL_EFORMAT, "npy: truncated or unterminated header");
        goto done;
    }
    rc = parse_header(err, (const char *)b + hstart, hlen, descr, sizeof descr, &fortran, dims,
                      &nd);
    if (rc) goto done;
    if (strcmp(descr, "<f4") != 0) {
        rc = drl_errf(err, DRL_EUNSUPPORTED, "npy: dtype '%s' not supported (want '<f4')", descr);
        goto done;
    }
    if (nd < 1 || nd > 2) {
        rc = drl_errf(err, DRL_EUNSUPPORTED, "npy: %d-D arrays not supported (want 1-D or 2-D)",
                      nd);
        goto done;
    }
    /* cols == 0 means 1-D to callers (npy.h), who would then read `rows` values: (R, 0) holds
     * none. (0, 0) reads as an empty 1-D array, which is what it holds. */
    if (nd == 2 && dims[1] == 0 && dims[0] > 0) {
        rc = drl_errf(err, DRL_EUNSUPPORTED, "npy: a (%llu, 0) array holds no values; not supported",
                      (unsigned long long)dims[0]);
        goto done;
    }
    if (fortran && nd == 2 && dims[0] > 1 && dims[1] > 1) {
        rc = drl_errf(err, DRL_EUNSUPPORTED, "npy: Fortran-order arrays not supported");
        goto done;
    }
    for (int i = 0; i < nd; i++)
        if (dims[i] > SIZE_MAX || drl_size_mul(count, (size_t)dims[i], &count)) {
            rc = drl_errf(err, DRL_EFORMAT, "npy: shape product overflows");
            goto done;
        }
    if (drl_size_mul(count, 4, &bytes) || n - hstart - hlen != bytes) {
        rc = drl_errf(err, DRL_EFORMAT, "npy: data is %zu bytes, shape says %zu",
                      n - hstart - hlen, bytes);
        goto done;
    }
    float *out = malloc(count ? count * sizeof(float) : 1);
    if (!out) {
        rc = drl_errf(err, DRL_ENOMEM, "npy: out of memory for %zu values", count);
        goto done;
    }
    const uint8_t *p = b + hstart + hlen;
    for (size_t i = 0; i < count; i++, p += 4) {
        uint32_t u = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
                     (uint32_t)p[3] << 24;
        memcpy(&out[i], &u, 4);
    }
    *data = out;
    *rows = (size_t)dims[0];
    *cols = nd == 2 ? (size_t)dims[1] : 0;
done:
    free(b);
    if (rc) drl_err_prefix(err, "%s", path);
    return rc;
}
