/* targets.h — the bodies of the fuzz targets, one per parser that sees outside bytes.
 *
 * Each body takes one input, runs it through the parser the way the server or CLI would, checks
 * what a successful parse promises (shapes, value ranges, round trips, valid JSON out) and
 * releases everything. A broken promise calls abort(), so libFuzzer reports it like a crash.
 * The libFuzzer entry points (tests/fuzz/fuzz_*.c, clang only) and the regression test
 * (tests/test_fuzz_regress.c, every compiler) call the same bodies, so a crash input saved
 * under tests/fuzz/regress/<name>/ replays exactly in the normal ctest run. Bodies never print
 * (except the one line before an abort). */
#ifndef DRL_FUZZ_TARGETS_H
#define DRL_FUZZ_TARGETS_H

#include <stddef.h>
#include <stdint.h>

/* PNG decode (channels 0, 1, 3) and the encode → decode round trip; then the same with every
 * chunk CRC made right, so mutations get past libpng's CRC checks. */
void drl_fuzz_png(const uint8_t *data, size_t n);
/* safetensors parse from memory, then serialize → parse gives the same tensors bit for bit. */
void drl_fuzz_safetensors(const uint8_t *data, size_t n);
/* IDX (plain or gzip) with a 1 MiB decompressed cap. */
void drl_fuzz_idx(const uint8_t *data, size_t n);
/* .npy read (through a memfd, the reader takes a path), then serialize → read round trip. */
void drl_fuzz_npy(const uint8_t *data, size_t n);
/* base64 decode (accepted text re-encodes to itself) and encode → decode identity. */
void drl_fuzz_base64(const uint8_t *data, size_t n);
/* The route codecs: byte 0 picks the route, byte 1 the model's time_cond and the media type
 * variant, the rest is the body. */
void drl_fuzz_codecs(const uint8_t *data, size_t n);
/* POST /v1/datasets bodies (tar of any compression, IDX, JSON) with small limits. */
void drl_fuzz_upload(const uint8_t *data, size_t n);

typedef struct {
    const char *name; /* directory under tests/fuzz/corpus and tests/fuzz/regress */
    void (*run)(const uint8_t *data, size_t n);
} drl_fuzz_target;

extern const drl_fuzz_target drl_fuzz_targets[];
extern const size_t drl_fuzz_n_targets;

/* Routes of drl_fuzz_codecs, indexed by data[0] % DRL_FUZZ_N_ROUTES. */
enum {
    DRL_FUZZ_ENCODE_JSON,
    DRL_FUZZ_ENCODE_PNG,
    DRL_FUZZ_TRAJECTORY_JSON,
    DRL_FUZZ_TRAJECTORY_PNG,
    DRL_FUZZ_SAMPLE,
    DRL_FUZZ_OIP,
    DRL_FUZZ_RELOAD,
    DRL_FUZZ_JOB,
    DRL_FUZZ_N_ROUTES
};

#endif
