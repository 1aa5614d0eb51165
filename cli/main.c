/* main.c — the `drl` binary: dispatch to subcommands. */
#include <stdio.h>
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
