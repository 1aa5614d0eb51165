/* test_proto.c — the proto/ layer: base64, the error model, the JSON writer and every request
 * codec and response builder of docs/api.md. Error paths assert status, code and the part of the
 * message naming the field; responses are parsed back with jansson and their numbers compared
 * bit for bit with the floats that went in. */
#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base64.h"
#include "codec.h"
#include "job.h"
#include "jsonbuf.h"
#include "png.h"
#include "request.h"
#include "testutil.h"

/* ------------------------------------------------------------------------------------------ */
/* Fixtures */

#define DIM 8

static drl_proto_model model_c(int C, int time_cond) {
    drl_proto_model m = {
        .name = "drl-fmnist", .version = "3f2a00112233",
        .sha256 = "3f2a00112233445566778899aabbccddeeff00112233445566778899aabbccdd",
        .path = "models/drl-fmnist.safetensors", .loaded_at = "2026-11-23T15:00:00Z",
        .generation = 1, .dim = DIM, .C = C, .H = 28, .W = 28, .sde = "ve",
        .t_min = 1e-5f, .t_max = 1.0f, .t_eps = 1e-5f, .time_cond = time_cond, .variational = 0};
    return m;
}
static drl_proto_model model(void) { return model_c(1, 0); }
static drl_proto_model model_t(void) { return model_c(1, 1); }
static const drl_proto_limits LIM = {256, 1024, 16, 1000, 256};

#define PER (28 * 28)

/* Asserts the error's status, code and that its message contains `sub`. */
#define ck_assert_err(e, st, cd, sub)                                                            \
    do {                                                                                         \
        ck_assert_msg((e).status == (st), "status %d, want %d (%s: %s)", (e).status, (st),       \
                      (e).code, (e).message);                                                    \
        ck_assert_str_eq((e).code, (cd));                                                        \
        ck_assert_msg(strstr((e).message, (sub)) != NULL, "message \"%s\" lacks \"%s\"",         \
                      (e).message, (sub));                                                       \
    } while (0)

/* Compact text of j (steals the reference). */
static char *dumps(json_t *j) {
    char *s = json_dumps(j, JSON_COMPACT);
    ck_assert_ptr_nonnull(s);
    json_decref(j);
    return s;
}

/* Image values k/255 so PNG round trips are exact up to float rounding. */
static void fill_image(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) x[i] = (float)((i * 7 + seed * 13) % 256) / 255.0f;
}

static json_t *pixels_json(const float *x, int C, int H, int W) {
    json_t *a = json_array();
    for (int i = 0; i < C * H * W; i++) json_array_append_new(a, json_real(x[i]));
    return json_pack("{s:o,s:i,s:i,s:i}", "pixels", a, "width", W, "height", H, "channels", C);
}

static uint8_t *png_of(const float *x, int C, int H, int W, size_t *n) {
    drl_err err = {0};
    uint8_t *png;
    ck_assert_int_eq(drl_png_encode(&err, x, C, H, W, &png, n), 0);
    return png;
}

/* The base64 text of a PNG of x, as a JSON string. */
static json_t *png_b64(const float *x, int C, int H, int W) {
    size_t n;
    uint8_t *png = png_of(x, C, H, W, &n);
    char *b64 = drl_base64_encode(png, n, NULL);
    ck_assert_ptr_nonnull(b64);
    json_t *j = json_string(b64);
    free(png);
    free(b64);
    return j;
}

/* {"png": base64 of a PNG of x} */
static json_t *png_json(const float *x, int C, int H, int W) {
    return json_pack("{s:o}", "png", png_b64(x, C, H, W));
}

/* A zero 28x28 pixels image object. */
static json_t *zero_image(void) {
    static float z[PER];
    return pixels_json(z, 1, 28, 28);
}

static int encode_body(const drl_proto_model *m, const char *body, drl_proto_error *e,
                       drl_proto_encode_req *r) {
    return drl_proto_encode_parse(e, "application/json", (const uint8_t *)body, strlen(body), m,
                                  &LIM, r);
}

/* Parses an encode request whose body is j (stolen); expects failure and returns the error. */
static drl_proto_error encode_fail(const drl_proto_model *m, json_t *j) {
    char *body = dumps(j);
    drl_proto_error e = {0};
    drl_proto_encode_req r;
    int rc = encode_body(m, body, &e, &r);
    ck_assert_msg(rc == -1, "accepted %.200s", body);
    ck_assert_ptr_null(r.x);
    free(body);
    return e;
}

/* {"images":[img]} */
static json_t *images1(json_t *img) { return json_pack("{s:[o]}", "images", img); }

/* The JSON number j as a float, asserting it is one. */
static float num(const json_t *j) {
    ck_assert_msg(json_is_number(j), "not a number");
    return (float)json_number_value(j);
}

/* Asserts the JSON array a holds exactly the floats want (bitwise after the float round trip). */
static void assert_floats(const json_t *a, const float *want, size_t n) {
    ck_assert(json_is_array(a));
    ck_assert_uint_eq(json_array_size(a), n);
    for (size_t i = 0; i < n; i++) {
        float got = num(json_array_get(a, i)), w = isfinite(want[i]) ? want[i] : 0.0f;
        ck_assert_msg(memcmp(&got, &w, sizeof got) == 0 || (got == 0 && w == 0),
                      "element %zu: %.9g != %.9g", i, (double)got, (double)w);
    }
}

static json_t *parse(const char *s, size_t len) {
    json_error_t je;
    json_t *j = json_loadb(s, len, 0, &je);
    ck_assert_msg(j != NULL, "invalid JSON (%s): %.300s", je.text, s);
    return j;
}

/* ------------------------------------------------------------------------------------------ */
/* base64 */

START_TEST(test_base64_roundtrip) {
    drl_rng rng;
    drl_rng_seed(&rng, 42);
    uint8_t in[300];
    for (size_t n = 0; n <= 300; n++) {
        for (size_t i = 0; i < n; i++) in[i] = (uint8_t)drl_rng_u64(&rng);
        size_t elen;
        char *enc = drl_base64_encode(in, n, &elen);
        ck_assert_ptr_nonnull(enc);
        ck_assert_uint_eq(elen, (n + 2) / 3 * 4);
        ck_assert_uint_eq(strlen(enc), elen);
        drl_err err = {0};
        uint8_t *dec;
        size_t dn;
        ck_assert_msg(drl_base64_decode(&err, enc, elen, n, &dec, &dn) == 0, "n=%zu: %s", n,
                      err.msg);
        ck_assert_uint_eq(dn, n);
        ck_assert(drl_base64_decoded_max(elen) >= n);
        ck_assert(n == 0 || memcmp(dec, in, n) == 0);
        /* one byte short of the decoded size: a limit error */
        if (n) {
            uint8_t *d2;
            size_t n2;
            ck_assert_int_eq(drl_base64_decode(&err, enc, elen, n - 1, &d2, &n2), DRL_ELIMIT);
            ck_assert_ptr_null(d2);
        }
        free(dec);
        free(enc);
    }
}
END_TEST

START_TEST(test_base64_rfc4648) {
    static const char *const v[][2] = {{"", ""},         {"f", "Zg=="},         {"fo", "Zm8="},
                                       {"foo", "Zm9v"},  {"foob", "Zm9vYg=="},  {"fooba", "Zm9vYmE="},
                                       {"foobar", "Zm9vYmFy"}};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *enc = drl_base64_encode((const uint8_t *)v[i][0], strlen(v[i][0]), NULL);
        ck_assert_str_eq(enc, v[i][1]);
        free(enc);
        uint8_t *dec;
        size_t dn;
        ck_assert_int_eq(drl_base64_decode(NULL, v[i][1], strlen(v[i][1]), 100, &dec, &dn), 0);
        ck_assert_uint_eq(dn, strlen(v[i][0]));
        ck_assert(dn == 0 || memcmp(dec, v[i][0], dn) == 0);
        free(dec);
    }
    /* all 64 characters of the alphabet */
    uint8_t *dec;
    size_t dn;
    const char *all = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    ck_assert_int_eq(drl_base64_decode(NULL, all, 64, 48, &dec, &dn), 0);
    char *enc = drl_base64_encode(dec, dn, NULL);
    ck_assert_str_eq(enc, all);
    free(enc);
    free(dec);
}
END_TEST

START_TEST(test_base64_rejects) {
    static const struct {
        const char *in;
        const char *msg;
    } bad[] = {
        {"Zg=", "not a multiple of 4"},         {"Zm9vY", "not a multiple of 4"},
        {"Zm9v\n", "not a multiple of 4"},      {"Zm 9", "invalid byte 0x20 at offset 2"},
        {"Zm9v\nZm9", "invalid byte 0x0a at offset 4"},
        {"Zg=a", "misplaced '=' at offset 2"},  {"Z===", "misplaced '=' at offset 1"},
        {"====", "misplaced '=' at offset 0"},  {"Zm9v=m9v", "misplaced '=' at offset 4"},
        {"Zh==", "non-zero padding bits"},      {"Zm9=", "non-zero padding bits"},
        {"Zm-_", "invalid character '-' at offset 2"},
        {"Zm9v\x80xyz", "invalid byte 0x80 at offset 4"},
        {"ab*d", "invalid character '*' at offset 2"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        drl_err err = {0};
        uint8_t *dec = (uint8_t *)1;
        size_t dn = 7;
        int rc = drl_base64_decode(&err, bad[i].in, strlen(bad[i].in), 1000, &dec, &dn);
        ck_assert_msg(rc == DRL_EFORMAT, "%s accepted", bad[i].in);
        ck_assert_ptr_null(dec);
        ck_assert_uint_eq(dn, 0);
        ck_assert_msg(strstr(err.msg, bad[i].msg), "%s: \"%s\" lacks \"%s\"", bad[i].in, err.msg,
                      bad[i].msg);
    }
    /* a NUL inside the text is a bad byte, not the end */
    drl_err err = {0};
    uint8_t *dec;
    size_t dn;
    ck_assert_int_eq(drl_base64_decode(&err, "Zm\0v", 4, 10, &dec, &dn), DRL_EFORMAT);
    ck_assert(strstr(err.msg, "0x00 at offset 2"));
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Error model and JSON writer */

START_TEST(test_error_json) {
    drl_proto_error e = {0};
    ck_assert_int_eq(drl_proto_errorf(&e, 422, "invalid_input", "images[%d].pixels: \"x\"\n\t", 2), -1);
    ck_assert_int_eq(drl_proto_errorf(NULL, 400, "bad_json", "x"), -1);
    size_t len;
    char *s = drl_proto_error_json(&e, &len);
    ck_assert_uint_eq(strlen(s), len);
    json_t *j = parse(s, len);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "code")),
                     "invalid_input");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(j, "error"), "message")),
                     "images[2].pixels: \"x\"\n\t");
    json_decref(j);
    free(s);
    s = drl_proto_error_json_oip(&e, &len);
    j = parse(s, len);
    ck_assert_str_eq(json_string_value(json_object_get(j, "error")), "images[2].pixels: \"x\"\n\t");
    ck_assert_uint_eq(json_object_size(j), 1);
    json_decref(j);
    free(s);

    /* core errors → status and code */
    static const struct {
        int code, limit, status;
        const char *name;
    } map[] = {{DRL_ELIMIT, 413, 413, "payload_too_large"}, {DRL_ELIMIT, 422, 422, "invalid_input"},
               {DRL_EFORMAT, 0, 400, "bad_png"},           {DRL_EINVAL, 0, 422, "invalid_input"},
               {DRL_ENOMEM, 0, 503, "overloaded"},         {DRL_ENOTFOUND, 0, 404, "not_found"},
               {DRL_EIO, 0, 500, "internal"},              {DRL_EUNSUPPORTED, 0, 500, "internal"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        drl_err err = {0};
        drl_errf(&err, map[i].code, "png: thing %zu", i);
        ck_assert_int_eq(drl_proto_error_from(&e, &err, "bad_png", map[i].limit), -1);
        ck_assert_int_eq(e.status, map[i].status);
        ck_assert_str_eq(e.code, map[i].name);
        ck_assert(strstr(e.message, "png: thing"));
    }
}
END_TEST

START_TEST(test_jsonbuf_strings) {
    /* every byte value, invalid UTF-8 (lone continuation, truncated sequence, overlong,
     * surrogate) and valid multi-byte characters: always valid JSON, valid text preserved */
    char all[256];
    for (int i = 1; i < 256; i++) all[i - 1] = (char)i;
    all[255] = '\0';
    const char *cases[] = {all, "plain", "q\"b\\s/", "\xc3\xa9t\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
                           "\x80", "\xe2\x82", "\xc0\xaf", "\xed\xa0\x80", "\xf4\x90\x80\x80", "",
                           "tab\there\x01\x1f\x7f"};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        drl_proto_buf b;
        drl_proto_buf_init(&b, 0);
        drl_proto_buf_puts(&b, "[");
        drl_proto_buf_str(&b, cases[i]);
        drl_proto_buf_puts(&b, ",");
        drl_proto_buf_str(&b, NULL);
        drl_proto_buf_puts(&b, "]");
        size_t len;
        char *s = drl_proto_buf_finish(&b, &len);
        json_t *j = parse(s, len);
        ck_assert(json_is_null(json_array_get(j, 1)));
        const char *back = json_string_value(json_array_get(j, 0));
        if (i == 1 || i == 2 || i == 3 || i == 9 || i == 10) ck_assert_str_eq(back, cases[i]);
        if (i >= 4 && i <= 8) ck_assert(strstr(back, "\xef\xbf\xbd")); /* U+FFFD */
        json_decref(j);
        free(s);
    }
}
END_TEST

/* The fast float writer gives exactly snprintf's "%.9g": random bit patterns, every float next
 * to a power of ten (where the exponent and the digit count change), denormals, the extremes. */
START_TEST(test_format_float_matches_printf) {
    drl_rng rng;
    drl_rng_seed(&rng, 11);
    char got[32], want[32];
    size_t checked = 0;
    /* (plain ifs: every Check assertion in fork mode writes to a pipe) */
    for (int i = 0; i < 1000000; i++) {
        uint32_t bits = (uint32_t)drl_rng_u64(&rng);
        float f;
        memcpy(&f, &bits, sizeof f);
        if (!isfinite(f)) continue;
        int n = drl_proto_format_float(got, f);
        int m = snprintf(want, sizeof want, "%.9g", (double)f);
        if (n != m || strcmp(got, want) != 0)
            ck_abort_msg("%08x: %s, printf %s", bits, got, want);
        checked++;
    }
    for (int e = -46; e <= 39; e++) {
        float p = (float)pow(10.0, e);
        float around[6] = {p, nextafterf(p, 0), nextafterf(p, INFINITY),
                           nextafterf(nextafterf(p, 0), 0), -p, p * 0.9999999995f};
        for (int k = 0; k < 6; k++) {
            if (!isfinite(around[k])) continue;
            drl_proto_format_float(got, around[k]);
            snprintf(want, sizeof want, "%.9g", (double)around[k]);
            ck_assert_msg(strcmp(got, want) == 0, "%.12g: %s, printf %s", (double)around[k], got, want);
        }
    }
    for (uint32_t bits = 1; bits < 1u << 23; bits += 997) { /* denormals */
        float f;
        memcpy(&f, &bits, sizeof f);
        drl_proto_format_float(got, f);
        snprintf(want, sizeof want, "%.9g", (double)f);
        if (strcmp(got, want) != 0) ck_abort_msg("%08x: %s, printf %s", bits, got, want);
    }
    const float edge[] = {0.0f, -0.0f, 1.0f, 0.5f, 0.1f, 1e-5f, 123456789.0f, 999999999.0f,
                          999999936.0f, 1e9f, 3.40282347e38f, 1.17549435e-38f, 1e-45f, 1.5f, 2.5f};
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        drl_proto_format_float(got, edge[i]);
        snprintf(want, sizeof want, "%.9g", (double)edge[i]);
        ck_assert_str_eq(got, want);
    }
    drl_proto_format_float(got, NAN);
    ck_assert_str_eq(got, "0");
    drl_proto_format_float(got, -INFINITY);
    ck_assert_str_eq(got, "0");
    ck_assert(checked > 990000);
}
END_TEST

START_TEST(test_jsonbuf_floats_exact) {
    drl_rng rng;
    drl_rng_seed(&rng, 7);
    size_t n = 5000;
    float *v = malloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        uint32_t bits = (uint32_t)drl_rng_u64(&rng);
        memcpy(&v[i], &bits, sizeof bits); /* any bit pattern, including NaN and inf */
    }
    float special[] = {0.0f, -0.0f, 1.0f, -1.0f, 1e-45f, -1e-45f, 1.17549435e-38f, 3.40282347e38f,
                       -3.40282347e38f, 0.1f, 1.0f / 3.0f, 16777217.0f, INFINITY, -INFINITY, NAN};
    memcpy(v, special, sizeof special);
    drl_proto_buf b;
    drl_proto_buf_init(&b, 1);
    drl_proto_buf_floats(&b, v, n);
    size_t len;
    char *s = drl_proto_buf_finish(&b, &len);
    json_t *j = parse(s, len);
    assert_floats(j, v, n);
    json_decref(j);
    free(s);
    free(v);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Media types and bodies that are not JSON */

START_TEST(test_media_types) {
    drl_proto_model m = model();
    char *body = dumps(images1(zero_image()));
    const char *ok[] = {"application/json", "Application/JSON", "application/json; charset=utf-8",
                        "  application/json ;charset=UTF-8", "APPLICATION/JSON;"};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        drl_proto_error e = {0};
        drl_proto_encode_req r;
        ck_assert_msg(drl_proto_encode_parse(&e, ok[i], (uint8_t *)body, strlen(body), &m, &LIM,
                                             &r) == 0, "%s: %s", ok[i], e.message);
        drl_proto_encode_req_release(&r);
    }
    const char *bad[] = {NULL, "", "  ", "text/plain", "application/jsonx", "application",
                         "; application/json", "multipart/form-data; boundary=x"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        drl_proto_error e = {0};
        drl_proto_encode_req r;
        ck_assert_int_eq(drl_proto_encode_parse(&e, bad[i], (uint8_t *)body, strlen(body), &m,
                                                &LIM, &r), -1);
        ck_assert_err(e, 415, "unsupported_media_type", "application/json or image/png");
    }
    drl_proto_error e = {0};
    drl_proto_encode_req r;
    drl_proto_encode_parse(&e, NULL, (uint8_t *)body, strlen(body), &m, &LIM, &r);
    ck_assert_err(e, 415, "unsupported_media_type", "Content-Type missing");
    drl_proto_encode_parse(&e, "text/plain; charset=utf-8", (uint8_t *)body, strlen(body), &m,
                           &LIM, &r);
    ck_assert_err(e, 415, "unsupported_media_type", "\"text/plain\"");

    /* JSON-only routes */
    drl_proto_sample_req sr;
    ck_assert_int_eq(drl_proto_sample_parse(&e, "image/png", (uint8_t *)body, strlen(body), &m,
                                            &LIM, &sr), -1);
    ck_assert_err(e, 415, "unsupported_media_type", "accepts application/json");
    drl_proto_oip_req orq;
    ck_assert_int_eq(drl_proto_oip_parse(&e, NULL, (uint8_t *)body, strlen(body), &m, &LIM, &orq), -1);
    ck_assert_err(e, 415, "unsupported_media_type", "accepts application/json");
    drl_proto_model mt = model_t();
    drl_proto_trajectory_req tr;
    ck_assert_int_eq(drl_proto_trajectory_parse(&e, "text/csv", (uint8_t *)body, strlen(body), &mt,
                                                &LIM, &tr), -1);
    ck_assert_err(e, 415, "unsupported_media_type", "application/json or image/png");
    free(body);
}
END_TEST

START_TEST(test_bad_json) {
    drl_proto_model m = model();
    static const struct {
        const char *body;
        const char *msg;
    } bad[] = {
        {"", "line"},
        {"{", "line 1"},
        {"{\"images\": [}", "column"},
        {"{\"images\":[],\n\"images\":[]}", "duplicate"},
        {"{\"t\": NaN}", "invalid token"},
        {"{\"t\": Infinity}", "invalid token"},
        {"{\"t\": 1e400}", "overflow"},
        {"{\"t\": 1}garbage", "end of file expected"},
        {"\xff\xfe{}", "unable to decode byte 0xff"},
        {"{\"a\":\"\\u0000\"}", "\\u0000"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        drl_proto_error e = {0};
        drl_proto_encode_req r;
        ck_assert_int_eq(encode_body(&m, bad[i].body, &e, &r), -1);
        ck_assert_err(e, 400, "bad_json", bad[i].msg);
        ck_assert(strstr(e.message, "body is not valid JSON"));
    }
    /* valid JSON that is not an object */
    const char *notobj[] = {"[]", "[1,2]"};
    for (size_t i = 0; i < 2; i++) {
        drl_proto_error e = {0};
        drl_proto_encode_req r;
        ck_assert_int_eq(encode_body(&m, notobj[i], &e, &r), -1);
        ck_assert_err(e, 422, "invalid_input", "body: expected a JSON object, got array");
    }
}
END_TEST

/* 100000 nested arrays (jansson stops at its depth limit): a 400, not a stack overflow, in
 * every codec; and in an OIP data field, nesting within the limit is walked without trouble. */
START_TEST(test_deep_nesting) {
    drl_proto_model m = model(), mt = model_t();
    size_t depth = 100000;
    char *body = malloc(2 * depth + 64);
    for (int variant = 0; variant < 2; variant++) {
        size_t off = 0;
        if (variant) off += (size_t)sprintf(body, "{\"images\":");
        memset(body + off, '[', depth);
        memset(body + off + depth, ']', depth);
        off += 2 * depth;
        if (variant) body[off++] = '}';
        drl_proto_error e = {0};
        drl_proto_encode_req r;
        ck_assert_int_eq(drl_proto_encode_parse(&e, "application/json", (uint8_t *)body, off, &m,
                                                &LIM, &r), -1);
        ck_assert_err(e, 400, "bad_json", "depth");
        drl_proto_sample_req sr;
        ck_assert_int_eq(drl_proto_sample_parse(&e, "application/json", (uint8_t *)body, off, &m,
                                                &LIM, &sr), -1);
        ck_assert_err(e, 400, "bad_json", "depth");
        drl_proto_trajectory_req tr;
        ck_assert_int_eq(drl_proto_trajectory_parse(&e, "application/json", (uint8_t *)body, off,
                                                    &mt, &LIM, &tr), -1);
        ck_assert_err(e, 400, "bad_json", "depth");
        drl_proto_oip_req orq;
        ck_assert_int_eq(drl_proto_oip_parse(&e, "application/json", (uint8_t *)body, off, &m,
                                             &LIM, &orq), -1);
        ck_assert_err(e, 400, "bad_json", "depth");
        char *path;
        ck_assert_int_eq(drl_proto_reload_parse(&e, (uint8_t *)body, off, &path), -1);
        ck_assert_err(e, 400, "bad_json", "depth");
    }
    /* 2000 levels inside OIP data: accepted by jansson, counted as one number */
    size_t d2 = 2000, off = 0;
    off += (size_t)sprintf(body, "{\"inputs\":[{\"name\":\"input\",\"datatype\":\"FP32\","
                                 "\"shape\":[1,1,28,28],\"data\":");
    memset(body + off, '[', d2);
    off += d2;
    body[off++] = '0';
    memset(body + off, ']', d2);
    off += d2;
    off += (size_t)sprintf(body + off, "}]}");
    drl_proto_error e = {0};
    drl_proto_oip_req orq;
    ck_assert_int_eq(drl_proto_oip_parse(&e, "application/json", (uint8_t *)body, off, &m, &LIM,
                                         &orq), -1);
    ck_assert_err(e, 422, "invalid_input", "inputs[0].data: expected 784 numbers");
    ck_assert(strstr(e.message, "got 1"));
    free(body);
}
END_TEST

/* Every prefix of a valid body and random garbage: an error with a 4xx status, never a crash or
 * a success. */
START_TEST(test_truncated_and_garbage) {
    drl_proto_model m = model();
    m.H = m.W = 6; /* a short body, so every prefix can be tried */
    float img[36];
    fill_image(img, 36, 3);
    char *body = dumps(json_pack("{s:[o,o]}", "images", pixels_json(img, 1, 6, 6),
                                 png_json(img, 1, 6, 6)));
    size_t n = strlen(body);
    drl_proto_error e = {0};
    drl_proto_encode_req r;
    ck_assert_int_eq(encode_body(&m, body, &e, &r), 0);
    ck_assert_int_eq(r.n, 2);
    drl_proto_encode_req_release(&r);
    for (size_t k = 0; k < n; k++) {
        int rc = drl_proto_encode_parse(&e, "application/json", (uint8_t *)body, k, &m, &LIM, &r);
        ck_assert_msg(rc == -1, "prefix %zu accepted", k);
        ck_assert_int_eq(e.status, 400);
        ck_assert_ptr_null(r.x);
    }
    drl_rng rng;
    drl_rng_seed(&rng, 99);
    uint8_t junk[512];
    for (int it = 0; it < 200; it++) {
        size_t len = (size_t)drl_rng_below(&rng, sizeof junk);
        for (size_t i = 0; i < len; i++) junk[i] = (uint8_t)drl_rng_u64(&rng);
        if (it % 2 && len) junk[0] = '{';
        ck_assert_int_eq(drl_proto_encode_parse(&e, "application/json", junk, len, &m, &LIM, &r), -1);
        ck_assert(e.status >= 400 && e.status < 500);
        ck_assert_int_eq(drl_proto_encode_parse(&e, "image/png", junk, len, &m, &LIM, &r), -1);
        ck_assert_err(e, 400, "bad_png", "body: png:");
        drl_proto_oip_req orq;
        ck_assert_int_eq(drl_proto_oip_parse(&e, "application/json", junk, len, &m, &LIM, &orq), -1);
        ck_assert(e.status >= 400 && e.status < 500);
    }
    free(body);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Images */

START_TEST(test_pixels_order) {
    /* planar C, H, W: element i of "pixels" is x[i] */
    drl_proto_model m = model_c(3, 0);
    float img[3 * PER];
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 28; y++)
            for (int x = 0; x < 28; x++) img[(c * 28 + y) * 28 + x] = (float)(c * 0.25 + y * 0.01 + x * 0.0001);
    char *body = dumps(images1(pixels_json(img, 3, 28, 28)));
    drl_proto_error e = {0};
    drl_proto_encode_req r;
    ck_assert_int_eq(encode_body(&m, body, &e, &r), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.single, 0);
    ck_assert_int_eq(r.has_t, 0);
    ck_assert_close(r.x, img, 3 * PER, 0, "pixels");
    drl_proto_encode_req_release(&r);
    free(body);

    /* the same image as an RGB PNG decodes to the same planar layout */
    size_t n;
    uint8_t *png = png_of(img, 3, 28, 28, &n);
    ck_assert_int_eq(drl_proto_encode_parse(&e, "image/png", png, n, &m, &LIM, &r), 0);
    ck_assert_int_eq(r.single, 1);
    for (int i = 0; i < 3 * PER; i++) /* 8-bit quantisation */
        ck_assert_msg(fabsf(r.x[i] - img[i]) <= 0.5f / 255 + 1e-6f, "png planar %d", i);
    drl_proto_encode_req_release(&r);
    free(png);
}
END_TEST

START_TEST(test_png_roundtrip) {
    drl_proto_model m = model();
    float imgs[3 * PER];
    for (int i = 0; i < 3; i++) fill_image(imgs + i * PER, PER, (unsigned)i);
    char *body = dumps(json_pack("{s:[o,o,o]}", "images", png_json(imgs, 1, 28, 28),
                                 pixels_json(imgs + PER, 1, 28, 28),
                                 png_json(imgs + 2 * PER, 1, 28, 28)));
    drl_proto_error e = {0};
    drl_proto_encode_req r;
    ck_assert_int_eq(encode_body(&m, body, &e, &r), 0);
    ck_assert_int_eq(r.n, 3);
    ck_assert_close(r.x, imgs, 3 * PER, 1e-6, "3 images in order");
    drl_proto_encode_req_release(&r);
    free(body);

    /* a colour PNG for a gray model: luma */
    float rgb[3 * PER];
    for (int i = 0; i < PER; i++) {
        rgb[i] = 1.0f;
        rgb[PER + i] = 0.0f;
        rgb[2 * PER + i] = 0.0f;
    }
    body = dumps(images1(png_json(rgb, 3, 28, 28)));
    ck_assert_int_eq(encode_body(&m, body, &e, &r), 0);
    for (int i = 0; i < PER; i++) ck_assert_float_eq_tol(r.x[i], 0.299f, 2.0f / 255);
    drl_proto_encode_req_release(&r);
    free(body);
}
END_TEST

START_TEST(test_png_errors) {
    drl_proto_model m = model();
    drl_proto_error e;
    float img[64 * 64];
    fill_image(img, 64 * 64, 1);

    e = encode_fail(&m, images1(json_pack("{s:s}", "png", "not base64!!")));
    ck_assert_err(e, 400, "bad_base64", "images[0].png: base64: invalid byte 0x20 at offset 3");
    e = encode_fail(&m, images1(json_pack("{s:s}", "png", "Zm9vYmFy")));
    ck_assert_err(e, 400, "bad_png", "images[0].png: png: not a PNG file");
    e = encode_fail(&m, images1(json_pack("{s:i}", "png", 5)));
    ck_assert_err(e, 422, "invalid_input", "images[0].png: expected a string, got integer");

    /* wrong size: both sizes named, from the header */
    e = encode_fail(&m, images1(png_json(img, 1, 32, 30)));
    ck_assert_err(e, 422, "invalid_input", "images[0].png: image is 30x32 (width x height), the model takes 28x28");

    /* over max_side: rejected from the IHDR alone (the rest is not even a PNG) */
    uint8_t hdr[33] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n', 0, 0, 0, 13, 'I', 'H', 'D', 'R',
                       0, 0x01, 0x86, 0xa0, 0, 0, 0, 28, 8, 0, 0, 0, 0, 0xde, 0xad, 0xbe, 0xef};
    drl_proto_encode_req r;
    ck_assert_int_eq(drl_proto_encode_parse(&e, "image/png", hdr, sizeof hdr, &m, &LIM, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "body: PNG is 100000x28, over the limit of 1024 pixels per side");
    drl_proto_limits small = LIM;
    small.max_side = 16;
    size_t n;
    uint8_t *png = png_of(img, 1, 28, 28, &n);
    ck_assert_int_eq(drl_proto_encode_parse(&e, "image/png", png, n, &m, &small, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "PNG is 28x28, over the limit of 16");

    /* every truncation of a valid PNG is bad_png (or, for a damaged header, still 400) */
    for (size_t k = 0; k < n; k++) {
        int rc = drl_proto_encode_parse(&e, "image/png", png, k, &m, &LIM, &r);
        ck_assert_msg(rc == -1, "truncation %zu accepted", k);
        ck_assert_err(e, 400, "bad_png", "body: png:");
    }
    /* a flipped byte in the pixel data: bad CRC */
    png[n - 20] ^= 0xff;
    ck_assert_int_eq(drl_proto_encode_parse(&e, "image/png", png, n, &m, &LIM, &r), -1);
    ck_assert_err(e, 400, "bad_png", "body: png:");
    free(png);
    ck_assert_int_eq(drl_proto_encode_parse(&e, "image/png", NULL, 0, &m, &LIM, &r), -1);
    ck_assert_err(e, 400, "bad_png", "body: png: not a PNG file");
}
END_TEST

START_TEST(test_image_field_errors) {
    drl_proto_model m = model();
    float img[PER];
    fill_image(img, PER, 0);
    drl_proto_error e;

    /* the pixel count: image 2 short by one */
    json_t *short1 = pixels_json(img, 1, 28, 28);
    json_array_remove(json_object_get(short1, "pixels"), 0);
    e = encode_fail(&m, json_pack("{s:[o,o,o]}", "images", zero_image(), zero_image(), short1));
    ck_assert_err(e, 422, "invalid_input", "images[2].pixels: expected 784 numbers (1x28x28), got 783");

    json_t *j = zero_image();
    json_array_set_new(json_object_get(j, "pixels"), 5, json_integer(255));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input",
                  "images[0].pixels[5]: value 255 outside [0, 1] (scale 8-bit values by 1/255)");
    j = zero_image();
    json_array_set_new(json_object_get(j, "pixels"), 7, json_real(-0.5));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].pixels[7]: value -0.5 outside [0, 1]");
    ck_assert(!strstr(e.message, "1/255"));
    j = zero_image();
    json_array_set_new(json_object_get(j, "pixels"), 9, json_string("0.5"));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].pixels[9]: expected a number, got string");
    j = zero_image();
    json_array_set_new(json_object_get(j, "pixels"), 0, json_null());
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].pixels[0]: expected a number, got null");

    j = zero_image();
    json_object_set_new(j, "width", json_integer(32));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].width: 32, the model takes 28");
    j = zero_image();
    json_object_set_new(j, "channels", json_integer(3));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].channels: 3, the model takes 1");
    j = zero_image();
    json_object_del(j, "height");
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].height: missing");
    j = zero_image();
    json_object_set_new(j, "height", json_string("28"));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].height: expected an integer, got string");
    j = zero_image();
    json_object_set_new(j, "pixels", json_object());
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0].pixels: expected an array, got object");
    j = zero_image();
    json_object_set_new(j, "colour", json_true());
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0]: unknown key \"colour\"");
    j = zero_image();
    json_object_set_new(j, "png", json_string("Zm9v"));
    e = encode_fail(&m, images1(j));
    ck_assert_err(e, 422, "invalid_input", "images[0]: give either \"png\" or \"pixels\", not both");
    e = encode_fail(&m, json_pack("{s:[o,i]}", "images", zero_image(), 3));
    ck_assert_err(e, 422, "invalid_input", "images[1]: expected an object with \"png\" or \"pixels\", got integer");
    e = encode_fail(&m, images1(json_object()));
    ck_assert_err(e, 422, "invalid_input", "images[0]: expected \"png\"");
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* /v1/encode */

START_TEST(test_encode_fields) {
    drl_proto_model m = model(), mt = model_t();
    drl_proto_error e;
    e = encode_fail(&m, json_pack("{s:[]}", "images"));
    ck_assert_err(e, 422, "invalid_input", "images: empty");
    e = encode_fail(&m, json_object());
    ck_assert_err(e, 422, "invalid_input", "images: missing");
    e = encode_fail(&m, json_pack("{s:s}", "images", "abc"));
    ck_assert_err(e, 422, "invalid_input", "images: expected an array, got string");
    e = encode_fail(&m, json_pack("{s:[o],s:i}", "images", zero_image(), "foo", 1));
    ck_assert_err(e, 422, "invalid_input", "unknown key \"foo\" (expected images, t)");

    /* too many: 257 images, rejected before any is decoded */
    json_t *many = json_array();
    for (int i = 0; i < 257; i++) json_array_append_new(many, json_object());
    e = encode_fail(&m, json_pack("{s:o}", "images", many));
    ck_assert_err(e, 422, "invalid_input", "images: 257 images, the limit is 256");
    /* exactly the limit is fine */
    drl_proto_limits two = LIM;
    two.max_images = 2;
    char *body = dumps(json_pack("{s:[o,o]}", "images", zero_image(), zero_image()));
    drl_proto_encode_req r;
    ck_assert_int_eq(drl_proto_encode_parse(&e, "application/json", (uint8_t *)body, strlen(body),
                                            &m, &two, &r), 0);
    ck_assert_int_eq(r.n, 2);
    drl_proto_encode_req_release(&r);
    free(body);

    /* t */
    e = encode_fail(&m, json_pack("{s:[o],s:f}", "images", zero_image(), "t", 0.5));
    ck_assert_err(e, 422, "not_time_conditioned", "t: model drl-fmnist has no time-conditioned encoder");
    e = encode_fail(&mt, json_pack("{s:[o],s:i}", "images", zero_image(), "t", 2));
    ck_assert_err(e, 422, "invalid_input", "t: 2 outside [1e-05, 1]");
    e = encode_fail(&mt, json_pack("{s:[o],s:f}", "images", zero_image(), "t", 0.0));
    ck_assert_err(e, 422, "invalid_input", "t: 0 outside [1e-05, 1]");
    e = encode_fail(&mt, json_pack("{s:[o],s:s}", "images", zero_image(), "t", "0.5"));
    ck_assert_err(e, 422, "invalid_input", "t: expected a number, got string");
    body = dumps(json_pack("{s:[o],s:f}", "images", zero_image(), "t", 0.25));
    ck_assert_int_eq(encode_body(&mt, body, &e, &r), 0);
    ck_assert_int_eq(r.has_t, 1);
    ck_assert(r.t == 0.25f);
    drl_proto_encode_req_release(&r);
    free(body);
    body = dumps(images1(zero_image()));
    ck_assert_int_eq(encode_body(&mt, body, &e, &r), 0);
    ck_assert_int_eq(r.has_t, 0);
    ck_assert(r.t == mt.t_min);
    drl_proto_encode_req_release(&r);
    free(body);
    drl_proto_encode_req_release(NULL);
}
END_TEST

START_TEST(test_encode_response) {
    drl_proto_model m = model();
    m.name = "drl \"fmnist\"\n";
    drl_rng rng;
    drl_rng_seed(&rng, 3);
    float z[3 * DIM];
    for (int i = 0; i < 3 * DIM; i++) z[i] = drl_rng_normal(&rng) * powf(10.0f, (float)(i % 9) - 4);
    z[4] = NAN;
    z[5] = -INFINITY;
    for (int single = 0; single < 2; single++) {
        int n = single ? 1 : 3;
        size_t len;
        char *s = drl_proto_encode_response(&m, z, n, single, &len);
        ck_assert_uint_eq(strlen(s), len);
        json_t *j = parse(s, len);
        ck_assert_str_eq(json_string_value(json_object_get(j, "model")), m.name);
        ck_assert_str_eq(json_string_value(json_object_get(j, "version")), m.version);
        ck_assert_int_eq(json_integer_value(json_object_get(j, "dim")), DIM);
        json_t *rows = json_object_get(j, "embeddings");
        ck_assert_uint_eq(json_array_size(rows), (size_t)n);
        for (int i = 0; i < n; i++) assert_floats(json_array_get(rows, (size_t)i), z + i * DIM, DIM);
        if (single) assert_floats(json_object_get(j, "embedding"), z, DIM);
        else ck_assert_ptr_null(json_object_get(j, "embedding"));
        ck_assert_uint_eq(json_object_size(j), single ? 5 : 4);
        json_decref(j);
        free(s);
    }
    /* the largest answer: 256 × 128 floats */
    m.dim = 128;
    float *big = malloc(256 * 128 * sizeof(float));
    for (int i = 0; i < 256 * 128; i++) big[i] = drl_rng_normal(&rng);
    size_t len;
    char *s = drl_proto_encode_response(&m, big, 256, 0, &len);
    json_t *j = parse(s, len);
    json_t *rows = json_object_get(j, "embeddings");
    for (int i = 0; i < 256; i++) assert_floats(json_array_get(rows, (size_t)i), big + i * 128, 128);
    json_decref(j);
    free(s);
    free(big);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* /v1/trajectory */

static int traj(const drl_proto_model *m, json_t *j, drl_proto_error *e,
                drl_proto_trajectory_req *r) {
    char *body = dumps(j);
    int rc = drl_proto_trajectory_parse(e, "application/json", (uint8_t *)body, strlen(body), m,
                                        &LIM, r);
    free(body);
    return rc;
}

START_TEST(test_trajectory) {
    drl_proto_model m = model(), mt = model_t();
    mt.t_min = 0.01f;
    mt.t_max = 0.81f;
    drl_proto_error e;
    drl_proto_trajectory_req r;

    /* not time-conditioned: checked first, whatever the body */
    ck_assert_int_eq(drl_proto_trajectory_parse(&e, "text/plain", NULL, 0, &m, &LIM, &r), -1);
    ck_assert_err(e, 422, "not_time_conditioned", "drl-fmnist has no time-conditioned encoder");

    /* steps: evenly spaced over [t_min, t_max] */
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:i}", "image", zero_image(), "steps", 5), &e, &r), 0);
    ck_assert_int_eq(r.K, 5);
    float want5[5] = {0.01f, 0.21f, 0.41f, 0.61f, 0.81f};
    ck_assert_close(r.times, want5, 5, 1e-6, "steps 5");
    ck_assert(r.times[0] == mt.t_min && r.times[4] == mt.t_max);
    drl_proto_trajectory_req_release(&r);
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:i}", "image", zero_image(), "steps", 1), &e, &r), 0);
    ck_assert_int_eq(r.K, 1);
    ck_assert(r.times[0] == mt.t_min);
    drl_proto_trajectory_req_release(&r);
    /* default 16 */
    ck_assert_int_eq(traj(&mt, json_pack("{s:o}", "image", zero_image()), &e, &r), 0);
    ck_assert_int_eq(r.K, 16);
    for (int k = 1; k < 16; k++) ck_assert_float_eq_tol(r.times[k] - r.times[k - 1], 0.8f / 15, 1e-6);
    drl_proto_trajectory_req_release(&r);
    /* a PNG body: the default grid */
    float img[PER];
    fill_image(img, PER, 5);
    size_t n;
    uint8_t *png = png_of(img, 1, 28, 28, &n);
    ck_assert_int_eq(drl_proto_trajectory_parse(&e, "image/png", png, n, &mt, &LIM, &r), 0);
    ck_assert_int_eq(r.K, 16);
    ck_assert_close(r.x, img, PER, 1e-6, "trajectory png");
    drl_proto_trajectory_req_release(&r);
    free(png);

    /* explicit times, kept in order */
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:[f,f,f]}", "image", pixels_json(img, 1, 28, 28),
                                         "times", 0.5, 1e-5, 1.0), &e, &r), 0);
    ck_assert_int_eq(r.K, 3);
    float want3[3] = {0.5f, 1e-5f, 1.0f};
    ck_assert_close(r.times, want3, 3, 0, "times");
    ck_assert_close(r.x, img, PER, 0, "trajectory pixels");
    drl_proto_trajectory_req_release(&r);

    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:[f,i]}", "image", zero_image(), "times", 0.5, 2), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "times[1]: 2 outside [1e-05, 1]");
    ck_assert_ptr_null(r.times);
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:[]}", "image", zero_image(), "times"), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "times: 0 times, expected 1 to 256");
    json_t *many = json_array();
    for (int i = 0; i < 257; i++) json_array_append_new(many, json_real(0.5));
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:o}", "image", zero_image(), "times", many), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "times: 257 times, expected 1 to 256");
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:i}", "image", zero_image(), "steps", 257), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "steps: 257 outside [1, 256]");
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:i}", "image", zero_image(), "steps", 0), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "steps: 0 outside [1, 256]");
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:f}", "image", zero_image(), "steps", 2.5), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "steps: expected an integer, got 2.5");
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:i,s:[f]}", "image", zero_image(), "steps", 2,
                                         "times", 0.5), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "give either \"times\" or \"steps\", not both");
    ck_assert_int_eq(traj(&mt, json_pack("{s:i}", "steps", 2), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "image: missing");
    ck_assert_int_eq(traj(&mt, json_pack("{s:o,s:i}", "image", zero_image(), "K", 2), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "unknown key \"K\"");
    ck_assert_ptr_null(r.x);
}
END_TEST

START_TEST(test_trajectory_response) {
    drl_proto_model m = model_t();
    float times[3] = {1e-5f, 0.5f, 1.0f}, z[3 * DIM];
    for (int i = 0; i < 3 * DIM; i++) z[i] = (float)i / 7.0f - 1.0f;
    size_t len;
    char *s = drl_proto_trajectory_response(&m, times, z, 3, &len);
    json_t *j = parse(s, len);
    assert_floats(json_object_get(j, "times"), times, 3);
    json_t *lat = json_object_get(j, "latents");
    ck_assert_uint_eq(json_array_size(lat), 3);
    for (int k = 0; k < 3; k++) assert_floats(json_array_get(lat, (size_t)k), z + k * DIM, DIM);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "dim")), DIM);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "drl-fmnist");
    json_decref(j);
    free(s);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* /v1/sample */

static int sample(const drl_proto_model *m, const drl_proto_limits *lim, json_t *j,
                  drl_proto_error *e, drl_proto_sample_req *r) {
    char *body = dumps(j);
    int rc = drl_proto_sample_parse(e, "application/json", (uint8_t *)body, strlen(body), m,
                                    lim ? lim : &LIM, r);
    free(body);
    return rc;
}

static json_t *code_json(int d) {
    json_t *a = json_array();
    for (int i = 0; i < d; i++) json_array_append_new(a, json_real(i * 0.5 - 1));
    return a;
}

START_TEST(test_sample_defaults) {
    drl_proto_model m = model();
    drl_proto_error e;
    drl_proto_sample_req r;
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o}", "code", code_json(DIM)), &e, &r), 0);
    ck_assert_int_eq(r.n, 1);
    ck_assert_int_eq(r.cfg.kind, DRL_SAMPLER_PC);
    ck_assert_int_eq(r.cfg.steps, 100);
    ck_assert_uint_eq(r.cfg.seed, 0);
    ck_assert(r.cfg.t_init == 1.0f);
    ck_assert(r.cfg.snr == 0.16f);
    ck_assert_int_eq(r.cfg.denoise, 1);
    ck_assert_int_eq(r.cfg.corrector_steps, 1);
    ck_assert_ptr_null(r.x0);
    ck_assert_ptr_nonnull(r.code);
    for (int i = 0; i < DIM; i++) ck_assert(r.code[i] == i * 0.5f - 1);
    drl_proto_sample_req_release(&r);

    /* a cap below the default step count */
    drl_proto_limits capped = LIM;
    capped.max_sample_steps = 50;
    ck_assert_int_eq(sample(&m, &capped, json_pack("{s:o}", "code", code_json(DIM)), &e, &r), 0);
    ck_assert_int_eq(r.cfg.steps, 50);
    drl_proto_sample_req_release(&r);
    ck_assert_int_eq(sample(&m, &capped, json_pack("{s:o,s:i}", "code", code_json(DIM), "steps", 51),
                            &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "steps: 51 outside [1, 50]");

    /* everything given */
    float img[PER];
    fill_image(img, PER, 9);
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o,s:i,s:s,s:i,s:I,s:f,s:f,s:b}", "image",
                                                png_json(img, 1, 28, 28), "n", 16, "sampler", "ode",
                                                "steps", 1000, "seed", (json_int_t)1 << 53,
                                                "t_init", 0.5, "snr", 0.3, "denoise", 0), &e, &r), 0);
    ck_assert_int_eq(r.n, 16);
    ck_assert_int_eq(r.cfg.kind, DRL_SAMPLER_ODE);
    ck_assert_int_eq(r.cfg.steps, 1000);
    ck_assert_uint_eq(r.cfg.seed, (uint64_t)1 << 53);
    ck_assert(r.cfg.t_init == 0.5f);
    ck_assert(r.cfg.snr == 0.3f);
    ck_assert_int_eq(r.cfg.denoise, 0);
    ck_assert_ptr_null(r.code);
    ck_assert_close(r.x0, img, PER, 1e-6, "sample image");
    drl_proto_sample_req_release(&r);
    /* an integral real seed and em */
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o,s:f,s:s}", "code", code_json(DIM), "seed",
                                                12345.0, "sampler", "em"), &e, &r), 0);
    ck_assert_uint_eq(r.cfg.seed, 12345);
    ck_assert_int_eq(r.cfg.kind, DRL_SAMPLER_EM);
    drl_proto_sample_req_release(&r);
}
END_TEST

START_TEST(test_sample_errors) {
    drl_proto_model m = model();
    drl_proto_error e;
    drl_proto_sample_req r;
    static const struct {
        const char *extra; /* JSON members added to {"code": [...]} */
        const char *msg;
    } bad[] = {
        {"\"n\":0", "n: 0 outside [1, 16]"},
        {"\"n\":17", "n: 17 outside [1, 16]"},
        {"\"n\":\"2\"", "n: expected an integer, got string"},
        {"\"sampler\":\"foo\"", "sampler: unknown \"foo\" (use ode, em or pc)"},
        {"\"sampler\":\"PC\"", "sampler: unknown \"PC\""},
        {"\"sampler\":1", "sampler: expected a string, got integer"},
        {"\"steps\":1001", "steps: 1001 outside [1, 1000]"},
        {"\"steps\":0", "steps: 0 outside [1, 1000]"},
        {"\"seed\":-1", "seed: -1 outside [0, 9007199254740992]"},
        {"\"seed\":9007199254740993", "seed: 9007199254740993 outside [0, 9007199254740992]"},
        {"\"seed\":1.5", "seed: expected an integer, got 1.5"},
        {"\"t_init\":0", "t_init: 0 outside (1e-05, 1]"},
        {"\"t_init\":1.5", "t_init: 1.5 outside (1e-05, 1]"},
        {"\"t_init\":0.5", "t_init: 0.5 below 1 needs \"image\""},
        {"\"snr\":0", "snr: 0 outside (0, 10)"},
        {"\"snr\":10", "snr: 10 outside (0, 10)"},
        {"\"snr\":true", "snr: expected a number, got boolean"},
        {"\"denoise\":\"yes\"", "denoise: expected true or false, got string"},
        {"\"denoise\":1", "denoise: expected true or false, got integer"},
        {"\"corrector_steps\":2", "unknown key \"corrector_steps\""},
        {"\"image\":{}", "give either \"image\" or \"code\", not both"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char body[512];
        snprintf(body, sizeof body, "{\"code\":[1,2,3,4,5,6,7,8],%s}", bad[i].extra);
        int rc = drl_proto_sample_parse(&e, "application/json", (uint8_t *)body, strlen(body), &m,
                                        &LIM, &r);
        ck_assert_msg(rc == -1, "accepted %s", body);
        ck_assert_err(e, 422, "invalid_input", bad[i].msg);
        ck_assert_ptr_null(r.code);
        ck_assert_ptr_null(r.x0);
    }
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:i}", "n", 2), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "missing \"image\" or \"code\"");
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o}", "code", code_json(DIM - 1)), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "code: expected 8 numbers, got 7");
    json_t *c = code_json(DIM);
    json_array_set_new(c, 2, json_string("x"));
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o}", "code", c), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "code[2]: expected a number, got string");
    c = code_json(DIM);
    json_array_set_new(c, 3, json_real(1e300));
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o}", "code", c), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "code[3]: 1e+300 outside");
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:s}", "code", "abc"), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "code: expected an array, got string");
    json_t *img = zero_image();
    json_object_set_new(img, "width", json_integer(27));
    ck_assert_int_eq(sample(&m, NULL, json_pack("{s:o}", "image", img), &e, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "image.width: 27, the model takes 28");
}
END_TEST

START_TEST(test_sample_response_and_grid) {
    drl_proto_model m = model();
    drl_proto_sample_req r = {0};
    r.n = 3;
    r.cfg = drl_sampler_defaults();
    r.cfg.kind = DRL_SAMPLER_ODE;
    r.cfg.steps = 77;
    r.cfg.seed = (uint64_t)1 << 53;
    float imgs[3 * PER];
    for (int i = 0; i < 3; i++) fill_image(imgs + i * PER, PER, (unsigned)(i + 20));
    drl_proto_error e = {0};
    size_t len;
    char *s = drl_proto_sample_response(&e, &m, &r, imgs, &len);
    ck_assert_ptr_nonnull(s);
    json_t *j = parse(s, len);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "n")), 3);
    ck_assert_str_eq(json_string_value(json_object_get(j, "sampler")), "ode");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "steps")), 77);
    ck_assert(json_integer_value(json_object_get(j, "seed")) == (json_int_t)1 << 53);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "drl-fmnist");
    json_t *arr = json_object_get(j, "images");
    ck_assert_uint_eq(json_array_size(arr), 3);
    for (int i = 0; i < 3; i++) {
        float back[PER];
        drl_proto_encode_req er;
        char *body = dumps(images1(json_deep_copy(json_array_get(arr, (size_t)i))));
        ck_assert_int_eq(encode_body(&m, body, &e, &er), 0);
        memcpy(back, er.x, sizeof back);
        drl_proto_encode_req_release(&er);
        free(body);
        ck_assert_close(back, imgs + i * PER, PER, 1e-6, "sample png");
    }
    json_decref(j);
    free(s);

    /* grid: 10 images of 3x4 → 2 rows of up to 8, 2-pixel black gutters */
    int n = 10, H = 3, W = 4;
    float g[10 * 12];
    for (int i = 0; i < n * H * W; i++) g[i] = (float)(1 + i / (H * W)) / 16.0f;
    uint8_t *png;
    size_t np;
    ck_assert_int_eq(drl_proto_sample_grid_png(&e, g, n, 1, H, W, &png, &np), 0);
    drl_err err = {0};
    float *dec;
    int C, GH, GW;
    ck_assert_int_eq(drl_png_decode(&err, png, np, 0, NULL, &dec, &C, &GH, &GW), 0);
    ck_assert_int_eq(C, 1);
    ck_assert_int_eq(GW, 8 * W + 7 * 2);
    ck_assert_int_eq(GH, 2 * H + 2);
    for (int y = 0; y < GH; y++)
        for (int x = 0; x < GW; x++) {
            int col = x / (W + 2), row = y / (H + 2);
            int in = x % (W + 2) < W && y % (H + 2) < H && row * 8 + col < n;
            float want = in ? (float)(1 + row * 8 + col) / 16.0f : 0.0f;
            ck_assert_msg(fabsf(dec[y * GW + x] - want) < 0.5f / 255 + 1e-6f,
                          "grid (%d,%d): %g want %g", x, y, (double)dec[y * GW + x], (double)want);
        }
    free(dec);
    free(png);
    /* fewer than 8: one row exactly as wide as needed; RGB */
    float rgb[2 * 3 * 2 * 2];
    for (int i = 0; i < 24; i++) rgb[i] = 1.0f;
    ck_assert_int_eq(drl_proto_sample_grid_png(&e, rgb, 2, 3, 2, 2, &png, &np), 0);
    ck_assert_int_eq(drl_png_decode(&err, png, np, 0, NULL, &dec, &C, &GH, &GW), 0);
    ck_assert_int_eq(C, 3);
    ck_assert_int_eq(GW, 6);
    ck_assert_int_eq(GH, 2);
    for (int c = 0; c < 3; c++)
        for (int x = 0; x < 6; x++) ck_assert(dec[c * 12 + x] == ((x == 2 || x == 3) ? 0.0f : 1.0f));
    free(dec);
    free(png);
    ck_assert_int_eq(drl_proto_sample_grid_png(&e, rgb, 0, 3, 2, 2, &png, &np), -1);
    ck_assert_int_eq(e.status, 500);
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* /v1/models and reload */

START_TEST(test_models_and_reload) {
    drl_proto_model m = model_t();
    size_t len;
    char *s = drl_proto_models_response(&m, &len);
    json_t *j = parse(s, len);
    json_t *mm = json_array_get(json_object_get(j, "models"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(mm, "name")), "drl-fmnist");
    ck_assert_str_eq(json_string_value(json_object_get(mm, "version")), m.version);
    ck_assert_str_eq(json_string_value(json_object_get(mm, "sha256")), m.sha256);
    ck_assert_str_eq(json_string_value(json_object_get(mm, "path")), m.path);
    ck_assert_str_eq(json_string_value(json_object_get(mm, "loaded_at")), m.loaded_at);
    ck_assert_str_eq(json_string_value(json_object_get(mm, "sde")), "ve");
    ck_assert_int_eq(json_integer_value(json_object_get(mm, "generation")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(mm, "dim")), DIM);
    json_t *im = json_object_get(mm, "image");
    ck_assert_int_eq(json_integer_value(json_object_get(im, "channels")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(im, "height")), 28);
    ck_assert_int_eq(json_integer_value(json_object_get(im, "width")), 28);
    float tr[2] = {m.t_min, m.t_max};
    assert_floats(json_object_get(mm, "t_range"), tr, 2);
    ck_assert(json_is_true(json_object_get(mm, "time_conditioned")));
    ck_assert(json_is_false(json_object_get(mm, "variational")));
    json_decref(j);
    free(s);

    s = drl_proto_reload_response(&m, "000000000000", &len);
    j = parse(s, len);
    ck_assert_str_eq(json_string_value(json_object_get(j, "previous_version")), "000000000000");
    ck_assert_str_eq(json_string_value(json_object_get(j, "model")), "drl-fmnist");
    ck_assert_int_eq(json_integer_value(json_object_get(j, "generation")), 1);
    json_decref(j);
    free(s);
    s = drl_proto_reload_response(&m, NULL, &len);
    j = parse(s, len);
    ck_assert(json_is_null(json_object_get(j, "previous_version")));
    json_decref(j);
    free(s);

    drl_proto_error e = {0};
    char *path = (char *)1;
    ck_assert_int_eq(drl_proto_reload_parse(&e, NULL, 0, &path), 0);
    ck_assert_ptr_null(path);
    ck_assert_int_eq(drl_proto_reload_parse(&e, (uint8_t *)" \r\n", 3, &path), 0);
    ck_assert_ptr_null(path);
    ck_assert_int_eq(drl_proto_reload_parse(&e, (uint8_t *)"{}", 2, &path), 0);
    ck_assert_ptr_null(path);
    const char *ok = "{\"path\":\"models/new.safetensors\"}";
    ck_assert_int_eq(drl_proto_reload_parse(&e, (uint8_t *)ok, strlen(ok), &path), 0);
    ck_assert_str_eq(path, "models/new.safetensors");
    free(path);
    static const struct {
        const char *body;
        int status;
        const char *msg;
    } bad[] = {{"{\"path\":1}", 422, "path: expected a string, got integer"},
               {"{\"path\":\"\"}", 422, "path: expected a non-empty file path"},
               {"{\"file\":\"x\"}", 422, "unknown key \"file\" (expected path)"},
               {"{\"path\":", 400, "body is not valid JSON"},
               {"\"x\"", 400, "body is not valid JSON"},
               {"[\"x\"]", 422, "expected a JSON object"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(drl_proto_reload_parse(&e, (uint8_t *)bad[i].body, strlen(bad[i].body), &path), -1);
        ck_assert_ptr_null(path);
        ck_assert_err(e, bad[i].status, bad[i].status == 400 ? "bad_json" : "invalid_input", bad[i].msg);
    }
}
END_TEST

/* ------------------------------------------------------------------------------------------ */
/* Open Inference Protocol */

static int oip(const drl_proto_model *m, const drl_proto_limits *lim, json_t *j, drl_proto_error *e,
               drl_proto_oip_req *r) {
    char *body = dumps(j);
    int rc = drl_proto_oip_parse(e, "application/json", (uint8_t *)body, strlen(body), m,
                                 lim ? lim : &LIM, r);
    free(body);
    return rc;
}

static json_t *fp32_input(json_t *shape, json_t *data) {
    return json_pack("{s:[{s:s,s:s,s:o,s:o}]}", "inputs", "name", "input", "datatype", "FP32",
                     "shape", shape, "data", data);
}

/* data for N images of x as a flat array, or nested [N][C][H][W] */
static json_t *fp32_data(const float *x, int N, int nested) {
    json_t *flat = json_array();
    for (int i = 0; i < N * PER; i++) json_array_append_new(flat, json_real(x[i]));
    if (!nested) return flat;
    json_t *outer = json_array();
    for (int n = 0; n < N; n++) {
        json_t *ch = json_array(), *rows = json_array();
        for (int y = 0; y < 28; y++) {
            json_t *row = json_array();
            for (int xx = 0; xx < 28; xx++)
                json_array_append(row, json_array_get(flat, (size_t)(n * PER + y * 28 + xx)));
            json_array_append_new(rows, row);
        }
        json_array_append_new(ch, rows);
        json_array_append_new(outer, ch);
    }
    json_decref(flat);
    return outer;
}

START_TEST(test_oip_parse) {
    drl_proto_model m = model();
    float x[2 * PER];
    for (int i = 0; i < 2; i++) fill_image(x + i * PER, PER, (unsigned)(40 + i));
    drl_proto_error e = {0};
    drl_proto_oip_req flat, nested;
    ck_assert_int_eq(oip(&m, NULL, fp32_input(json_pack("[i,i,i,i]", 2, 1, 28, 28), fp32_data(x, 2, 0)),
                         &e, &flat), 0);
    ck_assert_int_eq(oip(&m, NULL, fp32_input(json_pack("[i,i,i,i]", 2, 1, 28, 28), fp32_data(x, 2, 1)),
                         &e, &nested), 0);
    ck_assert_int_eq(flat.n, 2);
    ck_assert_int_eq(nested.n, 2);
    ck_assert_ptr_null(flat.id);
    ck_assert_close(flat.x, x, 2 * PER, 0, "oip flat");
    ck_assert_close(nested.x, flat.x, 2 * PER, 0, "oip nested = flat");
    drl_proto_oip_req_release(&flat);
    drl_proto_oip_req_release(&nested);

    /* BYTES of base64 PNGs, with an id, parameters and the outputs list */
    json_t *req = json_pack("{s:s,s:{},s:[{s:s}],s:[{s:s,s:s,s:[i],s:[o,o],s:{}}]}", "id", "req-7",
                            "parameters", "outputs", "name", "embedding", "inputs", "name", "png",
                            "datatype", "BYTES", "shape", 2, "data", png_b64(x, 1, 28, 28),
                            png_b64(x + PER, 1, 28, 28), "parameters");
    ck_assert_ptr_nonnull(req);
    drl_proto_oip_req r;
    ck_assert_int_eq(oip(&m, NULL, req, &e, &r), 0);
    ck_assert_str_eq(r.id, "req-7");
    ck_assert_int_eq(r.n, 2);
    ck_assert_close(r.x, x, 2 * PER, 1e-6, "oip png");
    drl_proto_oip_req_release(&r);
    drl_proto_oip_req_release(NULL);
}
END_TEST

START_TEST(test_oip_errors) {
    drl_proto_model m = model();
    float x[PER];
    fill_image(x, PER, 1);
    drl_proto_error e = {0};
    drl_proto_oip_req r;
#define OIP_FAIL(json, st, cd, sub)                                                              \
    do {                                                                                         \
        ck_assert_int_eq(oip(&m, NULL, (json), &e, &r), -1);                                     \
        ck_assert_err(e, (st), (cd), (sub));                                                     \
        ck_assert_ptr_null(r.x);                                                                 \
        ck_assert_ptr_null(r.id);                                                                \
    } while (0)

    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 1, 3, 28, 28), fp32_data(x, 1, 0)), 422,
             "invalid_input", "inputs[0].shape: [1, 3, 28, 28] does not match the model's [N, 1, 28, 28]");
    OIP_FAIL(fp32_input(json_pack("[i,i,i]", 1, 28, 28), fp32_data(x, 1, 0)), 422, "invalid_input",
             "inputs[0].shape: expected 4 dimensions ([N, C, H, W]), got 3");
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 257, 1, 28, 28), json_array()), 422, "invalid_input",
             "inputs[0].shape[0]: 257 images, the limit is 256");
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 0, 1, 28, 28), json_array()), 422, "invalid_input",
             "inputs[0].shape[0]: 0 outside [1,");
    OIP_FAIL(fp32_input(json_pack("[i,s,i,i]", 1, "1", 28, 28), json_array()), 422, "invalid_input",
             "inputs[0].shape[1]: expected an integer, got string");
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 2, 1, 28, 28), fp32_data(x, 1, 0)), 422, "invalid_input",
             "inputs[0].data: expected 1568 numbers (shape [2, 1, 28, 28]), got 784");
    json_t *d = fp32_data(x, 1, 0);
    json_array_append_new(d, json_real(0.5));
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 1, 1, 28, 28), d), 422, "invalid_input",
             "inputs[0].data: expected 784 numbers (shape [1, 1, 28, 28]), got 785");
    d = fp32_data(x, 1, 1);
    json_array_set_new(json_array_get(json_array_get(json_array_get(d, 0), 0), 3), 5, json_integer(255));
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 1, 1, 28, 28), d), 422, "invalid_input",
             "inputs[0].data[0][0][3][5]: value 255 outside [0, 1] (scale 8-bit values by 1/255)");
    d = fp32_data(x, 1, 0);
    json_array_set_new(d, 9, json_string("a"));
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 1, 1, 28, 28), d), 422, "invalid_input",
             "inputs[0].data[9]: expected a number, got string");
    OIP_FAIL(fp32_input(json_pack("[i,i,i,i]", 1, 1, 28, 28), json_string("x")), 422, "invalid_input",
             "inputs[0].data: expected an array, got string");

    OIP_FAIL(json_pack("{s:[]}", "inputs"), 422, "invalid_input", "inputs: expected exactly 1 input");
    OIP_FAIL(json_pack("{s:[{},{}]}", "inputs"), 422, "invalid_input",
             "inputs: expected exactly 1 input (\"input\" or \"png\"), got 2");
    OIP_FAIL(json_pack("{s:[i]}", "inputs", 3), 422, "invalid_input", "inputs[0]: expected an object, got integer");
    OIP_FAIL(json_object(), 422, "invalid_input", "inputs: missing");
    OIP_FAIL(json_pack("{s:[{s:s,s:s}]}", "inputs", "name", "pixels", "datatype", "FP32"), 422,
             "invalid_input", "inputs[0].name: unknown input \"pixels\" (use input or png)");
    OIP_FAIL(json_pack("{s:[{s:s,s:s}]}", "inputs", "name", "input", "datatype", "FP16"), 422,
             "invalid_input", "inputs[0].datatype: \"FP16\" not supported for input (use FP32)");
    OIP_FAIL(json_pack("{s:[{s:s,s:s}]}", "inputs", "name", "png", "datatype", "FP32"), 422,
             "invalid_input", "inputs[0].datatype: \"FP32\" not supported for png (use BYTES)");
    OIP_FAIL(json_pack("{s:[{s:s}]}", "inputs", "name", "input"), 422, "invalid_input",
             "inputs[0].datatype: missing");
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:i}]}", "inputs", "name", "input", "datatype", "FP32", "x", 1),
             422, "invalid_input", "inputs[0]: unknown key \"x\"");
    OIP_FAIL(json_pack("{s:i,s:[]}", "id", 5, "inputs"), 422, "invalid_input", "id: expected a string, got integer");
    OIP_FAIL(json_pack("{s:s,s:[]}", "model", "x", "inputs"), 422, "invalid_input", "unknown key \"model\"");
    OIP_FAIL(json_pack("{s:[{s:s}],s:[]}", "outputs", "name", "logits", "inputs"), 422, "invalid_input",
             "outputs[0].name: unknown output \"logits\"");
    OIP_FAIL(json_pack("{s:i,s:[]}", "parameters", 1, "inputs"), 422, "invalid_input",
             "parameters: expected an object, got integer");

    /* BYTES */
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:[i],s:[s]}]}", "inputs", "name", "png", "datatype", "BYTES",
                       "shape", 2, "data", "Zm9v"), 422, "invalid_input",
             "inputs[0].data: expected 2 base64 PNG strings (shape [2]), got 1");
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:[i],s:[s]}]}", "inputs", "name", "png", "datatype", "BYTES",
                       "shape", 1, "data", "Zm9v!"), 400, "bad_base64",
             "inputs[0].data[0]: base64: length 5");
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:[i],s:[s]}]}", "inputs", "name", "png", "datatype", "BYTES",
                       "shape", 1, "data", "Zm9v"), 400, "bad_png", "inputs[0].data[0]: png: not a PNG");
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:[i],s:[i]}]}", "inputs", "name", "png", "datatype", "BYTES",
                       "shape", 1, "data", 7), 422, "invalid_input",
             "inputs[0].data[0]: expected a string, got integer");
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:[i,i],s:[]}]}", "inputs", "name", "png", "datatype", "BYTES",
                       "shape", 1, 1, "data"), 422, "invalid_input",
             "inputs[0].shape: expected 1 dimension ([N]), got 2");
    OIP_FAIL(json_pack("{s:[{s:s,s:s,s:[i],s:[o]}]}", "inputs", "name", "png", "datatype", "BYTES",
                       "shape", 1, "data", png_b64(x, 1, 28, 27)), 422, "invalid_input",
             "inputs[0].data[0]: image is 27x28 (width x height), the model takes 28x28");
#undef OIP_FAIL
}
END_TEST

START_TEST(test_oip_responses) {
    drl_proto_model m = model();
    float z[2 * DIM];
    for (int i = 0; i < 2 * DIM; i++) z[i] = 1.0f / (float)(i + 1) - 0.3f;
    char id[] = "a\"b";
    drl_proto_oip_req r = {.id = id, .n = 2, .x = NULL};
    size_t len;
    char *s = drl_proto_oip_response(&m, &r, z, &len);
    json_t *j = parse(s, len);
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_name")), "drl-fmnist");
    ck_assert_str_eq(json_string_value(json_object_get(j, "model_version")), m.version);
    ck_assert_str_eq(json_string_value(json_object_get(j, "id")), "a\"b");
    json_t *o = json_array_get(json_object_get(j, "outputs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(o, "name")), "embedding");
    ck_assert_str_eq(json_string_value(json_object_get(o, "datatype")), "FP32");
    json_t *shape = json_object_get(o, "shape");
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 0)), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(shape, 1)), DIM);
    assert_floats(json_object_get(o, "data"), z, 2 * DIM);
    json_decref(j);
    free(s);
    r.id = NULL;
    s = drl_proto_oip_response(&m, &r, z, &len);
    j = parse(s, len);
    ck_assert_ptr_null(json_object_get(j, "id"));
    json_decref(j);
    free(s);

    s = drl_proto_oip_model_metadata(&m, &len);
    j = parse(s, len);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "drl-fmnist");
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(j, "versions"), 0)), m.version);
    ck_assert_str_eq(json_string_value(json_object_get(j, "platform")), "drl");
    json_t *in0 = json_array_get(json_object_get(j, "inputs"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(in0, "name")), "input");
    json_t *sh = json_object_get(in0, "shape");
    ck_assert_int_eq(json_integer_value(json_array_get(sh, 0)), -1);
    ck_assert_int_eq(json_integer_value(json_array_get(sh, 1)), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(sh, 3)), 28);
    json_t *in1 = json_array_get(json_object_get(j, "inputs"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(in1, "datatype")), "BYTES");
    json_t *out = json_array_get(json_object_get(j, "outputs"), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(out, "shape"), 1)), DIM);
    json_decref(j);
    free(s);

    s = drl_proto_oip_server_metadata("0.1.0", &len);
    j = parse(s, len);
    ck_assert_str_eq(json_string_value(json_object_get(j, "name")), "drl");
    ck_assert_str_eq(json_string_value(json_object_get(j, "version")), "0.1.0");
    ck_assert(json_is_array(json_object_get(j, "extensions")));
    ck_assert_uint_eq(json_array_size(json_object_get(j, "extensions")), 0);
    json_decref(j);
    free(s);
}
END_TEST

START_TEST(test_limits_defaults) {
    drl_proto_limits d = drl_proto_default_limits();
    ck_assert_int_eq(d.max_images, 256);
    ck_assert_int_eq(d.max_side, 1024);
    ck_assert_int_eq(d.max_sample_n, 16);
    ck_assert_int_eq(d.max_sample_steps, 1000);
    ck_assert_int_eq(d.max_times, 256);
    /* NULL limits: the defaults */
    drl_proto_model m = model();
    drl_proto_error e = {0};
    drl_proto_sample_req r;
    const char *body = "{\"code\":[0,0,0,0,0,0,0,0],\"n\":17}";
    ck_assert_int_eq(drl_proto_sample_parse(&e, "application/json", (uint8_t *)body, strlen(body),
                                            &m, NULL, &r), -1);
    ck_assert_err(e, 422, "invalid_input", "n: 17 outside [1, 16]");
}
END_TEST

/* A training job's choice fields: every name parses to its enum value and is written back by
 * name; an unknown name is refused with every valid one listed. */
START_TEST(test_job_choices) {
    static const char *const weightings[] = {"sigma2", "min_snr", "truncated_snr"};
    for (int i = 0; i < 3; i++) {
        char body[160];
        snprintf(body, sizeof body, "{\"dataset\":\"d1\",\"weighting\":\"%s\",\"sde\":\"%s\"}", weightings[i],
                 i == 1 ? "vp" : "ve");
        drl_proto_error e = {0};
        drl_proto_job_spec s;
        ck_assert_msg(drl_proto_job_parse(&e, "application/json", (uint8_t *)body, strlen(body), &s) == 0,
                      "%s: %s", body, e.message);
        ck_assert_int_eq(s.weighting, i);
        ck_assert_int_eq(s.sde, i == 1);
        char *j = drl_proto_job_spec_json(&s);
        ck_assert(j);
        json_t *o = json_loads(j, 0, NULL);
        ck_assert(o);
        ck_assert_str_eq(json_string_value(json_object_get(o, "weighting")), weightings[i]);
        ck_assert_str_eq(json_string_value(json_object_get(o, "sde")), i == 1 ? "vp" : "ve");
        json_decref(o);
        free(j);
    }
    drl_proto_error e = {0};
    drl_proto_job_spec s;
    const char *bad = "{\"dataset\":\"d1\",\"weighting\":\"snr\"}";
    ck_assert_int_eq(drl_proto_job_parse(&e, "application/json", (uint8_t *)bad, strlen(bad), &s), -1);
    ck_assert_err(e, 422, "invalid_input", "weighting: unknown \"snr\" (use sigma2, min_snr or truncated_snr)");
    const char *bad_sde = "{\"dataset\":\"d1\",\"sde\":\"subvp\"}";
    ck_assert_int_eq(drl_proto_job_parse(&e, "application/json", (uint8_t *)bad_sde, strlen(bad_sde), &s), -1);
    ck_assert_err(e, 422, "invalid_input", "sde: unknown \"subvp\" (use ve or vp)");
}
END_TEST

int main(void) {
    Suite *s = suite_create("proto");
    TCase *tc = tcase_create("proto");
    tcase_add_test(tc, test_base64_roundtrip);
    tcase_add_test(tc, test_job_choices);
    tcase_add_test(tc, test_base64_rfc4648);
    tcase_add_test(tc, test_base64_rejects);
    tcase_add_test(tc, test_error_json);
    tcase_add_test(tc, test_jsonbuf_strings);
    tcase_add_test(tc, test_format_float_matches_printf);
    tcase_add_test(tc, test_jsonbuf_floats_exact);
    tcase_add_test(tc, test_media_types);
    tcase_add_test(tc, test_bad_json);
    tcase_add_test(tc, test_deep_nesting);
    tcase_add_test(tc, test_truncated_and_garbage);
    tcase_add_test(tc, test_pixels_order);
    tcase_add_test(tc, test_png_roundtrip);
    tcase_add_test(tc, test_png_errors);
    tcase_add_test(tc, test_image_field_errors);
    tcase_add_test(tc, test_encode_fields);
    tcase_add_test(tc, test_encode_response);
    tcase_add_test(tc, test_trajectory);
    tcase_add_test(tc, test_trajectory_response);
    tcase_add_test(tc, test_sample_defaults);
    tcase_add_test(tc, test_sample_errors);
    tcase_add_test(tc, test_sample_response_and_grid);
    tcase_add_test(tc, test_models_and_reload);
    tcase_add_test(tc, test_oip_parse);
    tcase_add_test(tc, test_oip_errors);
    tcase_add_test(tc, test_oip_responses);
    tcase_add_test(tc, test_limits_defaults);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
