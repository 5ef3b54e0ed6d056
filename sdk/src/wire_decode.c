/*
 * wire_decode.c - the ToFunction decoder of the hot path (see wire.h).
 *
 * It mirrors protobuf-c 1.4's unpacker rule by rule, because a request one
 * of them accepts and the other refuses would be a behaviour change:
 *   - a tag is at most 5 bytes, its first byte must carry field bits (so a
 *     one-byte field 0 is malformed, while longer encodings of any number,
 *     0 included, are unknown fields and skipped);
 *   - a varint is at most 10 bytes; a length prefix at most 5 bytes, at
 *     most INT_MAX, and within what is left; fixed32/64 need 4/8 bytes;
 *     groups (wire types 3 and 4) and wire types 6 and 7 are malformed,
 *     also in unknown fields;
 *   - strings, bytes and messages must be length-delimited; a bool takes
 *     any wire type and is true when any scanned byte has one of its low
 *     seven bits set (protobuf-c's parse_boolean, prefix included);
 *   - a singular message field seen twice is merged as merge_messages
 *     does: strings and submessages of the later one win when present,
 *     bytes when non-empty, the bool always; the oneof `invocation` seen
 *     twice is replaced, not merged.
 * Beyond protobuf-c, strings must be UTF-8 (check_utf8).
 *
 * In-place strings: the request is copied once into the arena, and a
 * string's terminating NUL is written over the byte just after it. That
 * byte is the next tag (or the end of the copy, which has one spare byte),
 * so the NUL is written only once that tag has been read: d->pending holds
 * the spot until then. Parsing only moves forward, so at most one spot is
 * pending at any time.
 */
#include <limits.h>
#include <stdint.h>
#include <string.h>

#include "sfb/pbwire.h"
#include "sfb/utf8.h"
#include "wire.h"

typedef struct dec {
  uint8_t *pending; /* where the last string's NUL goes once read past */
  bool check_utf8;
  bool nomem;
  bool bad_utf8; /* a string was not UTF-8 (check_utf8 off) */
  bool too_many; /* a batch went over max_inv or max_state */
  size_t max_inv, max_state;
  sf_arena *arena;
} dec;

typedef struct cur {
  uint8_t *p, *end;
} cur;

/* One field as protobuf-c scans it. */
typedef struct field {
  uint32_t num;
  unsigned wt;
  const uint8_t *raw; /* the value, a length prefix included */
  size_t raw_len;
  uint8_t *data; /* a length-delimited payload */
  size_t len;
} field;

/* protobuf-c's parse_tag_and_wiretype: the bytes used, 0 when malformed. */
static size_t read_tag(const uint8_t *p, size_t rem, uint32_t *num,
                       unsigned *wt) {
  size_t max = rem > 5 ? 5 : rem;
  if ((p[0] & 0xf8) == 0) return 0;
  *wt = p[0] & 7;
  uint32_t t = (uint32_t)(p[0] & 0x7f) >> 3;
  if (!(p[0] & 0x80)) {
    *num = t;
    return 1;
  }
  unsigned shift = 4;
  for (size_t i = 1; i < max; i++) {
    t |= (uint32_t)(p[i] & 0x7f) << shift;
    if (!(p[i] & 0x80)) {
      *num = t;
      return i + 1;
    }
    shift += 7;
  }
  return 0;
}

/* protobuf-c's scan_length_prefixed_data: prefix + payload, 0 if bad. */
static size_t read_len_prefix(const uint8_t *p, size_t rem, size_t *hdr) {
  size_t max = rem < 5 ? rem : 5, val = 0, i;
  for (i = 0; i < max; i++) {
    val |= (size_t)(p[i] & 0x7f) << (7 * i);
    if (!(p[i] & 0x80)) break;
  }
  if (i == max) return 0;
  *hdr = i + 1;
  if (val > INT_MAX || *hdr + val > rem) return 0;
  return *hdr + val;
}

/* Frames the next field without looking at its meaning: 1 read, 0 at the
 * end, -1 malformed. The general case; scan_field takes the usual one. */
static int scan_field_any(cur *c, field *f) {
  if (c->p == c->end) return 0;
  size_t rem = (size_t)(c->end - c->p);
  size_t used = read_tag(c->p, rem, &f->num, &f->wt);
  if (!used) return -1;
  c->p += used;
  rem -= used;
  size_t n, hdr = 0;
  switch (f->wt) {
    case 0: {
      size_t max = rem < 10 ? rem : 10, i;
      for (i = 0; i < max; i++)
        if (!(c->p[i] & 0x80)) break;
      if (i == max) return -1;
      n = i + 1;
      break;
    }
    case 1: n = 8; break;
    case 5: n = 4; break;
    case 2:
      n = read_len_prefix(c->p, rem, &hdr);
      if (!n) return -1;
      break;
    default: return -1;
  }
  if (n > rem) return -1;
  f->raw = c->p;
  f->raw_len = n;
  f->data = c->p + hdr;
  f->len = n - hdr;
  c->p += n;
  return 1;
}

/* scan_field_any, with the usual fields inline: a one-byte tag (fields 1
 * to 15) and a one-byte varint or a length below 128. Same results. */
static inline __attribute__((always_inline)) int scan_field(cur *c, field *f) {
  size_t rem = (size_t)(c->end - c->p);
  if (rem >= 2 && c->p[0] >= 8 && c->p[0] < 0x80 && c->p[1] < 0x80) {
    unsigned wt = c->p[0] & 7;
    size_t len = c->p[1];
    if (wt == SFB_WT_VARINT || (wt == SFB_WT_LEN && len <= rem - 2)) {
      f->num = c->p[0] >> 3;
      f->wt = wt;
      f->raw = c->p + 1;
      f->raw_len = wt == SFB_WT_LEN ? 1 + len : 1;
      f->data = c->p + (wt == SFB_WT_LEN ? 2 : 1);
      f->len = wt == SFB_WT_LEN ? len : 1;
      c->p += 1 + f->raw_len;
      return 1;
    }
  }
  return scan_field_any(c, f);
}

/* scan_field, and the pending NUL written once its byte has been read. */
static inline __attribute__((always_inline)) int next_field(dec *d, cur *c, field *f) {
  uint8_t *start = c->p;
  int r = scan_field(c, f);
  if (r > 0 && d->pending && d->pending <= start) {
    *d->pending = 0;
    d->pending = NULL;
  }
  return r;
}

static bool take_str(dec *d, const field *f, sf_wstr *s) {
  if (f->wt != 2) return false;
  if (!sfb_utf8_valid(f->data, f->len)) {
    if (d->check_utf8) return false;
    d->bad_utf8 = true;
  }
  s->p = (const char *)f->data;
  s->len = f->len;
  d->pending = f->data + f->len;
  return true;
}

static bool raw_bool(const field *f) {
  for (size_t i = 0; i < f->raw_len; i++)
    if (f->raw[i] & 0x7f) return true;
  return false;
}

static bool dec_address(dec *d, uint8_t *p, size_t n, sf_waddress *a) {
  cur c = {p, p + n};
  field f;
  int r;
  while ((r = next_field(d, &c, &f)) > 0) {
    bool ok = true;
    switch (f.num) {
      case 1: ok = take_str(d, &f, &a->ns); break;
      case 2: ok = take_str(d, &f, &a->type); break;
      case 3: ok = take_str(d, &f, &a->id); break;
      default: break; /* unknown: protobuf-c keeps it, nobody reads it */
    }
    if (!ok) return false;
  }
  return r == 0;
}

static bool dec_value(dec *d, uint8_t *p, size_t n, sf_wvalue *v) {
  cur c = {p, p + n};
  field f;
  int r;
  while ((r = next_field(d, &c, &f)) > 0) {
    switch (f.num) {
      case 1:
        if (!take_str(d, &f, &v->type_name)) return false;
        break;
      case 2: v->has_value = raw_bool(&f); break;
      case 3:
        if (f.wt != 2) return false;
        v->data = f.len ? f.data : NULL;
        v->len = f.len;
        break;
      default: break;
    }
  }
  return r == 0;
}

/* A singular Address field: decoding a later occurrence over the earlier
 * one is exactly protobuf-c's merge (strings win when present). */
static bool address_field(dec *d, const field *f, bool *has, sf_waddress *a) {
  if (f->wt != 2) return false;
  if (!*has) memset(a, 0, sizeof(*a));
  *has = true;
  return dec_address(d, f->data, f->len, a);
}

/* A singular TypedValue field, merged into an earlier occurrence as
 * protobuf-c's merge_messages does. */
static bool value_field(dec *d, const field *f, bool *has, sf_wvalue *v) {
  if (f->wt != 2) return false;
  if (!*has) { /* the usual case: the first occurrence, decoded in place */
    memset(v, 0, sizeof(*v));
    *has = true;
    return dec_value(d, f->data, f->len, v);
  }
  sf_wvalue later;
  memset(&later, 0, sizeof(later));
  if (!dec_value(d, f->data, f->len, &later)) return false;
  if (later.type_name.p) v->type_name = later.type_name;
  v->has_value = later.has_value;
  if (later.data) {
    v->data = later.data;
    v->len = later.len;
  }
  return true;
}

static bool dec_state(dec *d, const field *in, sf_wstate *s) {
  if (in->wt != 2) return false;
  memset(s, 0, sizeof(*s));
  cur c = {in->data, in->data + in->len};
  field f;
  int r;
  while ((r = next_field(d, &c, &f)) > 0) {
    bool ok = true;
    if (f.num == 1)
      ok = take_str(d, &f, &s->name);
    else if (f.num == 2)
      ok = value_field(d, &f, &s->has_value_msg, &s->value);
    if (!ok) return false;
  }
  return r == 0;
}

static bool dec_invocation(dec *d, const field *in, sf_winvocation *inv) {
  if (in->wt != 2) return false;
  memset(inv, 0, sizeof(*inv));
  cur c = {in->data, in->data + in->len};
  field f;
  int r;
  while ((r = next_field(d, &c, &f)) > 0) {
    bool ok = true;
    if (f.num == 1)
      ok = address_field(d, &f, &inv->has_caller, &inv->caller);
    else if (f.num == 2)
      ok = value_field(d, &f, &inv->has_argument, &inv->argument);
    if (!ok) return false;
  }
  return r == 0;
}

/* Counts the repeated fields first (framing checked), so each gets one
 * array of its exact size, as protobuf-c does. */
static bool dec_batch(dec *d, uint8_t *p, size_t n, sf_wbatch *b) {
  cur c = {p, p + n};
  field f;
  int r;
  size_t n_state = 0, n_inv = 0;
  while ((r = scan_field(&c, &f)) > 0) {
    n_state += f.num == 2;
    n_inv += f.num == 3;
  }
  if (r < 0) return false;
  memset(b, 0, sizeof(*b));
  if (n_inv > d->max_inv || n_state > d->max_state) {
    b->n_invocations = n_inv; /* for the reason; no arrays */
    b->n_state = n_state;
    return !(d->too_many = true);
  }
  if (n_state) {
    b->state = sf_arena_alloc(d->arena, n_state * sizeof(*b->state));
    if (!b->state) return !(d->nomem = true);
  }
  if (n_inv) {
    b->invocations = sf_arena_alloc(d->arena, n_inv * sizeof(*b->invocations));
    if (!b->invocations) return !(d->nomem = true);
  }
  c.p = p;
  while ((r = next_field(d, &c, &f)) > 0) {
    bool ok = true;
    if (f.num == 1)
      ok = address_field(d, &f, &b->has_target, &b->target);
    else if (f.num == 2)
      ok = dec_state(d, &f, &b->state[b->n_state++]);
    else if (f.num == 3)
      ok = dec_invocation(d, &f, &b->invocations[b->n_invocations++]);
    if (!ok) return false;
  }
  return r == 0;
}

sf_status sf_wire_decode_to_function(sf_arena *arena, const uint8_t *data,
                                     size_t len, bool check_utf8,
                                     sf_wto_function *out) {
  return sf_wire_decode_to_function_capped(arena, data, len, check_utf8,
                                           SIZE_MAX, SIZE_MAX, out);
}

sf_status sf_wire_decode_to_function_capped(sf_arena *arena,
                                            const uint8_t *data, size_t len,
                                            bool check_utf8,
                                            size_t max_invocations,
                                            size_t max_states,
                                            sf_wto_function *out) {
  memset(out, 0, sizeof(*out));
  if (!data && len) return SF_ERR_INVALID_ARGUMENT;
  /* One spare byte: the NUL of a string that ends the request. */
  uint8_t *copy = sf_arena_alloc(arena, len + 1);
  if (!copy) return SF_ERR_NOMEM;
  if (len) memcpy(copy, data, len);
  dec d = {NULL,  check_utf8, false,      false,
           false, max_invocations, max_states, arena};
  cur c = {copy, copy + len};
  field f;
  int r;
  while ((r = next_field(&d, &c, &f)) > 0) {
    if (f.num != 100) continue; /* unknown field */
    if (f.wt != 2) return SF_ERR_DECODE;
    /* A second `invocation` replaces the first (oneof). */
    out->has_batch = false;
    if (!dec_batch(&d, f.data, f.len, &out->batch))
      return d.nomem      ? SF_ERR_NOMEM
             : d.too_many ? SF_ERR_TOO_LARGE
                          : SF_ERR_DECODE;
    out->has_batch = true;
  }
  if (r < 0) return SF_ERR_DECODE;
  if (d.pending) *d.pending = 0;
  out->bad_utf8 = d.bad_utf8;
  return SF_OK;
}
