/*
 * pbwire.c - the protobuf wire format (see sfb/pbwire.h): the one varint,
 * tag and fixed-width codec every encoder and decoder in the tree uses.
 */
#include "sfb/pbwire.h"

#include <float.h>
#include <math.h>

/* The writers and fixed-width readers are inline in sfb/pbwire.h. */

/* ---- float fields from a double ----------------------------------------- */

bool sfb_float_of_double(double d, float *out) {
  /* From FLT_MAX + half its unit in the last place (2^104) on, rounding
   * to nearest gives infinity (a tie too: FLT_MAX's last bit is odd); the
   * sum is exact in a double. */
  const double limit = (double)FLT_MAX + 0x1p103;
  if (isfinite(d) && (d >= limit || d <= -limit)) return false;
  if (isinf(d))
    *out = (float)d;
  else if (d > FLT_MAX)
    *out = FLT_MAX;
  else if (d < -FLT_MAX)
    *out = -FLT_MAX;
  else
    *out = (float)d;
  return true;
}

/* ---- reading ------------------------------------------------------------- */

void sfb_reader_init(sfb_reader *r, const void *data, size_t len) {
  r->p = data;
  r->end = data ? r->p + len : r->p;
}

bool sfb_reader_more(const sfb_reader *r) { return r->p && r->p < r->end; }

bool sfb_read_varint(sfb_reader *r, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (r->p >= r->end) return false;
    uint8_t b = *r->p++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

int sfb_read_tag(sfb_reader *r, uint32_t *field, unsigned *wt) {
  if (!sfb_reader_more(r)) return 0;
  uint64_t tag;
  if (!sfb_read_varint(r, &tag)) return -1;
  uint64_t f = tag >> 3;
  if (f == 0 || f > SFB_FIELD_MAX) return -1;
  *field = (uint32_t)f;
  *wt = (unsigned)(tag & 7);
  return 1;
}

bool sfb_read_len(sfb_reader *r, const uint8_t **p, size_t *n) {
  uint64_t len;
  if (!sfb_read_varint(r, &len) || len > (uint64_t)(r->end - r->p))
    return false;
  *p = r->p;
  *n = (size_t)len;
  r->p += len;
  return true;
}

/* Moves past `n` bytes if they are there. */
static bool skip_bytes(sfb_reader *r, size_t n) {
  if ((size_t)(r->end - r->p) < n) return false;
  r->p += n;
  return true;
}

bool sfb_read_fixed32(sfb_reader *r, uint32_t *out) {
  if ((size_t)(r->end - r->p) < 4) return false;
  *out = sfb_fixed32_get(r->p);
  r->p += 4;
  return true;
}

bool sfb_read_fixed64(sfb_reader *r, uint64_t *out) {
  if ((size_t)(r->end - r->p) < 8) return false;
  *out = sfb_fixed64_get(r->p);
  r->p += 8;
  return true;
}

static bool skip_value(sfb_reader *r, uint32_t field, unsigned wt, int depth);

/* Skips a group's fields up to the end tag of the same field number. The
 * depth bound keeps hostile nesting from exhausting the stack. */
static bool skip_group(sfb_reader *r, uint32_t field, int depth) {
  if (depth > 64) return false;
  for (;;) {
    uint32_t f;
    unsigned wt;
    if (sfb_read_tag(r, &f, &wt) != 1) return false; /* no end tag */
    if (wt == SFB_WT_EGROUP) return f == field;
    if (!skip_value(r, f, wt, depth)) return false;
  }
}

static bool skip_value(sfb_reader *r, uint32_t field, unsigned wt, int depth) {
  uint64_t v;
  const uint8_t *p;
  size_t n;
  switch (wt) {
  case SFB_WT_VARINT: return sfb_read_varint(r, &v);
  case SFB_WT_I64: return skip_bytes(r, 8);
  case SFB_WT_LEN: return sfb_read_len(r, &p, &n);
  case SFB_WT_SGROUP: return skip_group(r, field, depth + 1);
  case SFB_WT_I32: return skip_bytes(r, 4);
  default: return false; /* an unmatched end group, 6 and 7 */
  }
}

bool sfb_skip_field(sfb_reader *r, uint32_t field, unsigned wt) {
  return skip_value(r, field, wt, 0);
}
