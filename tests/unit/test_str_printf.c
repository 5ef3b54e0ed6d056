/*
 * sf_str_printf (sdk/src/str.c): printf into an sf_str in the request
 * arena, called from a method body as a user writes it. A one-method
 * entity, described by hand (designated initializers, so only the fields
 * this test needs), runs one external Call through sf_handler_handle; its
 * step formats short, long (past the one-pass buffer), empty and too-large
 * texts and keeps what it got for the assertions.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/entity.h>

#include "entities.pb-c.h"
#include "support.h"

typedef struct Fmt_state {
  char sf__none;
} Fmt_state;

typedef struct Fmt_run_frame {
  sf_frame_hdr hdr;
  struct {
    char sf__none;
  } p;
  struct {
    char sf__none;
  } r;
} Fmt_run_frame;

/* What the step saw; checked by the tests after the call. */
static struct {
  bool ran;
  sf_str shortx, longx, empty, huge, second;
  char long_expect[1001];
} seen;

/* A text larger than the arena limit of the run below. */
enum { HUGE_TEXT = 4 << 20, ARENA_LIMIT = 1 << 20 };

SF_METHOD(Fmt, run);
SF_METHOD(Fmt, run) {
  SF_BEGIN(F);
  seen.ran = true;
  seen.shortx = sf_str_printf(ctx, "%s-%d", sf_entity_key(ctx).ptr, 42);
  seen.second = sf_str_printf(ctx, "%s-%d", sf_entity_key(ctx).ptr, 42);
  seen.longx = sf_str_printf(ctx, "%s", seen.long_expect);
  seen.empty = sf_str_printf(ctx, "%s", "");
  seen.huge = sf_str_printf(ctx, "%*d", HUGE_TEXT, 7);
  /* The texts stay valid until the reply: use one as the failure reason. */
  SF_FAIL(F, "%s", seen.shortx.ptr);
  SF_END(F);
}

static sf_step run_thunk(sf_entity_ctx *ctx, void *frame) {
  return Fmt_run_step(ctx, frame);
}
static sf_status no_args(sf_arena *a, sf_rbuf *r, void *frame) {
  (void)a, (void)r, (void)frame;
  return SF_OK;
}
static void no_result(sf_wbuf *w, const void *frame) { (void)w, (void)frame; }
static sf_status no_await(sf_arena *a, uint32_t cv, sf_rbuf *r, void *frame) {
  (void)a, (void)cv, (void)r, (void)frame;
  return SF_ERR_VALUE_DECODE;
}
static sf_status no_load(sf_context *ctx, void *state) {
  (void)ctx, (void)state;
  return SF_OK;
}
static sf_status no_store(sf_context *ctx, size_t i, const void *state) {
  (void)ctx, (void)i, (void)state;
  return SF_ERR_INVALID_ARGUMENT;
}

/* Fmt has no state fields: nothing to snapshot. */
static void no_field(sf_wbuf *w, size_t i, const void *state) {
  (void)w, (void)i, (void)state;
}
static sf_status no_field_decode(sf_arena *a, size_t i, sf_rbuf *r,
                                 void *state) {
  (void)a, (void)i, (void)r, (void)state;
  return SF_ERR_VALUE_DECODE;
}

static const sf_method_desc fmt_methods[] = {{
    .name = "run",
    .frame_size = sizeof(Fmt_run_frame),
    .layout_hash = 0x5157,
    .decode_args = no_args,
    .step = run_thunk,
    .encode_result = no_result,
    .encode_frame = no_result,
    .decode_frame = no_args,
    .decode_await_result = no_await,
}};
static const sf_entity_desc fmt_desc = {
    .type_name = "t.str/Fmt",
    .state_size = sizeof(Fmt_state),
    .load_state = no_load,
    .store_field = no_store,
    .methods = fmt_methods,
    .n_methods = 1,
    .encode_field = no_field,
    .decode_field = no_field_decode,
};

/* Runs Fmt("k1").run() as an external call in an arena of ARENA_LIMIT
 * bytes; returns the Reply. */
static Statefun__Entities__Reply *call_run(void) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_entity_register(h, &fmt_desc), SF_OK);
  Statefun__Entities__Call c = STATEFUN__ENTITIES__CALL__INIT;
  c.method = "run";
  c.call_id = c.request_id = "r1";
  c.reply_egress = "t.io/replies";
  c.reply_topic = "replies";
  uint8_t buf[256];
  size_t len = statefun__entities__call__pack(&c, buf);
  tf_req *req = tf_req_new("t.str", "Fmt", "k1");
  tf_req_state(req, "__entity", NULL, NULL, 0);
  tf_req_invoke(req, SF_TYPENAME_CALL, buf, len, NULL, NULL, NULL);
  size_t req_len;
  uint8_t *req_buf = tf_req_pack(req, &req_len);
  sf_arena *arena = sf_arena_new(ARENA_LIMIT);
  uint8_t *out = NULL;
  size_t out_len = 0;
  sf_handle_info info;
  cr_assert_eq(
      sf_handler_handle(h, req_buf, req_len, arena, &out, &out_len, &info),
      SF_OK, "%s", info.error);
  tf_from *f = tf_from_decode(out, out_len);
  cr_assert_not_null(f);
  cr_assert_eq(f->invocation_result->n_outgoing_egresses, 1);
  const Io__Statefun__Sdk__Reqreply__TypedValue *v =
      f->invocation_result->outgoing_egresses[0]->argument;
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *k =
      io__statefun__sdk__egress__kafka_producer_record__unpack(
          NULL, v->value.len, v->value.data);
  cr_assert_not_null(k);
  Statefun__Entities__Reply *reply = statefun__entities__reply__unpack(
      NULL, k->value_bytes.len, k->value_bytes.data);
  cr_assert_not_null(reply);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);
  tf_from_free(f);
  /* Check the texts while the arena still holds them. */
  cr_assert(seen.ran);
  cr_assert_eq(seen.shortx.len, 5);
  cr_assert_str_eq(seen.shortx.ptr, "k1-42");
  cr_assert_eq(seen.longx.len, 1000);
  cr_assert_str_eq(seen.longx.ptr, seen.long_expect);
  cr_assert_neq(seen.second.ptr, seen.shortx.ptr, "each call has its own copy");
  cr_assert_not_null(seen.empty.ptr);
  cr_assert_eq(seen.empty.len, 0);
  cr_assert_str_eq(seen.empty.ptr, "");
  sf_arena_free(arena);
  sf_handler_free(h);
  tf_req_free(req);
  free(req_buf);
  return reply;
}

Test(str_printf, formats_into_the_request_arena) {
  memset(seen.long_expect, 'x', 1000);
  seen.long_expect[1000] = '\0';
  seen.long_expect[499] = 'y';
  Statefun__Entities__Reply *reply = call_run();
  /* The short text was the method's failure reason. */
  cr_assert_not(reply->ok);
  cr_assert_str_eq(reply->error, "k1-42");
  statefun__entities__reply__free_unpacked(reply, NULL);
}

Test(str_printf, too_large_for_the_arena_is_null_and_empty) {
  memset(seen.long_expect, 'z', 1000);
  seen.long_expect[1000] = '\0';
  Statefun__Entities__Reply *reply = call_run();
  cr_assert_null(seen.huge.ptr);
  cr_assert_eq(seen.huge.len, 0);
  statefun__entities__reply__free_unpacked(reply, NULL);
}
