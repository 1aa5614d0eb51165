/* test_trainer.c — the trainer's ETA estimate (training itself is covered end to end by
 * tests/cli_test.sh and the integration tests: loss falls, resume equivalence, SIGINT). */
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "trainer.h"

/* Intervals of 50 steps of 64 images at 100 img/s, with one interval stretched by a 10-minute
 * pause: the ETA is the true remaining time again within a few intervals of the pause (an
 * average over the whole run would stay 2-3x too long for the rest of it). */
START_TEST(test_eta_recovers_from_a_pause) {
    drl_train_eta e = {0};
    ck_assert(drl_train_eta_seconds(&e, 1000.0) == 0.0);
    const double imgs = 50.0 * 64.0, dt = imgs / 100.0, left = 100000.0, want = left / 100.0;
    for (int i = 0; i < 20; i++) drl_train_eta_add(&e, imgs, dt);
    ck_assert_msg(fabs(drl_train_eta_seconds(&e, left) - want) < 1e-6 * want, "steady: %g vs %g",
                  drl_train_eta_seconds(&e, left), want);
    drl_train_eta_add(&e, imgs, dt + 600.0);
    ck_assert_msg(drl_train_eta_seconds(&e, left) > 1.3 * want, "a pause counts at first");
    int k = 0;
    while (drl_train_eta_seconds(&e, left) > 1.05 * want && k < 100) drl_train_eta_add(&e, imgs, dt), k++;
    ck_assert_msg(k <= 10, "ETA within 5%% only after %d intervals", k);
    /* a change of speed is followed */
    for (int i = 0; i < 20; i++) drl_train_eta_add(&e, imgs, dt / 2);
    ck_assert_msg(fabs(drl_train_eta_seconds(&e, left) - want / 2) < 0.01 * want, "after a speed-up: %g vs %g",
                  drl_train_eta_seconds(&e, left), want / 2);
}
END_TEST

int main(void) {
    Suite *s = suite_create("trainer");
    TCase *tc = tcase_create("eta");
    tcase_add_test(tc, test_eta_recovers_from_a_pause);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
