/* drl_load.c — closed-loop HTTP/1.1 load generator for drl serve (bench/load.sh drives it).
 *
 * C threads, each owning one keep-alive connection, send the same request back to back: the
 * next request leaves when the previous response has been read completely, so concurrency C
 * means at most C requests in flight. Responses are framed by Content-Length, chunked transfer
 * encoding or connection close; a connection the server closes (Connection: close, HTTP/1.0, or
 * an idle keep-alive connection dropped before the next request) is reopened. Requests that
 * start during --warmup are not counted. Latency is recorded for 2xx responses; non-2xx
 * responses are counted by status, socket and protocol errors separately.
 * Depends on libc and pthreads only.
 *
 * usage: drl_load --url http://HOST:PORT/PATH [--concurrency C] [--duration S] [--warmup S]
 *                 [--png FILE | --json FILE] [-H 'Name: value']... [--timeout S] [--json-out]
 * Without --png/--json the request is a GET. With --json-out the summary goes to stderr and one
 * JSON object line to stdout. Exit status: 0, 1 on a usage or setup error, 2 when no request
 * got a 2xx answer. */
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define BUF_CAP 65536     /* read buffer; also the longest status/header/chunk-size line */
#define MAX_HEADERS 16
#define MAX_STATUS 600

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static void sleep_s(double s) {
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    nanosleep(&ts, NULL);
}

/* ---------------------------------------------------------------------------------------------
 * Configuration and per-thread results */
typedef struct {
    char host[256], port[16], path[2048];
    struct addrinfo *addr;
    char *req;            /* the complete request: head + body */
    size_t req_len;
    double t_start, t_measure, t_end; /* warm-up starts, counting starts, no new requests */
    double timeout_s;
} load_cfg;

typedef struct {
    const load_cfg *cfg;
    pthread_t tid;
    double *lat_ms;       /* 2xx latencies, counted requests only */
    size_t n_lat, cap_lat;
    uint64_t status[MAX_STATUS];
    uint64_t sock_errors, proto_errors, connects, retries, bytes_in;
    double last_done;     /* completion time of the last counted request */
    int alloc_failed;
} load_thread;

/* ---------------------------------------------------------------------------------------------
 * One connection with a read buffer */
typedef struct {
    int fd;
    uint64_t served;      /* responses read on this connection */
    char buf[BUF_CAP];
    size_t off, len;      /* unread bytes are buf[off, len) */
    uint64_t bytes_in;
    int peer_closed;      /* the last failure was an end of stream or a reset, not a timeout */
} conn;

enum { X_DONE = 0, X_SOCK = -1, X_PROTO = -2, X_CONNECT = -3 /* a socket error too */ };

static void conn_close(conn *c) {
    if (c->fd >= 0) close(c->fd);
    c->fd = -1;
    c->off = c->len = 0;
    c->served = 0;
    c->peer_closed = 0;
}

static int conn_open(conn *c, const load_cfg *cfg) {
    conn_close(c);
    for (struct addrinfo *a = cfg->addr; a; a = a->ai_next) {
        int fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0) continue;
        struct timeval tv = {(time_t)cfg->timeout_s,
                             (suseconds_t)((cfg->timeout_s - (double)(time_t)cfg->timeout_s) * 1e6)};
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            c->fd = fd;
            return 0;
        }
        close(fd);
    }
    return -1;
}

/* Reads more bytes; >0 read, 0 end of stream, -1 error (including timeouts). */
static ssize_t conn_fill(conn *c) {
    if (c->off == c->len) c->off = c->len = 0;
    if (c->len == BUF_CAP && c->off > 0) {
        memmove(c->buf, c->buf + c->off, c->len - c->off);
        c->len -= c->off;
        c->off = 0;
    }
    if (c->len == BUF_CAP) return -1;
    for (;;) {
        ssize_t r = recv(c->fd, c->buf + c->len, BUF_CAP - c->len, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r > 0) c->len += (size_t)r, c->bytes_in += (uint64_t)r;
        c->peer_closed = r == 0 || (r < 0 && errno == ECONNRESET);
        return r;
    }
}

/* Next line without its CR LF, NUL-terminated inside the buffer (valid until the next read). */
static int conn_line(conn *c, char **line) {
    size_t scanned = 0;
    for (;;) {
        char *nl = memchr(c->buf + c->off + scanned, '\n', c->len - c->off - scanned);
        if (nl) {
            *line = c->buf + c->off;
            size_t n = (size_t)(nl - *line);
            c->off += n + 1;
            if (n > 0 && (*line)[n - 1] == '\r') n--;
            (*line)[n] = '\0';
            return X_DONE;
        }
        scanned = c->len - c->off;
        if (scanned == BUF_CAP) return X_PROTO; /* a line longer than the buffer */
        if (conn_fill(c) <= 0) return X_SOCK;
    }
}

static int conn_skip(conn *c, uint64_t n) {
    while (n > 0) {
        if (c->off == c->len) {
            ssize_t r = conn_fill(c);
            if (r <= 0) return X_SOCK;
        }
        size_t take = c->len - c->off;
        if (take > n) take = (size_t)n;
        c->off += take;
        n -= take;
    }
    return X_DONE;
}

static int conn_send(conn *c, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) {
            c->peer_closed = w < 0 && (errno == EPIPE || errno == ECONNRESET);
            return X_SOCK;
        }
        p += w, n -= (size_t)w;
    }
    return X_DONE;
}

/* ---------------------------------------------------------------------------------------------
 * HTTP/1.1 response framing */
static int parse_u64(const char *s, int base, uint64_t *out) {
    while (*s == ' ' || *s == '\t') s++;
    if (!*s) return -1;
    errno = 0;
    char *end;
    unsigned long long v = strtoull(s, &end, base);
    if (errno || end == s || *s == '-' || *s == '+') return -1;
    while (*end == ' ' || *end == '\t') end++;
    if (*end && !(base == 16 && *end == ';')) return -1; /* chunk extensions */
    *out = v;
    return 0;
}

static int has_token(const char *value, const char *token) {
    size_t n = strlen(token);
    for (const char *p = value; *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        const char *q = p;
        while (*q && *q != ',') q++;
        const char *e = q;
        while (e > p && (e[-1] == ' ' || e[-1] == '\t')) e--;
        if ((size_t)(e - p) == n && !strncasecmp(p, token, n)) return 1;
        p = q;
    }
    return 0;
}

/* Reads one response (skipping 1xx interim responses). *status gets the code, *keep whether the
 * connection may carry another request. */
static int read_response(conn *c, int *status, int *keep) {
    char *line;
    int rc;
    for (;;) {
        if ((rc = conn_line(c, &line))) return rc;
        int minor, code;
        char sp;
        if (sscanf(line, "HTTP/1.%1d %3d%c", &minor, &code, &sp) < 2 || code < 100 || code >= MAX_STATUS)
            return X_PROTO;
        int chunked = 0, has_len = 0, close_tok = 0, keep_tok = 0;
        uint64_t clen = 0;
        for (;;) {
            if ((rc = conn_line(c, &line))) return rc;
            if (!*line) break;
            char *colon = strchr(line, ':');
            if (!colon) return X_PROTO;
            *colon = '\0';
            const char *v = colon + 1;
            if (!strcasecmp(line, "Content-Length")) {
                if (parse_u64(v, 10, &clen)) return X_PROTO;
                has_len = 1;
            } else if (!strcasecmp(line, "Transfer-Encoding")) {
                chunked = has_token(v, "chunked");
            } else if (!strcasecmp(line, "Connection")) {
                close_tok |= has_token(v, "close");
                keep_tok |= has_token(v, "keep-alive");
            }
        }
        if (code < 200) continue; /* 100 Continue and friends: the real answer follows */
        *status = code;
        *keep = minor >= 1 ? !close_tok : keep_tok;
        if (code == 204 || code == 304) return X_DONE;
        if (chunked) {
            for (;;) {
                uint64_t n;
                if ((rc = conn_line(c, &line))) return rc;
                if (parse_u64(line, 16, &n)) return X_PROTO;
                if (n == 0) break;
                if ((rc = conn_skip(c, n))) return rc;
                if ((rc = conn_line(c, &line))) return rc;
                if (*line) return X_PROTO; /* chunk data must end with CR LF */
            }
            do { /* trailers up to the empty line */
                if ((rc = conn_line(c, &line))) return rc;
            } while (*line);
            return X_DONE;
        }
        if (has_len) return conn_skip(c, clen);
        /* neither: the body runs to the end of the connection */
        *keep = 0;
        for (;;) {
            c->off = c->len;
            ssize_t r = conn_fill(c);
            if (r == 0) return X_DONE;
            if (r < 0) return X_SOCK;
        }
    }
}

/* Sends the request and reads its answer. A connection that has served before and is closed or
 * reset before any byte of the answer arrived was most likely closed by the server while idle:
 * reopen it and try once more (a timeout is not retried: the server got the request). */
static int exchange(conn *c, const load_cfg *cfg, load_thread *th, int *status, int *keep) {
    for (int attempt = 0;; attempt++) {
        if (c->fd < 0) {
            th->connects++;
            if (conn_open(c, cfg)) return X_CONNECT;
        }
        uint64_t in0 = c->bytes_in;
        int reused = c->served > 0;
        int rc = conn_send(c, cfg->req, cfg->req_len);
        if (!rc) rc = read_response(c, status, keep);
        if (!rc) {
            c->served++;
            return X_DONE;
        }
        int stale = reused && c->bytes_in == in0 && rc == X_SOCK && c->peer_closed;
        conn_close(c);
        if (!stale || attempt > 0) return rc;
        th->retries++;
    }
}

static int record_latency(load_thread *th, double ms) {
    if (th->n_lat == th->cap_lat) {
        size_t cap = th->cap_lat ? 2 * th->cap_lat : 4096;
        double *p = realloc(th->lat_ms, cap * sizeof *p);
        if (!p) return -1;
        th->lat_ms = p, th->cap_lat = cap;
    }
    th->lat_ms[th->n_lat++] = ms;
    return 0;
}

static void *worker(void *arg) {
    load_thread *th = arg;
    const load_cfg *cfg = th->cfg;
    conn *c = malloc(sizeof *c);
    if (!c) {
        th->alloc_failed = 1;
        return NULL;
    }
    c->fd = -1;
    conn_close(c);
    c->bytes_in = 0;
    for (;;) {
        double t0 = now_s();
        if (t0 >= cfg->t_end) break;
        int status = 0, keep = 0;
        int rc = exchange(c, cfg, th, &status, &keep);
        double t1 = now_s();
        if (rc == X_DONE && !keep) conn_close(c);
        if (t0 >= cfg->t_measure) {
            th->last_done = t1;
            if (rc == X_SOCK || rc == X_CONNECT) th->sock_errors++;
            else if (rc == X_PROTO) th->proto_errors++;
            else {
                th->status[status]++;
                if (status >= 200 && status < 300 && record_latency(th, (t1 - t0) * 1e3))
                    th->alloc_failed = 1;
            }
        }
        if (rc == X_CONNECT && t1 < cfg->t_end) sleep_s(0.01); /* do not spin on a dead server */
    }
    th->bytes_in = c->bytes_in;
    conn_close(c);
    free(c);
    return NULL;
}

/* ---------------------------------------------------------------------------------------------
 * Setup and report */
static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile of a sorted array. */
static double pct(const double *v, size_t n, double p) {
    if (!n) return 0.0;
    size_t k = (size_t)ceil(p / 100.0 * (double)n);
    return v[k ? k - 1 : 0];
}

static int read_file(const char *path, char **data, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    for (size_t r; buf && (r = fread(buf + len, 1, cap - len, f)) > 0;) {
        len += r;
        if (len == cap) {
            char *nb = cap > SIZE_MAX / 2 ? NULL : realloc(buf, cap *= 2);
            if (!nb) free(buf);
            buf = nb;
        }
    }
    int bad = ferror(f) || !buf;
    fclose(f);
    if (bad) {
        free(buf);
        return -1;
    }
    *data = buf, *n = len;
    return 0;
}

static int parse_url(load_cfg *cfg, const char *url) {
    if (strncmp(url, "http://", 7)) return -1;
    const char *h = url + 7, *slash = strchr(h, '/');
    size_t hl = slash ? (size_t)(slash - h) : strlen(h);
    const char *path = slash ? slash : "/";
    if (strlen(path) >= sizeof cfg->path) return -1;
    strcpy(cfg->path, path);
    const char *colon;
    if (hl && h[0] == '[') { /* [v6addr]:port */
        const char *rb = memchr(h, ']', hl);
        if (!rb) return -1;
        colon = rb + 1 < h + hl && rb[1] == ':' ? rb + 1 : NULL;
        snprintf(cfg->host, sizeof cfg->host, "%.*s", (int)(rb - h - 1), h + 1);
    } else {
        colon = memchr(h, ':', hl);
        size_t n = colon ? (size_t)(colon - h) : hl;
        if (n == 0 || n >= sizeof cfg->host) return -1;
        snprintf(cfg->host, sizeof cfg->host, "%.*s", (int)n, h);
    }
    size_t pl = colon ? (size_t)(h + hl - colon - 1) : 2;
    if (pl == 0 || pl >= sizeof cfg->port) return -1;
    snprintf(cfg->port, sizeof cfg->port, "%.*s", (int)pl, colon ? colon + 1 : "80");
    return 0;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') fprintf(f, "\\%c", ch);
        else if (ch < 0x20) fprintf(f, "\\u%04x", ch);
        else fputc(ch, f);
    }
    fputc('"', f);
}

static void usage(FILE *f) {
    fprintf(f, "usage: drl_load --url http://HOST:PORT/PATH [--concurrency C] [--duration S]\n"
               "                [--warmup S] [--png FILE | --json FILE] [-H 'Name: value']...\n"
               "                [--timeout S] [--json-out]\n"
               "  C keep-alive connections send the same request back to back for S seconds\n"
               "  (POST of FILE with --png/--json, else GET) and report throughput, latency\n"
               "  percentiles of 2xx answers and failures by status.\n");
}

int main(int argc, char **argv) {
    const char *url = NULL, *png = NULL, *jsonf = NULL, *headers[MAX_HEADERS];
    int C = 1, json_out = 0, nh = 0;
    double duration = 10, warmup = 1, timeout = 30;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--json-out")) {
            json_out = 1;
            continue;
        }
        if (!v) {
            fprintf(stderr, "drl_load: %s needs a value\n", a);
            return 1;
        }
        i++;
        if (!strcmp(a, "--url")) url = v;
        else if (!strcmp(a, "--concurrency") || !strcmp(a, "-c")) C = atoi(v);
        else if (!strcmp(a, "--duration") || !strcmp(a, "-d")) duration = atof(v);
        else if (!strcmp(a, "--warmup")) warmup = atof(v);
        else if (!strcmp(a, "--timeout")) timeout = atof(v);
        else if (!strcmp(a, "--png")) png = v;
        else if (!strcmp(a, "--json")) jsonf = v;
        else if ((!strcmp(a, "-H") || !strcmp(a, "--header")) && nh < MAX_HEADERS) headers[nh++] = v;
        else {
            fprintf(stderr, "drl_load: unknown option %s\n", a);
            usage(stderr);
            return 1;
        }
    }
    if (!url || C < 1 || C > 10000 || !(duration > 0) || warmup < 0 || !(timeout > 0) || (png && jsonf)) {
        usage(stderr);
        return 1;
    }
    load_cfg cfg = {0};
    cfg.timeout_s = timeout;
    if (parse_url(&cfg, url)) {
        fprintf(stderr, "drl_load: cannot parse URL %s (http://HOST[:PORT]/PATH)\n", url);
        return 1;
    }
    struct addrinfo hints = {0};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    int gai = getaddrinfo(cfg.host, cfg.port, &hints, &cfg.addr);
    if (gai) {
        fprintf(stderr, "drl_load: %s:%s: %s\n", cfg.host, cfg.port, gai_strerror(gai));
        return 1;
    }

    /* The request, built once. */
    char *body = NULL;
    size_t body_n = 0;
    const char *file = png ? png : jsonf;
    if (file && read_file(file, &body, &body_n)) {
        fprintf(stderr, "drl_load: cannot read %s: %s\n", file, strerror(errno));
        return 1;
    }
    size_t extra = 0;
    for (int i = 0; i < nh; i++) extra += strlen(headers[i]) + 2;
    size_t head_cap = 512 + strlen(cfg.path) + strlen(cfg.host) + extra;
    cfg.req = malloc(head_cap + body_n);
    if (!cfg.req) return 1;
    int v6 = strchr(cfg.host, ':') != NULL;
    int hn = snprintf(cfg.req, head_cap, "%s %s HTTP/1.1\r\nHost: %s%s%s:%s\r\nUser-Agent: drl_load\r\n"
                      "Accept: */*\r\n", file ? "POST" : "GET", cfg.path, v6 ? "[" : "", cfg.host,
                      v6 ? "]" : "", cfg.port);
    for (int i = 0; i < nh; i++) hn += snprintf(cfg.req + hn, head_cap - (size_t)hn, "%s\r\n", headers[i]);
    if (file)
        hn += snprintf(cfg.req + hn, head_cap - (size_t)hn, "Content-Type: %s\r\nContent-Length: %zu\r\n",
                       png ? "image/png" : "application/json", body_n);
    hn += snprintf(cfg.req + hn, head_cap - (size_t)hn, "\r\n");
    if (body_n) memcpy(cfg.req + hn, body, body_n);
    cfg.req_len = (size_t)hn + body_n;
    free(body);

    load_thread *th = calloc((size_t)C, sizeof *th);
    if (!th) return 1;
    cfg.t_start = now_s();
    cfg.t_measure = cfg.t_start + warmup;
    cfg.t_end = cfg.t_measure + duration;
    int started = 0;
    for (; started < C; started++) {
        th[started].cfg = &cfg;
        if (pthread_create(&th[started].tid, NULL, worker, &th[started])) break;
    }
    for (int i = 0; i < started; i++) pthread_join(th[i].tid, NULL);
    if (started < C) fprintf(stderr, "drl_load: started only %d of %d threads\n", started, C);

    /* Merge. */
    uint64_t status[MAX_STATUS] = {0}, sock = 0, proto = 0, connects = 0, retries = 0, bytes = 0;
    size_t n_lat = 0;
    double last = cfg.t_measure;
    int alloc_failed = 0;
    for (int i = 0; i < started; i++) n_lat += th[i].n_lat;
    double *lat = malloc((n_lat ? n_lat : 1) * sizeof *lat);
    if (!lat) return 1;
    n_lat = 0;
    for (int i = 0; i < started; i++) {
        for (int s = 0; s < MAX_STATUS; s++) status[s] += th[i].status[s];
        sock += th[i].sock_errors, proto += th[i].proto_errors;
        connects += th[i].connects, retries += th[i].retries, bytes += th[i].bytes_in;
        if (th[i].last_done > last) last = th[i].last_done;
        alloc_failed |= th[i].alloc_failed;
        if (th[i].n_lat) memcpy(lat + n_lat, th[i].lat_ms, th[i].n_lat * sizeof *lat);
        n_lat += th[i].n_lat;
        free(th[i].lat_ms);
    }
    qsort(lat, n_lat, sizeof *lat, cmp_double);
    uint64_t ok = 0, answered = 0;
    for (int s = 0; s < MAX_STATUS; s++) {
        answered += status[s];
        if (s >= 200 && s < 300) ok += status[s];
    }
    uint64_t requests = answered + sock + proto, failures = requests - ok;
    double elapsed = last - cfg.t_measure;
    if (elapsed < duration) elapsed = duration;
    double mean = 0;
    for (size_t i = 0; i < n_lat; i++) mean += lat[i];
    mean = n_lat ? mean / (double)n_lat : 0;
    double p50 = pct(lat, n_lat, 50), p90 = pct(lat, n_lat, 90), p99 = pct(lat, n_lat, 99);
    double mx = n_lat ? lat[n_lat - 1] : 0;

    FILE *h = json_out ? stderr : stdout;
    fprintf(h, "%s %s  concurrency %d  duration %.1f s (+%.1f s warm-up)\n", file ? "POST" : "GET",
            url, C, elapsed, warmup);
    fprintf(h, "  requests %llu  ok %llu  failures %llu  (socket errors %llu, protocol errors %llu)\n",
            (unsigned long long)requests, (unsigned long long)ok, (unsigned long long)failures,
            (unsigned long long)sock, (unsigned long long)proto);
    for (int s = 0; s < MAX_STATUS; s++)
        if (status[s] && (s < 200 || s >= 300))
            fprintf(h, "    status %d: %llu\n", s, (unsigned long long)status[s]);
    fprintf(h, "  throughput %.1f req/s (2xx %.1f req/s)  connections %llu  stale retries %llu\n",
            (double)requests / elapsed, (double)ok / elapsed, (unsigned long long)connects,
            (unsigned long long)retries);
    fprintf(h, "  latency of 2xx (ms): p50 %.3f  p90 %.3f  p99 %.3f  max %.3f  mean %.3f\n", p50, p90,
            p99, mx, mean);
    if (alloc_failed) fprintf(h, "  warning: out of memory recording latencies (percentiles partial)\n");
    if (json_out) {
        printf("{\"url\":");
        json_str(stdout, url);
        printf(",\"method\":\"%s\",\"concurrency\":%d,\"duration_s\":%.3f,\"warmup_s\":%.3f,"
               "\"requests\":%llu,\"ok\":%llu,\"failures\":%llu,\"socket_errors\":%llu,"
               "\"protocol_errors\":%llu,\"status\":{",
               file ? "POST" : "GET", C, elapsed, warmup, (unsigned long long)requests,
               (unsigned long long)ok, (unsigned long long)failures, (unsigned long long)sock,
               (unsigned long long)proto);
        int first = 1;
        for (int s = 0; s < MAX_STATUS; s++)
            if (status[s]) {
                printf("%s\"%d\":%llu", first ? "" : ",", s, (unsigned long long)status[s]);
                first = 0;
            }
        printf("},\"rps\":%.2f,\"ok_rps\":%.2f,\"connections\":%llu,\"stale_retries\":%llu,"
               "\"bytes_in\":%llu,\"latency_ms\":{\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
               "\"max\":%.3f,\"mean\":%.3f}}\n",
               (double)requests / elapsed, (double)ok / elapsed, (unsigned long long)connects,
               (unsigned long long)retries, (unsigned long long)bytes, p50, p90, p99, mx, mean);
    }
    free(lat);
    free(th);
    free(cfg.req);
    freeaddrinfo(cfg.addr);
    return ok ? 0 : 2;
}
