/* idx.c — IDX files (MNIST / Fashion-MNIST), plain or gzip-compressed (see idx.h).
 *
 * Gzip input is inflated by a streaming loop into a buffer that grows by doubling but never past
 * the caller's cap, so a gzip bomb stops with DRL_ELIMIT after at most max_bytes of output. The
 * header is then validated strictly: the payload must be exactly the product of the dims times
 * the element size, with the product overflow-checked, so truncated files and trailing garbage
 * are both errors. */
#include "idx.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "fileio.h"

#define IDX_DEFAULT_MAX ((size_t)1 << 30)

static uint32_t be32(const uint8_t *p) {
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Element size of an IDX type byte, or 0 if unknown. */
static size_t type_size(int type) {
    switch (type) {
    case 0x08: case 0x09: return 1;
    case 0x0B: return 2;
    case 0x0C: case 0x0D: return 4;
    case 0x0E: return 8;
    default: return 0;
    }
}

/* Inflates a gzip stream of n bytes into a malloc'd buffer of at most cap bytes. */
static int gunzip(drl_err *err, const uint8_t *in, size_t n, size_t cap, uint8_t **out,
                  size_t *out_n) {
    *out = NULL;
    *out_n = 0;
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, 15 + 16) != Z_OK) /* 15-bit window, gzip wrapper only */
        return drl_errf(err, DRL_ENOMEM, "idx: cannot initialise zlib");
    /* The buffer may reach cap + 1 bytes: holding one byte more than allowed is how we know the
     * content exceeds cap (a stream of exactly cap bytes is fine). */
    size_t limit = cap < SIZE_MAX ? cap + 1 : cap;
    size_t size = n < limit / 4 ? n * 4 : limit; /* first guess; grows by doubling up to limit */
    if (size < 4096) size = limit < 4096 ? limit : 4096;
    uint8_t *buf = malloc(size);
    size_t len = 0, in_off = 0;
    int rc = 0;
    if (!buf) rc = drl_errf(err, DRL_ENOMEM, "idx: out of memory");
    while (rc == 0) {
        if (len == size) {
            if (size >= limit) break;
            size_t ns = size > limit / 2 ? limit : size * 2;
            uint8_t *nb = realloc(buf, ns);
            if (!nb) {
                rc = drl_errf(err, DRL_ENOMEM, "idx: out of memory for %zu bytes", ns);
                break;
            }
            buf = nb;
            size = ns;
        }
        /* zlib counts in uInt; feed and drain in chunks that fit. */
        size_t in_chunk = n - in_off, out_chunk = size - len;
        if (in_chunk > UINT32_MAX) in_chunk = UINT32_MAX;
        if (out_chunk > UINT32_MAX) out_chunk = UINT32_MAX;
        zs.next_in = (Bytef *)(uintptr_t)(in + in_off);
        zs.avail_in = (uInt)in_chunk;
        zs.next_out = buf + len;
        zs.avail_out = (uInt)out_chunk;
        int zr = inflate(&zs, Z_NO_FLUSH);
        in_off += in_chunk - zs.avail_in;
        len += out_chunk - zs.avail_out;
        if (zr == Z_STREAM_END) {
            if (in_off != n)
                rc = drl_errf(err, DRL_EFORMAT, "idx: %zu trailing bytes after gzip stream",
                              n - in_off);
            break;
        }
        if (zr == Z_MEM_ERROR) rc = drl_errf(err, DRL_ENOMEM, "idx: gzip: out of memory");
        else if (zr != Z_OK && zr != Z_BUF_ERROR)
            rc = drl_errf(err, DRL_EFORMAT, "idx: gzip: %s", zs.msg ? zs.msg : "corrupt stream");
        else if (zs.avail_out > 0 && in_off == n) /* wants more input than there is */
            rc = drl_errf(err, DRL_EFORMAT, "idx: truncated gzip stream");
        else if (zr == Z_BUF_ERROR && zs.avail_out > 0)
            rc = drl_errf(err, DRL_EFORMAT, "idx: gzip stream makes no progress");
    }
    if (rc == 0 && len > cap)
        rc = drl_errf(err, DRL_ELIMIT, "idx: decompressed size exceeds limit %zu bytes", cap);
    inflateEnd(&zs);
    if (rc) {
        free(buf);
        return rc;
    }
    *out = buf;
    *out_n = len;
    return 0;
}

/* Parses an uncompressed IDX image of n bytes. */
static int parse_plain(drl_err *err, const uint8_t *b, size_t n, drl_idx **out) {
    if (n < 4) return drl_errf(err, DRL_EFORMAT, "idx: %zu bytes is too short for a header", n);
    if (b[0] != 0 || b[1] != 0)
        return drl_errf(err, DRL_EFORMAT, "idx: bad magic %02x %02x (want 00 00)", b[0], b[1]);
    int type = b[2], ndim = b[3];
    size_t es = type_size(type);
    if (!es) return drl_errf(err, DRL_EFORMAT, "idx: unknown type byte 0x%02x", type);
    if (ndim < 1 || ndim > DRL_IDX_MAX_DIMS)
        return drl_errf(err, DRL_EFORMAT, "idx: %d dims (want 1..%d)", ndim, DRL_IDX_MAX_DIMS);
    size_t hdr = 4 + 4 * (size_t)ndim;
    if (n < hdr) return drl_errf(err, DRL_EFORMAT, "idx: truncated header");
    drl_idx *idx = calloc(1, sizeof *idx);
    if (!idx) return drl_errf(err, DRL_ENOMEM, "idx: out of memory");
    idx->type = type;
    idx->ndim = ndim;
    size_t count = 1, bytes;
    for (int i = 0; i < ndim; i++) {
        idx->dims[i] = be32(b + 4 + 4 * (size_t)i);
        if (drl_size_mul(count, idx->dims[i], &count)) {
            free(idx);
            return drl_errf(err, DRL_EFORMAT, "idx: dims product overflows");
        }
    }
    if (drl_size_mul(count, es, &bytes) || count > SIZE_MAX / sizeof(float)) {
        free(idx);
        return drl_errf(err, DRL_EFORMAT, "idx: dims product overflows");
    }
    if (n - hdr != bytes) {
        free(idx);
        return drl_errf(err, DRL_EFORMAT, "idx: payload is %zu bytes, dims say %zu (%s)", n - hdr,
                        bytes, n - hdr < bytes ? "truncated" : "trailing bytes");
    }
    idx->count = count;
    idx->data = malloc(count ? count * sizeof(float) : 1);
    if (!idx->data) {
        free(idx);
        return drl_errf(err, DRL_ENOMEM, "idx: out of memory for %zu values", count);
    }
    const uint8_t *p = b + hdr;
    for (size_t i = 0; i < count; i++, p += es) {
        float v;
        switch (type) {
        case 0x08: v = (float)p[0]; break;
        case 0x09: v = (float)(int8_t)p[0]; break;
        case 0x0B: v = (float)(int16_t)(uint16_t)((unsigned)p[0] << 8 | p[1]); break;
        case 0x0C: v = (float)(int32_t)be32(p); break;
        case 0x0D: {
            uint32_t u = be32(p);
            memcpy(&v, &u, sizeof v);
            break;
        }
        default: {
            uint64_t u = (uint64_t)be32(p) << 32 | be32(p + 4);
            double d;
            memcpy(&d, &u, sizeof d);
            v = (float)d;
            break;
        }
        }
        idx->data[i] = v;
    }
    *out = idx;
    return 0;
}

int drl_idx_parse(drl_err *err, const uint8_t *buf, size_t n, size_t max_bytes, drl_idx **out) {
    *out = NULL;
    if (!buf && n) return drl_errf(err, DRL_EINVAL, "idx: NULL buffer");
    size_t cap = max_bytes ? max_bytes : IDX_DEFAULT_MAX;
    if (n >= 2 && buf[0] == 0x1f && buf[1] == 0x8b) {
        uint8_t *raw;
        size_t rn;
        int rc = gunzip(err, buf, n, cap, &raw, &rn);
        if (rc) return rc;
        rc = parse_plain(err, raw, rn, out);
        free(raw);
        return rc;
    }
    if (n > cap) return drl_errf(err, DRL_ELIMIT, "idx: %zu bytes exceeds limit %zu", n, cap);
    return parse_plain(err, buf, n, out);
}

int drl_idx_load(drl_err *err, const char *path, size_t max_bytes, drl_idx **out) {
    *out = NULL;
    size_t cap = max_bytes ? max_bytes : IDX_DEFAULT_MAX;
    /* A gzip file can be a little larger than its content (stored blocks); allow for that. */
    size_t file_cap = cap + cap / 16 + 1024;
    if (file_cap < cap) file_cap = SIZE_MAX;
    uint8_t *buf;
    size_t n;
    int rc = drl_file_read_all(err, path, file_cap, &buf, &n);
    if (rc) return rc;
    rc = drl_idx_parse(err, buf, n, cap, out);
    free(buf);
    if (rc) drl_err_prefix(err, "%s", path);
    return rc;
}

void drl_idx_free(drl_idx *idx) {
    if (!idx) return;
    free(idx->data);
    free(idx);
}
