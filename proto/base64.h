/* base64.h — RFC 4648 base64 (standard alphabet, '=' padding), for PNGs inside JSON.
 *
 * The decoder is strict: characters outside the alphabet, bad padding or a length that is not a
 * multiple of 4 are errors (whitespace is not allowed either), so a bad field is reported instead
 * of silently producing a different image. */
#ifndef DRL_PROTO_BASE64_H
#define DRL_PROTO_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "err.h"

/* Decoded size bound for n input characters. */
size_t drl_base64_decoded_max(size_t n);
/* Decodes n characters into a malloc'd buffer (caller frees). DRL_EFORMAT naming the offset of
 * the first bad character; DRL_ELIMIT when the decoded size would exceed max_out. */
int drl_base64_decode(drl_err *err, const char *in, size_t n, size_t max_out, uint8_t **out,
                      size_t *out_n);
/* Malloc'd NUL-terminated encoding (caller frees); NULL when out of memory. */
char *drl_base64_encode(const uint8_t *in, size_t n, size_t *out_n);

#endif
