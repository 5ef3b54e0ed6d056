/*
 * wire_encode.c - the FromFunction encoder of the hot path (see wire.h).
 *
 * Two passes over the wire structures the context recorded: the first
 * computes every nested message's size and every string's length once and
 * keeps them in field order (each message's slot before its children's),
 * the second writes the reply into one buffer of exactly the total size,
 * taking the sizes back in the same order for the length prefixes and the
 * string copies. No descriptor is consulted, no string is measured twice.
 *
 * The bytes are protobuf-c's for the same message (tests/unit/test_wire.c
 * compares them): fields in field-number order; proto3 scalars, strings
 * and bytes left out when zero or empty; a submessage written when its
 * pointer is set, however empty; a oneof
 * member when its case is selected and its pointer set; enums as int32
 * (a negative one takes ten bytes).
 */
#include <string.h>

#include "sfb/pbwire.h"
#include "wire.h"

typedef struct enc {
  uint32_t *sizes; /* one per nested message and non-empty string, in order */
  size_t n;        /* slots filled (pass 1) or taken (pass 2) */
  /* Strings measured lately, by address: a batch's egress records and
   * values share their namespace, type and typename strings, which stay
   * as they are while the reply is encoded. */
  const char *memo_s[4];
  size_t memo_n[4];
} enc;

/* ---- pass 1: sizes ---------------------------------------------------------- */

/* sfb_varint_size, with the one-byte case inline. */
static inline size_t varint_size(uint64_t v) {
  return v < 0x80 ? 1 : sfb_varint_size(v);
}

static size_t tag_size(uint32_t num) { return varint_size((uint64_t)num << 3); }

/* Reserves the next slot. */
static size_t slot(enc *e) { return e->n++; }

/* strlen(s), remembered by address. */
static size_t measure(enc *e, const char *s) {
  unsigned k = (unsigned)((uintptr_t)s >> 3) & 3;
  if (e->memo_s[k] != s) {
    e->memo_s[k] = s;
    e->memo_n[k] = strlen(s);
  }
  return e->memo_n[k];
}

/* A string field; its length is kept for pass 2 (put_str). */
static size_t str_size(enc *e, uint32_t num, const char *s) {
  if (!s || !*s) return 0;
  size_t n = measure(e, s);
  e->sizes[slot(e)] = (uint32_t)n;
  return tag_size(num) + varint_size(n) + n;
}

static size_t int_size(uint32_t num, int64_t v) {
  return v ? tag_size(num) + varint_size((uint64_t)v) : 0;
}

/* A nested message of `body` bytes as field `num`. */
static size_t nested_size(uint32_t num, size_t body) {
  return tag_size(num) + varint_size((uint32_t)body) + body;
}

static size_t address_size(enc *e, uint32_t num, const pb_address *a) {
  if (!a) return 0;
  size_t s = slot(e);
  size_t body = str_size(e, 1, a->namespace_);
  body += str_size(e, 2, a->type);
  body += str_size(e, 3, a->id);
  e->sizes[s] = (uint32_t)body;
  return nested_size(num, body);
}

static size_t value_size(enc *e, uint32_t num, const pb_typed_value *v) {
  if (!v) return 0;
  size_t s = slot(e);
  size_t body = str_size(e, 1, v->typename_) + (v->has_value ? 2 : 0);
  if (v->value.len) body += 1 + varint_size((uint32_t)v->value.len) + v->value.len;
  e->sizes[s] = (uint32_t)body;
  return nested_size(num, body);
}

static size_t mutation_size(enc *e, const pb_mutation *m) {
  size_t s = slot(e);
  size_t body = int_size(1, (int32_t)m->mutation_type);
  body += str_size(e, 2, m->state_name);
  body += value_size(e, 3, m->state_value);
  e->sizes[s] = (uint32_t)body;
  return nested_size(1, body);
}

static size_t message_size(enc *e, const pb_out_invocation *m) {
  size_t s = slot(e);
  size_t body = address_size(e, 1, m->target);
  body += value_size(e, 2, m->argument);
  e->sizes[s] = (uint32_t)body;
  return nested_size(2, body);
}

static size_t delayed_size(enc *e, const pb_delayed *d) {
  size_t s = slot(e);
  size_t body = int_size(1, d->delay_in_ms);
  body += address_size(e, 2, d->target);
  body += value_size(e, 3, d->argument);
  body += d->is_cancellation_request ? 2 : 0;
  body += str_size(e, 11, d->cancellation_token);
  e->sizes[s] = (uint32_t)body;
  return nested_size(3, body);
}

static size_t egress_size(enc *e, const pb_egress *g) {
  size_t s = slot(e);
  size_t body = str_size(e, 1, g->egress_namespace);
  body += str_size(e, 2, g->egress_type);
  body += value_size(e, 3, g->argument);
  e->sizes[s] = (uint32_t)body;
  return nested_size(4, body);
}

static size_t response_size(enc *e, const pb_response *r) {
  size_t s = slot(e), body = 0;
  for (size_t i = 0; i < r->n_state_mutations; i++)
    body += mutation_size(e, r->state_mutations[i]);
  for (size_t i = 0; i < r->n_outgoing_messages; i++)
    body += message_size(e, r->outgoing_messages[i]);
  for (size_t i = 0; i < r->n_delayed_invocations; i++)
    body += delayed_size(e, r->delayed_invocations[i]);
  for (size_t i = 0; i < r->n_outgoing_egresses; i++)
    body += egress_size(e, r->outgoing_egresses[i]);
  e->sizes[s] = (uint32_t)body;
  return nested_size(100, body);
}

static size_t spec_size(enc *e, const pb_value_spec *v) {
  size_t s = slot(e);
  size_t body = str_size(e, 1, v->state_name);
  if (v->expiration_spec) {
    size_t x = slot(e);
    size_t xb = int_size(1, (int32_t)v->expiration_spec->mode) +
                int_size(2, v->expiration_spec->expire_after_millis);
    e->sizes[x] = (uint32_t)xb;
    body += nested_size(2, xb);
  }
  body += str_size(e, 3, v->type_typename);
  e->sizes[s] = (uint32_t)body;
  return nested_size(1, body);
}

static size_t incomplete_size(enc *e, const pb_incomplete *inc) {
  size_t s = slot(e), body = 0;
  for (size_t i = 0; i < inc->n_missing_values; i++)
    body += spec_size(e, inc->missing_values[i]);
  e->sizes[s] = (uint32_t)body;
  return nested_size(101, body);
}

/* How many slots the sizes of `msg` take at most: per element, its nested
 * messages and string fields (a mutation: itself, its value and their two
 * strings; a message: itself, address, value, three address strings and a
 * typename; a delayed message: those and the token; an egress: itself,
 * its value, namespace, type, typename; a spec: itself, its expiration,
 * two strings). */
static size_t slots_needed(const pb_from_function *msg) {
  size_t n = 1;
  if (msg->response_case == IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT &&
      msg->invocation_result) {
    const pb_response *r = msg->invocation_result;
    n += 4 * r->n_state_mutations + 7 * r->n_outgoing_messages +
         8 * r->n_delayed_invocations + 5 * r->n_outgoing_egresses;
  } else if (msg->response_case == IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT &&
             msg->incomplete_invocation_context) {
    n += 4 * msg->incomplete_invocation_context->n_missing_values;
  }
  return n;
}

/* ---- pass 2: bytes ---------------------------------------------------------- */

/* sfb_varint_put, with the one-byte case (tags, short lengths) inline. */
static inline size_t varint_put(uint8_t *o, uint64_t v) {
  if (v < 0x80) {
    *o = (uint8_t)v;
    return 1;
  }
  return sfb_varint_put(o, v);
}

static uint8_t *put_tag(uint8_t *o, uint32_t num, unsigned wt) {
  return o + varint_put(o, ((uint64_t)num << 3) | wt);
}

/* A string field, its length the one str_size kept. */
static uint8_t *put_str(enc *e, uint8_t *o, uint32_t num, const char *s) {
  if (!s || !*s) return o;
  size_t n = e->sizes[e->n++];
  o = put_tag(o, num, SFB_WT_LEN);
  o += varint_put(o, n);
  memcpy(o, s, n);
  return o + n;
}

static uint8_t *put_int(uint8_t *o, uint32_t num, int64_t v) {
  if (!v) return o;
  o = put_tag(o, num, SFB_WT_VARINT);
  return o + varint_put(o, (uint64_t)v);
}

static uint8_t *put_bool(uint8_t *o, uint32_t num, bool v) {
  if (!v) return o;
  o = put_tag(o, num, SFB_WT_VARINT);
  *o = 1;
  return o + 1;
}

/* The tag and length prefix of the next nested message in pre-order. */
static uint8_t *put_nested(enc *e, uint8_t *o, uint32_t num) {
  o = put_tag(o, num, SFB_WT_LEN);
  return o + varint_put(o, e->sizes[e->n++]);
}

static uint8_t *put_address(enc *e, uint8_t *o, uint32_t num, const pb_address *a) {
  if (!a) return o;
  o = put_nested(e, o, num);
  o = put_str(e, o, 1, a->namespace_);
  o = put_str(e, o, 2, a->type);
  return put_str(e, o, 3, a->id);
}

static uint8_t *put_value(enc *e, uint8_t *o, uint32_t num, const pb_typed_value *v) {
  if (!v) return o;
  o = put_nested(e, o, num);
  o = put_str(e, o, 1, v->typename_);
  o = put_bool(o, 2, v->has_value);
  if (v->value.len) {
    o = put_tag(o, 3, SFB_WT_LEN);
    o += varint_put(o, (uint32_t)v->value.len);
    memcpy(o, v->value.data, v->value.len);
    o += v->value.len;
  }
  return o;
}

static uint8_t *put_response(enc *e, uint8_t *o, const pb_response *r) {
  o = put_nested(e, o, 100);
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    const pb_mutation *m = r->state_mutations[i];
    o = put_nested(e, o, 1);
    o = put_int(o, 1, (int32_t)m->mutation_type);
    o = put_str(e, o, 2, m->state_name);
    o = put_value(e, o, 3, m->state_value);
  }
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    const pb_out_invocation *m = r->outgoing_messages[i];
    o = put_nested(e, o, 2);
    o = put_address(e, o, 1, m->target);
    o = put_value(e, o, 2, m->argument);
  }
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    const pb_delayed *d = r->delayed_invocations[i];
    o = put_nested(e, o, 3);
    o = put_int(o, 1, d->delay_in_ms);
    o = put_address(e, o, 2, d->target);
    o = put_value(e, o, 3, d->argument);
    o = put_bool(o, 10, d->is_cancellation_request);
    o = put_str(e, o, 11, d->cancellation_token);
  }
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    const pb_egress *g = r->outgoing_egresses[i];
    o = put_nested(e, o, 4);
    o = put_str(e, o, 1, g->egress_namespace);
    o = put_str(e, o, 2, g->egress_type);
    o = put_value(e, o, 3, g->argument);
  }
  return o;
}

static uint8_t *put_incomplete(enc *e, uint8_t *o, const pb_incomplete *inc) {
  o = put_nested(e, o, 101);
  for (size_t i = 0; i < inc->n_missing_values; i++) {
    const pb_value_spec *v = inc->missing_values[i];
    o = put_nested(e, o, 1);
    o = put_str(e, o, 1, v->state_name);
    if (v->expiration_spec) {
      o = put_nested(e, o, 2);
      o = put_int(o, 1, (int32_t)v->expiration_spec->mode);
      o = put_int(o, 2, v->expiration_spec->expire_after_millis);
    }
    o = put_str(e, o, 3, v->type_typename);
  }
  return o;
}

sf_status sf_wire_encode_from_function(sf_arena *arena,
                                       const pb_from_function *msg,
                                       uint8_t **out, size_t *out_len) {
  bool result = msg->response_case == IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT &&
                msg->invocation_result;
  bool incomplete = msg->response_case == IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT &&
                    msg->incomplete_invocation_context;
  enc e = {sf_arena_alloc(arena, slots_needed(msg) * sizeof(uint32_t)), 0,
           {NULL, NULL, NULL, NULL}, {0, 0, 0, 0}};
  if (!e.sizes) return SF_ERR_NOMEM;
  size_t total = 0;
  if (result) total = response_size(&e, msg->invocation_result);
  if (incomplete) total = incomplete_size(&e, msg->incomplete_invocation_context);
  uint8_t *buf = sf_arena_alloc(arena, total ? total : 1);
  if (!buf) return SF_ERR_NOMEM;
  e.n = 0;
  uint8_t *end = buf;
  if (result) end = put_response(&e, buf, msg->invocation_result);
  if (incomplete) end = put_incomplete(&e, buf, msg->incomplete_invocation_context);
  *out = buf;
  *out_len = (size_t)(end - buf);
  return SF_OK;
}
