/* fuzz_png.c — libFuzzer entry point: PNG decode and the encode → decode round trip.
 * The body is drl_fuzz_png in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_png(data, size);
    return 0;
}
