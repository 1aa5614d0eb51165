/* serve.c — `drl serve`: flags and environment → drl_server_config, signals, lifetime.
 *
 * Options come from one table: each has a flag and an environment variable (read when the flag
 * is absent), so Docker/Kubernetes configure the server by env and a shell user by flags, with
 * the same names and the same strict parsing (a malformed number is a usage error, never 0).
 * Signals are blocked in every thread and taken synchronously by the main thread with sigwait:
 * SIGTERM/SIGINT drain and exit 0, SIGHUP reloads the model. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "fileio.h"
#include "server.h"

static const char *usage_text =
    "usage: drl serve [--model FILE] [--port 8080] [--host 0.0.0.0] [options]\n"
    "HTTP/JSON inference server: /v1/encode, /v1/trajectory, /v1/sample, /v1/models,\n"
    "/v1/models/reload, Open Inference Protocol v2 (/v2/...), /healthz, /readyz, /metrics,\n"
    "/openapi.yaml (docs/api.md). Every option also reads the environment variable shown.\n"
    "  --model FILE            checkpoint (DRL_MODEL; default: the shipped drl-fmnist model)\n"
    "  --name NAME             served model name (DRL_NAME; default: file name)\n"
    "  --host ADDR             listen address (DRL_HOST; 0.0.0.0)\n"
    "  --port N                (DRL_PORT; 8080; 0 = any free port)\n"
    "  --port-file F           write the bound port to F once ready\n"
    "  --threads N             encoder threads (DRL_THREADS; cores)\n"
    "  --encode-workers W      batches computed at once, threads/W threads each (DRL_ENCODE_WORKERS;\n"
    "                          default = threads: one-thread workers, the best throughput)\n"
    "  --sample-threads N      sampling threads, lower priority (DRL_SAMPLE_THREADS; 1)\n"
    "  --max-batch N           images per encoder pass (DRL_MAX_BATCH; 64)\n"
    "  --max-delay-ms N        batching wait (DRL_MAX_DELAY_MS; 2)\n"
    "  --queue N               images waiting before 503 (DRL_QUEUE; 1024)\n"
    "  --max-body BYTES        request body limit (DRL_MAX_BODY; 16777216)\n"
    "  --max-images N          images per request (DRL_MAX_IMAGES; 256)\n"
    "  --max-image-side N      PNG width/height limit (DRL_MAX_IMAGE_SIDE; 1024)\n"
    "  --max-sample-n N        samples per request (DRL_MAX_SAMPLE_N; 16)\n"
    "  --max-sample-steps N    sampler steps per request (DRL_MAX_SAMPLE_STEPS; 1000)\n"
    "  --sample-queue N        sample requests waiting before 429 (DRL_SAMPLE_QUEUE; 4)\n"
    "  --max-connections N     (DRL_MAX_CONNECTIONS; 512)\n"
    "  --timeout S             idle connection timeout (DRL_TIMEOUT; 30)\n"
    "  --request-timeout S     a request body must arrive within S, else 408 (DRL_REQUEST_TIMEOUT; 60)\n"
    "  --max-inflight-body B   request-body bytes buffered at once, all requests (DRL_MAX_INFLIGHT_BODY; 1 GiB)\n"
    "  --max-connections-per-ip N  connections from one address (DRL_MAX_CONNECTIONS_PER_IP; 0 = no limit)\n"
    "  --token-file F          admin bearer token file (DRL_TOKEN_FILE; or the token in DRL_TOKEN)\n"
    "  --drain-delay-ms N      after SIGTERM, report not-ready this long before closing the\n"
    "                          listener (DRL_DRAIN_DELAY_MS; 0)\n"
    "  --drain-timeout-ms N    longest wait for in-flight requests (DRL_DRAIN_TIMEOUT_MS; 30000)\n"
    "  --cors-origin O         send Access-Control-Allow-Origin: O (DRL_CORS_ORIGIN; off)\n"
    "  --quiet                 no per-request log lines (DRL_QUIET=1)\n"
    "Training (the dataset and job routes; admin token required):\n"
    "  --work-dir DIR          datasets, jobs and promoted models live here; replicas may share\n"
    "                          it (DRL_WORK_DIR; without it training is disabled)\n"
    "  --models-dir DIR        promoted models and the `current` manifest (DRL_MODELS_DIR;\n"
    "                          DIR/models); a promoted model is served instead of --model\n"
    "  --train-threads N       training worker threads, lower priority (DRL_TRAIN_THREADS; 1)\n"
    "  --train-worker on|off   whether this process runs jobs (DRL_TRAIN_WORKER; on; one process\n"
    "                          per work dir runs them, the others stand by)\n"
    "  --max-upload BYTES      dataset upload limit (DRL_MAX_UPLOAD; 268435456)\n"
    "  --max-upload-images N   images per dataset (DRL_MAX_UPLOAD_IMAGES; 100000)\n"
    "  --manifest-poll-ms N    how often the `current` manifest is checked (DRL_MANIFEST_POLL_MS; 1000)\n"
    "Signals: SIGTERM/SIGINT drain and exit 0; SIGHUP reloads the model file.\n";

typedef enum { OPT_STR, OPT_INT, OPT_SIZE, OPT_FLAG, OPT_BOOL } opt_kind;

typedef struct {
    const char *flag, *env;
    opt_kind kind;
    void *dst;
    long long lo, hi;
} opt;


static int set_opt(const opt *o, const char *what, const char *v) {
    long long n;
    switch (o->kind) {
    case OPT_STR: *(const char **)o->dst = v; return 0;
    case OPT_FLAG: *(int *)o->dst = !(v && (!strcmp(v, "0") || !strcmp(v, "false"))); return 0;
    case OPT_BOOL:
        if (!strcmp(v, "on") || !strcmp(v, "1") || !strcmp(v, "true")) *(int *)o->dst = 1;
        else if (!strcmp(v, "off") || !strcmp(v, "0") || !strcmp(v, "false")) *(int *)o->dst = 0;
        else {
            fprintf(stderr, "drl serve: %s: '%s' is not on or off\n", what, v);
            return -1;
        }
        return 0;
    case OPT_INT:
        if (drl_cli_int("serve", what, v, o->lo, o->hi, &n)) return -1;
        *(int *)o->dst = (int)n;
        return 0;
    case OPT_SIZE:
        if (drl_cli_int("serve", what, v, o->lo, o->hi, &n)) return -1;
        *(size_t *)o->dst = (size_t)n;
        return 0;
    }
    return -1;
}

/* The shipped model: next to the working directory, beside the binary, or installed. */
static const char *find_default_model(char *buf, size_t cap) {
    const char *name = "drl-fmnist.safetensors";
    snprintf(buf, cap, "models/%s", name);
    if (access(buf, R_OK) == 0) return buf;
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n > 0) {
        exe[n] = 0;
        char *slash = strrchr(exe, '/');
        if (slash) {
            *slash = 0;
            if (snprintf(buf, cap, "%s/../models/%s", exe, name) < (int)cap && access(buf, R_OK) == 0) return buf;
            if (snprintf(buf, cap, "%s/models/%s", exe, name) < (int)cap && access(buf, R_OK) == 0) return buf;
        }
    }
    snprintf(buf, cap, "/usr/share/drl/models/%s", name);
    if (access(buf, R_OK) == 0) return buf;
#ifdef DRL_SOURCE_DIR
    snprintf(buf, cap, "%s/models/%s", DRL_SOURCE_DIR, name);
    if (access(buf, R_OK) == 0) return buf;
#endif
    return NULL;
}

/* Reads the token from a file (first line, trailing whitespace removed); malloc'd. */
static char *read_token(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "drl serve: --token-file %s: %s\n", path, strerror(errno));
        return NULL;
    }
    char buf[1024];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = 0;
    char *nl = strpbrk(buf, "\r\n");
    if (nl) *nl = 0;
    n = strlen(buf);
    while (n && (buf[n - 1] == ' ' || buf[n - 1] == '\t')) buf[--n] = 0;
    if (n < 8) {
        fprintf(stderr, "drl serve: --token-file %s: the token must have at least 8 characters\n", path);
        return NULL;
    }
    return strdup(buf);
}

static int write_port_file(const char *path, int port) {
    drl_err err = {0};
    char text[16];
    int n = snprintf(text, sizeof text, "%d\n", port);
    if (drl_file_write_atomic(&err, path, text, (size_t)n)) {
        fprintf(stderr, "drl serve: --port-file: %s\n", err.msg);
        return -1;
    }
    return 0;
}

int drl_cli_serve(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    drl_server_config cfg = drl_server_defaults();
    const char *port_file = NULL, *token_file = NULL;
    const opt opts[] = {
        {"--model", "DRL_MODEL", OPT_STR, &cfg.model_path, 0, 0},
        {"--name", "DRL_NAME", OPT_STR, &cfg.name, 0, 0},
        {"--host", "DRL_HOST", OPT_STR, &cfg.host, 0, 0},
        {"--port", "DRL_PORT", OPT_INT, &cfg.port, 0, 65535},
        {"--port-file", "DRL_PORT_FILE", OPT_STR, &port_file, 0, 0},
        {"--threads", "DRL_THREADS", OPT_INT, &cfg.threads, 0, 1024},
        {"--encode-workers", "DRL_ENCODE_WORKERS", OPT_INT, &cfg.encode_workers, 0, 1024},
        {"--sample-threads", "DRL_SAMPLE_THREADS", OPT_INT, &cfg.sample_threads, 1, 1024},
        {"--max-batch", "DRL_MAX_BATCH", OPT_INT, &cfg.max_batch, 1, 4096},
        {"--max-delay-ms", "DRL_MAX_DELAY_MS", OPT_INT, &cfg.max_delay_ms, 0, 10000},
        {"--queue", "DRL_QUEUE", OPT_INT, &cfg.queue, 1, 1 << 24},
        {"--max-body", "DRL_MAX_BODY", OPT_SIZE, &cfg.max_body, 1, 1LL << 32},
        {"--max-images", "DRL_MAX_IMAGES", OPT_INT, &cfg.max_images, 1, 1 << 20},
        {"--max-image-side", "DRL_MAX_IMAGE_SIDE", OPT_INT, &cfg.max_image_side, 1, 65535},
        {"--max-sample-n", "DRL_MAX_SAMPLE_N", OPT_INT, &cfg.max_sample_n, 1, 4096},
        {"--max-sample-steps", "DRL_MAX_SAMPLE_STEPS", OPT_INT, &cfg.max_sample_steps, 1, 100000},
        {"--sample-queue", "DRL_SAMPLE_QUEUE", OPT_INT, &cfg.sample_queue, 1, 1 << 20},
        {"--max-connections", "DRL_MAX_CONNECTIONS", OPT_INT, &cfg.max_connections, 1, 1 << 20},
        {"--timeout", "DRL_TIMEOUT", OPT_INT, &cfg.timeout_s, 0, 86400},
        {"--request-timeout", "DRL_REQUEST_TIMEOUT", OPT_INT, &cfg.request_timeout_s, 0, 86400},
        {"--max-inflight-body", "DRL_MAX_INFLIGHT_BODY", OPT_SIZE, &cfg.max_inflight_body, 1, 1LL << 40},
        {"--max-connections-per-ip", "DRL_MAX_CONNECTIONS_PER_IP", OPT_INT, &cfg.max_connections_per_ip, 0, 1 << 20},
        {"--token-file", "DRL_TOKEN_FILE", OPT_STR, &token_file, 0, 0},
        {"--drain-delay-ms", "DRL_DRAIN_DELAY_MS", OPT_INT, &cfg.drain_delay_ms, 0, 600000},
        {"--drain-timeout-ms", "DRL_DRAIN_TIMEOUT_MS", OPT_INT, &cfg.drain_timeout_ms, 0, 3600000},
        {"--cors-origin", "DRL_CORS_ORIGIN", OPT_STR, &cfg.cors_origin, 0, 0},
        {"--quiet", "DRL_QUIET", OPT_FLAG, &cfg.quiet, 0, 0},
        {"--work-dir", "DRL_WORK_DIR", OPT_STR, &cfg.work_dir, 0, 0},
        {"--models-dir", "DRL_MODELS_DIR", OPT_STR, &cfg.models_dir, 0, 0},
        {"--train-threads", "DRL_TRAIN_THREADS", OPT_INT, &cfg.train_threads, 1, 1024},
        {"--train-worker", "DRL_TRAIN_WORKER", OPT_BOOL, &cfg.worker, 0, 0},
        {"--max-upload", "DRL_MAX_UPLOAD", OPT_SIZE, &cfg.max_upload, 1, 1LL << 36},
        {"--max-upload-images", "DRL_MAX_UPLOAD_IMAGES", OPT_INT, &cfg.max_upload_images, 1, 10000000},
        {"--manifest-poll-ms", "DRL_MANIFEST_POLL_MS", OPT_INT, &cfg.manifest_poll_ms, 50, 3600000},
    };
    const int n_opts = (int)(sizeof opts / sizeof *opts);
    char seen[sizeof opts / sizeof *opts] = {0};
    for (int i = 1; i < argc; i++) {
        int k = 0;
        while (k < n_opts && strcmp(argv[i], opts[k].flag)) k++;
        if (k == n_opts) {
            fprintf(stderr, "%sdrl serve: unknown option '%s'\n", usage_text, argv[i]);
            return DRL_EXIT_USAGE;
        }
        const char *v = NULL;
        if (opts[k].kind != OPT_FLAG) {
            if (i + 1 >= argc) {
                fprintf(stderr, "drl serve: %s needs a value\n", argv[i]);
                return DRL_EXIT_USAGE;
            }
            v = argv[++i];
        }
        if (set_opt(&opts[k], opts[k].flag, v)) return DRL_EXIT_USAGE;
        seen[k] = 1;
    }
    for (int k = 0; k < n_opts; k++) {
        const char *v = seen[k] ? NULL : getenv(opts[k].env);
        if (v && *v && set_opt(&opts[k], opts[k].env, v)) return DRL_EXIT_USAGE;
    }
    char model_buf[PATH_MAX];
    if (!cfg.model_path && !(cfg.model_path = find_default_model(model_buf, sizeof model_buf))) {
        fprintf(stderr, "drl serve: no --model given and the default models/drl-fmnist.safetensors was not found\n");
        return DRL_EXIT_USAGE;
    }
    char *token = NULL;
    if (token_file) {
        if (!(token = read_token(token_file))) return DRL_EXIT_USAGE;
    } else if (getenv("DRL_TOKEN") && *getenv("DRL_TOKEN")) {
        token = strdup(getenv("DRL_TOKEN"));
    }
    cfg.token = token;

    /* Every thread created from here on inherits the blocked mask; only sigwait sees them. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);

    /* One thread per connection would give glibc up to 8 malloc arenas per core, each keeping
     * freed request buffers: cap them so the resident size follows the load, not the thread
     * count. */
    mallopt(M_ARENA_MAX, 4);
    drl_err err = {0};
    drl_server *srv = NULL;
    int rc = drl_server_create(&err, &cfg, &srv);
    if (token) {
        memset(token, 0, strlen(token));
        free(token);
    }
    if (rc) return drl_cli_fail("serve", &err);
    int port = drl_server_port(srv);
    char extra[4300];
    snprintf(extra, sizeof extra, "\"host\":\"%s\",\"port\":%d,\"model\":\"%.4000s\"", cfg.host, port, cfg.model_path);
    drl_server_log("info", "listening", extra);
    if (port_file && write_port_file(port_file, port)) {
        drl_server_shutdown(srv);
        drl_server_free(srv);
        return DRL_EXIT_FAIL;
    }
    for (;;) {
        int sig = 0;
        if (sigwait(&set, &sig)) continue;
        if (sig == SIGHUP) {
            drl_err e = {0};
            drl_server_reload(&e, srv, NULL, NULL); /* logs its outcome */
            continue;
        }
        drl_server_log("info", "draining", sig == SIGTERM ? "\"signal\":\"SIGTERM\"" : "\"signal\":\"SIGINT\"");
        break;
    }
    int left = drl_server_shutdown(srv);
    drl_server_free(srv);
    snprintf(extra, sizeof extra, "\"unfinished\":%d", left);
    drl_server_log("info", "stopped", extra);
    return left ? DRL_EXIT_FAIL : DRL_EXIT_OK;
}
