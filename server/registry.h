/* registry.h — the model being served, swapped atomically on reload.
 *
 * A drl_served is one loaded checkpoint with its identity (name, sha256, version, generation).
 * Workers take a reference for the duration of one batch (drl_registry_acquire/release); a
 * reload loads, checks and warms the new model outside the lock, then swaps the pointer. The old
 * model is freed when its last reference goes, so requests in flight finish on the model they
 * started with and no request ever waits for a load (only a promotion, drl_registry_ensure, waits for a running one). */
#ifndef DRL_SERVER_REGISTRY_H
#define DRL_SERVER_REGISTRY_H

#include <pthread.h>

#include "codec.h"
#include "model.h"

typedef struct drl_served {
    drl_model *m;
    char name[128];
    char version[13];     /* first 12 hex digits of sha256 */
    char sha256[65];
    char path[4096];
    char loaded_at[32];   /* ISO 8601 UTC */
    long generation;
    drl_proto_model info; /* the codecs' view; strings point into this struct */
    int refs;             /* guarded by the registry mutex; the registry holds one while current */
} drl_served;

typedef struct {
    pthread_mutex_t mu;
    drl_served *current;  /* NULL until the first load succeeds */
    long generation;
    int loading;          /* a load is running (a second one gets DRL_EBUSY from load) */
    pthread_cond_t idle;  /* signalled when a load ends */
} drl_registry;

void drl_registry_init(drl_registry *r);
void drl_registry_release_all(drl_registry *r);

/* Loads path (name: the served name), hashes it, runs one warm-up forward pass, then makes it
 * current. On failure the current model is untouched. prev_version (may be NULL) receives the
 * replaced version ("" at the first load). Returns 0, DRL_ENOTFOUND, DRL_EFORMAT/DRL_EINVAL for
 * a bad checkpoint, or DRL_EBUSY when another load is running. */
int drl_registry_load(drl_err *err, drl_registry *r, const char *path, const char *name,
                      char prev_version[13]);

/* Makes the file at path, whose sha256 (hex) the caller knows, the current model: waits for a
 * running load instead of refusing, and loads nothing when the current model already has that
 * sha256 (another loader, such as the manifest watcher, got there first). *loaded says whether
 * this call loaded (1, also when that load failed) or found the model current (0). Returns 0 or
 * load's errors other than DRL_EBUSY. */
int drl_registry_ensure(drl_err *err, drl_registry *r, const char *path, const char *name, const char sha256[65],
                        int *loaded);

/* A reference to the current model (NULL before the first load); give it back with release. */
drl_served *drl_registry_acquire(drl_registry *r);
void drl_registry_release(drl_registry *r, drl_served *s);
/* One more reference to s (which the caller already holds). */
void drl_registry_retain(drl_registry *r, drl_served *s);

#endif
