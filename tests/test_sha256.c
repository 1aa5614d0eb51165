/* test_sha256.c — SHA-256 against the NIST example vectors, streaming vs one-shot, and files.
 *
 * Expected digests are the SHA-256 examples published by NIST (FIPS 180-2 Appendix B, the CSRC
 * "Examples with Intermediate Values"); they agree with Python's hashlib.sha256. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "sha256.h"
#include "testutil.h"

static const char MSG448[] = "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
static const char MSG896[] = "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                             "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";
static const char HEX_EMPTY[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
static const char HEX_ABC[] = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
static const char HEX_448[] = "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1";
static const char HEX_896[] = "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1";
static const char HEX_MILLION_A[] =
    "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0";

static void hex_of(const void *data, size_t n, char hex[65]) {
    uint8_t d[32];
    drl_sha256(data, n, d);
    drl_sha256_hex(d, hex);
}

START_TEST(test_nist_short) {
    char hex[65];
    hex_of("", 0, hex);
    ck_assert_str_eq(hex, HEX_EMPTY);
    hex_of("abc", 3, hex);
    ck_assert_str_eq(hex, HEX_ABC);
    ck_assert_uint_eq(strlen(MSG448) * 8, 448);
    hex_of(MSG448, strlen(MSG448), hex);
    ck_assert_str_eq(hex, HEX_448);
    ck_assert_uint_eq(strlen(MSG896) * 8, 896);
    hex_of(MSG896, strlen(MSG896), hex);
    ck_assert_str_eq(hex, HEX_896);
}
END_TEST

START_TEST(test_nist_million_a) {
    size_t n = 1000000;
    char *a = malloc(n);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', n);
    char hex[65];
    hex_of(a, n, hex);
    ck_assert_str_eq(hex, HEX_MILLION_A);
    /* Streaming in odd-sized pieces (never block-aligned) gives the same digest. */
    drl_sha256_ctx c;
    drl_sha256_init(&c);
    for (size_t off = 0; off < n;) {
        size_t k = n - off < 997 ? n - off : 997;
        drl_sha256_update(&c, a + off, k);
        off += k;
    }
    uint8_t d[32];
    drl_sha256_final(&c, d);
    drl_sha256_hex(d, hex);
    ck_assert_str_eq(hex, HEX_MILLION_A);
    free(a);
}
END_TEST

/* Every split point of a 200-byte message (crossing 0, 1, 2 and 3 block boundaries, and both
 * padding cases), plus byte-at-a-time and empty updates, equals the one-shot digest. */
START_TEST(test_incremental_splits) {
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++) msg[i] = (uint8_t)(i * 131 + 7);
    for (size_t len = 0; len <= sizeof msg; len++) {
        uint8_t want[32], got[32];
        drl_sha256(msg, len, want);
        for (size_t cut = 0; cut <= len; cut++) {
            drl_sha256_ctx c;
            drl_sha256_init(&c);
            drl_sha256_update(&c, msg, cut);
            drl_sha256_update(&c, msg + cut, 0);
            drl_sha256_update(&c, msg + cut, len - cut);
            drl_sha256_final(&c, got);
            ck_assert_msg(memcmp(got, want, 32) == 0, "len %zu split at %zu differs", len, cut);
        }
        drl_sha256_ctx c;
        drl_sha256_init(&c);
        for (size_t i = 0; i < len; i++) drl_sha256_update(&c, msg + i, 1);
        drl_sha256_final(&c, got);
        ck_assert_msg(memcmp(got, want, 32) == 0, "len %zu byte-at-a-time differs", len);
    }
}
END_TEST

START_TEST(test_file) {
    const char *dir = drl_test_tmpdir();
    char path[600];
    drl_err e = {0};
    char hex[65];

    /* One million 'a' spans many read chunks. */
    snprintf(path, sizeof path, "%s/million.bin", dir);
    size_t n = 1000000;
    char *a = malloc(n);
    ck_assert_ptr_nonnull(a);
    memset(a, 'a', n);
    drl_test_write_file(path, a, n);
    free(a);
    ck_assert_int_eq(drl_sha256_file(&e, path, hex), 0);
    ck_assert_str_eq(hex, HEX_MILLION_A);
    remove(path);

    snprintf(path, sizeof path, "%s/empty.bin", dir);
    drl_test_write_file(path, "", 0);
    ck_assert_int_eq(drl_sha256_file(&e, path, hex), 0);
    ck_assert_str_eq(hex, HEX_EMPTY);
    remove(path);

    snprintf(path, sizeof path, "%s/missing.bin", dir);
    ck_assert_int_eq(drl_sha256_file(&e, path, hex), DRL_ENOTFOUND);
    ck_assert_int_eq(e.code, DRL_ENOTFOUND);
    ck_assert_msg(strstr(e.msg, path) != NULL, "message lacks the path: %s", e.msg);
    ck_assert_str_eq(hex, "");

    ck_assert_int_eq(drl_sha256_file(&e, dir, hex), DRL_EIO);
    ck_assert_msg(strstr(e.msg, dir) != NULL, "message lacks the path: %s", e.msg);
    ck_assert_int_eq(drl_sha256_file(NULL, path, hex), DRL_ENOTFOUND);
    rmdir(dir);
}
END_TEST

static Suite *sha256_suite(void) {
    Suite *s = suite_create("sha256");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_nist_short);
    tcase_add_test(tc, test_nist_million_a);
    tcase_add_test(tc, test_incremental_splits);
    tcase_add_test(tc, test_file);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return drl_test_run(sha256_suite()); }
