/* inspect.c — `drl inspect FILE`: tensors and metadata of a safetensors file. */
#include <stdio.h>

#include "cli.h"

int drl_cli_inspect(int argc, char **argv) {
    (void)argc;
    (void)argv;
    fprintf(stderr, "drl inspect: not built yet in this version\n");
    return DRL_EXIT_UNAVAILABLE;
}
