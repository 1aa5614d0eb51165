/* compare.c — `drl compare A.json[#ROW] B.json[#ROW]`: two rows of `drl eval --json` output
 * side by side, with the few-label protocols compared run by run. Run r of `drl eval` draws its
 * labelled images from (its seed, r, the train-split size) alone, so two evaluations with the same
 * train and test sizes scored every representation on the same labelled subsets; the difference
 * per run removes the subsets' own variance (most of the ± of the few-label columns), and the
 * summary says how sure the ordering is: mean difference, its standard error, the t statistic and
 * an exact two-sided sign test over the runs. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static const char *usage_text =
    "usage: drl compare A.json[#ROW] B.json[#ROW] [--json]\n"
    "Compares two rows of `drl eval --json` output: the linear probe, and the 100- and 1000-label\n"
    "protocols run by run (the same labelled images in run r of both, when both evaluations used\n"
    "the same train and test sizes and number of runs; otherwise the comparison is refused).\n"
    "ROW is a representation name as printed by drl eval (\"model\", \"raw pixels\",\n"
    "\"model, trajectory\", \"model, t = 0.5\", ...); default: the file's last row (the model's\n"
    "headline representation). Reports A - B: the mean difference in points, its standard error\n"
    "over runs, the t statistic, in how many runs A was ahead, and an exact two-sided sign test.\n"
    "  --json          machine-readable output\n";

typedef struct {
    char path[4096], row[128]; /* file and representation as asked for ("" = the last row) */
    json_t *doc;               /* owned */
    json_t *rec;               /* the chosen row (borrowed from doc) */
    const char *name;          /* its representation (borrowed) */
} side;

/* Loads "FILE[#ROW]" into s; prints the problem and returns -1 on bad content, -2 when the file
 * cannot be read or parsed. */
static int load_side(const char *arg, side *s) {
    const char *hash = strchr(arg, '#');
    size_t n = hash ? (size_t)(hash - arg) : strlen(arg);
    if (n == 0 || n >= sizeof s->path || (hash && strlen(hash + 1) >= sizeof s->row)) {
        fprintf(stderr, "drl compare: '%s' is not FILE or FILE#ROW\n", arg);
        return -1;
    }
    memcpy(s->path, arg, n);
    s->path[n] = 0;
    snprintf(s->row, sizeof s->row, "%s", hash ? hash + 1 : "");
    json_error_t je;
    s->doc = json_load_file(s->path, 0, &je);
    if (!s->doc) {
        fprintf(stderr, "drl compare: %s: %s (line %d)\n", s->path, je.text, je.line);
        return -2;
    }
    json_t *res = json_object_get(s->doc, "results");
    if (!json_is_array(res) || json_array_size(res) == 0) {
        fprintf(stderr, "drl compare: %s: no \"results\" rows (not `drl eval --json` output)\n", s->path);
        return -1;
    }
    if (!s->row[0]) {
        s->rec = json_array_get(res, json_array_size(res) - 1);
    } else {
        size_t i;
        json_t *r;
        json_array_foreach(res, i, r) {
            const char *nm = json_string_value(json_object_get(r, "representation"));
            if (nm && !strcmp(nm, s->row)) {
                s->rec = r;
                break;
            }
        }
        if (!s->rec) {
            fprintf(stderr, "drl compare: %s has no row '%s'; its rows:", s->path, s->row);
            json_array_foreach(res, i, r) {
                const char *nm = json_string_value(json_object_get(r, "representation"));
                fprintf(stderr, "%s '%s'", i ? "," : "", nm ? nm : "?");
            }
            fputc('\n', stderr);
            return -1;
        }
    }
    s->name = json_string_value(json_object_get(s->rec, "representation"));
    if (!s->name || !json_is_number(json_object_get(s->rec, "linear"))) {
        fprintf(stderr, "drl compare: %s: a row without \"representation\" or \"linear\"\n", s->path);
        return -1;
    }
    return 0;
}

/* Both evaluations must have drawn the same labelled subsets: same train size (the draw's range),
 * test size and run count. */
static int check_paired(const side *a, const side *b) {
    static const char *keys[] = {"train", "test", "runs"};
    for (int k = 0; k < 3; k++) {
        json_t *x = json_object_get(a->doc, keys[k]), *y = json_object_get(b->doc, keys[k]);
        if (!json_is_integer(x) || !json_is_integer(y)) {
            fprintf(stderr, "drl compare: \"%s\" missing in %s (not `drl eval --json` output)\n", keys[k],
                    json_is_integer(x) ? b->path : a->path);
            return -1;
        }
        if (json_integer_value(x) != json_integer_value(y)) {
            fprintf(stderr, "drl compare: not paired: %s has %s = %lld, %s has %lld (evaluate both with the same "
                            "--max-train, --max-test and --runs)\n", a->path, keys[k], (long long)json_integer_value(x),
                    b->path, (long long)json_integer_value(y));
            return -1;
        }
    }
    return 0;
}

/* log of n choose k */
static double log_choose(int n, int k) { return lgamma(n + 1.0) - lgamma(k + 1.0) - lgamma(n - k + 1.0); }

/* Exact two-sided sign test: wins and losses over the untied runs; p = P(|W - n/2| >= |w - n/2|)
 * for W ~ Binomial(n, 1/2), n = wins + losses (1 when n = 0). */
static double sign_test(int wins, int losses) {
    const int n = wins + losses, lo = wins < losses ? wins : losses;
    if (n == 0) return 1.0;
    double p = 0;
    for (int k = 0; k <= lo; k++) p += exp(log_choose(n, k) - n * log(2.0));
    p *= 2; /* the other tail, the same by symmetry */
    return p > 1 ? 1 : p;
}

typedef struct {
    int ok;              /* both rows have this protocol's runs */
    double a, b;         /* the means */
    double diff, se, t;  /* A - B per run: mean, standard error, mean / se (0 when se = 0) */
    int wins, losses, n; /* runs with A ahead / behind; runs compared */
    double p;            /* sign test */
} paired;

/* Fills out for protocol key ("labels_100" / "labels_1000"); prints and returns -1 if one side has
 * runs and the other has none, or the files predate per-run output. */
static int pair_protocol(const side *a, const side *b, const char *key, paired *out) {
    char rk[64];
    snprintf(rk, sizeof rk, "%s_runs", key);
    json_t *ra = json_object_get(a->rec, rk), *rb = json_object_get(b->rec, rk);
    memset(out, 0, sizeof *out);
    if (!json_is_array(ra) || !json_is_array(rb)) {
        fprintf(stderr, "drl compare: %s has no per-run accuracies (\"%s\"): written by an older drl eval; "
                        "re-run drl eval --json\n", json_is_array(ra) ? b->path : a->path, rk);
        return -1;
    }
    const size_t n = json_array_size(ra);
    if (n != json_array_size(rb)) {
        fprintf(stderr, "drl compare: %s: %zu runs in %s, %zu in %s\n", key, n, a->path, json_array_size(rb), b->path);
        return -1;
    }
    if (n == 0) return 0; /* the protocol did not run on either (too few training images) */
    double s = 0, s2 = 0, sa = 0, sb = 0;
    for (size_t r = 0; r < n; r++) {
        json_t *x = json_array_get(ra, r), *y = json_array_get(rb, r);
        if (!json_is_number(x) || !json_is_number(y)) {
            fprintf(stderr, "drl compare: %s: run %zu is not a number\n", rk, r);
            return -1;
        }
        const double d = 100 * (json_number_value(x) - json_number_value(y));
        sa += 100 * json_number_value(x), sb += 100 * json_number_value(y);
        s += d, s2 += d * d;
        out->wins += d > 0, out->losses += d < 0;
    }
    out->ok = 1;
    out->n = (int)n;
    out->a = sa / n, out->b = sb / n, out->diff = s / n;
    const double var = n > 1 ? fmax(0.0, (s2 - s * s / n) / (n - 1)) : 0.0;
    out->se = sqrt(var / n);
    out->t = out->se > 0 ? out->diff / out->se : 0.0;
    out->p = sign_test(out->wins, out->losses);
    return 0;
}

int drl_cli_compare(int argc, char **argv) {
    if (drl_cli_wants_help(argc, argv)) {
        fputs(usage_text, stdout);
        return DRL_EXIT_OK;
    }
    const char *args[2] = {NULL, NULL};
    int nargs = 0, as_json = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--json")) as_json = 1;
        else if (argv[i][0] == '-' && argv[i][1] == '-') {
            fprintf(stderr, "drl compare: unknown option '%s'\n", argv[i]);
            return DRL_EXIT_USAGE;
        } else if (nargs < 2) args[nargs++] = argv[i];
        else {
            fprintf(stderr, "drl compare: more than two evaluations given ('%s')\n", argv[i]);
            return DRL_EXIT_USAGE;
        }
    }
    if (nargs != 2) {
        fprintf(stderr, "drl compare: needs two evaluations, A.json[#ROW] B.json[#ROW] (see --help)\n");
        return DRL_EXIT_USAGE;
    }
    side s[2];
    memset(s, 0, sizeof s);
    paired pr[2];
    static const char *keys[2] = {"labels_100", "labels_1000"}, *labels[2] = {"100 labels", "1000 labels"};
    int rc = load_side(args[0], &s[0]);
    if (!rc) rc = load_side(args[1], &s[1]);
    if (!rc) rc = check_paired(&s[0], &s[1]);
    for (int k = 0; k < 2 && !rc; k++) rc = pair_protocol(&s[0], &s[1], keys[k], &pr[k]);
    if (!rc) {
        const double la = 100 * json_number_value(json_object_get(s[0].rec, "linear"));
        const double lb = 100 * json_number_value(json_object_get(s[1].rec, "linear"));
        if (as_json) {
            json_t *o = json_pack("{s:{s:s, s:s}, s:{s:s, s:s}, s:{s:f, s:f, s:f}}", "a", "file", s[0].path,
                                  "representation", s[0].name, "b", "file", s[1].path, "representation", s[1].name,
                                  "linear", "a", la, "b", lb, "diff", la - lb);
            for (int k = 0; k < 2; k++)
                if (pr[k].ok)
                    json_object_set_new(o, keys[k], json_pack("{s:f, s:f, s:f, s:f, s:f, s:i, s:i, s:i, s:f}", "a", pr[k].a,
                                                              "b", pr[k].b, "diff", pr[k].diff, "se", pr[k].se, "t", pr[k].t,
                                                              "runs", pr[k].n, "a_ahead", pr[k].wins, "b_ahead", pr[k].losses,
                                                              "sign_test_p", pr[k].p));
            char *txt = json_dumps(o, JSON_INDENT(2));
            puts(txt);
            free(txt);
            json_decref(o);
        } else {
            printf("A: %s # %s\nB: %s # %s\n", s[0].path, s[0].name, s[1].path, s[1].name);
            printf("%-12s %8s %8s   %s\n", "protocol", "A", "B", "A - B (points; few-label: paired over runs)");
            printf("%-12s %7.2f%% %7.2f%% %+8.2f\n", "linear", la, lb, la - lb);
            for (int k = 0; k < 2; k++)
                if (pr[k].ok)
                    printf("%-12s %8.2f %8.2f %+8.2f ± %.2f (s.e.), t = %+.2f; A ahead in %d of %d runs, behind in %d; "
                           "sign test p = %.3g\n", labels[k], pr[k].a, pr[k].b, pr[k].diff, pr[k].se, pr[k].t, pr[k].wins,
                           pr[k].n, pr[k].losses, pr[k].p);
        }
    }
    json_decref(s[0].doc);
    json_decref(s[1].doc);
    return rc == -2 ? DRL_EXIT_FAIL : rc ? DRL_EXIT_USAGE : DRL_EXIT_OK;
}
