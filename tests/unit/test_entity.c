/*
 * The entity runtime (sdk/src/entity.c) driven through sf_handler_handle by
 * the scenario of <statefun/testing.h>, which plays StateFun in memory: it
 * keeps each address's state, answers missing-state replies, and routes
 * Call/Reply messages one delivery at a time. The entity's descriptors are
 * written by hand in the shape sf-codegen generates, so this tests the
 * runtime alone.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/entity.h>
#include <statefun/testing.h>

#include "entities.pb-c.h"
#include "support.h"

/* ---- the Counter entity, "generated" by hand ---------------------------------- */

static const sf_value_spec n_spec = SF_VALUE_SPEC("n", &sf_type_int);
static const sf_value_spec *const counter_fields[] = {&n_spec};

typedef struct Counter_state {
  int32_t n;
} Counter_state;

static sf_status counter_load(sf_context *ctx, void *state) {
  Counter_state *s = state;
  sf_status st = sf_state_get_int(ctx, &n_spec, &s->n);
  return st == SF_ERR_NO_VALUE ? SF_OK : st;
}

static sf_status counter_store_field(sf_context *ctx, size_t i, const void *state) {
  const Counter_state *s = state;
  return i == 0 ? sf_state_set_int(ctx, &n_spec, s->n) : SF_ERR_INVALID_ARGUMENT;
}

/* add(by int32) -> int64: n += by, returns n */
typedef struct Counter_add_frame {
  sf_frame_hdr hdr;
  struct { int32_t by; } p;
  int64_t result;
  struct { char sf__none; } sf_calls;
  struct { char sf__none; } r;
} Counter_add_frame;

/* relay(target ref, by int32) -> int64: awaits target.add(by), +1000 */
typedef struct Counter_relay_frame {
  sf_frame_hdr hdr;
  struct { sf_ref target; int32_t by; } p;
  int64_t result;
  struct { sf_call sub; } sf_calls;
  struct { int64_t sub; } r;
} Counter_relay_frame;

/* boom() -> int64: fails */
typedef Counter_add_frame Counter_boom_frame;

/* bounce(other ref) -> int64: awaits other.echo(self) */
typedef struct Counter_bounce_frame {
  sf_frame_hdr hdr;
  struct { sf_ref other; } p;
  int64_t result;
  struct { sf_call back; } sf_calls;
  struct { int64_t back; } r;
} Counter_bounce_frame;
typedef Counter_bounce_frame Counter_echo_frame; /* echo(origin): awaits origin.add(1) */

static sf_call call_int_method(sf_entity_ctx *ctx, sf_ref t, const char *method, int32_t by) {
  sf_wbuf w;
  sf_wbuf_init(&w, sf_entity_arena(ctx));
  sf_w_int32(&w, 1, by, false);
  sf_call c = {sf_entity_call(ctx, "t.ent/Counter", t.key, method, w.data, w.len)};
  return c;
}

static sf_call call_ref_method(sf_entity_ctx *ctx, sf_ref t, const char *method, sf_ref arg) {
  sf_wbuf w;
  sf_wbuf_init(&w, sf_entity_arena(ctx));
  sf_w_str(&w, 1, arg.key, false);
  sf_call c = {sf_entity_call(ctx, "t.ent/Counter", t.key, method, w.data, w.len)};
  return c;
}

static sf_ref self_ref(sf_entity_ctx *ctx) {
  sf_ref r = {sf_entity_key(ctx)};
  return r;
}

SF_METHOD(Counter, add);
SF_METHOD(Counter, add) {
  SF_BEGIN(F);
  SF_STATE(Counter)->n += F->p.by;
  SF_RETURN(F, SF_STATE(Counter)->n);
  SF_END(F);
}

SF_METHOD(Counter, relay);
SF_METHOD(Counter, relay) {
  SF_BEGIN(F);
  SF_AWAIT(F, sub, call_int_method(ctx, F->p.target, "add", F->p.by));
  SF_RETURN(F, F->r.sub + 1000);
  SF_END(F);
}

SF_METHOD(Counter, boom);
SF_METHOD(Counter, boom) {
  SF_BEGIN(F);
  SF_FAIL(F, "boom at %s", sf_entity_key(ctx).ptr);
  SF_END(F);
}

SF_METHOD(Counter, bounce);
SF_METHOD(Counter, bounce) {
  SF_BEGIN(F);
  SF_AWAIT(F, back, call_ref_method(ctx, F->p.other, "echo", self_ref(ctx)));
  SF_RETURN(F, F->r.back);
  SF_END(F);
}

SF_METHOD(Counter, echo);
SF_METHOD(Counter, echo) {
  SF_BEGIN(F);
  SF_AWAIT(F, back, call_int_method(ctx, F->p.other, "add", 1));
  SF_RETURN(F, F->r.back);
  SF_END(F);
}

/* relay to boom: awaits target.boom() with CATCH, returns -1 on failure */
typedef Counter_relay_frame Counter_tryboom_frame;
SF_METHOD(Counter, tryboom);
SF_METHOD(Counter, tryboom) {
  SF_BEGIN(F);
  SF_AWAIT_CATCH(F, sub, call_int_method(ctx, F->p.target, "boom", 0));
  if (SF_FAILED(F)) {
    cr_assert(strstr(SF_ERROR(F), "boom at"), "%s", SF_ERROR(F));
    SF_RETURN(F, -1);
  }
  SF_RETURN(F, F->r.sub);
  SF_END(F);
}

/* take(by) -> int64: "subtract, then check" — n -= by, fails when n < 0 */
typedef Counter_add_frame Counter_take_frame;
SF_METHOD(Counter, take);
SF_METHOD(Counter, take) {
  SF_BEGIN(F);
  SF_STATE(Counter)->n -= F->p.by;
  if (SF_STATE(Counter)->n < 0) SF_FAIL(F, "insufficient: %d", (int)SF_STATE(Counter)->n);
  SF_RETURN(F, SF_STATE(Counter)->n);
  SF_END(F);
}

/* An egress record that a test can see: a Reply with request id `rid` on
 * the scenario's replies egress (it keeps those by request id). */
static void side_effect(sf_entity_ctx *ctx, const char *rid) {
  Statefun__Entities__Reply r = STATEFUN__ENTITIES__REPLY__INIT;
  r.call_id = (char *)rid;
  r.ok = true;
  r.request_id = (char *)rid;
  uint8_t buf[128];
  size_t n = statefun__entities__reply__pack(&r, buf);
  cr_assert_eq(sf_egress_kafka(sf_entity_context(ctx), SF_SCENARIO_REPLY_EGRESS, "replies", rid, buf, n),
               SF_OK);
}

/* addboom(target, by): n += by, an egress record, then awaits target.boom
 * (which fails): the failure must undo both */
typedef Counter_relay_frame Counter_addboom_frame;
SF_METHOD(Counter, addboom);
SF_METHOD(Counter, addboom) {
  SF_BEGIN(F);
  SF_STATE(Counter)->n += F->p.by;
  side_effect(ctx, "addboom-side");
  SF_AWAIT(F, sub, call_int_method(ctx, F->p.target, "boom", 0));
  SF_RETURN(F, 0);
  SF_END(F);
}

/* addrelay(target, by): n += by, an egress record, awaits target.add(by),
 * then n += 1000 */
typedef Counter_relay_frame Counter_addrelay_frame;
SF_METHOD(Counter, addrelay);
SF_METHOD(Counter, addrelay) {
  SF_BEGIN(F);
  SF_STATE(Counter)->n += F->p.by;
  side_effect(ctx, "addrelay-side");
  SF_AWAIT(F, sub, call_int_method(ctx, F->p.target, "add", F->p.by));
  SF_STATE(Counter)->n += 1000;
  SF_RETURN(F, SF_STATE(Counter)->n);
  SF_END(F);
}

/* get() -> int64, read_only */
typedef Counter_add_frame Counter_get_frame;
SF_METHOD(Counter, get);
SF_METHOD(Counter, get) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Counter)->n);
  SF_END(F);
}

/* stray(target): a typed call without SF_AWAIT (a misuse) */
typedef Counter_relay_frame Counter_stray_frame;
SF_METHOD(Counter, stray);
SF_METHOD(Counter, stray) {
  SF_BEGIN(F);
  (void)call_int_method(ctx, F->p.target, "add", 5);
  SF_RETURN(F, -1);
  SF_END(F);
}

/* twice(target): two calls in one await (a misuse) */
typedef Counter_relay_frame Counter_twice_frame;
SF_METHOD(Counter, twice);
SF_METHOD(Counter, twice) {
  SF_BEGIN(F);
  SF_AWAIT(F, sub, (call_int_method(ctx, F->p.target, "add", 1),
                    call_int_method(ctx, F->p.target, "take", 2)));
  SF_RETURN(F, F->r.sub);
  SF_END(F);
}

/* fan(target, by) -> int64: n += 1, then one parallel await of
 * target.add(100) (label `one`) and, fan_out at `each`, f<i>.add(i + 1)
 * for i < by (f1.boom() instead when target is "boom"); returns the sum of
 * the results, or fails naming each call's error. */
typedef struct Counter_fan_frame {
  sf_frame_hdr hdr;
  struct { sf_ref target; int32_t by; } p;
  int64_t result;
  int32_t i;
  struct { sf_call one; sf_call each; } sf_calls;
  struct {
    int64_t one;
    struct { int64_t *items; size_t len; } each;
  } r;
} Counter_fan_frame;

static sf_ref fan_key(sf_entity_ctx *ctx, int32_t i) {
  char *k = sf_arena_alloc(sf_entity_arena(ctx), 8);
  cr_assert_not_null(k);
  snprintf(k, 8, "f%d", (int)i);
  sf_ref r = {sf_str_of(k)};
  return r;
}

SF_METHOD(Counter, fan);
SF_METHOD(Counter, fan) {
  SF_BEGIN(F);
  SF_STATE(Counter)->n += 1;
  SF_CALL(F, one, call_int_method(ctx, F->p.target, "add", 100));
  for (F->i = 0; F->i < F->p.by; F->i++) {
    bool boom = F->i == 1 && sf_str_eq(F->p.target.key, SF_STR("boom"));
    SF_CALL_AT(F, each, F->i,
               call_int_method(ctx, fan_key(ctx, F->i), boom ? "boom" : "add", F->i + 1));
  }
  SF_AWAIT_CALLS_CATCH(F, one);
  if (SF_FAILED(F)) {
    cr_assert_null(SF_ERROR_AT_I(F, each, 0));
    cr_assert_null(SF_ERROR_AT(F, one));
    SF_FAIL(F, "fan: each[1]: %s", SF_ERROR_AT_I(F, each, 1));
  }
  cr_assert_eq(F->r.each.len, (size_t)F->p.by);
  F->result = F->r.one;
  for (size_t k = 0; k < F->r.each.len; k++) F->result += F->r.each.items[k];
  SF_RETURN(F, F->result);
  SF_END(F);
}

/* codecs */
static sf_status dec_int_args(sf_arena *a, sf_rbuf *r, void *frame) {
  (void)a;
  Counter_add_frame *F = frame;
  uint32_t f;
  int wt, rc;
  while ((rc = sf_r_next(r, &f, &wt)) == 1) {
    sf_status st = f == 1 ? sf_r_int32(r, wt, &F->p.by) : sf_r_skip(r, wt);
    if (st != SF_OK) return st;
  }
  return rc == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}
static sf_status dec_relay_args(sf_arena *a, sf_rbuf *r, void *frame) {
  Counter_relay_frame *F = frame;
  uint32_t f;
  int wt, rc;
  while ((rc = sf_r_next(r, &f, &wt)) == 1) {
    sf_status st = f == 1   ? sf_r_str(r, wt, a, &F->p.target.key)
                   : f == 2 ? sf_r_int32(r, wt, &F->p.by)
                            : sf_r_skip(r, wt);
    if (st != SF_OK) return st;
  }
  return rc == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}
static sf_status dec_ref_args(sf_arena *a, sf_rbuf *r, void *frame) {
  Counter_bounce_frame *F = frame;
  uint32_t f;
  int wt, rc;
  while ((rc = sf_r_next(r, &f, &wt)) == 1) {
    sf_status st = f == 1 ? sf_r_str(r, wt, a, &F->p.other.key) : sf_r_skip(r, wt);
    if (st != SF_OK) return st;
  }
  return rc == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}
/* per-method result/frame codecs (frames are plain memory here: a test can
 * persist them as raw bytes since pointers are re-decoded below) */
#define RESULT_ENCODER(M)                                                   \
  static void enc_result_##M(sf_wbuf *w, const void *frame) {              \
    sf_w_int64(w, 1, ((const Counter_##M##_frame *)frame)->result, false); \
  }
RESULT_ENCODER(add)
RESULT_ENCODER(relay)
RESULT_ENCODER(boom)
RESULT_ENCODER(bounce)
RESULT_ENCODER(echo)
RESULT_ENCODER(tryboom)
RESULT_ENCODER(take)
RESULT_ENCODER(addboom)
RESULT_ENCODER(addrelay)
RESULT_ENCODER(get)
RESULT_ENCODER(stray)
RESULT_ENCODER(twice)
RESULT_ENCODER(fan)


static void enc_frame_relay(sf_wbuf *w, const void *frame) {
  const Counter_relay_frame *F = frame;
  sf_w_str(w, 1, F->p.target.key, false);
  sf_w_int32(w, 2, F->p.by, false);
}
static sf_status dec_frame_relay(sf_arena *a, sf_rbuf *r, void *frame) {
  return dec_relay_args(a, r, frame);
}
static void enc_frame_ref(sf_wbuf *w, const void *frame) {
  sf_w_str(w, 1, ((const Counter_bounce_frame *)frame)->p.other.key, false);
}
static sf_status dec_frame_ref(sf_arena *a, sf_rbuf *r, void *frame) {
  return dec_ref_args(a, r, frame);
}
static void enc_frame_none(sf_wbuf *w, const void *frame) {
  (void)w;
  (void)frame;
}
static sf_status dec_frame_none(sf_arena *a, sf_rbuf *r, void *frame) {
  return dec_int_args(a, r, frame);
}
static sf_status dec_await_int64(sf_arena *a, uint32_t cv, sf_rbuf *r, void *frame, int64_t *slot) {
  (void)a;
  (void)cv;
  (void)frame;
  uint32_t f;
  int wt, rc;
  *slot = 0;
  while ((rc = sf_r_next(r, &f, &wt)) == 1) {
    sf_status st = f == 1 ? sf_r_int64(r, wt, slot) : sf_r_skip(r, wt);
    if (st != SF_OK) return st;
  }
  return rc == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}
static sf_status dec_await_relay(sf_arena *a, uint32_t cv, sf_rbuf *r, void *frame) {
  return dec_await_int64(a, cv, r, frame, &((Counter_relay_frame *)frame)->r.sub);
}
static sf_status dec_await_bounce(sf_arena *a, uint32_t cv, sf_rbuf *r, void *frame) {
  return dec_await_int64(a, cv, r, frame, &((Counter_bounce_frame *)frame)->r.back);
}
static sf_status dec_await_none(sf_arena *a, uint32_t cv, sf_rbuf *r, void *frame) {
  (void)a, (void)cv, (void)r, (void)frame;
  return SF_ERR_VALUE_DECODE;
}

/* The fan frame as a message: target, by, i, one, each (repeated). */
static void enc_frame_fan(sf_wbuf *w, const void *frame) {
  const Counter_fan_frame *F = frame;
  sf_w_str(w, 1, F->p.target.key, false);
  sf_w_int32(w, 2, F->p.by, false);
  sf_w_int32(w, 3, F->i, false);
  sf_w_int64(w, 4, F->r.one, false);
  for (size_t k = 0; k < F->r.each.len; k++) sf_w_int64(w, 5, F->r.each.items[k], true);
}
static sf_status dec_frame_fan(sf_arena *a, sf_rbuf *r, void *frame) {
  Counter_fan_frame *F = frame;
  uint32_t f;
  int wt, rc;
  size_t cap = 0;
  while ((rc = sf_r_next(r, &f, &wt)) == 1) {
    sf_status st;
    if (f == 5) {
      int64_t *slot = sf_arena_push(a, (void **)&F->r.each.items, &F->r.each.len, &cap,
                                    sizeof(int64_t));
      st = slot ? sf_r_int64(r, wt, slot) : SF_ERR_NOMEM;
    } else {
      st = f == 1   ? sf_r_str(r, wt, a, &F->p.target.key)
           : f == 2 ? sf_r_int32(r, wt, &F->p.by)
           : f == 3 ? sf_r_int32(r, wt, &F->i)
           : f == 4 ? sf_r_int64(r, wt, &F->r.one)
                    : sf_r_skip(r, wt);
    }
    if (st != SF_OK) return st;
  }
  return rc == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}
#define FAN_ONE ((uint32_t)offsetof(Counter_fan_frame, r.one) + 1u)
#define FAN_EACH ((uint32_t)offsetof(Counter_fan_frame, r.each) + 1u)
static sf_status dec_await_fan(sf_arena *a, uint32_t cv, sf_rbuf *r, void *frame) {
  cr_assert_eq(cv, FAN_ONE);
  return dec_await_int64(a, cv, r, frame, &((Counter_fan_frame *)frame)->r.one);
}
static sf_status dec_item_fan(sf_arena *a, uint32_t cv, uint32_t index, sf_rbuf *r,
                              void *frame) {
  Counter_fan_frame *F = frame;
  cr_assert_eq(cv, FAN_EACH);
  while (F->r.each.len <= index) {
    int64_t *n = sf_arena_alloc(a, (F->r.each.len + 1) * sizeof *n);
    if (F->r.each.len) memcpy(n, F->r.each.items, F->r.each.len * sizeof *n);
    n[F->r.each.len] = 0;
    F->r.each.items = n;
    F->r.each.len++;
  }
  return dec_await_int64(a, cv, r, frame, &F->r.each.items[index]);
}
static const sf_label_desc fan_labels[] = {{"one", FAN_ONE, false}, {"each", FAN_EACH, true}};

static const sf_label_desc relay_labels[] = {{"sub", offsetof(Counter_relay_frame, r.sub) + 1u, false}};
static const sf_label_desc bounce_labels[] = {{"back", offsetof(Counter_bounce_frame, r.back) + 1u, false}};

/* Step functions take the typed frame; the descriptor wants void *: a
 * thunk per method (calling through a cast pointer would be undefined). */
#define THUNK(M)                                                   \
  static sf_step thunk_##M(sf_entity_ctx *ctx, void *frame) {      \
    return Counter_##M##_step(ctx, frame);                         \
  }
THUNK(add)
THUNK(relay)
THUNK(boom)
THUNK(bounce)
THUNK(echo)
THUNK(tryboom)
THUNK(take)
THUNK(addboom)
THUNK(addrelay)
THUNK(get)
THUNK(stray)
THUNK(twice)
THUNK(fan)
#define STEP(M) thunk_##M
static sf_method_desc counter_methods[] = {
    {"add", false, false, sizeof(Counter_add_frame), 0x1111, NULL, 0, dec_int_args, STEP(add),
     enc_result_add, enc_frame_none, dec_frame_none, dec_await_none, NULL},
    {"relay", false, false, sizeof(Counter_relay_frame), 0x2222, relay_labels, 1, dec_relay_args,
     STEP(relay), enc_result_relay, enc_frame_relay, dec_frame_relay, dec_await_relay, NULL},
    {"boom", false, false, sizeof(Counter_boom_frame), 0x3333, NULL, 0, dec_int_args, STEP(boom),
     enc_result_boom, enc_frame_none, dec_frame_none, dec_await_none, NULL},
    {"bounce", false, false, sizeof(Counter_bounce_frame), 0x4444, bounce_labels, 1, dec_ref_args,
     STEP(bounce), enc_result_bounce, enc_frame_ref, dec_frame_ref, dec_await_bounce, NULL},
    {"echo", false, false, sizeof(Counter_echo_frame), 0x5555, bounce_labels, 1, dec_ref_args,
     STEP(echo), enc_result_echo, enc_frame_ref, dec_frame_ref, dec_await_bounce, NULL},
    {"tryboom", false, false, sizeof(Counter_tryboom_frame), 0x6666, relay_labels, 1,
     dec_relay_args, STEP(tryboom), enc_result_tryboom, enc_frame_relay, dec_frame_relay,
     dec_await_relay, NULL},
    {"take", false, false, sizeof(Counter_take_frame), 0x7777, NULL, 0, dec_int_args, STEP(take),
     enc_result_take, enc_frame_none, dec_frame_none, dec_await_none, NULL},
    {"addboom", false, false, sizeof(Counter_addboom_frame), 0x8888, relay_labels, 1,
     dec_relay_args, STEP(addboom), enc_result_addboom, enc_frame_relay, dec_frame_relay,
     dec_await_relay, NULL},
    {"addrelay", false, false, sizeof(Counter_addrelay_frame), 0x9999, relay_labels, 1,
     dec_relay_args, STEP(addrelay), enc_result_addrelay, enc_frame_relay, dec_frame_relay,
     dec_await_relay, NULL},
    {"get", true, false, sizeof(Counter_get_frame), 0xaaaa, NULL, 0, dec_int_args, STEP(get),
     enc_result_get, enc_frame_none, dec_frame_none, dec_await_none, NULL},
    {"stray", false, false, sizeof(Counter_stray_frame), 0xbbbb, relay_labels, 1,
     dec_relay_args, STEP(stray), enc_result_stray, enc_frame_relay, dec_frame_relay,
     dec_await_relay, NULL},
    {"twice", false, false, sizeof(Counter_twice_frame), 0xcccc, relay_labels, 1,
     dec_relay_args, STEP(twice), enc_result_twice, enc_frame_relay, dec_frame_relay,
     dec_await_relay, NULL},
    {"fan", false, false, sizeof(Counter_fan_frame), 0xdddd, fan_labels, 2, dec_relay_args,
     STEP(fan), enc_result_fan, enc_frame_fan, dec_frame_fan, dec_await_fan, dec_item_fan},
};
#define FAN_METHOD 12 /* counter_methods[FAN_METHOD] is fan */

/* The state field as a message {1: value} (pre-images). */
static void counter_enc_field(sf_wbuf *w, size_t i, const void *state) {
  if (i == 0) sf_w_int32(w, 1, ((const Counter_state *)state)->n, false);
}
static sf_status counter_dec_field(sf_arena *a, size_t i, sf_rbuf *r, void *state) {
  (void)a;
  Counter_state *s = state;
  uint32_t f;
  int wt, rc;
  if (i != 0) return SF_ERR_INVALID_ARGUMENT;
  s->n = 0;
  while ((rc = sf_r_next(r, &f, &wt)) == 1) {
    sf_status st = f == 1 ? sf_r_int32(r, wt, &s->n) : sf_r_skip(r, wt);
    if (st != SF_OK) return st;
  }
  return rc == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}

static sf_entity_desc counter_desc = {
    "t.ent/Counter", sizeof(Counter_state), counter_fields, 1, counter_load, counter_store_field,
    counter_methods, sizeof counter_methods / sizeof counter_methods[0], counter_enc_field,
    counter_dec_field};

/* ---- StateFun in memory: the scenario of <statefun/testing.h> ------------------- */

#define COUNTER "t.ent/Counter"

static sf_handler *H;
static sf_scenario *SC;

/* Delivers the message at the head of the scenario's queue (one batch). */
static void step_router(void) {
  sf_status st = sf_scenario_step(SC);
  cr_assert_eq(st, SF_OK, "step: %s %s", sf_status_name(st), sf_scenario_error(SC));
}

/* Steps until the reply to `rid` has come, checking that the reply to
 * `later` did not come before it (both may come in the same step). */
static bool has_reply(const char *rid);
static void run_until_first(const char *rid, const char *later) {
  for (int k = 0; k < 1000 && !has_reply(rid); k++) {
    cr_assert(!has_reply(later), "%s answered before %s", later, rid);
    step_router();
  }
  cr_assert(has_reply(rid), "no reply for %s", rid);
}

static void run_all(void) {
  sf_status st = sf_scenario_run(SC, 1000);
  cr_assert_eq(st, SF_OK, "run: %s %s", sf_status_name(st), sf_scenario_error(SC));
}

/* An external call whose Reply the scenario keeps by `request_id`. Args:
 * the int32 `by` or a ref + int32, encoded by hand (field 1 / fields 1, 2). */
static void external_call(const char *id, const char *method, const char *request_id,
                          const char *ref, int32_t by) {
  uint8_t args[128];
  size_t n = 0;
  if (ref) {
    args[n++] = 0x0A;
    args[n++] = (uint8_t)strlen(ref);
    memcpy(args + n, ref, strlen(ref));
    n += strlen(ref);
  }
  uint32_t zz = ((uint32_t)by << 1) ^ (uint32_t)(by >> 31);
  if (by) {
    args[n++] = ref ? 0x10 : 0x08;
    while (zz >= 0x80) args[n++] = (uint8_t)(zz | 0x80), zz >>= 7;
    args[n++] = (uint8_t)zz;
  }
  cr_assert_eq(sf_scenario_call(SC, COUNTER, id, method, args, n, request_id), SF_OK);
}

static bool has_reply(const char *rid) {
  sf_scenario_reply r;
  return sf_scenario_reply_of(SC, rid, &r) == SF_OK;
}

/* The reply to `rid` (it must have come), valid until the scenario ends. */
static const sf_scenario_reply *reply_for(const char *rid) {
  static sf_scenario_reply slots[8];
  static size_t next;
  sf_scenario_reply *r = &slots[next++ % 8];
  cr_assert_eq(sf_scenario_reply_of(SC, rid, r), SF_OK, "no reply for %s", rid);
  return r;
}

static int64_t result_of(const sf_scenario_reply *r) {
  cr_assert(r->ok, "reply failed: %s", r->error);
  int64_t v;
  cr_assert_eq(sf_scenario_result_int64(r, &v), SF_OK);
  return v;
}

static int32_t n_of(const char *id) {
  sf_value v;
  int32_t n = 0;
  if (sf_scenario_state(SC, COUNTER, id, "n", &v) == SF_OK && v.has_value)
    cr_assert_eq(sf_decode_int(v.data, v.len, &n), SF_OK);
  return n;
}

/* An instance's entity bookkeeping (the __entity state), unpacked; the
 * caller frees it with statefun__entities__state__free_unpacked. */
static Statefun__Entities__State *book_of(const char *id) {
  sf_value v;
  cr_assert_eq(sf_scenario_state(SC, COUNTER, id, "__entity", &v), SF_OK);
  cr_assert(v.has_value, "%s has no __entity state", id);
  Statefun__Entities__State *st = statefun__entities__state__unpack(NULL, v.len, v.data);
  cr_assert_not_null(st);
  return st;
}

static void setup(void) {
  H = sf_handler_new();
  cr_assert_eq(sf_entity_register(H, &counter_desc), SF_OK);
  SC = sf_scenario_new(H);
  cr_assert_not_null(SC);
}

static void teardown(void) {
  sf_scenario_free(SC);
  sf_handler_free(H);
}

TestSuite(entity, .init = setup, .fini = teardown);

Test(entity, external_call_runs_a_method_and_replies_on_the_egress) {
  external_call("a", "add", "r1", NULL, 5);
  external_call("a", "add", "r2", NULL, 7);
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 5);
  cr_assert_eq(result_of(reply_for("r2")), 12);
  cr_assert_eq(n_of("a"), 12);
}

Test(entity, await_resumes_with_the_callee_result) {
  external_call("a", "relay", "r1", "b", 3);
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 1003);
  cr_assert_eq(n_of("b"), 3);
  cr_assert_eq(n_of("a"), 0);
  /* a's bookkeeping: idle, no frame, no queue; the call counter stays so
   * call ids are never reused */
  Statefun__Entities__State *st = book_of("a");
  cr_assert_eq(st->n_frames, 0);
  cr_assert_eq(st->n_queue, 0);
  cr_assert_str_eq(st->active_chain, "");
  cr_assert_eq(st->next_call, 1);
  statefun__entities__state__free_unpacked(st, NULL);
}

Test(entity, isolation_queues_other_chains_until_the_holder_is_done) {
  external_call("a", "relay", "first", "b", 1);
  external_call("a", "add", "second", NULL, 100);
  /* a: starts relay, awaits b */
  step_router();
  /* a: second call arrives while the first is suspended: queued */
  step_router();
  Statefun__Entities__State *st = book_of("a");
  cr_assert_eq(st->n_queue, 1, "queue %zu", st->n_queue);
  cr_assert_eq(st->n_frames, 1);
  cr_assert_str_eq(st->active_chain, "first");
  statefun__entities__state__free_unpacked(st, NULL);
  cr_assert(!has_reply("first") && !has_reply("second"), "the queued call must not have run");
  run_until_first("first", "second"); /* isolation: first finishes first */
  run_all();
  cr_assert_eq(result_of(reply_for("first")), 1001);
  cr_assert_eq(result_of(reply_for("second")), 100);
  cr_assert_eq(n_of("a"), 100);
}

Test(entity, same_chain_is_admitted_a_b_a) {
  /* a.bounce(b) -> b.echo(a) -> a.add(1): a is held by the chain, and the
   * nested call of the same chain is let in. */
  external_call("a", "bounce", "r1", "b", 0);
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 1);
  cr_assert_eq(n_of("a"), 1);
}

Test(entity, callee_failure_reaches_the_caller) {
  external_call("a", "relay", "r0", "b", 0); /* warm up b */
  run_all();
  /* relay awaits b.add, fine; now tryboom awaits b.boom which fails */
  external_call("a", "tryboom", "r1", "b", 0);
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), -1);
  /* without CATCH the failure propagates: boom directly */
  external_call("c", "boom", "r2", NULL, 0);
  run_all();
  const sf_scenario_reply *r = reply_for("r2");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "boom at c"), "%s", r->error);
}

Test(entity, unknown_method_is_an_error_reply) {
  external_call("a", "nope", "r1", NULL, 0);
  run_all();
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "no method 'nope'"), "%s", r->error);
}

Test(entity, frame_from_an_incompatible_build_fails_clearly) {
  external_call("a", "relay", "r1", "b", 2);
  step_router(); /* a suspends; its frame has layout 0x2222 */
  counter_methods[1].layout_hash = 0x9999; /* "a new build" */
  run_all();
  counter_methods[1].layout_hash = 0x2222;
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "incompatible build"), "%s", r->error);
  cr_assert(strstr(r->error, "0000000000002222"), "%s", r->error);
}

Test(entity, non_entity_message_fails_the_batch) {
  tf_req *r = tf_req_new("t.ent", "Counter", "a");
  tf_req_state(r, "n", NULL, NULL, 0);
  tf_req_state(r, "__entity", NULL, NULL, 0);
  tf_req_invoke_string(r, "hello");
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(H, r, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert(strstr(info.error, "is an entity"), "%s", info.error);
  tf_req_free(r);
}

Test(entity, wire_writer_and_reader_round_trip) {
  sf_arena *a = sf_arena_new(0);
  sf_wbuf w;
  sf_wbuf_init(&w, a);
  sf_w_int32(&w, 1, -5, false);
  sf_w_int64(&w, 2, INT64_MIN, false);
  size_t mark = sf_w_begin(&w, 3);
  sf_w_str(&w, 1, SF_STR("héllo"), false);
  sf_w_double(&w, 2, 2.5, false);
  sf_w_end(&w, mark);
  sf_w_bool(&w, 4, false, false); /* default: not written */
  sf_w_float(&w, 5, 1.5f, true);
  cr_assert(!w.failed);
  sf_rbuf r;
  sf_rbuf_init(&r, w.data, w.len);
  uint32_t f;
  int wt;
  int32_t i32;
  int64_t i64;
  float fl;
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(f, 1);
  cr_assert_eq(sf_r_int32(&r, wt, &i32), SF_OK);
  cr_assert_eq(i32, -5);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(sf_r_int64(&r, wt, &i64), SF_OK);
  cr_assert_eq(i64, INT64_MIN);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(f, 3);
  sf_rbuf sub;
  cr_assert_eq(sf_r_message(&r, wt, &sub), SF_OK);
  sf_str s;
  cr_assert_eq(sf_r_next(&sub, &f, &wt), 1);
  cr_assert_eq(sf_r_str(&sub, wt, a, &s), SF_OK);
  cr_assert(sf_str_eq(s, SF_STR("héllo")));
  cr_assert_eq(sf_r_next(&sub, &f, &wt), 1);
  cr_assert_eq(sf_r_skip(&sub, wt), SF_OK);
  cr_assert_eq(sf_r_next(&sub, &f, &wt), 0);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(f, 5, "field 4 (false) must not be written");
  cr_assert_eq(sf_r_float(&r, wt, &fl), SF_OK);
  cr_assert_eq(fl, 1.5f);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 0);
  /* truncated and mistyped input */
  sf_rbuf_init(&r, w.data, 3);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(sf_r_int32(&r, wt, &i32), SF_OK);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(sf_r_int64(&r, wt, &i64), SF_ERR_VALUE_DECODE);
  const uint8_t bad_utf8[] = {0x0A, 0x02, 0xC3, 0x28};
  sf_rbuf_init(&r, bad_utf8, sizeof bad_utf8);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(sf_r_str(&r, wt, a, &s), SF_ERR_VALUE_DECODE);
  cr_assert_eq(sf_r_int32(&r, 2, &i32), SF_ERR_VALUE_DECODE);
  /* long nested body: length varint of 2 bytes, compacted correctly */
  sf_wbuf_init(&w, a);
  mark = sf_w_begin(&w, 1);
  for (int k = 0; k < 100; k++) sf_w_int32(&w, 2, k + 1, false);
  sf_w_end(&w, mark);
  sf_rbuf_init(&r, w.data, w.len);
  cr_assert_eq(sf_r_next(&r, &f, &wt), 1);
  cr_assert_eq(sf_r_message(&r, wt, &sub), SF_OK);
  int count = 0;
  while (sf_r_next(&sub, &f, &wt) == 1) {
    cr_assert_eq(sf_r_int32(&sub, wt, &i32), SF_OK);
    cr_assert_eq(i32, ++count);
  }
  cr_assert_eq(count, 100);
  sf_arena_free(a);
}

Test(entity, anonymous_external_calls_do_not_share_a_chain) {
  /* Two external calls without call ids: the second must wait for the
   * first (isolation), not slip in as "the same chain". */
  uint8_t buf[256];
  for (int k = 0; k < 2; k++) {
    Statefun__Entities__Call c = STATEFUN__ENTITIES__CALL__INIT;
    uint8_t args[] = {0x0A, 0x01, 'b', 0x10, 0x02}; /* target "b", by 1 */
    c.method = "relay";
    c.args.data = args;
    c.args.len = sizeof args;
    c.request_id = k ? "second" : "first";
    c.reply_egress = SF_SCENARIO_REPLY_EGRESS;
    c.reply_topic = "replies";
    size_t len = statefun__entities__call__pack(&c, buf);
    sf_value v = {SF_TYPENAME_CALL, true, buf, len};
    cr_assert_eq(sf_scenario_send(SC, COUNTER, "a", v), SF_OK);
  }
  step_router(); /* first: suspends */
  step_router(); /* second: must be queued */
  Statefun__Entities__State *st = book_of("a");
  cr_assert_eq(st->n_queue, 1, "anonymous calls shared a chain: queue %zu", st->n_queue);
  statefun__entities__state__free_unpacked(st, NULL);
  run_until_first("first", "second");
  run_all();
  cr_assert(has_reply("second"));
}

Test(entity, idle_entity_call_writes_no_bookkeeping) {
  /* add on an idle entity leaves it idle: only n changes, no __entity
   * mutation (on Flink that would be a state delete per call). */
  tf_req *r = tf_req_new("t.ent", "Counter", "a");
  tf_req_state(r, "n", NULL, NULL, 0);
  tf_req_state(r, "__entity", NULL, NULL, 0);
  uint8_t args[] = {0x08, 0x04}; /* by = 2 */
  Statefun__Entities__Call c = STATEFUN__ENTITIES__CALL__INIT;
  c.method = "add";
  c.args.data = args;
  c.args.len = sizeof args;
  c.call_id = "x1";
  uint8_t buf[128];
  size_t len = statefun__entities__call__pack(&c, buf);
  tf_req_invoke(r, SF_TYPENAME_CALL, buf, len, NULL, NULL, NULL);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(H, r, &f, &info), SF_OK, "%s", info.error);
  cr_assert_not_null(tf_find_mutation(f->invocation_result, "n"));
  cr_assert_null(tf_find_mutation(f->invocation_result, "__entity"),
                 "idle -> idle must not touch the bookkeeping");
  tf_from_free(f);
  tf_req_free(r);
}

Test(entity, reentrant_methods_skip_the_queue) {
  /* While relay (chain "first") holds a, a call of another chain to a
   * re-entrant method runs at once instead of waiting in the queue. */
  counter_methods[0].reentrant = true; /* add */
  external_call("a", "relay", "first", "b", 1);
  step_router(); /* a: relay suspends, holding a */
  external_call("a", "add", "other", NULL, 5);
  step_router(); /* b: add(1) for relay */
  step_router(); /* a: the re-entrant add runs now */
  cr_assert(has_reply("other") && !has_reply("first"),
            "the re-entrant call answered while relay waits");
  cr_assert_eq(result_of(reply_for("other")), 5);
  Statefun__Entities__State *st = book_of("a");
  cr_assert_eq(st->n_queue, 0);
  cr_assert_str_eq(st->active_chain, "first", "the holder still holds a");
  statefun__entities__state__free_unpacked(st, NULL);
  run_all();
  counter_methods[0].reentrant = false;
  cr_assert_eq(result_of(reply_for("first")), 1001);
  cr_assert_eq(n_of("a"), 5);
}

/* ---- atomic methods, read_only, call misuse (issue 10) -------------------------- */

Test(entity, sf_fail_undoes_the_methods_own_writes) {
  external_call("a", "add", "r0", NULL, 10);
  external_call("a", "take", "r1", NULL, 1000); /* 10 - 1000 < 0: fails */
  external_call("a", "take", "r2", NULL, 4);
  run_all();
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "insufficient: -990"), "%s", r->error);
  cr_assert_eq(result_of(reply_for("r2")), 6, "the failed take left its write behind");
  cr_assert_eq(n_of("a"), 6);
}

Test(entity, callee_failure_after_an_await_undoes_writes_and_output) {
  external_call("a", "add", "r0", NULL, 10);
  run_all();
  external_call("a", "addboom", "r1", "b", 5);
  step_router(); /* a: n = 15 (uncommitted), egress held, suspends */
  cr_assert_eq(n_of("a"), 15, "the suspended method's write is in the value spec");
  Statefun__Entities__State *st = book_of("a");
  cr_assert_eq(st->n_frames, 1);
  cr_assert_eq(st->frames[0]->n_pre_images, 1, "one pre-image: n");
  cr_assert_str_eq(st->frames[0]->pre_images[0]->field, "n");
  cr_assert_eq(st->frames[0]->n_held_egresses, 1, "the egress record waits in the frame");
  statefun__entities__state__free_unpacked(st, NULL);
  run_all();
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "boom at b"), "%s", r->error);
  cr_assert_eq(n_of("a"), 10, "the failed method's write before its await stayed");
  cr_assert(!has_reply("addboom-side"), "the failed method's egress record was released");
  st = book_of("a");
  cr_assert_eq(st->n_frames, 0);
  statefun__entities__state__free_unpacked(st, NULL);
}

Test(entity, held_output_is_released_when_the_method_returns) {
  external_call("a", "addrelay", "r1", "b", 7);
  step_router(); /* a suspends */
  cr_assert(!has_reply("addrelay-side"), "output of a suspended method must be held");
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 1007);
  cr_assert(has_reply("addrelay-side"));
  cr_assert_eq(n_of("a"), 1007);
  cr_assert_eq(n_of("b"), 7);
}

Test(entity, read_only_is_answered_from_committed_state_while_a_method_waits) {
  external_call("a", "add", "r0", NULL, 3);
  run_all();
  external_call("a", "addrelay", "r1", "b", 7);
  step_router(); /* a: n = 10 uncommitted, suspended, holding a */
  external_call("a", "get", "g1", NULL, 0);
  step_router(); /* b: add(7) */
  step_router(); /* a: get arrives while addrelay waits for b's reply */
  cr_assert(has_reply("g1"), "read_only waited in the queue behind a suspended method");
  cr_assert_eq(result_of(reply_for("g1")), 3, "read_only saw an uncommitted write");
  cr_assert(!has_reply("r1"));
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 1010);
  external_call("a", "get", "g2", NULL, 0);
  run_all();
  cr_assert_eq(result_of(reply_for("g2")), 1010);
}

Test(entity, a_call_without_await_fails_the_method) {
  external_call("a", "stray", "r1", "b", 0);
  run_all();
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok, "an unawaited call was silently dropped");
  cr_assert(strstr(r->error, "t.ent/Counter.stray called t.ent/Counter.add without awaiting it"),
            "%s", r->error);
  cr_assert_eq(n_of("b"), 0);
}

Test(entity, two_calls_in_one_step_fail_the_method) {
  external_call("a", "twice", "r1", "b", 0);
  run_all();
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "second call (t.ent/Counter.take) in one step at await 'sub'"), "%s",
            r->error);
  cr_assert_eq(n_of("b"), 0, "no call may leave a failed step");
}

/* ---- parallel awaits (issue 10 item 3) -------------------------------------------- */

Test(entity, parallel_await_resumes_when_every_call_has_answered) {
  cr_assert_str_eq(counter_methods[FAN_METHOD].name, "fan");
  external_call("a", "fan", "r1", "t", 3);
  step_router(); /* a: 4 calls out (t.add(100), f0..f2.add), one frame */
  cr_assert_eq(sf_scenario_queued(SC), 4, "all calls go out at once: %zu",
               sf_scenario_queued(SC));
  Statefun__Entities__State *st = book_of("a");
  cr_assert_eq(st->n_frames, 1);
  cr_assert_eq(st->frames[0]->n_calls, 4);
  cr_assert_str_eq(st->frames[0]->awaiting, "");
  cr_assert_str_eq(st->frames[0]->label, "one");
  statefun__entities__state__free_unpacked(st, NULL);
  /* the four callees run, then their replies reach a one by one */
  for (int k = 0; k < 4; k++) step_router();
  for (int k = 0; k < 3; k++) {
    step_router();
    cr_assert(!has_reply("r1"), "resumed after %d of 4 answers", k + 1);
    st = book_of("a");
    size_t answered = 0;
    for (size_t j = 0; j < st->frames[0]->n_calls; j++) answered += st->frames[0]->calls[j]->answered;
    cr_assert_eq(answered, (size_t)k + 1);
    statefun__entities__state__free_unpacked(st, NULL);
  }
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 100 + 1 + 2 + 3);
  cr_assert_eq(n_of("a"), 1);
  cr_assert_eq(n_of("t"), 100);
  cr_assert_eq(n_of("f2"), 3);
  st = book_of("a");
  cr_assert_eq(st->n_frames, 0);
  cr_assert_str_eq(st->active_chain, "");
  statefun__entities__state__free_unpacked(st, NULL);
}

Test(entity, parallel_await_with_no_calls_carries_on) {
  external_call("a", "fan", "r1", "t", 0);
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 100);
}

Test(entity, parallel_await_failure_names_each_error_and_undoes_the_writes) {
  external_call("a", "fan", "r1", "boom", 3);
  run_all();
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "fan: each[1]: boom at f1"), "%s", r->error);
  cr_assert_eq(n_of("a"), 0, "the failed method's write stayed");
  cr_assert_eq(n_of("f2"), 3, "the other calls ran (not undone: other entities)");
}

Test(entity, read_only_is_answered_during_a_parallel_await) {
  external_call("a", "fan", "r1", "t", 2);
  step_router(); /* a: n = 1 uncommitted, 3 calls out */
  external_call("a", "get", "g1", NULL, 0);
  for (int k = 0; k < 3; k++) step_router(); /* the callees */
  step_router(); /* get, ahead of the replies */
  cr_assert_eq(result_of(reply_for("g1")), 0);
  cr_assert(!has_reply("r1"));
  run_all();
  cr_assert_eq(result_of(reply_for("r1")), 100 + 1 + 2);
}

Test(entity, parallel_frame_from_an_incompatible_build_fails_clearly) {
  external_call("a", "fan", "r1", "t", 2);
  for (int k = 0; k < 5; k++) step_router(); /* a, 3 callees, the first reply */
  counter_methods[FAN_METHOD].layout_hash = 0x9999;
  run_all();
  counter_methods[FAN_METHOD].layout_hash = 0xdddd;
  const sf_scenario_reply *r = reply_for("r1");
  cr_assert(!r->ok);
  cr_assert(strstr(r->error, "incompatible build"), "%s", r->error);
  cr_assert_eq(n_of("a"), 0);
}
