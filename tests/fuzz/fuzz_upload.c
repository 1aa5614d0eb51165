/* fuzz_upload.c — libFuzzer entry point: dataset upload bodies (tar, IDX, JSON).
 * The body is drl_fuzz_upload in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_upload(data, size);
    return 0;
}
