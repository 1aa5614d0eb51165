/* threads.c — thread-count knob (see threads.h). */
#include "threads.h"

#include <omp.h>
#include <unistd.h>

/* Declared by OpenBLAS's cblas.h; repeated here so this file does not depend on its variant. */
void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

int drl_threads_cores(void) {
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

/* OpenBLAS stays single-threaded: its pthreads spin for ~0.1 s after each multi-threaded call
 * and then fight the OpenMP team for the cores (measured: conv at 20-45% of sgemm speed with 2
 * threads). drl's ops split their GEMMs across the OpenMP team themselves (conv.c, linear.c). */
void drl_threads_set(int n) {
    if (n <= 0) n = drl_threads_cores();
    openblas_set_num_threads(1);
    omp_set_num_threads(n);
    omp_set_max_active_levels(1); /* a region inside a shard's thread (model.h) stays on it */
}

int drl_threads_get(void) { return omp_get_max_threads(); }

/* Inside an active parallel region (a shard of a data-parallel step) an op stays on its thread. */
int drl_threads_team(double work, double min_work) {
    return work < min_work || omp_in_parallel() ? 1 : omp_get_max_threads();
}

void drl_threads_split(int n, int t, int T, int *lo, int *hi) {
    *lo = (int)((long)n * t / T);
    *hi = (int)((long)n * (t + 1) / T);
}

int drl_threads_blas_serial_begin(void) {
    int n = openblas_get_num_threads();
    if (n != 1) openblas_set_num_threads(1);
    return n;
}

void drl_threads_blas_serial_end(int previous) {
    if (previous != 1) openblas_set_num_threads(previous);
}
