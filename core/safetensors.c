/* safetensors.c — the safetensors reader and writer (see safetensors.h).
 *
 * The reader trusts nothing: the 8-byte header length, the JSON header and every entry are
 * checked before anything is allocated from them, and the layout rules are the reference
 * implementation's (huggingface/safetensors `Metadata::validate`): sorted by data_offsets, the
 * tensors must tile the data area exactly — no overlap, no hole, nothing left over
 * ("MetadataIncompleteBuffer"). Tensor data is then converted to float32 (F32 / F16 / BF16).
 *
 * The writer emits F32 only: a compact JSON header (__metadata__ first, as the reference does,
 * then the tensors in the order given) padded with spaces so the data area starts 8-byte aligned.
 *
 * Byte order: the file is little-endian. Lengths are assembled byte by byte; float data is
 * memcpy'd, which is only right on a little-endian host — the #error below makes that explicit. */
#include "safetensors.h"

#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fileio.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "safetensors.c copies float data with memcpy and needs a little-endian host"
#endif

#define META_KEY "__metadata__"

/* Names in messages are cut so one silly name cannot crowd out the rest of the reason. */
#define NAME_FMT "\"%.80s\""

/* ----------------------------------------------------------------------------------- dtypes */

typedef struct {
    const char *name;
    size_t size;   /* bytes per element */
    int supported; /* converted to float32 by this reader */
} st_dtype;

/* The reference dtypes (sub-byte F4/F6 types have no whole-byte size and are left out: they
 * report as unknown). */
static const st_dtype dtypes[] = {
    {"F32", 4, 1},     {"F16", 2, 1}, {"BF16", 2, 1}, {"F64", 8, 0},     {"I64", 8, 0},
    {"U64", 8, 0},     {"I32", 4, 0}, {"U32", 4, 0},  {"I16", 2, 0},     {"U16", 2, 0},
    {"I8", 1, 0},      {"U8", 1, 0},  {"BOOL", 1, 0}, {"F8_E4M3", 1, 0}, {"F8_E5M2", 1, 0},
    {"F8_E8M0", 1, 0}, {"C64", 8, 0},
};

static const st_dtype *dtype_find(const char *name) {
    for (size_t i = 0; i < sizeof dtypes / sizeof dtypes[0]; i++)
        if (!strcmp(dtypes[i].name, name)) return &dtypes[i];
    return NULL;
}

static float bits_to_f32(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* IEEE binary16 -> binary32, exact for every input (every half is representable as a float).
 * Integer-only so the FPU's denormal mode cannot interfere. */
static float f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;
    if (exp == 0x1f) return bits_to_f32(sign | 0x7f800000u | (mant << 13)); /* inf, NaN + payload */
    if (exp != 0)
        return bits_to_f32(sign | ((exp + 112u) << 23) | (mant << 13)); /* rebias 15->127 */
    if (mant == 0) return bits_to_f32(sign);                            /* ±0 */
    /* Subnormal mant × 2^-24: normalise until the implicit bit (0x400) is set. A half with
     * exponent field 1 is 2^-14, i.e. float exponent field 113; each shift lowers it by one. */
    uint32_t e = 113;
    while (!(mant & 0x400u)) {
        mant <<= 1;
        e--;
    }
    return bits_to_f32(sign | (e << 23) | ((mant & 0x3ffu) << 13));
}

/* bfloat16 is the top half of a float32: widening is a shift (inf, NaN, subnormals included). */
static float bf16_to_f32(uint16_t h) { return bits_to_f32((uint32_t)h << 16); }

/* Converts numel elements at src (any alignment) to float32. */
static void convert(const st_dtype *dt, const uint8_t *src, size_t numel, float *dst) {
    if (!strcmp(dt->name, "F32")) {
        if (numel) memcpy(dst, src, numel * sizeof(float));
        return;
    }
    int bf = !strcmp(dt->name, "BF16");
    for (size_t i = 0; i < numel; i++) {
        uint16_t h = (uint16_t)(src[2 * i] | (src[2 * i + 1] << 8));
        dst[i] = bf ? bf16_to_f32(h) : f16_to_f32(h);
    }
}

/* ----------------------------------------------------------------------------------- reader */

/* One header entry, checked but not yet converted. name borrows from the parsed JSON. */
typedef struct {
    const char *name;
    const st_dtype *dt;
    int ndim;
    int64_t shape[DRL_ST_MAX_DIMS];
    size_t numel;
    size_t begin, end; /* byte span in the data area */
    size_t order;      /* position in the header (tie-break for a deterministic sort) */
} st_entry;

static int entry_cmp(const void *pa, const void *pb) {
    const st_entry *a = pa, *b = pb;
    if (a->begin != b->begin) return a->begin < b->begin ? -1 : 1;
    if (a->end != b->end) return a->end < b->end ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

/* A JSON integer in [0, SIZE_MAX] (and, for shapes, fitting int64 — json_int_t already does). */
static int json_size(const json_t *v, size_t *out) {
    if (!json_is_integer(v)) return -1;
    json_int_t x = json_integer_value(v);
    if (x < 0 || (unsigned long long)x > SIZE_MAX) return -1;
    *out = (size_t)x;
    return 0;
}

/* Checks one tensor entry on its own (dtype, shape, span length vs shape, span inside the data
 * area). The layout across entries is checked afterwards. */
static int parse_entry(drl_err *err, const char *name, const json_t *v, size_t data_len,
                       st_entry *e) {
    if (!json_is_object(v))
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": entry is not an object", name);
    e->name = name;

    const json_t *jd = json_object_get(v, "dtype");
    if (!json_is_string(jd))
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": missing or non-string dtype", name);
    const char *ds = json_string_value(jd);
    e->dt = dtype_find(ds);
    if (!e->dt)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": unknown dtype \"%.32s\"", name, ds);
    if (!e->dt->supported)
        return drl_errf(err, DRL_EUNSUPPORTED,
                        "safetensors: tensor " NAME_FMT ": unsupported dtype \"%s\" (F32, F16 and "
                        "BF16 are read)",
                        name, e->dt->name);

    const json_t *js = json_object_get(v, "shape");
    if (!json_is_array(js))
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": missing or non-array shape", name);
    size_t nd = json_array_size(js);
    if (nd > DRL_ST_MAX_DIMS)
        return drl_errf(err, DRL_ELIMIT,
                        "safetensors: tensor " NAME_FMT ": %zu dims exceeds the limit of %d", name,
                        nd, DRL_ST_MAX_DIMS);
    e->ndim = (int)nd;
    e->numel = 1; /* a scalar (ndim 0) has one element */
    int overflow = 0;
    for (size_t d = 0; d < nd; d++) {
        size_t dim;
        if (json_size(json_array_get(js, d), &dim) != 0)
            return drl_errf(err, DRL_EFORMAT,
                            "safetensors: tensor " NAME_FMT
                            ": shape[%zu] is not a non-negative integer",
                            name, d);
        e->shape[d] = (int64_t)dim;
        if (drl_size_mul(e->numel, dim, &e->numel) != 0) overflow = 1;
    }
    size_t nbytes;
    if (overflow || drl_size_mul(e->numel, e->dt->size, &nbytes) != 0)
        return drl_errf(err, DRL_EFORMAT, "safetensors: tensor " NAME_FMT ": shape overflows",
                        name);

    const json_t *jo = json_object_get(v, "data_offsets");
    if (!json_is_array(jo) || json_array_size(jo) != 2 ||
        json_size(json_array_get(jo, 0), &e->begin) != 0 ||
        json_size(json_array_get(jo, 1), &e->end) != 0)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": data_offsets must be an array of two "
                        "non-negative integers",
                        name);
    if (e->begin > e->end)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": data_offsets begin %zu > end %zu", name,
                        e->begin, e->end);
    if (e->end > data_len)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": data_offsets end %zu is out of range "
                        "(data area is %zu bytes)",
                        name, e->end, data_len);
    if (e->end - e->begin != nbytes)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: tensor " NAME_FMT ": shape needs %zu bytes of %s but "
                        "data_offsets span %zu",
                        name, nbytes, e->dt->name, e->end - e->begin);
    return 0;
}

/* __metadata__: an object whose values are all strings (null is accepted as "none", as the
 * reference's Option<HashMap<String, String>> does). */
static int parse_meta(drl_err *err, const json_t *v, drl_safetensors *st) {
    if (json_is_null(v)) return 0;
    if (!json_is_object(v))
        return drl_errf(err, DRL_EFORMAT, "safetensors: " META_KEY " is not an object");
    size_t n = json_object_size(v);
    st->meta_keys = calloc(n ? n : 1, sizeof *st->meta_keys);
    st->meta_vals = calloc(n ? n : 1, sizeof *st->meta_vals);
    if (!st->meta_keys || !st->meta_vals)
        return drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
    const char *key;
    json_t *val;
    json_object_foreach((json_t *)v, key, val) {
        if (!json_is_string(val))
            return drl_errf(err, DRL_EFORMAT,
                            "safetensors: " META_KEY "[" NAME_FMT "] is not a string", key);
        size_t i = st->n_meta;
        st->meta_keys[i] = strdup(key);
        st->meta_vals[i] = strdup(json_string_value(val));
        if (!st->meta_keys[i] || !st->meta_vals[i]) {
            free(st->meta_keys[i]);
            free(st->meta_vals[i]);
            return drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        }
        st->n_meta++;
    }
    return 0;
}

/* The reference layout rule over entries sorted by span: each starts where the previous ended,
 * and the last ends at the end of the data area. */
static int check_layout(drl_err *err, const st_entry *e, size_t n, size_t data_len) {
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        if (e[i].begin < at)
            return drl_errf(err, DRL_EFORMAT,
                            "safetensors: tensors " NAME_FMT " and " NAME_FMT
                            " overlap (bytes %zu..%zu)",
                            e[i - 1].name, e[i].name, e[i].begin, at);
        if (e[i].begin > at)
            return drl_errf(err, DRL_EFORMAT,
                            "safetensors: incomplete buffer: data area bytes %zu..%zu belong to no "
                            "tensor",
                            at, e[i].begin);
        at = e[i].end;
    }
    if (at != data_len)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: incomplete buffer: tensors cover %zu of the %zu data bytes",
                        at, data_len);
    return 0;
}

int drl_safetensors_parse(drl_err *err, const uint8_t *buf, size_t n, drl_safetensors **out) {
    *out = NULL;
    if (n < 8)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: file is %zu bytes, shorter than 8 bytes (the header length)",
                        n);
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = (hlen << 8) | buf[i];
    if (hlen == 0) return drl_errf(err, DRL_EFORMAT, "safetensors: header length 0");
    if (hlen > DRL_ST_MAX_HEADER)
        return drl_errf(err, DRL_ELIMIT,
                        "safetensors: header length %llu exceeds the limit of %u bytes",
                        (unsigned long long)hlen, DRL_ST_MAX_HEADER);
    if (hlen > n - 8)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: header length %llu runs past the end of the file (%zu bytes)",
                        (unsigned long long)hlen, n);
    const uint8_t *data = buf + 8 + hlen;
    size_t data_len = n - 8 - (size_t)hlen;

    /* Trailing spaces (the reference's padding) are whitespace after the value: jansson allows
     * them; anything else after the object is an error. */
    json_error_t jerr;
    json_t *root = json_loadb((const char *)buf + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return drl_errf(err, DRL_EFORMAT,
                        "safetensors: header is not valid JSON: %s (line %d, column %d)", jerr.text,
                        jerr.line, jerr.column);
    if (!json_is_object(root)) {
        json_decref(root);
        return drl_errf(err, DRL_EFORMAT, "safetensors: header is not a JSON object");
    }

    int rc = 0;
    size_t cap = json_object_size(root);
    drl_safetensors *st = calloc(1, sizeof *st);
    st_entry *ents = calloc(cap ? cap : 1, sizeof *ents);
    if (!st || !ents) {
        rc = drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        goto done;
    }
    size_t ne = 0;
    const char *key;
    json_t *val;
    json_object_foreach(root, key, val) {
        if (!strcmp(key, META_KEY))
            rc = parse_meta(err, val, st);
        else {
            ents[ne].order = ne;
            rc = parse_entry(err, key, val, data_len, &ents[ne]);
            ne++;
        }
        if (rc) goto done;
    }
    qsort(ents, ne, sizeof *ents, entry_cmp);
    if ((rc = check_layout(err, ents, ne, data_len)) != 0) goto done;

    st->tensors = calloc(ne ? ne : 1, sizeof *st->tensors);
    if (!st->tensors) {
        rc = drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        goto done;
    }
    for (size_t i = 0; i < ne; i++) {
        const st_entry *e = &ents[i];
        drl_st_tensor *t = &st->tensors[i];
        /* numel * dt->size fits the file, so numel * 4 is at most twice that: no overflow. */
        t->name = strdup(e->name);
        t->data = malloc(e->numel ? e->numel * sizeof(float) : 1);
        if (!t->name || !t->data) {
            free(t->name);
            free(t->data);
            rc = drl_errf(err, DRL_ENOMEM, "safetensors: out of memory for tensor " NAME_FMT,
                          e->name);
            goto done;
        }
        snprintf(t->dtype, sizeof t->dtype, "%s", e->dt->name);
        t->ndim = e->ndim;
        memcpy(t->shape, e->shape, sizeof t->shape);
        t->numel = e->numel;
        convert(e->dt, data + e->begin, e->numel, t->data);
        st->n_tensors++;
    }

done:
    free(ents);
    json_decref(root);
    if (rc) {
        drl_safetensors_free(st);
        return rc;
    }
    *out = st;
    return 0;
}

int drl_safetensors_load(drl_err *err, const char *path, size_t max_bytes, drl_safetensors **out) {
    *out = NULL;
    if (max_bytes == 0) max_bytes = (size_t)4 << 30;
    uint8_t *buf;
    size_t n;
    int rc = drl_file_read_all(err, path, max_bytes, &buf, &n);
    if (rc) return rc; /* the message already names path */
    rc = drl_safetensors_parse(err, buf, n, out);
    free(buf);
    if (rc) drl_err_prefix(err, "%s", path);
    return rc;
}

void drl_safetensors_free(drl_safetensors *st) {
    if (!st) return;
    for (size_t i = 0; i < st->n_tensors; i++) {
        free(st->tensors[i].name);
        free(st->tensors[i].data);
    }
    free(st->tensors);
    for (size_t i = 0; i < st->n_meta; i++) {
        free(st->meta_keys[i]);
        free(st->meta_vals[i]);
    }
    free(st->meta_keys);
    free(st->meta_vals);
    free(st);
}

const drl_st_tensor *drl_safetensors_find(const drl_safetensors *st, const char *name) {
    for (size_t i = 0; i < st->n_tensors; i++)
        if (!strcmp(st->tensors[i].name, name)) return &st->tensors[i];
    return NULL;
}

const char *drl_safetensors_meta(const drl_safetensors *st, const char *key) {
    for (size_t i = 0; i < st->n_meta; i++)
        if (!strcmp(st->meta_keys[i], key)) return st->meta_vals[i];
    return NULL;
}

/* ----------------------------------------------------------------------------------- writer */

/* Builds the header object and the data size; nbytes[i] gets entry i's byte count. */
static int build_header(drl_err *err, const drl_st_entry *entries, size_t n,
                        const char *const *meta, size_t n_meta, size_t *nbytes, json_t *root,
                        size_t *total) {
    if (n_meta) {
        if (!meta)
            return drl_errf(err, DRL_EINVAL, "safetensors: %zu metadata pairs but no array",
                            n_meta);
        json_t *m = json_object();
        if (!m || json_object_set_new(root, META_KEY, m) != 0)
            return drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        for (size_t i = 0; i < n_meta; i++) {
            const char *k = meta[2 * i], *v = meta[2 * i + 1];
            if (!k || !v)
                return drl_errf(err, DRL_EINVAL,
                                "safetensors: metadata pair %zu has a NULL key or value", i);
            if (json_object_get(m, k))
                return drl_errf(err, DRL_EINVAL, "safetensors: duplicate metadata key " NAME_FMT,
                                k);
            json_t *s = json_string(v); /* NULL for invalid UTF-8 */
            if (!s || json_object_set_new(m, k, s) != 0)
                return drl_errf(err, DRL_EINVAL,
                                "safetensors: metadata " NAME_FMT " is not valid UTF-8", k);
        }
    }
    size_t off = 0;
    for (size_t i = 0; i < n; i++) {
        const drl_st_entry *e = &entries[i];
        if (!e->name) return drl_errf(err, DRL_EINVAL, "safetensors: entry %zu has no name", i);
        if (!strcmp(e->name, META_KEY))
            return drl_errf(err, DRL_EINVAL, "safetensors: a tensor cannot be named " META_KEY);
        if (json_object_get(root, e->name))
            return drl_errf(err, DRL_EINVAL, "safetensors: duplicate tensor name " NAME_FMT,
                            e->name);
        if (e->ndim < 0 || e->ndim > DRL_ST_MAX_DIMS)
            return drl_errf(err, DRL_EINVAL,
                            "safetensors: tensor " NAME_FMT ": ndim %d outside 0..%d", e->name,
                            e->ndim, DRL_ST_MAX_DIMS);
        if (e->ndim > 0 && !e->shape)
            return drl_errf(err, DRL_EINVAL, "safetensors: tensor " NAME_FMT ": NULL shape",
                            e->name);
        size_t numel = 1;
        for (int d = 0; d < e->ndim; d++) {
            if (e->shape[d] < 0)
                return drl_errf(err, DRL_EINVAL,
                                "safetensors: tensor " NAME_FMT ": shape[%d] = %lld is negative",
                                e->name, d, (long long)e->shape[d]);
            if ((uint64_t)e->shape[d] > SIZE_MAX ||
                drl_size_mul(numel, (size_t)e->shape[d], &numel) != 0)
                return drl_errf(err, DRL_ELIMIT,
                                "safetensors: tensor " NAME_FMT ": shape overflows", e->name);
        }
        if (drl_size_mul(numel, sizeof(float), &nbytes[i]) != 0 ||
            drl_size_add(off, nbytes[i], &off) != 0 || off > (size_t)LLONG_MAX)
            return drl_errf(err, DRL_ELIMIT, "safetensors: tensor " NAME_FMT ": data too large",
                            e->name);
        if (numel > 0 && !e->data)
            return drl_errf(err, DRL_EINVAL,
                            "safetensors: tensor " NAME_FMT ": NULL data for %zu elements", e->name,
                            numel);

        json_t *shape = json_array();
        if (!shape) return drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        for (int d = 0; d < e->ndim; d++)
            if (json_array_append_new(shape, json_integer((json_int_t)e->shape[d])) != 0) {
                json_decref(shape);
                return drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
            }
        /* "o" steals shape, also when json_pack fails. */
        json_t *obj = json_pack("{s:s, s:o, s:[I,I]}", "dtype", "F32", "shape", shape,
                                "data_offsets", (json_int_t)(off - nbytes[i]), (json_int_t)off);
        if (!obj) return drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        if (json_object_set_new(root, e->name, obj) != 0) /* frees obj on failure */
            return drl_errf(err, DRL_EINVAL,
                            "safetensors: tensor name " NAME_FMT " is not valid UTF-8", e->name);
    }
    *total = off;
    return 0;
}

int drl_safetensors_serialize(drl_err *err, const drl_st_entry *entries, size_t n,
                              const char *const *meta, size_t n_meta, uint8_t **buf, size_t *len) {
    *buf = NULL;
    *len = 0;
    if (n && !entries) return drl_errf(err, DRL_EINVAL, "safetensors: %zu entries but no array", n);
    json_t *root = json_object();
    size_t *nbytes = calloc(n ? n : 1, sizeof *nbytes);
    char *h = NULL;
    int rc = 0;
    if (!root || !nbytes) {
        rc = drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        goto done;
    }
    size_t data_len = 0;
    if ((rc = build_header(err, entries, n, meta, n_meta, nbytes, root, &data_len)) != 0) goto done;
    h = json_dumps(root, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (!h) {
        rc = drl_errf(err, DRL_ENOMEM, "safetensors: out of memory");
        goto done;
    }
    /* Pad the header with spaces so the data area (at 8 + hlen) is 8-byte aligned. */
    size_t hraw = strlen(h), hlen = (hraw + 7) & ~(size_t)7, total;
    if (hlen > DRL_ST_MAX_HEADER || drl_size_add(8 + hlen, data_len, &total) != 0) {
        rc = drl_errf(err, DRL_ELIMIT, "safetensors: header of %zu bytes exceeds the limit", hlen);
        goto done;
    }
    uint8_t *b = malloc(total);
    if (!b) {
        rc = drl_errf(err, DRL_ENOMEM, "safetensors: out of memory for %zu bytes", total);
        goto done;
    }
    for (int i = 0; i < 8; i++) b[i] = (uint8_t)((uint64_t)hlen >> (8 * i));
    memcpy(b + 8, h, hraw);
    memset(b + 8 + hraw, ' ', hlen - hraw);
    uint8_t *p = b + 8 + hlen;
    for (size_t i = 0; i < n; i++) { /* float32 LE == host layout (see the #error above) */
        if (nbytes[i]) memcpy(p, entries[i].data, nbytes[i]);
        p += nbytes[i];
    }
    *buf = b;
    *len = total;
done:
    free(h);
    free(nbytes);
    json_decref(root);
    return rc;
}

int drl_safetensors_save(drl_err *err, const char *path, const drl_st_entry *entries, size_t n,
                         const char *const *meta, size_t n_meta) {
    uint8_t *buf;
    size_t len;
    int rc = drl_safetensors_serialize(err, entries, n, meta, n_meta, &buf, &len);
    if (rc) {
        drl_err_prefix(err, "%s", path);
        return rc;
    }
    rc = drl_file_write_atomic(err, path, buf, len);
    free(buf);
    return rc;
}
