/* test_metrics.c — server metrics: concurrent recording, text format 0.0.4, bounds, escaping.
 *
 * Rendered text is checked by a small parser written to the exposition format rules: every
 * comment is a HELP or TYPE line, every other line is `name{labels} value`, each family is
 * typed before its samples, and histogram buckets are cumulative, monotone and end in +Inf
 * equal to _count. */
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "testutil.h"

/* ------------------------------------------------------------------------------------------ */
/* A parser for the exposition format. */

enum { MAX_LABELS = 8, STR_MAX = 512 };

typedef struct {
    char name[128];
    int nl;
    char key[MAX_LABELS][64];
    char val[MAX_LABELS][STR_MAX]; /* unescaped */
    double value;
} sample;

typedef struct {
    sample *s;
    int n;
    char typed[64][128]; /* families with a TYPE line, in order */
    char type[64][16];
    int ntyped;
} parsed;

static int is_name_char(char c, int first, int colon) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') return 1;
    if (colon && c == ':') return 1;
    return !first && c >= '0' && c <= '9';
}

/* Reads a metric or label name at *p into out; returns its length (0 if none). */
static size_t read_name(const char **p, char *out, size_t cap, int colon) {
    size_t n = 0;
    while (is_name_char((*p)[n], n == 0, colon)) n++;
    ck_assert_msg(n > 0 && n < cap, "bad name at '%.40s'", *p);
    memcpy(out, *p, n);
    out[n] = '\0';
    *p += n;
    return n;
}

static const char *type_of(const parsed *ps, const char *family) {
    for (int i = 0; i < ps->ntyped; i++)
        if (strcmp(ps->typed[i], family) == 0) return ps->type[i];
    return NULL;
}

/* The family a sample belongs to: histogram series drop _bucket/_sum/_count. */
static const char *family_of(const parsed *ps, const char *name, char *buf, size_t cap) {
    if (type_of(ps, name)) return name;
    static const char *const suffix[] = {"_bucket", "_sum", "_count"};
    size_t n = strlen(name);
    for (int i = 0; i < 3; i++) {
        size_t k = strlen(suffix[i]);
        if (n > k && strcmp(name + n - k, suffix[i]) == 0 && n - k < cap) {
            memcpy(buf, name, n - k);
            buf[n - k] = '\0';
            const char *t = type_of(ps, buf);
            if (t && strcmp(t, "histogram") == 0) return buf;
        }
    }
    return NULL;
}

static void parse_text(parsed *ps, const char *text, size_t len) {
    memset(ps, 0, sizeof *ps);
    ck_assert_uint_eq(strlen(text), len);
    ck_assert_msg(len > 0 && text[len - 1] == '\n', "text does not end in a newline");
    int cap = 1024;
    ps->s = malloc((size_t)cap * sizeof(sample));
    ck_assert_ptr_nonnull(ps->s);
    const char *p = text;
    while (*p) {
        const char *eol = strchr(p, '\n');
        ck_assert_ptr_nonnull(eol);
        if (*p == '#') {
            char kind[8], name[128], rest[256];
            int k = sscanf(p, "# %7s %127s %255[^\n]", kind, name, rest);
            ck_assert_msg(k == 3, "bad comment line: %.*s", (int)(eol - p), p);
            if (strcmp(kind, "TYPE") == 0) {
                ck_assert_msg(!type_of(ps, name), "second TYPE for %s", name);
                ck_assert_msg(strcmp(rest, "counter") == 0 || strcmp(rest, "gauge") == 0 ||
                                  strcmp(rest, "histogram") == 0,
                              "bad type %s", rest);
                ck_assert_int_lt(ps->ntyped, 64);
                snprintf(ps->typed[ps->ntyped], 128, "%.127s", name);
                snprintf(ps->type[ps->ntyped], 16, "%.15s", rest);
                ps->ntyped++;
            } else {
                ck_assert_msg(strcmp(kind, "HELP") == 0, "comment is neither HELP nor TYPE");
            }
            p = eol + 1;
            continue;
        }
        if (ps->n == cap) {
            cap *= 2;
            ps->s = realloc(ps->s, (size_t)cap * sizeof(sample));
            ck_assert_ptr_nonnull(ps->s);
        }
        sample *s = &ps->s[ps->n];
        memset(s, 0, sizeof *s);
        read_name(&p, s->name, sizeof s->name, 1);
        if (*p == '{') {
            p++;
            while (*p != '}') {
                ck_assert_int_lt(s->nl, MAX_LABELS);
                read_name(&p, s->key[s->nl], sizeof s->key[0], 0);
                ck_assert_msg(p[0] == '=' && p[1] == '"', "bad label in %s", s->name);
                p += 2;
                size_t n = 0;
                while (*p != '"') {
                    ck_assert_msg(*p && *p != '\n', "unterminated label value in %s", s->name);
                    char c = *p++;
                    if (c == '\\') {
                        c = *p++;
                        ck_assert_msg(c == '\\' || c == '"' || c == 'n', "bad escape \\%c", c);
                        if (c == 'n') c = '\n';
                    }
                    ck_assert_uint_lt(n, STR_MAX - 1);
                    s->val[s->nl][n++] = c;
                }
                p++;
                s->nl++;
                ck_assert_msg(*p == ',' || *p == '}', "bad label separator in %s", s->name);
                if (*p == ',') p++;
            }
            p++;
        }
        ck_assert_msg(*p == ' ', "no space before the value of %s", s->name);
        p++;
        char *end;
        s->value = strtod(p, &end);
        ck_assert_msg(end > p && end == eol, "bad value for %s: %.*s", s->name, (int)(eol - p), p);
        char fam[128];
        ck_assert_msg(family_of(ps, s->name, fam, sizeof fam), "%s has no TYPE before it",
                      s->name);
        ps->n++;
        p = eol + 1;
    }
}

static const char *label(const sample *s, const char *key) {
    for (int i = 0; i < s->nl; i++)
        if (strcmp(s->key[i], key) == 0) return s->val[i];
    return NULL;
}

/* The sample named `name` with exactly the labels given as key, value pairs (NULL-terminated). */
static const sample *find(const parsed *ps, const char *name, ...) {
    const char *kv[2 * MAX_LABELS];
    int nkv = 0;
    va_list ap;
    va_start(ap, name);
    const char *k;
    while ((k = va_arg(ap, const char *)) && nkv < 2 * MAX_LABELS) {
        kv[nkv++] = k;
        kv[nkv++] = va_arg(ap, const char *);
    }
    va_end(ap);
    for (int i = 0; i < ps->n; i++) {
        const sample *s = &ps->s[i];
        if (strcmp(s->name, name) != 0 || s->nl != nkv / 2) continue;
        int ok = 1;
        for (int j = 0; j < nkv && ok; j += 2) {
            const char *v = label(s, kv[j]);
            ok = v && strcmp(v, kv[j + 1]) == 0;
        }
        if (ok) return s;
    }
    return NULL;
}

static double value_of(const parsed *ps, const char *name) {
    const sample *s = find(ps, name, NULL);
    ck_assert_msg(s != NULL, "no sample %s", name);
    return s->value;
}

/* Same labels apart from `le`. */
static int same_series(const sample *a, const sample *b) {
    int na = 0;
    for (int i = 0; i < a->nl; i++) {
        if (strcmp(a->key[i], "le") == 0) continue;
        const char *v = label(b, a->key[i]);
        if (!v || strcmp(v, a->val[i]) != 0) return 0;
        na++;
    }
    int nb = 0;
    for (int i = 0; i < b->nl; i++) nb += strcmp(b->key[i], "le") != 0;
    return na == nb;
}

static int is_bucket(const sample *s) {
    size_t n = strlen(s->name);
    return n > 7 && strcmp(s->name + n - 7, "_bucket") == 0;
}

/* Every histogram series: its buckets form one run of lines with le increasing and ending at
 * +Inf, counts cumulative (monotone), +Inf equal to _count, one _sum and one _count. A series
 * appearing as two runs is reported as a duplicate. Returns the number of series checked. */
static int check_histograms(const parsed *ps) {
    int nseries = 0;
    for (int i = 0; i < ps->n; i++) {
        const sample *s = &ps->s[i];
        if (!is_bucket(s)) continue;
        if (i > 0 && strcmp(ps->s[i - 1].name, s->name) == 0 && same_series(&ps->s[i - 1], s))
            continue; /* inside a run */
        nseries++;
        double prev_le = -INFINITY, prev = -1;
        int nb = 0, j = i;
        for (; j < ps->n && strcmp(ps->s[j].name, s->name) == 0 && same_series(&ps->s[j], s);
             j++) {
            const sample *b = &ps->s[j];
            const char *le = label(b, "le");
            ck_assert_ptr_nonnull(le);
            double v = strtod(le, NULL);
            ck_assert_msg(v > prev_le, "%s: le=%s not increasing", s->name, le);
            ck_assert_msg(b->value >= prev, "%s: bucket le=%s count %g below previous %g",
                          s->name, le, b->value, prev);
            prev_le = v;
            prev = b->value;
            nb++;
        }
        ck_assert_msg(isinf(prev_le), "%s: last bucket is not +Inf", s->name);
        ck_assert_int_gt(nb, 1);
        size_t n = strlen(s->name);
        char count_name[160], sum_name[160];
        snprintf(count_name, sizeof count_name, "%.*s_count", (int)(n - 7), s->name);
        snprintf(sum_name, sizeof sum_name, "%.*s_sum", (int)(n - 7), s->name);
        int runs = 0, have_count = 0, have_sum = 0;
        for (int k = 0; k < ps->n; k++) {
            const sample *c = &ps->s[k];
            if (strcmp(c->name, count_name) == 0 && same_series(c, s)) {
                ck_assert_msg(c->value == prev, "%s: +Inf %g != _count %g", count_name, prev,
                              c->value);
                have_count++;
            } else if (strcmp(c->name, sum_name) == 0 && same_series(c, s)) {
                have_sum++;
            } else if (strcmp(c->name, s->name) == 0 && same_series(c, s) &&
                       (k == 0 || strcmp(ps->s[k - 1].name, s->name) != 0 ||
                        !same_series(&ps->s[k - 1], s))) {
                runs++;
            }
        }
        ck_assert_msg(runs == 1, "%s: series split into %d runs", s->name, runs);
        ck_assert_int_eq(have_count, 1);
        ck_assert_int_eq(have_sum, 1);
    }
    return nseries;
}

static int count_named(const parsed *ps, const char *name) {
    int k = 0;
    for (int i = 0; i < ps->n; i++) k += strcmp(ps->s[i].name, name) == 0;
    return k;
}

static void render_parse(drl_metrics *m, const drl_metrics_gauges *g, parsed *ps) {
    size_t len = 0;
    char *text = drl_metrics_render(m, g, &len);
    ck_assert_ptr_nonnull(text);
    parse_text(ps, text, len);
    check_histograms(ps);
    free(text);
}

/* ------------------------------------------------------------------------------------------ */

enum { NTHREADS = 4, ITERS = 5000 };
static const char *const ROUTES[3] = {"/v1/encode", "/v2/models/{name}/infer", "/healthz"};
static const int STATUSES[2] = {200, 422};

typedef struct {
    drl_metrics *m;
    int id;
    atomic_int *stop;
} worker_arg;

static void *record_worker(void *p) {
    worker_arg *a = p;
    for (int k = 0; k < ITERS; k++) {
        drl_metrics_request(a->m, ROUTES[k % 3], (k & 1) ? "GET" : "POST", STATUSES[(k / 3) % 2],
                            1e-4 * (double)(k % 200));
        drl_metrics_batch(a->m, 1 + (k % 300));
        drl_metrics_samples(a->m, 2);
        if (k % 1000 == 0) drl_metrics_reload(a->m, a->id % 2);
    }
    return NULL;
}

static void *render_worker(void *p) {
    worker_arg *a = p;
    while (!atomic_load(a->stop)) {
        parsed ps;
        render_parse(a->m, NULL, &ps);
        free(ps.s);
    }
    return NULL;
}

START_TEST(test_concurrent_counts) {
    drl_metrics *m = drl_metrics_create();
    ck_assert_ptr_nonnull(m);
    atomic_int stop = 0;
    pthread_t th[NTHREADS], rth;
    worker_arg args[NTHREADS], rarg = {m, -1, &stop};
    ck_assert_int_eq(pthread_create(&rth, NULL, render_worker, &rarg), 0);
    for (int i = 0; i < NTHREADS; i++) {
        args[i] = (worker_arg){m, i, &stop};
        ck_assert_int_eq(pthread_create(&th[i], NULL, record_worker, &args[i]), 0);
    }
    for (int i = 0; i < NTHREADS; i++) pthread_join(th[i], NULL);
    atomic_store(&stop, 1);
    pthread_join(rth, NULL);

    /* What one thread records, counted the same way; every thread records the same. */
    long want[3][2][2] = {{{0}}}; /* route, method (0 POST, 1 GET), status */
    long lat_n[3][2] = {{0}};
    double lat_sum[3][2] = {{0}};
    long images = 0;
    for (int k = 0; k < ITERS; k++) {
        want[k % 3][k & 1][(k / 3) % 2]++;
        lat_n[k % 3][(k / 3) % 2]++;
        lat_sum[k % 3][(k / 3) % 2] += 1e-4 * (double)(k % 200);
        images += 1 + (k % 300);
    }

    parsed ps;
    render_parse(m, NULL, &ps);
    double total = 0;
    int nseries = 0;
    for (int r = 0; r < 3; r++)
        for (int s = 0; s < 2; s++) {
            char st[8];
            snprintf(st, sizeof st, "%d", STATUSES[s]);
            for (int me = 0; me < 2; me++) {
                if (!want[r][me][s]) continue; /* e.g. k%3 == 0 with k/3 even means k even */
                nseries++;
                const sample *x = find(&ps, "drl_http_requests_total", "route", ROUTES[r],
                                       "method", me ? "GET" : "POST", "status", st, NULL);
                ck_assert_msg(x != NULL, "missing %s %d", ROUTES[r], STATUSES[s]);
                ck_assert_msg(x->value == (double)(NTHREADS * want[r][me][s]),
                              "%s: %g != %ld", ROUTES[r], x->value, NTHREADS * want[r][me][s]);
                total += x->value;
            }
            const sample *c = find(&ps, "drl_http_request_duration_seconds_count", "route",
                                   ROUTES[r], "status", st, NULL);
            ck_assert_ptr_nonnull(c);
            ck_assert(c->value == (double)(NTHREADS * lat_n[r][s]));
            const sample *sum = find(&ps, "drl_http_request_duration_seconds_sum", "route",
                                     ROUTES[r], "status", st, NULL);
            ck_assert_ptr_nonnull(sum);
            double w = NTHREADS * lat_sum[r][s];
            ck_assert_msg(fabs(sum->value - w) <= 1e-9 * w, "sum %.17g != %.17g", sum->value, w);
        }
    ck_assert(total == NTHREADS * ITERS);
    ck_assert_int_eq(count_named(&ps, "drl_http_requests_total"), nseries);
    ck_assert_int_ge(nseries, 6);
    ck_assert_int_eq(check_histograms(&ps), 6 + 1);
    ck_assert(value_of(&ps, "drl_encode_batch_size_count") == NTHREADS * ITERS);
    ck_assert(value_of(&ps, "drl_encode_batch_size_sum") == (double)(NTHREADS * images));
    ck_assert(value_of(&ps, "drl_images_encoded_total") == (double)(NTHREADS * images));
    ck_assert(value_of(&ps, "drl_samples_generated_total") == 2.0 * NTHREADS * ITERS);
    const sample *ok = find(&ps, "drl_model_reloads_total", "result", "ok", NULL);
    const sample *bad = find(&ps, "drl_model_reloads_total", "result", "error", NULL);
    ck_assert(ok && bad);
    ck_assert(ok->value == (NTHREADS / 2) * (ITERS / 1000));
    ck_assert(bad->value == (NTHREADS / 2) * (ITERS / 1000));
    free(ps.s);
    drl_metrics_free(m);
}
END_TEST

/* le is inclusive: a value equal to a bound counts in that bucket. */
START_TEST(test_bucket_bounds) {
    drl_metrics *m = drl_metrics_create();
    ck_assert_ptr_nonnull(m);
    drl_metrics_request(m, "/r", "GET", 200, 0.001);   /* le=0.001 */
    drl_metrics_request(m, "/r", "GET", 200, 0.0011);  /* le=0.0025 */
    drl_metrics_request(m, "/r", "GET", 200, 0.0);     /* le=0.0005 */
    drl_metrics_request(m, "/r", "GET", 200, 60.0);    /* +Inf */
    drl_metrics_request(m, "/r", "GET", 200, NAN);     /* counted as 0 */
    drl_metrics_request(m, "/r", "GET", 200, -1.0);    /* counted as 0 */
    int sizes[] = {1, 3, 256, 257, 0, -4}; /* 0 and negative are ignored */
    for (int i = 0; i < 6; i++) drl_metrics_batch(m, sizes[i]);
    parsed ps;
    render_parse(m, NULL, &ps);
    const char *H = "drl_http_request_duration_seconds_bucket";
    struct {
        const char *le;
        double want;
    } lat[] = {{"0.0005", 3}, {"0.001", 4}, {"0.0025", 5}, {"10", 5}, {"+Inf", 6}};
    for (int i = 0; i < 5; i++) {
        const sample *s = find(&ps, H, "route", "/r", "status", "200", "le", lat[i].le, NULL);
        ck_assert_msg(s && s->value == lat[i].want, "le=%s: got %g want %g", lat[i].le,
                      s ? s->value : -1, lat[i].want);
    }
    ck_assert_int_eq(count_named(&ps, H), 15);
    const sample *sum = find(&ps, "drl_http_request_duration_seconds_sum", "route", "/r",
                             "status", "200", NULL);
    ck_assert(sum && fabs(sum->value - 60.0021) < 1e-12);
    const char *B = "drl_encode_batch_size_bucket";
    struct {
        const char *le;
        double want;
    } bs[] = {{"1", 1}, {"2", 1}, {"4", 2}, {"128", 2}, {"256", 3}, {"+Inf", 4}};
    for (int i = 0; i < 6; i++) {
        const sample *s = find(&ps, B, "le", bs[i].le, NULL);
        ck_assert_msg(s && s->value == bs[i].want, "batch le=%s: got %g want %g", bs[i].le,
                      s ? s->value : -1, bs[i].want);
    }
    ck_assert_int_eq(count_named(&ps, B), 10);
    ck_assert(value_of(&ps, "drl_images_encoded_total") == 1 + 3 + 256 + 257);
    free(ps.s);
    drl_metrics_free(m);
}
END_TEST

START_TEST(test_label_escaping) {
    drl_metrics *m = drl_metrics_create();
    ck_assert_ptr_nonnull(m);
    const char *route = "/a\"b\\c\nd";
    drl_metrics_request(m, route, "GET", 404, 0.01);
    drl_metrics_gauges g = {.model_name = "m\"x", .model_version = "v\\1",
                            .model_sha256 = "line\nbreak", .model_generation = 1};
    size_t len;
    char *text = drl_metrics_render(m, &g, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_ptr_nonnull(strstr(text, "route=\"/a\\\"b\\\\c\\nd\""));
    ck_assert_ptr_nonnull(
        strstr(text, "drl_model_info{name=\"m\\\"x\",version=\"v\\\\1\",sha256=\"line\\nbreak\"} 1\n"));
    parsed ps;
    parse_text(&ps, text, len);
    check_histograms(&ps);
    ck_assert_ptr_nonnull(
        find(&ps, "drl_http_requests_total", "route", route, "method", "GET", "status", "404", NULL));
    ck_assert_ptr_nonnull(find(&ps, "drl_http_request_duration_seconds_count", "route", route,
                               "status", "404", NULL));
    ck_assert_ptr_nonnull(find(&ps, "drl_model_info", "name", "m\"x", "version", "v\\1", "sha256",
                               "line\nbreak", NULL));
    free(ps.s);
    free(text);
    drl_metrics_free(m);
}
END_TEST

/* More label combinations than the table holds fold into route="other" and then one catch-all;
 * nothing is lost from the totals. Unknown methods and statuses become "other". */
START_TEST(test_bounded_labels) {
    drl_metrics *m = drl_metrics_create();
    ck_assert_ptr_nonnull(m);
    drl_metrics_request(m, "/v1/encode", "BREW", 200, 0.01);
    drl_metrics_request(m, "/v1/encode", "GET", 42, 0.01);
    drl_metrics_request(m, NULL, NULL, 200, 0.01);
    int n = 3;
    /* A route longer than the kept prefix, cut on a character boundary (é is 2 bytes). */
    char longr[300];
    for (int i = 0; i < 299; i += 2) memcpy(longr + i, "\xc3\xa9", 2);
    longr[299] = '\0';
    longr[298] = '\0';
    drl_metrics_request(m, longr, "GET", 200, 0.01);
    n++;
    char route[32];
    for (int i = 0; i < 300; i++, n++) {
        snprintf(route, sizeof route, "/r/%d", i);
        drl_metrics_request(m, route, "GET", 200, 0.01);
    }
    for (int i = 0; i < 1000; i++, n++) {
        snprintf(route, sizeof route, "/s/%d", i);
        drl_metrics_request(m, route, "POST", 100 + i % 500, 0.01);
    }

    parsed ps;
    render_parse(m, NULL, &ps);
    ck_assert_ptr_nonnull(find(&ps, "drl_http_requests_total", "route", "/v1/encode", "method",
                               "other", "status", "200", NULL));
    ck_assert_ptr_nonnull(find(&ps, "drl_http_requests_total", "route", "/v1/encode", "method",
                               "GET", "status", "other", NULL));
    ck_assert_ptr_nonnull(find(&ps, "drl_http_requests_total", "route", "other", "method", "other",
                               "status", "200", NULL));
    const sample *all = find(&ps, "drl_http_requests_total", "route", "other", "method", "other",
                             "status", "other", NULL);
    ck_assert_ptr_nonnull(all);
    ck_assert_int_le(count_named(&ps, "drl_http_requests_total"), 256);
    ck_assert_int_le(count_named(&ps, "drl_http_request_duration_seconds_count"), 256);
    double total = 0, lat_total = 0;
    for (int i = 0; i < ps.n; i++) {
        if (strcmp(ps.s[i].name, "drl_http_requests_total") == 0) total += ps.s[i].value;
        if (strcmp(ps.s[i].name, "drl_http_request_duration_seconds_count") == 0)
            lat_total += ps.s[i].value;
        const char *r = label(&ps.s[i], "route");
        if (r) ck_assert_uint_lt(strlen(r), 96);
    }
    char cut[96] = {0}; /* 47 × é: 94 bytes, the 48th would not fit whole in 95 */
    for (int i = 0; i < 47; i++) memcpy(cut + 2 * i, "\xc3\xa9", 2);
    ck_assert_ptr_nonnull(find(&ps, "drl_http_requests_total", "route", cut, "method", "GET",
                               "status", "200", NULL));
    ck_assert(total == n);
    ck_assert(lat_total == n);
    ck_assert_ptr_nonnull(find(&ps, "drl_http_request_duration_seconds_count", "route", "other",
                               "status", "other", NULL));
    free(ps.s);
    drl_metrics_free(m);
}
END_TEST

START_TEST(test_gauges_and_process) {
    drl_metrics *m = drl_metrics_create();
    ck_assert_ptr_nonnull(m);
    drl_metrics_samples(m, 5);
    drl_metrics_reload(m, 1);
    drl_metrics_reload(m, 0);
    drl_metrics_reload(m, 0);
    drl_metrics_gauges g = {.encode_queue_depth = 7, .sample_queue_depth = 2, .inflight = 3,
                            .model_name = "drl-fmnist", .model_version = "3f2a00112233",
                            .model_sha256 = "3f2a001122334455", .model_generation = 4,
                            .ready = 1, .draining = 0};
    parsed ps;
    render_parse(m, &g, &ps);
    ck_assert(value_of(&ps, "drl_encode_queue_depth") == 7);
    ck_assert(value_of(&ps, "drl_sample_queue_depth") == 2);
    ck_assert(value_of(&ps, "drl_http_inflight_requests") == 3);
    ck_assert(value_of(&ps, "drl_model_generation") == 4);
    ck_assert(value_of(&ps, "drl_ready") == 1);
    ck_assert(value_of(&ps, "drl_draining") == 0);
    ck_assert(value_of(&ps, "drl_samples_generated_total") == 5);
    const sample *info = find(&ps, "drl_model_info", "name", "drl-fmnist", "version",
                              "3f2a00112233", "sha256", "3f2a001122334455", NULL);
    ck_assert(info && info->value == 1);
    ck_assert(find(&ps, "drl_model_reloads_total", "result", "ok", NULL)->value == 1);
    ck_assert(find(&ps, "drl_model_reloads_total", "result", "error", NULL)->value == 2);
    ck_assert_str_eq(type_of(&ps, "drl_http_requests_total"), "counter");
    ck_assert_str_eq(type_of(&ps, "drl_http_request_duration_seconds"), "histogram");
    ck_assert_str_eq(type_of(&ps, "drl_encode_batch_size"), "histogram");
    ck_assert_str_eq(type_of(&ps, "drl_ready"), "gauge");
    double rss = value_of(&ps, "drl_process_resident_memory_bytes");
    ck_assert_msg(rss > 1e5 && rss < 1e12, "resident memory %g", rss);
    double start = value_of(&ps, "drl_process_start_time_seconds");
    /* the same clock as the server's (time() may run a tick behind, and truncates) */
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    double now = (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
    ck_assert_msg(start > now - 60 && start <= now + 0.5, "start %f, now %f", start, now);
    free(ps.s);

    /* Without gauges only the recorded families and the process gauges are rendered. */
    render_parse(m, NULL, &ps);
    ck_assert_ptr_null(find(&ps, "drl_ready", NULL));
    ck_assert_ptr_null(find(&ps, "drl_model_info", "name", "drl-fmnist", "version",
                            "3f2a00112233", "sha256", "3f2a001122334455", NULL));
    ck_assert_ptr_nonnull(find(&ps, "drl_process_start_time_seconds", NULL));
    free(ps.s);

    /* NULL metrics: recording is a no-op, freeing is allowed. */
    drl_metrics_request(NULL, "/x", "GET", 200, 0.1);
    drl_metrics_batch(NULL, 3);
    drl_metrics_free(NULL);
    drl_metrics_free(m);
}
END_TEST

static Suite *metrics_suite(void) {
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("server");
    tcase_add_test(tc, test_concurrent_counts);
    tcase_add_test(tc, test_bucket_bounds);
    tcase_add_test(tc, test_label_escaping);
    tcase_add_test(tc, test_bounded_labels);
    tcase_add_test(tc, test_gauges_and_process);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return drl_test_run(metrics_suite()); }
