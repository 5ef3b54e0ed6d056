/*
 * test_wire.c - the hot path's own codec (sdk/src/wire_*.c) against
 * protobuf-c, the codec it replaces.
 *
 * Decoding: on seeds, on thousands of random mutations of them (byte
 * flips, insertions, deletions, truncations, duplicated and spliced
 * slices, which make repeated and merged fields) and on randomly generated
 * field soups (every wire type, overlong tags, unknown and duplicate
 * fields, nesting), both decoders must agree on accept/reject and, when
 * they accept, on every field (fuzz/wire_diff.c, shared with the fuzz
 * target fuzz_wire). The UTF-8 check is the one intended difference: with
 * it on, a rejection protobuf-c does not share must come from a string
 * that is not UTF-8.
 *
 * Encoding: random FromFunction messages (every field, empty and NULL
 * strings/values, negative numbers, long values) must encode to the bytes
 * protobuf_c_message_pack writes.
 */
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "greet.h"
#include "support.h"
#include "wire_diff.h"
#include "sfb/pbwire.h"
#include "wire.h"

/* ---- a small deterministic PRNG ----------------------------------------- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(void) {
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return (uint32_t)(rng_state >> 16);
}
static uint32_t below(uint32_t n) { return n ? rnd() % n : 0; }

/* ---- decoding: comparison (fuzz/wire_diff.c) ------------------------------ */

static size_t n_checked, n_accepted;

static void differential(const uint8_t *data, size_t len) {
  bool accepted = false;
  const char *why = wire_diff(data, len, &accepted);
  n_checked++;
  n_accepted += accepted;
  if (why) {
    fprintf(stderr, "disagreement on %zu bytes:", len);
    for (size_t i = 0; i < len && i < 64; i++) fprintf(stderr, " %02x", data[i]);
    fprintf(stderr, "\n");
  }
  cr_assert_null(why, "%s (%zu bytes)", why, len);
}

/* ---- decoding: inputs --------------------------------------------------------- */

typedef struct blob {
  uint8_t *p;
  size_t n;
} blob;

static blob seeds[512];
static size_t n_seeds;

static void add_seed(uint8_t *p, size_t n) {
  if (n_seeds < sizeof seeds / sizeof seeds[0]) seeds[n_seeds++] = (blob){p, n};
  else free(p);
}

static void built_seeds(void) {
  tf_req *r = tf_req_new("greeter.fns", "greet", "bench");
  tf_req_state(r, "seen", "io.statefun.types/int", "\x08\x05", 2);
  tf_req_state(r, "none", NULL, NULL, 0);
  tf_req_invoke_string(r, "Alice");
  tf_req_invoke(r, "x.y/z", "\x01\x02", 2, "a.b", "c", "id-\xc3\xa9");
  tf_req_invoke(r, "x.y/z", "", 0, NULL, NULL, NULL);
  size_t n;
  uint8_t *p = tf_req_pack(r, &n);
  add_seed(p, n);
  tf_req_free(r);
  r = tf_req_new("n", "t", "");
  for (int i = 0; i < 20; i++) tf_req_invoke_int(r, i * 1000);
  p = tf_req_pack(r, &n);
  add_seed(p, n);
  tf_req_free(r);
}

static void corpus_seeds(const char *dir) {
  DIR *d = opendir(dir);
  cr_assert(d, "corpus %s", dir);
  struct dirent *e;
  while ((e = readdir(d))) {
    if (e->d_name[0] == '.') continue;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    FILE *f = fopen(path, "rb");
    if (!f) continue;
    uint8_t *buf = malloc(1 << 16);
    size_t n = fread(buf, 1, 1 << 16, f);
    fclose(f);
    add_seed(buf, n);
  }
  closedir(d);
}

/* One random edit of `in` into `out` (room for in.n + 64 bytes). */
static size_t mutate(const blob *in, uint8_t *out) {
  size_t n = in->n;
  memcpy(out, in->p, n);
  int edits = 1 + (int)below(3);
  for (int k = 0; k < edits; k++) {
    size_t at = below((uint32_t)n + 1);
    switch (below(7)) {
      case 0: if (n) out[below((uint32_t)n)] ^= (uint8_t)(1u << below(8)); break;
      case 1: if (n) out[below((uint32_t)n)] = (uint8_t)rnd(); break;
      case 2: /* insert a byte */
        if (n < in->n + 60) {
          memmove(out + at + 1, out + at, n - at);
          out[at] = (uint8_t)(below(2) ? rnd() : 0x80 | rnd());
          n++;
        }
        break;
      case 3: /* delete a byte */
        if (at < n) {
          memmove(out + at, out + at + 1, n - at - 1);
          n--;
        }
        break;
      case 4: n = at; break; /* truncate */
      case 5: { /* duplicate a slice: repeated and merged fields */
        size_t len = below(24), from = below((uint32_t)n + 1);
        if (from + len > n) len = n - from;
        if (n + len <= in->n + 60) {
          memmove(out + at + len, out + at, n - at);
          memmove(out + at, out + (from >= at ? from + len : from), len);
          n += len;
        }
        break;
      }
      default: { /* splice the tail of another seed */
        const blob *o = &seeds[below((uint32_t)n_seeds)];
        size_t from = below((uint32_t)o->n + 1), len = o->n - from;
        if (at + len > in->n + 60) len = in->n + 60 - at;
        memcpy(out + at, o->p + from, len);
        n = at + len;
        break;
      }
    }
  }
  return n;
}

/* A random field soup: plausible field numbers, every wire type, tags
 * sometimes overlong, nested soups in length-delimited fields. */
static size_t soup(uint8_t *out, size_t room, int depth) {
  static const uint32_t nums[] = {1, 2, 3, 100, 4, 0, 15, 16, 536870911, 99};
  size_t n = 0;
  int fields = (int)below(6);
  for (int i = 0; i < fields && n + 16 < room; i++) {
    uint32_t num = nums[below(sizeof nums / sizeof nums[0])];
    unsigned wt = below(10) == 0 ? below(8) : (below(3) ? 2 : below(6));
    uint64_t tag = ((uint64_t)num << 3) | wt;
    if (below(8) == 0) { /* overlong tag */
      out[n++] = (uint8_t)(0x80 | (tag & 0x7f));
      tag >>= 7;
      out[n++] = (uint8_t)(0x80 | (tag & 0x7f));
      out[n++] = (uint8_t)(tag >> 7);
    } else {
      n += sfb_varint_put(out + n, tag);
    }
    switch (wt) {
      case 0: n += sfb_varint_put(out + n, below(2) ? below(3) : rnd()); break;
      case 1: for (int k = 0; k < 8; k++) out[n++] = (uint8_t)rnd(); break;
      case 5: for (int k = 0; k < 4; k++) out[n++] = (uint8_t)rnd(); break;
      case 2: {
        uint8_t inner[512];
        size_t m;
        if (depth < 4 && below(2)) {
          m = soup(inner, sizeof inner, depth + 1);
        } else {
          m = below(6);
          for (size_t k = 0; k < m; k++)
            inner[k] = (uint8_t)(below(4) ? 'a' + below(26) : rnd());
        }
        if (n + m + 6 >= room) return n;
        n += sfb_varint_put(out + n, m);
        memcpy(out + n, inner, m);
        n += m;
        break;
      }
      default: break; /* groups and 6/7: malformed, nothing follows */
    }
  }
  return n;
}

Test(wire, decode_agrees_with_protobuf_c) {
  built_seeds();
  corpus_seeds(SF_FUZZ_CORPUS_DIR "/fuzz_handler");
  corpus_seeds(SF_FUZZ_CORPUS_DIR "/fuzz_structured");
  cr_assert_gt(n_seeds, 10);
  for (size_t i = 0; i < n_seeds; i++) differential(seeds[i].p, seeds[i].n);
  uint8_t buf[1 << 17];
  for (int round = 0; round < 60; round++)
    for (size_t i = 0; i < n_seeds; i++) {
      if (seeds[i].n > sizeof buf - 64) continue;
      differential(buf, mutate(&seeds[i], buf));
    }
  for (int i = 0; i < 20000; i++) {
    /* Soups wrapped as ToFunction.invocation, so the batch is reached. */
    uint8_t inner[4096];
    size_t m = soup(inner, sizeof inner, 0);
    size_t n = sfb_tag_put(buf, 100, SFB_WT_LEN);
    n += sfb_varint_put(buf + n, m);
    memcpy(buf + n, inner, m);
    differential(buf, n + m);
    differential(inner, m);
  }
  cr_log_info("wire: %zu inputs, %zu accepted", n_checked, n_accepted);
  cr_assert_gt(n_accepted, n_checked / 10, "too few accepted inputs to compare content");
  cr_assert_lt(n_accepted, n_checked, "no rejected input");
  for (size_t i = 0; i < n_seeds; i++) free(seeds[i].p);
}

/* protobuf-c's quirks, one by one (each a rule the decoder must copy). */
Test(wire, protobuf_c_quirks) {
  static const struct {
    const char *what;
    const char *bytes;
    size_t n;
  } cases[] = {
      {"bool with a length-delimited wire type (its prefix counts)", "\xa2\x06\x07\x1a\x05\x12\x03\x12\x01\x00", 10},
      {"bool from a fixed32 whose bytes only have bit 7", "\xa2\x06\x09\x1a\x07\x12\x05\x15\x80\x80\x80\x80", 12},
      {"merged TypedValue, the later one empty", "\xa2\x06\x10\x1a\x0e\x12\x05\x1a\x01x\x10\x01\x12\x05\x1a\x00\x0a\x01t", 19},
      {"one-byte field 0", "\x00\x00", 2},
      {"two-byte field 0 (an unknown field)", "\x80\x00\x00", 3},
      {"a group", "\x0b\x0c", 2},
      {"an 11-byte varint", "\x08\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x00", 12},
      {"a 6-byte length prefix", "\x0a\x80\x80\x80\x80\x80\x00", 7},
      {"oneof seen twice", "\xa2\x06\x04\x0a\x02\x1a\x00\xa2\x06\x00", 10},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_log_info("%s", cases[i].what);
    differential((const uint8_t *)cases[i].bytes, cases[i].n);
  }
}

Test(wire, invalid_utf8_is_refused) {
  tf_req *r = tf_req_new("greeter.fns", "greet", "bad\xff");
  tf_req_invoke_string(r, "x");
  size_t n;
  uint8_t *p = tf_req_pack(r, &n);
  sf_arena *arena = sf_arena_new(0);
  sf_wto_function out;
  cr_assert_eq(sf_wire_decode_to_function(arena, p, n, true, &out), SF_ERR_DECODE);
  cr_assert_eq(sf_wire_decode_to_function(arena, p, n, false, &out), SF_OK);
  cr_assert_str_eq(sf_wstr_c(out.batch.target.id), "bad\xff");
  /* Through the handler: a decode error (the server's 400), with a reason. */
  sf_handler *h = sf_handler_new();
  cr_assert_eq(greeter_register(h), SF_OK);
  uint8_t *reply;
  size_t reply_len;
  sf_handle_info info;
  sf_arena_reset(arena);
  cr_assert_eq(sf_handler_handle(h, p, n, arena, &reply, &reply_len, &info),
               SF_ERR_DECODE);
  cr_assert_neq(info.error[0], 0);
  sf_handler_free(h);
  sf_arena_free(arena);
  free(p);
  tf_req_free(r);
}

/* Strings are NUL-terminated in the copy without disturbing what follows. */
Test(wire, strings_in_place) {
  tf_req *r = tf_req_new("ns", "t", "id");
  tf_req_state(r, "s", "a/b", "\x08\x07", 2);
  tf_req_invoke(r, "x/y", "v", 1, "cn", "ct", "ci");
  size_t n;
  uint8_t *p = tf_req_pack(r, &n);
  sf_arena *arena = sf_arena_new(0);
  sf_wto_function out;
  cr_assert_eq(sf_wire_decode_to_function(arena, p, n, true, &out), SF_OK);
  const sf_wbatch *b = &out.batch;
  cr_assert_str_eq(b->target.ns.p, "ns");
  cr_assert_str_eq(b->target.type.p, "t");
  cr_assert_str_eq(b->target.id.p, "id");
  cr_assert_str_eq(b->state[0].name.p, "s");
  cr_assert_str_eq(b->state[0].value.type_name.p, "a/b");
  cr_assert_eq(b->state[0].value.len, 2);
  cr_assert_eq(memcmp(b->state[0].value.data, "\x08\x07", 2), 0);
  cr_assert_str_eq(b->invocations[0].caller.id.p, "ci");
  cr_assert_str_eq(b->invocations[0].argument.type_name.p, "x/y");
  cr_assert_eq(b->invocations[0].argument.data[0], 'v');
  /* Pointing into the arena's copy, not the caller's buffer. */
  cr_assert((const uint8_t *)b->target.id.p < p || (const uint8_t *)b->target.id.p >= p + n);
  sf_arena_free(arena);
  free(p);
  tf_req_free(r);
}

/* ---- encoding -------------------------------------------------------------- */

static const char *rand_str(sf_arena *a) {
  switch (below(5)) {
    case 0: return NULL;
    case 1: return "";
    case 2: return "io.statefun.types/string";
    case 3: return "\xc3\xa9t\xc3\xa9";
    default: {
      size_t n = below(200);
      char *s = sf_arena_alloc(a, n + 1);
      for (size_t i = 0; i < n; i++) s[i] = (char)('a' + below(26));
      s[n] = 0;
      return s;
    }
  }
}

static pb_address *rand_address(sf_arena *a) {
  if (below(4) == 0) return NULL;
  pb_address *x = sf_arena_alloc(a, sizeof *x);
  io__statefun__sdk__reqreply__address__init(x);
  x->namespace_ = (char *)rand_str(a);
  x->type = (char *)rand_str(a);
  x->id = (char *)rand_str(a);
  return x;
}

static pb_typed_value *rand_value(sf_arena *a) {
  if (below(4) == 0) return NULL;
  pb_typed_value *v = sf_arena_alloc(a, sizeof *v);
  io__statefun__sdk__reqreply__typed_value__init(v);
  v->typename_ = (char *)rand_str(a);
  v->has_value = (protobuf_c_boolean)below(2);
  switch (below(3)) {
    case 0: break; /* data NULL */
    case 1: v->value.data = sf_arena_alloc(a, 1); v->value.len = 0; break;
    default:
      v->value.len = below(2) ? below(10) : 100 + below(400);
      v->value.data = sf_arena_alloc(a, v->value.len + 1);
      for (size_t i = 0; i < v->value.len; i++) v->value.data[i] = (uint8_t)rnd();
  }
  return v;
}

static int64_t rand_i64(void) {
  static const int64_t vals[] = {0, 1, 5, -1, INT64_MIN, INT64_MAX, 86400000, 300};
  return vals[below(sizeof vals / sizeof vals[0])];
}

static void *rand_array(sf_arena *a, size_t n) {
  return sf_arena_alloc(a, (n ? n : 1) * sizeof(void *));
}

static pb_from_function *rand_from(sf_arena *a) {
  pb_from_function *f = sf_arena_alloc(a, sizeof *f);
  io__statefun__sdk__reqreply__from_function__init(f);
  uint32_t kind = below(5);
  if (kind == 0) return f;
  if (kind == 4) { /* incomplete */
    pb_incomplete *inc = sf_arena_alloc(a, sizeof *inc);
    io__statefun__sdk__reqreply__from_function__incomplete_invocation_context__init(inc);
    inc->n_missing_values = below(4);
    inc->missing_values = rand_array(a, inc->n_missing_values);
    for (size_t i = 0; i < inc->n_missing_values; i++) {
      pb_value_spec *s = sf_arena_alloc(a, sizeof *s);
      io__statefun__sdk__reqreply__from_function__persisted_value_spec__init(s);
      s->state_name = (char *)rand_str(a);
      s->type_typename = (char *)rand_str(a);
      if (below(3)) {
        pb_expiration *x = sf_arena_alloc(a, sizeof *x);
        io__statefun__sdk__reqreply__from_function__expiration_spec__init(x);
        x->mode = (int)below(4) - 1; /* -1 .. 2: a negative enum too */
        x->expire_after_millis = rand_i64();
        s->expiration_spec = x;
      }
      inc->missing_values[i] = s;
    }
    f->response_case = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT;
    f->incomplete_invocation_context = below(8) ? inc : NULL;
    return f;
  }
  pb_response *r = sf_arena_alloc(a, sizeof *r);
  io__statefun__sdk__reqreply__from_function__invocation_response__init(r);
  r->n_state_mutations = below(4);
  r->state_mutations = rand_array(a, r->n_state_mutations);
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    pb_mutation *m = sf_arena_alloc(a, sizeof *m);
    io__statefun__sdk__reqreply__from_function__persisted_value_mutation__init(m);
    m->mutation_type = (int)below(3) - 1;
    m->state_name = (char *)rand_str(a);
    m->state_value = rand_value(a);
    r->state_mutations[i] = m;
  }
  r->n_outgoing_messages = below(4);
  r->outgoing_messages = rand_array(a, r->n_outgoing_messages);
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    pb_out_invocation *m = sf_arena_alloc(a, sizeof *m);
    io__statefun__sdk__reqreply__from_function__invocation__init(m);
    m->target = rand_address(a);
    m->argument = rand_value(a);
    r->outgoing_messages[i] = m;
  }
  r->n_delayed_invocations = below(4);
  r->delayed_invocations = rand_array(a, r->n_delayed_invocations);
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    pb_delayed *d = sf_arena_alloc(a, sizeof *d);
    io__statefun__sdk__reqreply__from_function__delayed_invocation__init(d);
    d->delay_in_ms = rand_i64();
    d->target = rand_address(a);
    d->argument = rand_value(a);
    d->is_cancellation_request = (protobuf_c_boolean)below(2);
    d->cancellation_token = (char *)rand_str(a);
    r->delayed_invocations[i] = d;
  }
  r->n_outgoing_egresses = below(4);
  r->outgoing_egresses = rand_array(a, r->n_outgoing_egresses);
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    pb_egress *g = sf_arena_alloc(a, sizeof *g);
    io__statefun__sdk__reqreply__from_function__egress_message__init(g);
    g->egress_namespace = (char *)rand_str(a);
    g->egress_type = (char *)rand_str(a);
    g->argument = rand_value(a);
    r->outgoing_egresses[i] = g;
  }
  f->response_case = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT;
  f->invocation_result = kind == 3 ? NULL : r;
  return f;
}

Test(wire, encode_is_protobuf_c_byte_for_byte) {
  sf_arena *a = sf_arena_new(0);
  for (int i = 0; i < 20000; i++) {
    pb_from_function *f = rand_from(a);
    size_t n = protobuf_c_message_get_packed_size(&f->base);
    uint8_t *want = malloc(n + 1);
    protobuf_c_message_pack(&f->base, want);
    uint8_t *got;
    size_t got_len;
    cr_assert_eq(sf_wire_encode_from_function(a, f, &got, &got_len), SF_OK);
    cr_assert_eq(got_len, n, "message %d: %zu bytes, protobuf-c %zu", i, got_len, n);
    cr_assert_eq(memcmp(got, want, n), 0, "message %d: bytes differ", i);
    free(want);
    sf_arena_reset(a);
  }
  sf_arena_free(a);
}
