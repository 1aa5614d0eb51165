/* pending.c — subcommands whose implementation has not landed yet. Each prints what it will do
 * and which issue builds it, and exits with DRL_EXIT_UNAVAILABLE: it never pretends to work. */
#include <stdio.h>

#include "cli.h"

static int pending(const char *name, const char *usage_text, int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        printf("%s\n(drl %s is not built yet in this version)\n", usage_text, name);
        return DRL_EXIT_OK;
    }
    fprintf(stderr, "%s\ndrl %s: not built yet in this version\n", usage_text, name);
    return DRL_EXIT_UNAVAILABLE;
}

int drl_cli_serve(int argc, char **argv) {
    return pending("serve",
                   "usage: drl serve [--model FILE] [--port 8080] [--threads N]\n"
                   "  HTTP/JSON inference server (/v1/encode, /v1/trajectory, /v1/sample, ...).",
                   argc, argv);
}
