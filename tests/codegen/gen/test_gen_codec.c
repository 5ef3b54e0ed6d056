/*
 * The generated codecs on every type (codec.ir.json's record All, and
 * tests/codegen/good/types.ir.json's recursive Node and defaults):
 * round trips, unknown fields, packed numbers, truncated and hostile
 * input, state defaults (loaded when absent, never written back
 * unchanged), and Keeper.gather's parallel await run on the scenario
 * (scenario_check.h), an empty list included.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "entities.pb-c.h"
#include "scenario_check.h"
#include "support.h"
#include "types.h"

static sf_arena *A;
static void setup(void) { A = sf_arena_new(0); }
static void teardown(void) { sf_arena_free(A); }
TestSuite(codec, .init = setup, .fini = teardown);

/* ---- steps ----------------------------------------------------------------- */

static int put_calls;

SF_METHOD(Keeper, put) {
  SF_BEGIN(F);
  Keeper_state *s = SF_STATE(Keeper);
  put_calls++;
  /* the defaults of absent fields */
  cr_assert_eq(s->count, 3);
  cr_assert_eq(s->names.len, 2);
  cr_assert_str_eq(s->names.items[1].ptr, "b\xc3\xa9");
  cr_assert_eq(s->ratio, 0.5);
  cr_assert_str_eq(s->tag.ptr, "t\"\\?");
  s->all = F->p.v;
  SF_RETURN(F, s->all);
  SF_END(F);
}

/* Keeper.get, relay and gather: keeper_steps.c. */

static int peek_calls;

SF_METHOD(Box, peek) {
  SF_BEGIN(F);
  Box_state *s = SF_STATE(Box);
  peek_calls++;
  cr_assert(s->b);
  cr_assert_eq(s->i, INT32_MIN);
  cr_assert_eq(s->l, INT64_C(9007199254740993));
  cr_assert_eq(s->f, 1.5f);
  cr_assert_eq(s->d, 2.0);
  cr_assert_str_eq(s->s.ptr, "h\xc3\xa9");
  cr_assert_eq(s->y.len, 2);
  cr_assert_eq(memcmp(s->y.ptr, "hi", 2), 0);
  cr_assert_eq(s->li.len, 2);
  cr_assert_eq(s->li.items[0].len, 1);
  cr_assert_eq(s->li.items[0].items[0], 1);
  cr_assert_eq(s->li.items[1].len, 0);
  cr_assert_eq(s->m.len, 1);
  cr_assert_str_eq(s->m.keys[0].ptr, "a");
  cr_assert_str_eq(s->m.values[0].key.ptr, "box-1");
  cr_assert_str_eq(s->p.left.tag.ptr, "x");
  cr_assert_eq(s->p.right.tag.len, 0);
  cr_assert_eq(s->n.children.len, 0);
  SF_RETURN(F, s->p);
  SF_END(F);
}

SF_METHOD(Box, poke) {
  SF_BEGIN(F);
  SF_AWAIT(F, start, Box_peek(ctx, F->p.to));
  SF_AWAIT(F, again, Box_poke(ctx, F->p.to, F->p.to));
  SF_RETURN_VOID(F);
  SF_END(F);
}

/* ---- a full All ------------------------------------------------------------ */

static Inner inner(const char *s, int64_t n) {
  Inner v = {sf_str_of(s), n};
  return v;
}

static All full(void) {
  static int32_t li[] = {0, -1, 1, INT32_MIN, INT32_MAX};
  static sf_str ls[] = {{"", 0}, {"\xf0\x9f\x8d\x95 pizza", 10}};
  static Inner lr[3];
  static int64_t l0[] = {INT64_MIN, -2}, l2[] = {7};
  static codec_test_int64_list lli[] = {{l0, 2}, {NULL, 0}, {l2, 1}};
  static sf_str keys[] = {{"one", 3}, {"", 0}};
  static int32_t mi[] = {1, -1};
  static Inner mr[2];
  static sf_str ml0[] = {{"x", 1}};
  static codec_test_string_list ml[] = {{ml0, 1}, {NULL, 0}};
  static double ld[] = {0.0, -0.0, 1e300, -1.5};
  static const uint8_t bin[] = {0, 255, 128};
  static sf_bytes lb[] = {{bin, 3}, {NULL, 0}};
  lr[0] = inner("a", 1);
  lr[1] = inner("", 0);
  lr[2] = inner("\xc3\xa9t\xc3\xa9", -99);
  mr[0] = inner("m", 5);
  mr[1] = inner("", 0);
  All v;
  memset(&v, 0, sizeof v);
  v.b = true;
  v.i = -123456;
  v.l = INT64_MIN;
  v.f = -3.25f;
  v.d = 6.02214076e23;
  v.s = SF_STR("\xe4\xb8\xad\xe6\x96\x87 and \"quotes\"");
  v.y.ptr = bin;
  v.y.len = 3;
  v.r.key = SF_STR("keeper-7");
  v.inner = inner("in", -1);
  v.li.items = li;
  v.li.len = 5;
  v.ls.items = ls;
  v.ls.len = 2;
  v.lr.items = lr;
  v.lr.len = 3;
  v.lli.items = lli;
  v.lli.len = 3;
  v.mi.keys = keys;
  v.mi.values = mi;
  v.mi.len = 2;
  v.mr.keys = keys;
  v.mr.values = mr;
  v.mr.len = 2;
  v.ml.keys = keys;
  v.ml.values = ml;
  v.ml.len = 2;
  v.ld.items = ld;
  v.ld.len = 4;
  v.lb.items = lb;
  v.lb.len = 2;
  return v;
}

static void inner_eq(const Inner *a, const Inner *b) {
  cr_assert(sf_str_eq(a->s, b->s));
  cr_assert_eq(a->n, b->n);
}

static void strs_eq(const codec_test_string_list *a, const codec_test_string_list *b) {
  cr_assert_eq(a->len, b->len);
  for (size_t i = 0; i < a->len; i++) cr_assert(sf_str_eq(a->items[i], b->items[i]));
}

static void all_eq(const All *a, const All *b) {
  cr_assert_eq(a->b, b->b);
  cr_assert_eq(a->i, b->i);
  cr_assert_eq(a->l, b->l);
  cr_assert_eq(a->f, b->f);
  cr_assert_eq(a->d, b->d);
  cr_assert(sf_str_eq(a->s, b->s));
  cr_assert_eq(a->y.len, b->y.len);
  cr_assert(a->y.len == 0 || memcmp(a->y.ptr, b->y.ptr, a->y.len) == 0);
  cr_assert(sf_str_eq(a->r.key, b->r.key));
  inner_eq(&a->inner, &b->inner);
  cr_assert_eq(a->li.len, b->li.len);
  for (size_t i = 0; i < a->li.len; i++) cr_assert_eq(a->li.items[i], b->li.items[i]);
  strs_eq(&a->ls, &b->ls);
  cr_assert_eq(a->lr.len, b->lr.len);
  for (size_t i = 0; i < a->lr.len; i++) inner_eq(&a->lr.items[i], &b->lr.items[i]);
  cr_assert_eq(a->lli.len, b->lli.len);
  for (size_t i = 0; i < a->lli.len; i++) {
    cr_assert_eq(a->lli.items[i].len, b->lli.items[i].len);
    for (size_t j = 0; j < a->lli.items[i].len; j++)
      cr_assert_eq(a->lli.items[i].items[j], b->lli.items[i].items[j]);
  }
  cr_assert_eq(a->mi.len, b->mi.len);
  cr_assert_eq(a->mr.len, b->mr.len);
  cr_assert_eq(a->ml.len, b->ml.len);
  for (size_t i = 0; i < a->mi.len; i++) {
    cr_assert(sf_str_eq(a->mi.keys[i], b->mi.keys[i]));
    cr_assert_eq(a->mi.values[i], b->mi.values[i]);
  }
  for (size_t i = 0; i < a->mr.len; i++) {
    cr_assert(sf_str_eq(a->mr.keys[i], b->mr.keys[i]));
    inner_eq(&a->mr.values[i], &b->mr.values[i]);
  }
  for (size_t i = 0; i < a->ml.len; i++) {
    cr_assert(sf_str_eq(a->ml.keys[i], b->ml.keys[i]));
    strs_eq(&a->ml.values[i], &b->ml.values[i]);
  }
  cr_assert_eq(a->ld.len, b->ld.len);
  for (size_t i = 0; i < a->ld.len; i++)
    cr_assert_eq(memcmp(&a->ld.items[i], &b->ld.items[i], sizeof(double)), 0);
  cr_assert_eq(a->lb.len, b->lb.len);
  for (size_t i = 0; i < a->lb.len; i++) {
    cr_assert_eq(a->lb.items[i].len, b->lb.items[i].len);
    cr_assert(!a->lb.items[i].len ||
              !memcmp(a->lb.items[i].ptr, b->lb.items[i].ptr, a->lb.items[i].len));
  }
}

static sf_wbuf encode_all(const All *v) {
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  All_encode(&w, v);
  cr_assert_not(w.failed);
  return w;
}

static sf_status decode_all(const uint8_t *p, size_t n, All *out) {
  sf_rbuf r;
  sf_rbuf_init(&r, p, n);
  return All_decode(A, &r, out);
}

/* ---- tests ----------------------------------------------------------------- */

Test(codec, round_trip_every_type) {
  All in = full(), out;
  sf_wbuf w = encode_all(&in);
  cr_assert_eq(decode_all(w.data, w.len, &out), SF_OK);
  all_eq(&in, &out);
  /* decoding allocates from the arena: nothing points into the input */
  cr_assert_neq((const void *)out.s.ptr, (const void *)in.s.ptr);
}

Test(codec, empty_record_and_lists) {
  All in, out;
  memset(&in, 0, sizeof in);
  sf_wbuf w = encode_all(&in);
  cr_assert_eq(decode_all(w.data, w.len, &out), SF_OK);
  all_eq(&in, &out);
  cr_assert_eq(out.li.len, 0);
  cr_assert_eq(out.mr.len, 0);
  /* encode -> decode -> encode is stable */
  sf_wbuf w2 = encode_all(&out);
  cr_assert_eq(w.len, w2.len);
  cr_assert(w.len == 0 || memcmp(w.data, w2.data, w.len) == 0);
}

Test(codec, unknown_fields_are_skipped) {
  All in = full(), out;
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  sf_w_uint64(&w, 99, 12345, true);     /* varint */
  sf_w_double(&w, 100, 1.0, true);      /* fixed64 */
  All_encode(&w, &in);
  sf_w_str(&w, 101, SF_STR("later"), true); /* LEN */
  sf_w_float(&w, 102, 2.0f, true);      /* fixed32 */
  size_t m = sf_w_begin(&w, 103);       /* a nested unknown message */
  sf_w_int32(&w, 1, 5, true);
  sf_w_end(&w, m);
  cr_assert_eq(decode_all(w.data, w.len, &out), SF_OK);
  all_eq(&in, &out);
  /* a known field with the wrong wire type is an error */
  sf_wbuf_init(&w, A);
  sf_w_str(&w, 2, SF_STR("not an int"), true);
  cr_assert_eq(decode_all(w.data, w.len, &out), SF_ERR_VALUE_DECODE);
}

Test(codec, packed_numbers_are_read) {
  /* li (field 10) packed, as other protobuf libraries write repeated sint32 */
  uint8_t buf[] = {0x52, 0x04, 0x00, 0x01, 0x02, 0x03, /* 0, -1, 1, -2 */
                   0x50, 0x08};                         /* then unpacked 4 */
  All out;
  cr_assert_eq(decode_all(buf, sizeof buf, &out), SF_OK);
  cr_assert_eq(out.li.len, 5);
  int32_t want[] = {0, -1, 1, -2, 4};
  for (size_t i = 0; i < 5; i++) cr_assert_eq(out.li.items[i], want[i]);
  /* a packed run cut short */
  uint8_t bad[] = {0x52, 0x02, 0x80, 0x80};
  cr_assert_eq(decode_all(bad, sizeof bad, &out), SF_ERR_VALUE_DECODE);
}

Test(codec, truncated_input_is_an_error_not_a_crash) {
  All in = full(), out;
  sf_wbuf w = encode_all(&in);
  size_t errors = 0;
  for (size_t n = 0; n < w.len; n++) {
    /* a copy of exactly n bytes, so ASan sees any read past the end */
    uint8_t *p = malloc(n ? n : 1);
    memcpy(p, w.data, n);
    sf_status st = decode_all(p, n, &out);
    free(p);
    cr_assert(st == SF_OK || st == SF_ERR_VALUE_DECODE, "prefix %zu: %d", n, st);
    errors += st != SF_OK;
  }
  cr_assert_gt(errors, w.len / 2);
  cr_assert_eq(decode_all(w.data, w.len - 1, &out), SF_ERR_VALUE_DECODE);
  /* bytes that are not UTF-8 in a string field */
  uint8_t bad_utf8[] = {0x32, 0x02, 0xc3, 0x28};
  cr_assert_eq(decode_all(bad_utf8, sizeof bad_utf8, &out), SF_ERR_VALUE_DECODE);
  /* a length beyond the end, an invalid tag */
  uint8_t too_long[] = {0x32, 0x7f, 'a'};
  cr_assert_eq(decode_all(too_long, sizeof too_long, &out), SF_ERR_VALUE_DECODE);
  uint8_t zero_tag[] = {0x00, 0x01};
  cr_assert_eq(decode_all(zero_tag, sizeof zero_tag, &out), SF_ERR_VALUE_DECODE);
}

/* Node {value int32, children list<Node>, named map<Node>} nested `depth`
 * deep through children. */
static sf_wbuf nested_nodes(int depth) {
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  sf_w_int32(&w, 1, depth, false);
  for (int i = depth - 1; i >= 0; i--) {
    sf_wbuf outer;
    sf_wbuf_init(&outer, A);
    sf_w_int32(&outer, 1, i, false);
    sf_w_bytes(&outer, 2, w.data, w.len, true);
    w = outer;
  }
  return w;
}

Test(codec, recursive_records_and_hostile_depth) {
  sf_wbuf w = nested_nodes(50);
  Node n;
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(Node_decode(A, &r, &n), SF_OK);
  const Node *p = &n;
  for (int i = 0; i < 50; i++) {
    cr_assert_eq(p->value, i);
    cr_assert_eq(p->children.len, 1);
    p = &p->children.items[0];
  }
  cr_assert_eq(p->value, 50);
  /* round trip */
  sf_wbuf w2;
  sf_wbuf_init(&w2, A);
  Node_encode(&w2, &n);
  cr_assert_eq(w2.len, w.len);
  cr_assert_eq(memcmp(w2.data, w.data, w.len), 0);
  /* too deep: refused, no stack overflow */
  w = nested_nodes(2000);
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(Node_decode(A, &r, &n), SF_ERR_VALUE_DECODE);
  /* and the depth counter is back at zero afterwards */
  w = nested_nodes(90);
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(Node_decode(A, &r, &n), SF_OK);
}

Test(codec, await_result_and_frame) {
  const sf_method_desc *m = &Keeper_entity.methods[2];
  cr_assert_str_eq(m->name, "relay");
  Keeper_relay_frame in, out;
  memset(&in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  in.p.to.key = SF_STR("k2");
  in.got = full();
  in.result = in.got.mr;
  in.r.got = full();
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  m->encode_frame(&w, &in);
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(m->decode_frame(A, &r, &out), SF_OK);
  cr_assert(sf_str_eq(out.p.to.key, in.p.to.key));
  all_eq(&in.got, &out.got);
  all_eq(&in.r.got, &out.r.got);
  cr_assert_eq(out.result.len, 2);
  /* the callee's Result {1: All} replaces F->r.got (lists do not grow) */
  sf_wbuf_init(&w, A);
  size_t mk = sf_w_begin(&w, 1);
  All one = full();
  All_encode(&w, &one);
  sf_w_end(&w, mk);
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(m->decode_await_result(A, m->labels[0].case_value, &r, &out), SF_OK);
  all_eq(&one, &out.r.got);
}

Test(codec, fan_out_items_and_frame) {
  const sf_method_desc *m = &Keeper_entity.methods[3];
  cr_assert_str_eq(m->name, "gather");
  cr_assert_eq(m->n_labels, 2);
  cr_assert(m->labels[0].fan_out && !m->labels[1].fan_out);
  cr_assert_not_null(m->decode_await_item);
  Keeper_gather_frame f, back;
  memset(&f, 0, sizeof f);
  memset(&back, 0, sizeof back);
  /* results arrive in any order: index 2 first, then 0; 1 stays zero */
  All two = full(), zero = full();
  zero.i = 7;
  const All *vals[] = {&two, &zero};
  const uint32_t idx[] = {2, 0};
  for (int k = 0; k < 2; k++) {
    sf_wbuf w;
    sf_wbuf_init(&w, A);
    size_t mk = sf_w_begin(&w, 1);
    All_encode(&w, vals[k]);
    sf_w_end(&w, mk);
    sf_rbuf r;
    sf_rbuf_init(&r, w.data, w.len);
    cr_assert_eq(m->decode_await_item(A, m->labels[0].case_value, idx[k], &r, &f), SF_OK);
  }
  cr_assert_eq(f.r.each.len, 3);
  all_eq(&two, &f.r.each.items[2]);
  all_eq(&zero, &f.r.each.items[0]);
  cr_assert_eq(f.r.each.items[1].i, 0);
  /* the frame keeps them between replies */
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  m->encode_frame(&w, &f);
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(m->decode_frame(A, &r, &back), SF_OK);
  cr_assert_eq(back.r.each.len, 3);
  all_eq(&two, &back.r.each.items[2]);
  cr_assert_eq(back.r.each.items[0].i, 7);
}

/* Keeper.gather run for real (on the scenario): one Keeper.get per
 * callee plus one more, or no call at all for an empty list. */
static void open_keepers(void) { scn_open(codec_register); }

Test(codec, gather_over_an_empty_list_makes_no_call, .init = open_keepers, .fini = scn_close) {
  cr_assert_eq(scn_int(SCN_CALL(Keeper, gather, "k0", .to = {NULL, 0})), 0);
  cr_assert_null(scn_find_event("codec.test/Keeper", "k0", "reply", ""),
                 "no callee answered: none was called");
  sf_ref two[] = {scn_ref("k1"), scn_ref("k2")};
  cr_assert_eq(scn_int(SCN_CALL(Keeper, gather, "k0", .to = {two, 2})), 2);
  cr_assert_not_null(scn_find_event("codec.test/Keeper", "k2", "call", "get"));
}

Test(codec, state_field_codec_round_trips) {
  Keeper_state s, t;
  memset(&s, 0, sizeof s);
  memset(&t, 0, sizeof t);
  s.all = full();
  s.count = -3;
  s.tag = SF_STR("x");
  for (size_t i = 0; i < Keeper_entity.n_fields; i++) {
    sf_wbuf w;
    sf_wbuf_init(&w, A);
    Keeper_entity.encode_field(&w, i, &s);
    sf_rbuf r;
    sf_rbuf_init(&r, w.data, w.len);
    cr_assert_eq(Keeper_entity.decode_field(A, i, &r, &t), SF_OK, "field %zu", i);
  }
  all_eq(&s.all, &t.all);
  cr_assert_eq(t.count, -3);
  cr_assert(sf_str_eq(t.tag, SF_STR("x")));
}

/* ---- state through sf_handler_handle ------------------------------------------ */

/* Sends one Call of `method_name` to the address of `r` (its state set
 * up by the caller) and runs it; frees r. */
static tf_from *invoke_call(sf_handler *h, tf_req *r, const char *method_name,
                            const uint8_t *args, size_t args_len) {
  Statefun__Entities__Call c = STATEFUN__ENTITIES__CALL__INIT;
  c.method = (char *)method_name;
  c.args.data = (uint8_t *)args;
  c.args.len = args_len;
  c.call_id = "c1";
  size_t len = protobuf_c_message_get_packed_size(&c.base);
  uint8_t *buf = malloc(len ? len : 1);
  protobuf_c_message_pack(&c.base, buf);
  tf_req_invoke(r, SF_TYPENAME_CALL, buf, len, NULL, NULL, NULL);
  free(buf);
  tf_from *f = NULL;
  sf_handle_info info;
  sf_status st = tf_run(h, r, &f, &info);
  tf_req_free(r);
  cr_assert_eq(st, SF_OK, "%s", info.error);
  cr_assert_not_null(f);
  return f;
}

/* A Call to ns/type/id whose state fields `states` are all absent. */
static tf_from *run_call(sf_handler *h, const char *ns, const char *type, const char *id,
                         const char *const *states, const char *method_name,
                         const uint8_t *args, size_t args_len) {
  tf_req *r = tf_req_new(ns, type, id);
  for (size_t i = 0; states[i]; i++) tf_req_state(r, states[i], NULL, NULL, 0);
  return invoke_call(h, r, method_name, args, args_len);
}

Test(codec, defaults_load_and_are_not_written_back) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(types_register(h), SF_OK);
  cr_assert_eq(codec_register(h), SF_OK);
  static const char *const box[] = {"b", "i", "l", "f", "d", "s", "y", "li", "m", "p", "n",
                                    "__entity", NULL};
  tf_from *f = run_call(h, "com.example.types-1", "Box", "b1", box, "peek", NULL, 0);
  cr_assert_eq(peek_calls, 1);
  /* nothing changed at all: no field, and no bookkeeping (idle -> idle) */
  cr_assert_null(f->invocation_result, "peek on defaults must change nothing");
  for (size_t i = 0; box[i + 1]; i++)
    cr_assert_null(tf_find_mutation(f->invocation_result, box[i]), "%s written", box[i]);
  tf_from_free(f);

  /* put(v): `all` is written; count, names, ratio, tag keep their defaults */
  static const char *const keeper[] = {"all", "count", "names", "ratio", "tag", "__entity", NULL};
  Keeper_put_args a;
  a.v = full();
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  Keeper_put_args_encode(&w, &a);
  f = run_call(h, "codec.test", "Keeper", "k1", keeper, "put", w.data, w.len);
  cr_assert_eq(put_calls, 1);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "all");
  cr_assert(m);
  cr_assert_str_eq(m->state_value->typename_, "codec.test.types/Keeper.all");
  All stored;
  cr_assert_eq(decode_all(m->state_value->value.data, m->state_value->value.len, &stored), SF_OK);
  all_eq(&a.v, &stored);
  for (size_t i = 1; keeper[i + 1]; i++)
    cr_assert_null(tf_find_mutation(f->invocation_result, keeper[i]), "%s written", keeper[i]);
  tf_from_free(f);
  sf_handler_free(h);
}

/* ---- only what a method changed is written back --------------------------------- */

/* Keeper's `names` as stored by another writer: the default list ["a",
 * "bé"] plus a field this build does not know (9: 1). It decodes to the
 * default; re-encoding it would drop field 9, so any write-back of a field
 * the method did not change shows up as a mutation of `names`. */
static const uint8_t names_foreign[] = {0x0a, 0x01, 'a', 0x0a, 0x03, 'b', 0xc3, 0xa9, 0x48, 0x01};

/* A Call to Keeper k2 with `names` stored as names_foreign, the other
 * fields absent. */
static tf_from *keeper_call(sf_handler *h, const char *method_name, const uint8_t *args,
                            size_t args_len) {
  tf_req *r = tf_req_new("codec.test", "Keeper", "k2");
  static const char *const absent[] = {"all", "count", "ratio", "tag", "__entity"};
  for (size_t i = 0; i < sizeof absent / sizeof absent[0]; i++)
    tf_req_state(r, absent[i], NULL, NULL, 0);
  tf_req_state(r, "names", "codec.test.types/Keeper.names", names_foreign, sizeof names_foreign);
  return invoke_call(h, r, method_name, args, args_len);
}

Test(codec, a_read_only_call_writes_no_state) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(codec_register(h), SF_OK);
  tf_from *f = keeper_call(h, "get", NULL, 0);
  static const char *const fields[] = {"all", "count", "names", "ratio", "tag"};
  for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
    cr_assert_null(tf_find_mutation(f->invocation_result, fields[i]), "%s written", fields[i]);
  tf_from_free(f);
  sf_handler_free(h);
}

Test(codec, a_write_to_one_field_mutates_only_that_field) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(codec_register(h), SF_OK);
  Keeper_put_args a;
  a.v = full();
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  Keeper_put_args_encode(&w, &a);
  int before = put_calls;
  tf_from *f = keeper_call(h, "put", w.data, w.len);
  cr_assert_eq(put_calls, before + 1);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "all");
  cr_assert(m, "the changed field is written");
  All stored;
  cr_assert_eq(decode_all(m->state_value->value.data, m->state_value->value.len, &stored), SF_OK);
  all_eq(&a.v, &stored);
  static const char *const others[] = {"count", "names", "ratio", "tag"};
  for (size_t i = 0; i < sizeof others / sizeof others[0]; i++)
    cr_assert_null(tf_find_mutation(f->invocation_result, others[i]), "%s written", others[i]);
  tf_from_free(f);
  sf_handler_free(h);
}
