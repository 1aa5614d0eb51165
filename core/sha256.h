/* sha256.h — SHA-256 (FIPS 180-4), for checkpoint identity.
 *
 * A model's version is the first 12 hex digits of its file's SHA-256, so replicas serving the same
 * file report the same version. Streaming (init / update / final) so a file is hashed in chunks
 * without holding it in memory. */
#ifndef DRL_SHA256_H
#define DRL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

typedef struct {
    uint32_t h[8];     /* chaining state H0..H7 */
    uint64_t nbytes;   /* message length so far, in bytes */
    uint8_t buf[64];   /* partial block */
    size_t nbuf;       /* bytes used in buf, < 64 */
} drl_sha256_ctx;

void drl_sha256_init(drl_sha256_ctx *c);
void drl_sha256_update(drl_sha256_ctx *c, const void *data, size_t n);
/* Pads, writes the 32-byte digest, and wipes the context (init again to reuse it). */
void drl_sha256_final(drl_sha256_ctx *c, uint8_t out[32]);

/* One-shot digest of n bytes. */
void drl_sha256(const void *data, size_t n, uint8_t out[32]);
/* Lower-case hex, NUL-terminated (65 bytes). */
void drl_sha256_hex(const uint8_t d[32], char hex[65]);
/* Hex digest of a whole file, read in chunks. DRL_ENOTFOUND if it does not exist, DRL_EIO for
 * other open/read failures; the message names the path. */
int drl_sha256_file(drl_err *err, const char *path, char hex[65]);

#endif
