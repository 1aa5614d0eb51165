/* fuzz_base64.c — libFuzzer entry point: base64 decode and the encode → decode identity.
 * The body is drl_fuzz_base64 in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_base64(data, size);
    return 0;
}
