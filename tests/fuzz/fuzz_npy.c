/* fuzz_npy.c — libFuzzer entry point: .npy read and the serialize round trip.
 * The body is drl_fuzz_npy in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_npy(data, size);
    return 0;
}
