/* pbuf.c - see pbuf.h. */
#include "pbuf.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void sfc_b_raw(sfc_buf *b, const void *p, size_t n) {
  if (b->oom) return;
  if (n > b->cap - b->len) {
    size_t nc = b->cap ? b->cap : 64;
    while (nc - b->len < n) {
      if (nc > SIZE_MAX / 2) {
        b->oom = true;
        return;
      }
      nc *= 2;
    }
    uint8_t *q = realloc(b->p, nc);
    if (!q) {
      b->oom = true;
      return;
    }
    b->p = q;
    b->cap = nc;
  }
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
}

void sfc_b_varint(sfc_buf *b, uint64_t v) {
  uint8_t t[10];
  size_t n = 0;
  while (v >= 0x80) {
    t[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  t[n++] = (uint8_t)v;
  sfc_b_raw(b, t, n);
}

void sfc_b_tag(sfc_buf *b, uint32_t num, int wt) {
  sfc_b_varint(b, ((uint64_t)num << 3) | (uint64_t)wt);
}

void sfc_b_len(sfc_buf *b, uint32_t num, const void *p, size_t n) {
  sfc_b_tag(b, num, 2);
  sfc_b_varint(b, n);
  sfc_b_raw(b, p, n);
}
