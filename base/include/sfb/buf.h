/*
 * sfb/buf.h - a growable malloc'd byte buffer with protobuf field writers
 * (the growable half of sfb/pbwire.h) and a JSON string writer. A failed growth sets `oom` and makes
 * every later write a no-op, so a writer checks once at the end. The
 * buffer owns `p`; sfb_buf_free releases it. Zero-initialise to start.
 */
#ifndef SFB_BUF_H
#define SFB_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sfb_buf {
  uint8_t *p;
  size_t len, cap;
  bool oom;
} sfb_buf;

void sfb_buf_free(sfb_buf *b);
/* Empties the buffer (keeps its memory) and clears `oom`. */
void sfb_buf_reset(sfb_buf *b);
/* Makes room for n more bytes without writing them: false (and `oom` set)
 * when it cannot. */
bool sfb_buf_reserve(sfb_buf *b, size_t n);
/* Appends n bytes. */
void sfb_buf_put(sfb_buf *b, const void *p, size_t n);
void sfb_buf_varint(sfb_buf *b, uint64_t v);
/* A field tag: number and wire type. */
void sfb_buf_tag(sfb_buf *b, uint32_t field, unsigned wt);
/* A length-delimited field (tag, length, bytes), written even when empty. */
void sfb_buf_len_field(sfb_buf *b, uint32_t field, const void *p, size_t n);
/* s[0..n) as a quoted JSON string, escaped as jansson's json_dumps does
 * ('"', '\\', \b \f \n \r \t, other controls as \u00XX; the rest, UTF-8
 * included, as is). s must be valid UTF-8 (not checked). */
void sfb_buf_json_str(sfb_buf *b, const char *s, size_t n);
/* An I32 / I64 field (tag and 4 / 8 little-endian bytes). */
void sfb_buf_fixed32_field(sfb_buf *b, uint32_t field, uint32_t v);
void sfb_buf_fixed64_field(sfb_buf *b, uint32_t field, uint64_t v);

#endif /* SFB_BUF_H */
