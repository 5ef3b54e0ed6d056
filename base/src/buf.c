/*
 * buf.c - the growable byte buffer, its protobuf field writers and its
 * JSON string writer (see sfb/buf.h). The wire encoding itself is pbwire.c's.
 */
#include "sfb/buf.h"

#include <stdlib.h>
#include <string.h>

#include "sfb/pbwire.h"

void sfb_buf_free(sfb_buf *b) {
  free(b->p);
  memset(b, 0, sizeof *b);
}

void sfb_buf_reset(sfb_buf *b) {
  b->len = 0;
  b->oom = false;
}

/* Room for n more bytes; doubling keeps appends amortised O(1). */
bool sfb_buf_reserve(sfb_buf *b, size_t n) {
  if (b->oom) return false;
  if (n <= b->cap - b->len) return true;
  size_t cap = b->cap ? b->cap : 64;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2) {
      b->oom = true;
      return false;
    }
    cap *= 2;
  }
  uint8_t *q = realloc(b->p, cap);
  if (!q) {
    b->oom = true;
    return false;
  }
  b->p = q;
  b->cap = cap;
  return true;
}

void sfb_buf_put(sfb_buf *b, const void *p, size_t n) {
  if (!sfb_buf_reserve(b, n)) return;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
}

void sfb_buf_varint(sfb_buf *b, uint64_t v) {
  uint8_t t[SFB_VARINT_MAX];
  sfb_buf_put(b, t, sfb_varint_put(t, v));
}

void sfb_buf_tag(sfb_buf *b, uint32_t field, unsigned wt) {
  uint8_t t[SFB_VARINT_MAX];
  sfb_buf_put(b, t, sfb_tag_put(t, field, wt));
}

void sfb_buf_len_field(sfb_buf *b, uint32_t field, const void *p, size_t n) {
  sfb_buf_tag(b, field, SFB_WT_LEN);
  sfb_buf_varint(b, n);
  sfb_buf_put(b, p, n);
}

void sfb_buf_fixed32_field(sfb_buf *b, uint32_t field, uint32_t v) {
  uint8_t t[4];
  sfb_fixed32_put(t, v);
  sfb_buf_tag(b, field, SFB_WT_I32);
  sfb_buf_put(b, t, 4);
}

void sfb_buf_fixed64_field(sfb_buf *b, uint32_t field, uint64_t v) {
  uint8_t t[8];
  sfb_fixed64_put(t, v);
  sfb_buf_tag(b, field, SFB_WT_I64);
  sfb_buf_put(b, t, 8);
}

/* Escaped as jansson escapes it, so that answers written with it read
 * the same as json_dumps'; the hot answers (a send accepted, an egress
 * record, an entity call's result) are written with it: building a
 * jansson object for each cost more than the rest of the request. */
void sfb_buf_json_str(sfb_buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  sfb_buf_put(b, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)s[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    sfb_buf_put(b, s + run, i - run);
    run = i + 1;
    char esc[6] = {'\\', 0, 0, 0, 0, 0};
    size_t el = 2;
    switch (c) {
      case '"': esc[1] = '"'; break;
      case '\\': esc[1] = '\\'; break;
      case '\b': esc[1] = 'b'; break;
      case '\f': esc[1] = 'f'; break;
      case '\n': esc[1] = 'n'; break;
      case '\r': esc[1] = 'r'; break;
      case '\t': esc[1] = 't'; break;
      default:
        esc[1] = 'u';
        esc[2] = '0';
        esc[3] = '0';
        esc[4] = hex[c >> 4];
        esc[5] = hex[c & 15];
        el = 6;
    }
    sfb_buf_put(b, esc, el);
  }
  sfb_buf_put(b, s + run, n - run);
  sfb_buf_put(b, "\"", 1);
}
