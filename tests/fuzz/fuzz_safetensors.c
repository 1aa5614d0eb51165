/* fuzz_safetensors.c — libFuzzer entry point: safetensors parse from memory and the serialize round trip.
 * The body is drl_fuzz_safetensors in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_safetensors(data, size);
    return 0;
}
