/*
 * sfb/base64.h - standard base64 (RFC 4648, section 4: "+/" alphabet),
 * encoding with padding and strict decoding with a precise reason and
 * offset on failure (for file:line:col diagnostics and JSON codecs).
 */
#ifndef SFB_BASE64_H
#define SFB_BASE64_H

#include <stddef.h>
#include <stdint.h>

#include "sfb/buf.h"

/* Why a decode failed: a static sentence, and the offset in the text of
 * the character at fault. */
typedef struct sfb_base64_error {
  const char *why;
  size_t at;
} sfb_base64_error;

/* Decoding flags. */
enum {
  SFB_BASE64_PADDED = 1 /* the '=' padding to a multiple of 4 is required */
};

/* The padded encoding of data[0..len) as a malloc'd NUL-terminated string
 * (NULL when out of memory). */
char *sfb_base64_encode(const void *data, size_t len);

/* Appends the padded encoding of data[0..len) to `out` (no NUL; out of
 * memory shows as out->oom). With the room reserved first
 * (sfb_buf_reserve, (len + 2) / 3 * 4 bytes) it cannot fail. */
void sfb_base64_put(sfb_buf *out, const void *data, size_t len);

/* Decodes s[0..n), appending the bytes to `out`. Strict: only the
 * alphabet, '=' only as the final padding (optional unless
 * SFB_BASE64_PADDED), no 4k+1 lengths, and the unused low bits of the last
 * character zero (so each byte string has one encoding). 0 on success; -1
 * with *err filled (err may be NULL) and `out` holding a partial result.
 * Out of memory shows as out->oom. */
int sfb_base64_decode(const char *s, size_t n, unsigned flags, sfb_buf *out,
                      sfb_base64_error *err);

#endif /* SFB_BASE64_H */
