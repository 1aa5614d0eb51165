/* test_fuzz_regress.c — replays the fuzz inputs kept in the tree through the fuzz targets'
 * bodies (tests/fuzz/targets.h), with whatever compiler and sanitizers this build uses.
 *
 * For each target: every file of tests/fuzz/regress/<target>/ (inputs that once crashed, one
 * per bug fixed) and of tests/fuzz/corpus/<target>/ (the seeds, which reach the success paths
 * and their round-trip checks). A body that finds a broken promise aborts; the file being run
 * is then named on stderr by a signal handler (or the sanitizer's death callback), since the
 * crash itself only says where in the code it happened. */
#include <check.h>
#include <dirent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "targets.h"
#include "testutil.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HAVE_SANITIZER 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define HAVE_SANITIZER 1
#endif
#ifdef HAVE_SANITIZER
#include <sanitizer/common_interface_defs.h>
#endif

static char current[4096]; /* the input being replayed, for the crash report */

static void say_current(void) {
    static const char pre[] = "test_fuzz_regress: crashed on ";
    size_t n = strlen(current);
    if (!n) return;
    ssize_t w = write(2, pre, sizeof pre - 1);
    w = write(2, current, n);
    w = write(2, "\n", 1);
    (void)w;
}

static void on_crash(int sig) {
    say_current();
    signal(sig, SIG_DFL);
    raise(sig);
}

static void watch_crashes(void) {
    static const int sigs[] = {SIGABRT, SIGSEGV, SIGBUS, SIGFPE, SIGILL};
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) signal(sigs[i], on_crash);
#ifdef HAVE_SANITIZER
    __sanitizer_set_death_callback(say_current);
#endif
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every file of DRL_SOURCE_DIR/tests/fuzz/<kind>/<target>/ (sorted, hidden files skipped)
 * through t; returns how many. A missing directory holds none. */
static size_t replay(const drl_fuzz_target *t, const char *kind) {
    char dir[2048];
    snprintf(dir, sizeof dir, "%s/tests/fuzz/%s/%s", DRL_SOURCE_DIR, kind, t->name);
    DIR *d = opendir(dir);
    if (!d) return 0;
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.') continue;
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            names = realloc(names, cap * sizeof *names);
            ck_assert_ptr_nonnull(names);
        }
        names[n] = strdup(de->d_name);
        ck_assert_ptr_nonnull(names[n]);
        n++;
    }
    closedir(d);
    qsort(names, n, sizeof *names, by_name);
    for (size_t i = 0; i < n; i++) {
        snprintf(current, sizeof current, "%s/%s", dir, names[i]);
        size_t len;
        unsigned char *buf = drl_test_read_file(current, &len);
        ck_assert_msg(buf != NULL, "cannot read %s", current);
        /* An exact-size copy, so ASan sees a read past the input's end. */
        uint8_t *in = malloc(len ? len : 1);
        ck_assert_ptr_nonnull(in);
        memcpy(in, buf, len);
        free(buf);
        t->run(in, len);
        free(in);
        free(names[i]);
    }
    current[0] = '\0';
    free(names);
    return n;
}

START_TEST(test_replay) {
    const drl_fuzz_target *t = &drl_fuzz_targets[_i];
    watch_crashes();
    size_t seeds = replay(t, "corpus");
    size_t crashes = replay(t, "regress");
    /* An empty seed corpus means a wrong path, not a passing target. */
    ck_assert_msg(seeds > 0, "no seed files for %s under tests/fuzz/corpus", t->name);
    (void)crashes;
}
END_TEST

int main(void) {
    Suite *s = suite_create("fuzz_regress");
    TCase *tc = tcase_create("replay");
    tcase_add_loop_test(tc, test_replay, 0, (int)drl_fuzz_n_targets);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
