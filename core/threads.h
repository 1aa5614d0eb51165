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

/* Team size for an op of `work` units: 1 below min_work (not worth waking the team) or inside
 * an active parallel region (a data-parallel shard, model.h), else the configured thread count. */
int drl_threads_team(double work, double min_work);
/* Part t of T of [0, n): [*lo, *hi), contiguous and covering [0, n) in order. */
void drl_threads_split(int n, int t, int T, int *lo, int *hi);
/* Ops that run their own OpenMP team around OpenBLAS calls bracket them with these: begin sets
 * OpenBLAS to one thread (in case a caller changed it) and returns the previous count for end. */
int drl_threads_blas_serial_begin(void);
void drl_threads_blas_serial_end(int previous);

#endif
