/* threads.h — the one thread-count knob for OpenBLAS and drl's own OpenMP loops.
 *
 * drl's parallel loops split work so that every output element is computed by exactly one thread
 * in a fixed order: results do not depend on the thread count beyond OpenBLAS's own rounding.
 */
#ifndef DRL_THREADS_H
#define DRL_THREADS_H

/* Sets the thread count of drl's OpenMP team (OpenBLAS itself is kept single-threaded and the
 * ops split GEMMs across the team); n <= 0 means "number of online cores". */
void drl_threads_set(int n);
int drl_threads_get(void);
/* Number of online cores. */
int drl_threads_cores(void);

#endif
