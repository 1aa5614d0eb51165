/* request.c — shared first steps of the request codecs (request.h): media type, JSON parsing,
 * key whitelists and typed fields with messages that name the field. */
#include "request.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

drl_proto_limits drl_proto_default_limits(void) {
    drl_proto_limits l = {256, 1024, 16, 1000, 256};
    return l;
}

drl_proto_limits drl_proto_limits_resolve(const drl_proto_limits *lim) {
    drl_proto_limits d = drl_proto_default_limits();
    if (!lim) return d;
    drl_proto_limits l = *lim;
    if (l.max_images <= 0) l.max_images = d.max_images;
    if (l.max_side <= 0) l.max_side = d.max_side;
    if (l.max_sample_n <= 0) l.max_sample_n = d.max_sample_n;
    if (l.max_sample_steps <= 0) l.max_sample_steps = d.max_sample_steps;
    if (l.max_times <= 0) l.max_times = d.max_times;
    return l;
}

/* "application/json or image/png" */
static void accepted_list(char *out, size_t size, const char *const *accepted, int n) {
    size_t off = 0;
    out[0] = '\0';
    for (int i = 0; i < n && off < size; i++) {
        const char *sep = i == 0 ? "" : i + 1 == n ? " or " : ", ";
        int k = snprintf(out + off, size - off, "%s%s", sep, accepted[i]);
        if (k < 0) break;
        off += (size_t)k;
    }
}

int drl_proto_media_pick(drl_proto_error *e, const char *media, const char *const *accepted,
                         int n) {
    char list[160];
    accepted_list(list, sizeof list, accepted, n);
    const char *s = media ? media : "";
    while (*s == ' ' || *s == '\t') s++;
    size_t len = strcspn(s, ";");
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t')) len--;
    if (len == 0) return drl_proto_errorf(e, 415, "unsupported_media_type",
                                          "Content-Type missing: this route accepts %s", list);
    for (int i = 0; i < n; i++)
        if (strlen(accepted[i]) == len && strncasecmp(s, accepted[i], len) == 0) return i;
    return drl_proto_errorf(e, 415, "unsupported_media_type",
                            "Content-Type \"%.*s\" not accepted: this route accepts %s",
                            (int)(len > 100 ? 100 : len), s, list);
}

json_t *drl_proto_json_load(drl_proto_error *e, const uint8_t *body, size_t n) {
    json_error_t je;
    json_t *root = json_loadb((const char *)(body ? body : (const uint8_t *)""), body ? n : 0,
                              JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        drl_proto_errorf(e, 400, "bad_json", "body is not valid JSON: %s (line %d, column %d)",
                         je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(root)) {
        drl_proto_errorf(e, 422, "invalid_input", "body: expected a JSON object, got %s",
                         drl_proto_json_type(root));
        json_decref(root);
        return NULL;
    }
    return root;
}

int drl_proto_json_keys(drl_proto_error *e, const json_t *obj, const char *where,
                        const char *const *allowed) {
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)obj, key, v) {
        int ok = 0;
        for (const char *const *a = allowed; *a && !ok; a++) ok = strcmp(key, *a) == 0;
        if (ok) continue;
        char list[256];
        size_t off = 0;
        list[0] = '\0';
        for (const char *const *a = allowed; *a && off < sizeof list; a++) {
            int k = snprintf(list + off, sizeof list - off, "%s%s", a == allowed ? "" : ", ", *a);
            if (k < 0) break;
            off += (size_t)k;
        }
        return drl_proto_errorf(e, 422, "invalid_input", "%s%sunknown key \"%.64s\" (expected %s)",
                                where ? where : "", where && *where ? ": " : "", key, list);
    }
    return 0;
}

void drl_proto_field(char *out, size_t size, const char *where, const char *key) {
    if (!where || !*where) snprintf(out, size, "%s", key);
    else snprintf(out, size, "%s.%s", where, key);
}

const char *drl_proto_json_type(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "object";
    case JSON_ARRAY: return "array";
    case JSON_STRING: return "string";
    case JSON_INTEGER: return "integer";
    case JSON_REAL: return "number";
    case JSON_TRUE:
    case JSON_FALSE: return "boolean";
    default: return "null";
    }
}

static int missing(drl_proto_error *e, const char *field) {
    return drl_proto_errorf(e, 422, "invalid_input", "%s: missing", field);
}

static int wrong_type(drl_proto_error *e, const json_t *v, const char *field, const char *want) {
    return drl_proto_errorf(e, 422, "invalid_input", "%s: expected %s, got %s", field, want,
                            drl_proto_json_type(v));
}

static int out_of_range(drl_proto_error *e, const char *field, double x, double lo, double hi,
                        int lo_open) {
    return drl_proto_errorf(e, 422, "invalid_input", "%s: %g outside %c%g, %g]", field, x,
                            lo_open ? '(' : '[', lo, hi);
}

int drl_proto_json_number(drl_proto_error *e, const json_t *v, const char *field, double lo,
                          double hi, int lo_open, double *out) {
    if (!v) return missing(e, field);
    if (!json_is_number(v)) return wrong_type(e, v, field, "a number");
    double x = json_number_value(v);
    if (!isfinite(x))
        return drl_proto_errorf(e, 422, "invalid_input", "%s: not a finite number", field);
    if (!(lo_open ? x > lo : x >= lo) || !(x <= hi)) return out_of_range(e, field, x, lo, hi, lo_open);
    *out = x;
    return 0;
}

int drl_proto_json_float(drl_proto_error *e, const json_t *v, const char *field, float lo,
                         float hi, int lo_open, float *out) {
    double x = 0.0;
    if (drl_proto_json_number(e, v, field, lo, hi, lo_open, &x)) return -1;
    float f = (float)x;
    /* 1.000000001 rounds to 1.0f: fine; a value just above an open bound may round onto it. */
    if (!(lo_open ? f > lo : f >= lo) || !(f <= hi)) return out_of_range(e, field, x, lo, hi, lo_open);
    *out = f;
    return 0;
}

int drl_proto_json_int(drl_proto_error *e, const json_t *v, const char *field, long long lo,
                       long long hi, long long *out) {
    if (!v) return missing(e, field);
    long long x;
    if (json_is_integer(v)) {
        x = (long long)json_integer_value(v);
    } else if (json_is_real(v)) {
        double d = json_real_value(v);
        if (!(d == floor(d)) || !(fabs(d) < 9.2e18))
            return drl_proto_errorf(e, 422, "invalid_input", "%s: expected an integer, got %g",
                                    field, d);
        x = (long long)d;
    } else {
        return wrong_type(e, v, field, "an integer");
    }
    if (x < lo || x > hi)
        return drl_proto_errorf(e, 422, "invalid_input", "%s: %lld outside [%lld, %lld]", field, x,
                                lo, hi);
    *out = x;
    return 0;
}

int drl_proto_json_bool(drl_proto_error *e, const json_t *v, const char *field, int *out) {
    if (!v) return missing(e, field);
    if (!json_is_boolean(v)) return wrong_type(e, v, field, "true or false");
    *out = json_is_true(v);
    return 0;
}

int drl_proto_json_string(drl_proto_error *e, const json_t *v, const char *field,
                          const char **out, size_t *len) {
    if (!v) return missing(e, field);
    if (!json_is_string(v)) return wrong_type(e, v, field, "a string");
    *out = json_string_value(v);
    if (len) *len = json_string_length(v);
    return 0;
}

int drl_proto_json_array(drl_proto_error *e, const json_t *v, const char *field, size_t *count) {
    if (!v) return missing(e, field);
    if (!json_is_array(v)) return wrong_type(e, v, field, "an array");
    *count = json_array_size(v);
    return 0;
}
