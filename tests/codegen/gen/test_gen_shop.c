/*
 * The code sf-codegen generates from examples/shopping-cart/shop.ir.json,
 * compiled with the strict flags and run against the step functions the
 * application runs (examples/shopping-cart/cart.c, awaits included): the
 * record/Args/frame codecs round-trip, and the entities run through
 * sf_handler_handle: only changed state fields become mutations, and an
 * await is resumed by its Reply.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entities.pb-c.h"
#include "shop.h"
#include "support.h"

/* The step functions are the application's own: examples/shopping-cart/
 * cart.c, linked in (CMakeLists.txt). */

/* ---- helpers ------------------------------------------------------------- */

static sf_arena *A;
static void setup(void) { A = sf_arena_new(0); }
static void teardown(void) { sf_arena_free(A); }

static sf_ref ref(const char *key) {
  sf_ref r = {sf_str_of(key)};
  return r;
}

static const sf_method_desc *method(const sf_entity_desc *e, const char *name) {
  for (size_t i = 0; i < e->n_methods; i++)
    if (!strcmp(e->methods[i].name, name)) return &e->methods[i];
  cr_assert_fail("no method %s", name);
  return NULL;
}

static void line_eq(const Line *a, const Line *b) {
  cr_assert(sf_str_eq(a->item.key, b->item.key));
  cr_assert_eq(a->qty, b->qty);
  cr_assert_eq(a->price, b->price);
}

static void receipt_eq(const Receipt *a, const Receipt *b) {
  cr_assert_eq(a->lines.len, b->lines.len);
  for (size_t i = 0; i < a->lines.len; i++) line_eq(&a->lines.items[i], &b->lines.items[i]);
  cr_assert_eq(a->total, b->total);
  cr_assert_eq(a->balance, b->balance);
}

/* ---- codecs -------------------------------------------------------------- */

TestSuite(shop, .init = setup, .fini = teardown);

Test(shop, record_round_trip) {
  Line lines[3] = {{ref("caf\xc3\xa9-\xe2\x98\x95"), -3, INT64_MIN},
                   {ref(""), 0, 0},
                   {ref("x"), INT32_MAX, INT64_MAX}};
  Receipt in = {{lines, 3}, -42, 7};
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  Receipt_encode(&w, &in);
  cr_assert_not(w.failed);
  Receipt out;
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(Receipt_decode(A, &r, &out), SF_OK);
  receipt_eq(&in, &out);
  cr_assert_str_eq(out.lines.items[0].item.key.ptr, "caf\xc3\xa9-\xe2\x98\x95");
  /* an empty record is zero bytes and decodes to zeros */
  Receipt empty = {{NULL, 0}, 0, 0};
  sf_wbuf_init(&w, A);
  Receipt_encode(&w, &empty);
  cr_assert_eq(w.len, 0);
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(Receipt_decode(A, &r, &out), SF_OK);
  receipt_eq(&empty, &out);
}

Test(shop, args_round_trip_and_truncation) {
  sf_ref items[] = {ref("a"), ref(""), ref("\xe6\x97\xa5\xe6\x9c\xac")};
  User_add_to_basket_args in = {{items, 3}}, out;
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  User_add_to_basket_args_encode(&w, &in);
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(User_add_to_basket_args_decode(A, &r, &out), SF_OK);
  cr_assert_eq(out.items.len, 3);
  for (size_t i = 0; i < 3; i++) cr_assert(sf_str_eq(out.items.items[i].key, items[i].key));
  /* every truncation: an error or a shorter list, never a crash */
  for (size_t n = 0; n < w.len; n++) {
    sf_rbuf_init(&r, w.data, n);
    sf_status st = User_add_to_basket_args_decode(A, &r, &out);
    cr_assert(st == SF_OK || st == SF_ERR_VALUE_DECODE, "prefix %zu: %d", n, st);
    if (st == SF_OK) cr_assert_lt(out.items.len, 3);
  }
  sf_rbuf_init(&r, w.data, w.len - 1);
  cr_assert_eq(User_add_to_basket_args_decode(A, &r, &out), SF_ERR_VALUE_DECODE);
}

Test(shop, frame_round_trip) {
  const sf_method_desc *m = method(&User_entity, "checkout");
  cr_assert_eq(m->frame_size, sizeof(User_checkout_frame));
  Line line = {ref("item-1"), 2, 150};
  User_checkout_frame in, out;
  memset(&in, 0, sizeof in);
  memset(&out, 0, sizeof out);
  in.i = -1;
  in.reserved = 3;
  in.receipt.lines.items = &line;
  in.receipt.lines.len = 1;
  in.receipt.total = 300;
  in.failure = SF_STR("n\xc3\xa4");
  in.result.total = -5;
  in.r.price = INT64_MIN;
  in.r.reserve = true;
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  m->encode_frame(&w, &in);
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(m->decode_frame(A, &r, &out), SF_OK);
  cr_assert_eq(out.i, -1);
  cr_assert_eq(out.reserved, 3);
  receipt_eq(&in.receipt, &out.receipt);
  cr_assert(sf_str_eq(out.failure, in.failure));
  cr_assert_eq(out.result.total, -5);
  cr_assert_eq(out.r.price, INT64_MIN);
  cr_assert(out.r.reserve);
  /* labels: each await's case value is its result member's offset + 1 */
  cr_assert_eq(m->n_labels, 3);
  cr_assert_str_eq(m->labels[0].name, "price");
  cr_assert_eq(m->labels[0].case_value, offsetof(User_checkout_frame, r.price) + 1u);
  cr_assert_str_eq(m->labels[2].name, "release");
  /* an await result lands in its member, replacing the old value */
  sf_wbuf_init(&w, A);
  sf_w_int64(&w, 1, 0, false); /* 0: no bytes at all */
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(m->decode_await_result(A, m->labels[0].case_value, &r, &out), SF_OK);
  cr_assert_eq(out.r.price, 0);
  cr_assert_eq(m->decode_await_result(A, 12345, &r, &out), SF_ERR_INVALID_ARGUMENT);
}

Test(shop, descriptors) {
  cr_assert_str_eq(Item_entity.type_name, "shop/Item");
  cr_assert_eq(Item_entity.n_fields, 3);
  cr_assert_str_eq(Item_entity.field_specs[2]->name, "title");
  cr_assert_str_eq(Item_entity.field_specs[2]->type->type_name, "io.statefun.types/string");
  cr_assert_str_eq(User_entity.field_specs[1]->type->type_name, "shop.types/User.basket");
  cr_assert_eq(User_entity.n_methods, 8);
  cr_assert_eq(Item_entity.n_methods, 7);
  const sf_method_desc *g = method(&Item_entity, "get_price");
  cr_assert(g->read_only);
  cr_assert_eq(g->n_labels, 0);
  /* layout hashes differ between methods with different frames */
  cr_assert_neq(method(&User_entity, "checkout")->layout_hash,
                method(&User_entity, "add_to_basket")->layout_hash);
  sf_handler *h = sf_handler_new();
  cr_assert_eq(shop_register(h), SF_OK);
  cr_assert_eq(sf_handler_function_count(h), 2);
  cr_assert_eq(shop_register(h), SF_ERR_DUPLICATE);
  sf_handler_free(h);
}

/* ---- through sf_handler_handle --------------------------------------------- */

typedef Statefun__Entities__Call pb_call;
typedef Statefun__Entities__Reply pb_reply;

/* One entity's stored state between requests. */
typedef struct stored {
  const char *name;
  char tn[128];
  uint8_t *val;
  size_t len;
  bool has;
} stored;

static void store_mutations(const tf_resp *res, stored *st, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const tf_mut *m = tf_find_mutation(res, st[i].name);
    if (!m) continue;
    free(st[i].val);
    st[i].val = NULL;
    st[i].has = m->mutation_type == 1;
    if (st[i].has) {
      snprintf(st[i].tn, sizeof st[i].tn, "%s", m->state_value->typename_);
      st[i].len = m->state_value->value.len;
      st[i].val = malloc(st[i].len ? st[i].len : 1);
      memcpy(st[i].val, m->state_value->value.data, st[i].len);
    }
  }
}

static void free_stored(stored *st, size_t n) {
  for (size_t i = 0; i < n; i++) free(st[i].val);
}

/* Sends one message to shop/<type>/<id> with the stored state. */
static tf_from *deliver(sf_handler *h, const char *type, const char *id, stored *st, size_t n,
                        const char *tn, const uint8_t *val, size_t len) {
  tf_req *r = tf_req_new("shop", type, id);
  for (size_t i = 0; i < n; i++)
    tf_req_state(r, st[i].name, st[i].has ? st[i].tn : NULL, st[i].val, st[i].len);
  tf_req_invoke(r, tn, val, len, NULL, NULL, NULL);
  tf_from *f = NULL;
  sf_handle_info info;
  sf_status s = tf_run(h, r, &f, &info);
  tf_req_free(r);
  cr_assert_eq(s, SF_OK, "handle: %s", info.error);
  cr_assert(f && f->invocation_result);
  return f;
}

/* A Call envelope (malloc'd bytes). */
static uint8_t *call_bytes(const char *method_name, const uint8_t *args, size_t args_len,
                           const char *call_id, size_t *len) {
  pb_call c = STATEFUN__ENTITIES__CALL__INIT;
  c.method = (char *)method_name;
  c.args.data = (uint8_t *)args;
  c.args.len = args_len;
  c.call_id = (char *)call_id;
  c.request_id = (char *)call_id;
  c.reply_egress = "shop/replies";
  *len = protobuf_c_message_get_packed_size(&c.base);
  uint8_t *buf = malloc(*len ? *len : 1);
  protobuf_c_message_pack(&c.base, buf);
  return buf;
}

static uint8_t *reply_bytes(const char *call_id, const uint8_t *result, size_t result_len,
                            size_t *len) {
  pb_reply rp = STATEFUN__ENTITIES__REPLY__INIT;
  rp.call_id = (char *)call_id;
  rp.ok = true;
  rp.result.data = (uint8_t *)result;
  rp.result.len = result_len;
  *len = protobuf_c_message_get_packed_size(&rp.base);
  uint8_t *buf = malloc(*len ? *len : 1);
  protobuf_c_message_pack(&rp.base, buf);
  return buf;
}

/* The Reply the entity sent to the egress "shop/replies". */
static pb_reply *egress_reply(const tf_resp *res) {
  cr_assert_eq(res->n_outgoing_egresses, 1);
  const ProtobufCBinaryData *v = &res->outgoing_egresses[0]->argument->value;
  pb_reply *rp = statefun__entities__reply__unpack(NULL, v->len, v->data);
  cr_assert(rp);
  return rp;
}

Test(shop, only_changed_fields_are_written) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(shop_register(h), SF_OK);
  stored st[] = {{.name = "price"}, {.name = "stock"}, {.name = "title"}, {.name = "__entity"}};
  size_t n = sizeof st / sizeof st[0], len;

  /* add_stock(5) on a new item: stock is written, price and title are not */
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  Item_add_stock_args a1 = {5};
  Item_add_stock_args_encode(&w, &a1);
  uint8_t *call = call_bytes("add_stock", w.data, w.len, "c1", &len);
  tf_from *f = deliver(h, "Item", "i1", st, n, SF_TYPENAME_CALL, call, len);
  free(call);
  const tf_resp *res = f->invocation_result;
  cr_assert(tf_find_mutation(res, "stock"));
  cr_assert_null(tf_find_mutation(res, "price"));
  cr_assert_null(tf_find_mutation(res, "title"));
  pb_reply *rp = egress_reply(res);
  cr_assert(rp->ok, "%s", rp->error);
  sf_rbuf r;
  sf_rbuf_init(&r, rp->result.data, rp->result.len);
  uint32_t field;
  int wt;
  int32_t stock = 0;
  cr_assert_eq(sf_r_next(&r, &field, &wt), 1);
  cr_assert_eq(field, 1);
  cr_assert_eq(sf_r_int32(&r, wt, &stock), SF_OK);
  cr_assert_eq(stock, 5);
  statefun__entities__reply__free_unpacked(rp, NULL);
  store_mutations(res, st, n);
  tf_from_free(f);
  cr_assert(st[1].has);
  int32_t stored_stock = 0;
  cr_assert_eq(sf_decode_int(st[1].val, st[1].len, &stored_stock), SF_OK);
  cr_assert_eq(stored_stock, 5);

  /* get_price (read-only): no field changes */
  call = call_bytes("get_price", NULL, 0, "c2", &len);
  f = deliver(h, "Item", "i1", st, n, SF_TYPENAME_CALL, call, len);
  free(call);
  res = f->invocation_result;
  cr_assert_null(tf_find_mutation(res, "price"));
  cr_assert_null(tf_find_mutation(res, "stock"));
  cr_assert_null(tf_find_mutation(res, "title"));
  tf_from_free(f);

  /* set_price(7): only price */
  sf_wbuf_init(&w, A);
  Item_set_price_args a3 = {7};
  Item_set_price_args_encode(&w, &a3);
  call = call_bytes("set_price", w.data, w.len, "c3", &len);
  f = deliver(h, "Item", "i1", st, n, SF_TYPENAME_CALL, call, len);
  free(call);
  res = f->invocation_result;
  cr_assert(tf_find_mutation(res, "price"));
  cr_assert_null(tf_find_mutation(res, "stock"));
  cr_assert_null(tf_find_mutation(res, "title"));
  tf_from_free(f);
  free_stored(st, n);
  sf_handler_free(h);
}

/* Finds the one outgoing Call, returns its call_id (malloc'd) and checks
 * the callee and method. */
static char *outgoing_call(const tf_resp *res, const char *callee, const char *method_name) {
  cr_assert_eq(res->n_outgoing_messages, 1);
  const Io__Statefun__Sdk__Reqreply__FromFunction__Invocation *o = res->outgoing_messages[0];
  cr_assert_str_eq(o->target->type, "Item");
  cr_assert_str_eq(o->target->id, callee);
  cr_assert_str_eq(o->argument->typename_, SF_TYPENAME_CALL);
  pb_call *c = statefun__entities__call__unpack(NULL, o->argument->value.len,
                                               o->argument->value.data);
  cr_assert(c);
  cr_assert_str_eq(c->method, method_name);
  char *id = strdup(c->call_id);
  statefun__entities__call__free_unpacked(c, NULL);
  return id;
}

Test(shop, await_resumes_with_the_reply) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(shop_register(h), SF_OK);
  stored st[] = {{.name = "balance"}, {.name = "basket"}, {.name = "__entity"}};
  size_t n = sizeof st / sizeof st[0], len;

  sf_ref items[] = {ref("i1")};
  User_add_to_basket_args args = {{items, 1}};
  sf_wbuf w;
  sf_wbuf_init(&w, A);
  User_add_to_basket_args_encode(&w, &args);
  uint8_t *msg = call_bytes("add_to_basket", w.data, w.len, "c1", &len);
  tf_from *f = deliver(h, "User", "u1", st, n, SF_TYPENAME_CALL, msg, len);
  free(msg);
  char *id = outgoing_call(f->invocation_result, "i1", "get_stock");
  cr_assert_null(tf_find_mutation(f->invocation_result, "basket"));
  store_mutations(f->invocation_result, st, n);
  tf_from_free(f);
  cr_assert(st[2].has, "the frame is kept in __entity");

  /* get_stock -> 4 */
  sf_wbuf_init(&w, A);
  sf_w_int32(&w, 1, 4, false);
  msg = reply_bytes(id, w.data, w.len, &len);
  free(id);
  f = deliver(h, "User", "u1", st, n, SF_TYPENAME_REPLY, msg, len);
  free(msg);
  id = outgoing_call(f->invocation_result, "i1", "get_price");
  store_mutations(f->invocation_result, st, n);
  tf_from_free(f);

  /* get_price -> 250: the method returns, the basket is written */
  sf_wbuf_init(&w, A);
  sf_w_int64(&w, 1, 250, false);
  msg = reply_bytes(id, w.data, w.len, &len);
  free(id);
  f = deliver(h, "User", "u1", st, n, SF_TYPENAME_REPLY, msg, len);
  free(msg);
  const tf_resp *res = f->invocation_result;
  pb_reply *rp = egress_reply(res);
  cr_assert(rp->ok, "%s", rp->error);
  cr_assert_str_eq(rp->call_id, "c1");
  int64_t total = 0;
  sf_rbuf r;
  uint32_t field;
  int wt;
  sf_rbuf_init(&r, rp->result.data, rp->result.len);
  cr_assert_eq(sf_r_next(&r, &field, &wt), 1);
  cr_assert_eq(sf_r_int64(&r, wt, &total), SF_OK);
  cr_assert_eq(total, 250);
  statefun__entities__reply__free_unpacked(rp, NULL);
  cr_assert_null(tf_find_mutation(res, "balance"));
  const tf_mut *b = tf_find_mutation(res, "basket");
  cr_assert(b);
  cr_assert_str_eq(b->state_value->typename_, "shop.types/User.basket");
  /* the basket value is a message {1: repeated key} */
  sf_rbuf_init(&r, b->state_value->value.data, b->state_value->value.len);
  sf_str key;
  cr_assert_eq(sf_r_next(&r, &field, &wt), 1);
  cr_assert_eq(field, 1);
  cr_assert_eq(sf_r_str(&r, wt, A, &key), SF_OK);
  cr_assert_str_eq(key.ptr, "i1");
  cr_assert_eq(sf_r_next(&r, &field, &wt), 0);
  tf_from_free(f);
  free_stored(st, n);
  sf_handler_free(h);
}
