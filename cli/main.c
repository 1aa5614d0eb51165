/* main.c — the `drl` binary: dispatch to subcommands. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

#ifndef DRL_VERSION
#define DRL_VERSION "0.1.0"
#endif

typedef struct {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} drl_command;

static const drl_command commands[] = {
    {"serve", drl_cli_serve, "serve embeddings, trajectories and samples over HTTP/JSON"},
    {"train", drl_cli_train, "train an encoder + score model with diffusion-based repr. learning"},
    {"encode", drl_cli_encode, "write embeddings of PNG or IDX images (.npy or JSON lines)"},
    {"sample", drl_cli_sample, "sample / reconstruct images conditioned on a code"},
    {"eval", drl_cli_eval, "linear-probe and few-label evaluation of a model's embeddings"},
    {"compare", drl_cli_compare, "paired comparison of two rows of `drl eval --json` output"},
    {"inspect", drl_cli_inspect, "print the tensors and metadata of a safetensors file"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: drl <command> [options]   (drl <command> --help for details)\n\n"
               "commands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(f, "  %-8s %s\n", commands[i].name, commands[i].summary);
    fprintf(f, "\ndrl %s — Diffusion-Based Representation Learning (Mittal et al., ICML 2023)\n",
            DRL_VERSION);
}

int drl_cli_fail(const char *cmd, const drl_err *err) {
    fprintf(stderr, "drl %s: %s\n", cmd, err->msg[0] ? err->msg : drl_err_name(err->code));
    return err->code == DRL_EINVAL ? DRL_EXIT_USAGE : DRL_EXIT_FAIL;
}

int drl_cli_wants_help(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) return 1;
    }
    return 0;
}

int drl_cli_int(const char *cmd, const char *flag, const char *v, long long lo, long long hi,
                long long *out) {
    char *end = NULL;
    errno = 0;
    const long long n = v ? strtoll(v, &end, 10) : 0;
    if (!v || errno || end == v || *end || n < lo || n > hi) {
        fprintf(stderr, "drl %s: %s: '%s' is not an integer in [%lld, %lld]\n", cmd, flag, v ? v : "",
                lo, hi);
        return -1;
    }
    *out = n;
    return 0;
}

int drl_cli_count(const char *cmd, const char *flag, const char *v, int *out) {
    long long n;
    if (drl_cli_int(cmd, flag, v, 0, INT_MAX, &n)) return -1;
    *out = (int)n;
    return 0;
}

int drl_cli_float(const char *cmd, const char *flag, const char *v, float *out) {
    char *end = NULL;
    const float x = v ? strtof(v, &end) : 0.0f; /* (ERANGE on underflow is fine; overflow is inf) */
    if (!v || end == v || *end || !isfinite(x)) {
        fprintf(stderr, "drl %s: %s: '%s' is not a finite number\n", cmd, flag, v ? v : "");
        return -1;
    }
    *out = x;
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return DRL_EXIT_USAGE;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return DRL_EXIT_OK;
    }
    if (!strcmp(argv[1], "--version") || !strcmp(argv[1], "version")) {
        printf("drl %s\n", DRL_VERSION);
        return DRL_EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "drl: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return DRL_EXIT_USAGE;
}
