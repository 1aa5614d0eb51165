/* test_registry.c — the served model's registry: load, refusal while a load runs, and the
 * promotion path (drl_registry_ensure), which waits for a running load and loads nothing when
 * another loader already made the wanted file current. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "registry.h"
#include "sha256.h"
#include "testutil.h"

/* Two tiny models on disk (different seeds, so different files) and their sha256s. */
static char path_a[512], path_b[512], sha_a[65], sha_b[65];

static void make_models(void) {
    const char *dir = drl_test_tmpdir();
    snprintf(path_a, sizeof path_a, "%s/a.safetensors", dir);
    snprintf(path_b, sizeof path_b, "%s/b.safetensors", dir);
    drl_config c = drl_test_tiny_config(0);
    const char *paths[2] = {path_a, path_b};
    char *shas[2] = {sha_a, sha_b};
    for (int i = 0; i < 2; i++) {
        drl_err e = {0};
        drl_model *m = NULL;
        ck_assert_int_eq(drl_model_create(&e, &c, 10 + (uint64_t)i, &m), 0);
        ck_assert_msg(drl_model_save(&e, m, paths[i], NULL, NULL, 0) == 0, "save: %s", e.msg);
        drl_model_free(m);
        ck_assert_int_eq(drl_sha256_file(&e, paths[i], shas[i]), 0);
    }
    ck_assert_str_ne(sha_a, sha_b);
}

static long generation_of(drl_registry *r, char sha[65]) {
    drl_served *s = drl_registry_acquire(r);
    ck_assert_ptr_nonnull(s);
    long g = s->generation;
    if (sha) memcpy(sha, s->sha256, 65);
    drl_registry_release(r, s);
    return g;
}

START_TEST(test_load_and_ensure) {
    make_models();
    drl_registry r;
    drl_registry_init(&r);
    drl_err e = {0};
    char prev[13] = "x", sha[65];
    ck_assert_int_eq(drl_registry_load(&e, &r, path_a, "m", prev), 0);
    ck_assert_str_eq(prev, "");
    ck_assert_int_eq(generation_of(&r, sha), 1);
    ck_assert_str_eq(sha, sha_a);
    /* already current: nothing loaded */
    int loaded = -1;
    ck_assert_int_eq(drl_registry_ensure(&e, &r, path_a, "m", sha_a, &loaded), 0);
    ck_assert_int_eq(loaded, 0);
    ck_assert_int_eq(generation_of(&r, NULL), 1);
    /* another file: loaded */
    ck_assert_int_eq(drl_registry_ensure(&e, &r, path_b, "m", sha_b, &loaded), 0);
    ck_assert_int_eq(loaded, 1);
    ck_assert_int_eq(generation_of(&r, sha), 2);
    ck_assert_str_eq(sha, sha_b);
    /* a file that does not load: an error, the current model stays, and the next load runs
     * (the failed one released its claim) */
    char missing[600];
    snprintf(missing, sizeof missing, "%s.missing", path_a);
    ck_assert_int_eq(drl_registry_ensure(&e, &r, missing, "m", sha_a, &loaded), DRL_ENOTFOUND);
    ck_assert_int_eq(loaded, 1);
    ck_assert_int_eq(generation_of(&r, sha), 2);
    ck_assert_str_eq(sha, sha_b);
    ck_assert_int_eq(drl_registry_load(&e, &r, path_a, "m", prev), 0);
    ck_assert_int_eq(strncmp(prev, sha_b, 12), 0); /* the replaced version */
    drl_registry_release_all(&r);
}
END_TEST

typedef struct {
    drl_registry *r;
    const char *path, *sha;
    int rc, done, loaded;
    pthread_mutex_t mu;
} ensure_job;

static void *run_ensure(void *arg) {
    ensure_job *j = arg;
    drl_err e = {0};
    int loaded = -1;
    int rc = drl_registry_ensure(&e, j->r, j->path, "m", j->sha, &loaded);
    pthread_mutex_lock(&j->mu);
    j->rc = rc, j->done = 1, j->loaded = loaded;
    pthread_mutex_unlock(&j->mu);
    return NULL;
}

static int job_done(ensure_job *j) {
    pthread_mutex_lock(&j->mu);
    int d = j->done;
    pthread_mutex_unlock(&j->mu);
    return d;
}

/* Another loader (the manifest watcher) holds the load when the promotion arrives: load refuses,
 * ensure waits for it, then loads its own file — or, when the other loader made that very file
 * current, loads nothing. The other loader is played by the test holding r.loading. */
START_TEST(test_ensure_waits_for_a_running_load) {
    make_models();
    drl_registry r;
    drl_registry_init(&r);
    drl_err e = {0};
    ck_assert_int_eq(drl_registry_load(&e, &r, path_a, "m", NULL), 0);
    for (int same = 0; same < 2; same++) {
        pthread_mutex_lock(&r.mu);
        r.loading = 1;
        pthread_mutex_unlock(&r.mu);
        ck_assert_int_eq(drl_registry_load(&e, &r, path_b, "m", NULL), DRL_EBUSY);
        long g0 = generation_of(&r, NULL);
        const char *want_path = same ? path_a : path_b, *want_sha = same ? sha_a : sha_b;
        ensure_job j = {&r, want_path, want_sha, -1, 0, -1, PTHREAD_MUTEX_INITIALIZER};
        pthread_t th;
        ck_assert_int_eq(pthread_create(&th, NULL, run_ensure, &j), 0);
        struct timespec pause = {0, 150 * 1000 * 1000};
        nanosleep(&pause, NULL);
        ck_assert_msg(!job_done(&j), "ensure returned while another load was running");
        pthread_mutex_lock(&r.mu);
        if (same) { /* the other loader made want_path current: swap it in as a load would */
            drl_served *s = r.current;
            memcpy(s->sha256, sha_a, 65);
        }
        r.loading = 0;
        pthread_cond_broadcast(&r.idle);
        pthread_mutex_unlock(&r.mu);
        pthread_join(th, NULL);
        ck_assert_int_eq(j.rc, 0);
        ck_assert_int_eq(j.loaded, !same);
        char sha[65];
        ck_assert_int_eq(generation_of(&r, sha), (same ? g0 : g0 + 1));
        ck_assert_str_eq(sha, want_sha);
        pthread_mutex_destroy(&j.mu);
    }
    drl_registry_release_all(&r);
}
END_TEST

int main(void) {
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_load_and_ensure);
    tcase_add_test(tc, test_ensure_waits_for_a_running_load);
    suite_add_tcase(s, tc);
    return drl_test_run(s);
}
