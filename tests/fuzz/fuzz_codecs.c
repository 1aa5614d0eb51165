/* fuzz_codecs.c — libFuzzer entry point: the route codecs (byte 0 picks the route).
 * The body is drl_fuzz_codecs in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_codecs(data, size);
    return 0;
}
