/* pending.c — subcommands whose implementation has not landed yet. Each prints what it will do
 * and which issue builds it, and exits with DRL_EXIT_UNAVAILABLE: it never pretends to work. */
#include <stdio.h>

#include "cli.h"

static int pending(const char *name, const char *usage_text, int argc, char **argv) {
    FILE *f = drl_cli_wants_help(argc, argv) ? stdout : stderr;
    fprintf(f, "%s\n", usage_text);
    fprintf(stderr, "drl %s: not built yet in this version\n", name);
    return DRL_EXIT_UNAVAILABLE;
}

int drl_cli_serve(int argc, char **argv) {
    return pending("serve",
                   "usage: drl serve [--model FILE] [--port 8080] [--threads N]\n"
                   "  HTTP/JSON inference server (/v1/encode, /v1/trajectory, /v1/sample, ...).",
                   argc, argv);
}

int drl_cli_train(int argc, char **argv) {
    return pending("train",
                   "usage: drl train [--config FILE.json] [--data IDX|DIR] --out MODEL "
                   "[--steps N] [--resume]\n"
                   "  Trains an encoder + score model with conditional denoising score matching.",
                   argc, argv);
}

int drl_cli_encode(int argc, char **argv) {
    return pending("encode",
                   "usage: drl encode --model FILE [--t T | --times K] [--out F.npy] INPUT...\n"
                   "  Embeds PNG files or an IDX file.",
                   argc, argv);
}

int drl_cli_sample(int argc, char **argv) {
    return pending("sample",
                   "usage: drl sample --model FILE (--image PNG | --code FILE | --interpolate A B) "
                   "[--n N] [--sampler pc|em|ode] [--steps S] [--seed K] --out GRID.png\n"
                   "  Samples images conditioned on a latent code.",
                   argc, argv);
}

int drl_cli_eval(int argc, char **argv) {
    return pending("eval",
                   "usage: drl eval --model FILE [--sampling]\n"
                   "  Linear probe and few-label accuracy of the embeddings vs raw pixels.",
                   argc, argv);
}
