/*
 * pbuf.h - a small malloc-backed protobuf wire writer shared by the code
 * generator (composite defaults encoded at generation time) and the
 * IR-driven JSON codec. Failed growth sets `oom` and later writes are
 * no-ops; the caller frees `p`.
 */
#ifndef SFC_PBUF_H
#define SFC_PBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct sfc_buf {
  uint8_t *p;
  size_t len, cap;
  bool oom;
} sfc_buf;

void sfc_b_raw(sfc_buf *b, const void *p, size_t n);
void sfc_b_varint(sfc_buf *b, uint64_t v);
/* A field tag: number and wire type. */
void sfc_b_tag(sfc_buf *b, uint32_t num, int wt);
/* A length-delimited field. */
void sfc_b_len(sfc_buf *b, uint32_t num, const void *p, size_t n);

#endif
