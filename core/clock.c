/* clock.c — monotonic clock (see clock.h). */
#include "clock.h"

#include <time.h>

double drl_clock_now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}
