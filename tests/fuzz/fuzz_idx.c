/* fuzz_idx.c — libFuzzer entry point: IDX parse (plain or gzip).
 * The body is drl_fuzz_idx in targets.c, shared with tests/test_fuzz_regress.c. */
#include "targets.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    drl_fuzz_idx(data, size);
    return 0;
}
