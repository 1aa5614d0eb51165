/* cli.h — the `drl` subcommands. Each takes argv after the subcommand name (argv[0] is the
 * subcommand) and returns the process exit status: 0 ok, 1 runtime failure, 2 usage error,
 * 3 not available in this build. */
#ifndef DRL_CLI_H
#define DRL_CLI_H

#include "err.h"

enum { DRL_EXIT_OK = 0, DRL_EXIT_FAIL = 1, DRL_EXIT_USAGE = 2, DRL_EXIT_UNAVAILABLE = 3 };

int drl_cli_inspect(int argc, char **argv);
int drl_cli_serve(int argc, char **argv);
int drl_cli_train(int argc, char **argv);
int drl_cli_encode(int argc, char **argv);
int drl_cli_sample(int argc, char **argv);
int drl_cli_eval(int argc, char **argv);
int drl_cli_compare(int argc, char **argv);

/* Prints "drl CMD: message" for err to stderr and returns the exit status for its code. */
int drl_cli_fail(const char *cmd, const drl_err *err);
/* True if argv holds -h or --help. */
int drl_cli_wants_help(int argc, char **argv);
/* Option values as whole numbers: the entire string must parse ("1e4" is not an integer, "3e-4x"
 * is not a number). On a bad value prints "drl CMD: FLAG: 'V' is not an integer in [LO, HI]" /
 * "... is not a finite number" and returns -1 (the caller exits with DRL_EXIT_USAGE). */
int drl_cli_int(const char *cmd, const char *flag, const char *v, long long lo, long long hi,
                long long *out);
int drl_cli_float(const char *cmd, const char *flag, const char *v, float *out);
/* drl_cli_int for an int count in [0, INT_MAX]. */
int drl_cli_count(const char *cmd, const char *flag, const char *v, int *out);

#endif
