/* clock.h — the monotonic clock every timing, rate and ETA in drl is measured with. */
#ifndef DRL_CLOCK_H
#define DRL_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: use differences). */
double drl_clock_now_s(void);

#endif
