/*
 * sfb/pbwire.h - the protobuf wire format, one implementation for the whole
 * tree: varints, tags and little-endian fixed values written into a
 * caller's fixed buffer, and a bounds-checked reader (varint, tag,
 * length-delimited payload, skipping a field). Growable output is
 * sfb/buf.h. Part of sfbase, the internal toolkit: never installed, never
 * exported from a shared library.
 */
#ifndef SFB_PBWIRE_H
#define SFB_PBWIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest varint (a uint64_t) in bytes. */
#define SFB_VARINT_MAX 10
/* The largest field number protobuf allows (2^29 - 1). */
#define SFB_FIELD_MAX 0x1FFFFFFFu

/* Wire types. */
enum {
  SFB_WT_VARINT = 0,
  SFB_WT_I64 = 1,
  SFB_WT_LEN = 2,
  SFB_WT_SGROUP = 3, /* deprecated groups: only skipped */
  SFB_WT_EGROUP = 4,
  SFB_WT_I32 = 5
};

/* ---- float fields from a double ---------------------------------------- */

/* A float field's value from a double read out of JSON (or any decimal):
 * d rounded to the nearest float into *out. A finite d beyond the float
 * range is refused (false), except within rounding of FLT_MAX: a float
 * printed with the digits that read back as the same float (FLT_MAX is
 * 3.4028235e38) parses as a double just above FLT_MAX, and is FLT_MAX.
 * NaN and the infinities are themselves. */
bool sfb_float_of_double(double d, float *out);

/* ---- writing into a fixed buffer ----------------------------------------- */

/* Writes `v` as a varint at `out` (room for sfb_varint_size(v) bytes,
 * at most SFB_VARINT_MAX); returns its length. These small writers and
 * readers are inline: every encoder calls them per field, and a call
 * across the library costs more than the work. */
static inline size_t sfb_varint_put(uint8_t *out, uint64_t v) {
  size_t n = 0;
  while (v >= 0x80) {
    out[n++] = (uint8_t)(v | 0x80);
    v >>= 7;
  }
  out[n++] = (uint8_t)v;
  return n;
}
/* The length sfb_varint_put would write. */
static inline size_t sfb_varint_size(uint64_t v) {
  size_t n = 1;
  while (v >= 0x80) {
    v >>= 7;
    n++;
  }
  return n;
}
/* Writes the tag of field `field` with wire type `wt` (one byte for fields
 * 1 to 15, at most 5); returns its length. */
static inline size_t sfb_tag_put(uint8_t *out, uint32_t field, unsigned wt) {
  return sfb_varint_put(out, ((uint64_t)field << 3) | (uint64_t)(wt & 7));
}
/* Little-endian fixed32/fixed64 (the I32/I64 wire types). */
static inline void sfb_fixed32_put(uint8_t out[4], uint32_t v) {
  for (int i = 0; i < 4; i++) out[i] = (uint8_t)(v >> (8 * i));
}
static inline void sfb_fixed64_put(uint8_t out[8], uint64_t v) {
  for (int i = 0; i < 8; i++) out[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t sfb_fixed32_get(const uint8_t in[4]) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v |= (uint32_t)in[i] << (8 * i);
  return v;
}
static inline uint64_t sfb_fixed64_get(const uint8_t in[8]) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v |= (uint64_t)in[i] << (8 * i);
  return v;
}

/* ZigZag (sint32/sint64): small negative numbers stay short varints. */
static inline uint32_t sfb_zigzag32(int32_t v) {
  return ((uint32_t)v << 1) ^ (uint32_t)(v >> 31);
}
static inline uint64_t sfb_zigzag64(int64_t v) {
  return ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
}
static inline int32_t sfb_unzigzag32(uint32_t u) {
  return (int32_t)((u >> 1) ^ (0u - (u & 1)));
}
static inline int64_t sfb_unzigzag64(uint64_t u) {
  return (int64_t)((u >> 1) ^ (0 - (u & 1)));
}

/* ---- reading ------------------------------------------------------------- */

/* A cursor over untrusted bytes: every read checks the end first and
 * returns false (or -1) rather than read past it. */
typedef struct sfb_reader {
  const uint8_t *p;
  const uint8_t *end;
} sfb_reader;

/* A reader over data[0..len). NULL data reads as empty. */
void sfb_reader_init(sfb_reader *r, const void *data, size_t len);
/* True while bytes are left. */
bool sfb_reader_more(const sfb_reader *r);
/* A varint of at most 10 bytes (bits beyond 64 are dropped, as protobuf
 * parsers do). False when truncated or longer. */
bool sfb_read_varint(sfb_reader *r, uint64_t *out);
/* The next tag: 1 with *field and *wt set, 0 at the end of the input, -1
 * when malformed (truncated, field 0 or above SFB_FIELD_MAX). */
int sfb_read_tag(sfb_reader *r, uint32_t *field, unsigned *wt);
/* A length-delimited payload (the length and then the bytes, which stay in
 * the input): *p and *n point at it. False when the length is truncated or
 * larger than what is left. */
bool sfb_read_len(sfb_reader *r, const uint8_t **p, size_t *n);
/* The 4 or 8 bytes of an I32/I64 value. */
bool sfb_read_fixed32(sfb_reader *r, uint32_t *out);
bool sfb_read_fixed64(sfb_reader *r, uint64_t *out);
/* Skips the value of a field whose tag (`field`, `wt`) was just read.
 * A group is skipped to its matching end tag (nesting up to 64 deep); an
 * unmatched end-group and the wire types 6 and 7 are malformed. */
bool sfb_skip_field(sfb_reader *r, uint32_t field, unsigned wt);

#endif /* SFB_PBWIRE_H */
