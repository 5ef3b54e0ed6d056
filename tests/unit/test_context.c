/* The context API: self/caller, state of every built-in type, sending,
 * delays and cancellation, egress records, and misuse reported cleanly. */
#include <criterion/criterion.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>

#include "support.h"

static const sf_value_spec s_bool = SF_VALUE_SPEC("b", &sf_type_bool);
static const sf_value_spec s_int = SF_VALUE_SPEC("i", &sf_type_int);
static const sf_value_spec s_long = SF_VALUE_SPEC("l", &sf_type_long);
static const sf_value_spec s_float = SF_VALUE_SPEC("f", &sf_type_float);
static const sf_value_spec s_double = SF_VALUE_SPEC("d", &sf_type_double);
static const sf_value_spec s_string = SF_VALUE_SPEC("s", &sf_type_string);
static const sf_value_spec *const all_specs[] = {&s_bool, &s_int, &s_long,
                                                 &s_float, &s_double, &s_string};

typedef sf_status (*body_fn)(sf_context *ctx, const sf_message *msg);

static sf_status trampoline(sf_context *ctx, const sf_message *msg, void *user) {
  return ((body_fn)user)(ctx, msg);
}

/* Runs `body` once as function t.fns/f with all specs present (no values)
 * and returns the decoded reply. */
static tf_from *run_body(body_fn body, sf_status want, sf_handle_info *info,
                         const char *caller_id) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "t.fns/f", trampoline, (void *)body, all_specs, 6), SF_OK);
  tf_req *r = tf_req_new("t.fns", "f", "me");
  const char *names[] = {"b", "i", "l", "f", "d", "s"};
  for (int i = 0; i < 6; i++) tf_req_state(r, names[i], NULL, NULL, 0);
  if (caller_id)
    tf_req_invoke(r, SF_TYPENAME_STRING, "", 0, "other.ns", "fn", caller_id);
  else
    tf_req_invoke_string(r, "go");
  tf_from *f = NULL;
  sf_handle_info local;
  sf_status st = tf_run(h, r, &f, info ? info : &local);
  cr_assert_eq(st, want, "status %d (%s), want %d: %s", st, sf_strerror(st), want,
               (info ? info : &local)->error);
  tf_req_free(r);
  sf_handler_free(h);
  return f;
}

static sf_status check_self_no_caller(sf_context *ctx, const sf_message *msg) {
  cr_assert_str_eq(sf_self(ctx)->namespace_, "t.fns");
  cr_assert_str_eq(sf_self(ctx)->type, "f");
  cr_assert_str_eq(sf_self(ctx)->id, "me");
  cr_assert_str_eq(msg->target.id, "me");
  cr_assert_null(sf_caller(ctx));
  return SF_OK;
}
Test(context, self_and_no_caller_from_ingress) {
  tf_from_free(run_body(check_self_no_caller, SF_OK, NULL, NULL));
}

static sf_status check_caller(sf_context *ctx, const sf_message *msg) {
  const sf_address *c = sf_caller(ctx);
  cr_assert_not_null(c);
  cr_assert_str_eq(c->namespace_, "other.ns");
  cr_assert_str_eq(c->type, "fn");
  cr_assert_str_eq(c->id, "x1");
  /* Empty string message: typed, value present, "" */
  const char *s;
  size_t n;
  cr_assert_eq(sf_message_as_string(msg, &s, &n), SF_OK);
  cr_assert_eq(n, 0);
  return SF_OK;
}
Test(context, caller_of_function_message) {
  tf_from_free(run_body(check_caller, SF_OK, NULL, "x1"));
}

static sf_status write_all(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  bool b;
  cr_assert_eq(sf_state_get_bool(ctx, &s_bool, &b), SF_ERR_NO_VALUE);
  cr_assert(!sf_state_has(ctx, &s_int));
  cr_assert_eq(sf_state_set_bool(ctx, &s_bool, true), SF_OK);
  cr_assert_eq(sf_state_set_int(ctx, &s_int, -7), SF_OK);
  cr_assert_eq(sf_state_set_long(ctx, &s_long, 1LL << 40), SF_OK);
  cr_assert_eq(sf_state_set_float(ctx, &s_float, 0.5f), SF_OK);
  cr_assert_eq(sf_state_set_double(ctx, &s_double, 2.25), SF_OK);
  cr_assert_eq(sf_state_set_string(ctx, &s_string, "héllo", strlen("héllo")), SF_OK);
  /* Reads see the writes. */
  int32_t i;
  int64_t l;
  float f;
  double d;
  const char *s;
  size_t n;
  cr_assert_eq(sf_state_get_bool(ctx, &s_bool, &b), SF_OK);
  cr_assert(b);
  cr_assert_eq(sf_state_get_int(ctx, &s_int, &i), SF_OK);
  cr_assert_eq(i, -7);
  cr_assert_eq(sf_state_get_long(ctx, &s_long, &l), SF_OK);
  cr_assert_eq(l, 1LL << 40);
  cr_assert_eq(sf_state_get_float(ctx, &s_float, &f), SF_OK);
  cr_assert_eq(f, 0.5f);
  cr_assert_eq(sf_state_get_double(ctx, &s_double, &d), SF_OK);
  cr_assert_eq(d, 2.25);
  cr_assert_eq(sf_state_get_string(ctx, &s_string, &s, &n), SF_OK);
  cr_assert_eq(n, strlen("héllo"));
  cr_assert_eq(memcmp(s, "héllo", n), 0);
  /* Wrong kind for the spec. */
  cr_assert_eq(sf_state_get_int(ctx, &s_long, &i), SF_ERR_TYPE_MISMATCH);
  cr_assert_eq(sf_state_set(ctx, &s_int, sf_value_long(ctx, 3)), SF_ERR_TYPE_MISMATCH);
  /* Undeclared spec. */
  static const sf_value_spec other = SF_VALUE_SPEC("zzz", &sf_type_int);
  cr_assert_eq(sf_state_set_int(ctx, &other, 1), SF_ERR_UNKNOWN_STATE);
  /* Same name, other object: matched by name. */
  static const sf_value_spec twin = SF_VALUE_SPEC("i", &sf_type_int);
  cr_assert_eq(sf_state_get_int(ctx, &twin, &i), SF_OK);
  return SF_OK;
}
Test(context, state_of_every_builtin_type) {
  tf_from *f = run_body(write_all, SF_OK, NULL, NULL);
  const tf_resp *r = f->invocation_result;
  cr_assert_eq(r->n_state_mutations, 6);
  const char *names[] = {"b", "i", "l", "f", "d", "s"};
  for (int i = 0; i < 6; i++)
    cr_assert_str_eq(r->state_mutations[i]->state_name, names[i], "declaration order");
  const tf_mut *m = tf_find_mutation(r, "s");
  cr_assert_str_eq(m->state_value->typename_, SF_TYPENAME_STRING);
  cr_assert_eq(m->state_value->value.data[0], 0x0A);
  m = tf_find_mutation(r, "i");
  const uint8_t want[] = {0x0D, 0xF9, 0xFF, 0xFF, 0xFF};
  cr_assert_eq(m->state_value->value.len, 5);
  cr_assert_arr_eq(m->state_value->value.data, want, 5);
  tf_from_free(f);
}

/* sf_state_set keeps the caller's bytes (as documented) instead of copying
 * them into the arena again: a large value set by every invocation of a
 * batch used to cost one more arena copy each. */
#define BIG_LEN (256 * 1024)
static sf_status set_big_without_copy(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  sf_arena *a = sf_context_arena(ctx);
  uint8_t *buf = sf_arena_alloc(a, BIG_LEN);
  cr_assert_not_null(buf);
  for (size_t i = 0; i < BIG_LEN; i++) buf[i] = (uint8_t)(i * 7);
  size_t before = sf_arena_used(a);
  sf_value v = {SF_TYPENAME_STRING, true, buf, BIG_LEN};
  cr_assert_eq(sf_state_set(ctx, &s_string, v), SF_OK);
  cr_assert_lt(sf_arena_used(a) - before, (size_t)1024, "set copied %zu bytes",
               sf_arena_used(a) - before);
  sf_value got = {0};
  cr_assert_eq(sf_state_get(ctx, &s_string, &got), SF_OK);
  cr_assert_eq(got.data, buf);
  return SF_OK;
}
Test(context, state_set_does_not_copy_the_bytes) {
  tf_from *f = run_body(set_big_without_copy, SF_OK, NULL, NULL);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "s");
  cr_assert_not_null(m);
  cr_assert_eq(m->state_value->value.len, BIG_LEN);
  for (size_t i = 0; i < BIG_LEN; i++)
    cr_assert_eq(m->state_value->value.data[i], (uint8_t)(i * 7));
  tf_from_free(f);
}

/* sf_state_update modifies the request's bytes where they are (no copy of
 * the value), later invocations of the batch see the change, and the reply
 * carries the modified bytes. */
static int g_update_calls;
static sf_status bump_first_byte(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  sf_arena *a = sf_context_arena(ctx);
  size_t before = sf_arena_used(a);
  uint8_t *p = NULL;
  size_t len = 0;
  cr_assert_eq(sf_state_update(ctx, &s_string, &p, &len), SF_OK);
  cr_assert_eq(len, BIG_LEN);
  cr_assert_eq(p[0], (uint8_t)(g_update_calls + 1), "sees the earlier update");
  p[0]++;
  cr_assert_lt(sf_arena_used(a) - before, (size_t)1024, "update copied %zu bytes",
               sf_arena_used(a) - before);
  g_update_calls++;
  return SF_OK;
}
Test(context, state_update_modifies_the_request_bytes_in_place) {
  uint8_t *val = malloc(BIG_LEN);
  for (size_t i = 0; i < BIG_LEN; i++) val[i] = (uint8_t)(i * 7);
  val[0] = 1;
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "t.fns/f", trampoline, (void *)bump_first_byte,
                                   all_specs, 6), SF_OK);
  tf_req *r = tf_req_new("t.fns", "f", "me");
  const char *names[] = {"b", "i", "l", "f", "d", "s"};
  for (int i = 0; i < 5; i++) tf_req_state(r, names[i], NULL, NULL, 0);
  tf_req_state(r, "s", SF_TYPENAME_STRING, val, BIG_LEN);
  for (int i = 0; i < 3; i++) tf_req_invoke_string(r, "go");
  g_update_calls = 0;
  tf_from *f = NULL;
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_OK, "%s", info.error);
  cr_assert_eq(g_update_calls, 3);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "s");
  cr_assert_not_null(m);
  cr_assert_str_eq(m->state_value->typename_, SF_TYPENAME_STRING);
  cr_assert_eq(m->state_value->value.len, BIG_LEN);
  cr_assert_eq(m->state_value->value.data[0], 4);
  cr_assert_arr_eq(m->state_value->value.data + 1, val + 1, BIG_LEN - 1);
  tf_from_free(f);
  tf_req_free(r);
  sf_handler_free(h);
  free(val);
}

/* Bytes a function set may be read-only: updating them copies once. */
static const uint8_t k_const_bytes[4] = {1, 2, 3, 4};
static sf_status update_after_set(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  sf_value v = {SF_TYPENAME_STRING, true, k_const_bytes, sizeof k_const_bytes};
  cr_assert_eq(sf_state_set(ctx, &s_string, v), SF_OK);
  uint8_t *p = NULL;
  cr_assert_eq(sf_state_update(ctx, &s_string, &p, NULL), SF_OK);
  cr_assert_neq(p, k_const_bytes);
  p[3] = 9; /* would crash on the .rodata bytes */
  cr_assert_eq(sf_state_update(ctx, &s_int, &p, NULL), SF_ERR_NO_VALUE);
  return SF_OK;
}
Test(context, state_update_copies_bytes_a_function_set) {
  tf_from *f = run_body(update_after_set, SF_OK, NULL, NULL);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "s");
  const uint8_t want[] = {1, 2, 3, 9};
  cr_assert_eq(m->state_value->value.len, 4);
  cr_assert_arr_eq(m->state_value->value.data, want, 4);
  cr_assert_eq(k_const_bytes[3], 4);
  tf_from_free(f);
}

static sf_status send_things(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  cr_assert_eq(sf_send(ctx, "a.ns/target", "t1", sf_value_int(ctx, 5)), SF_OK);
  cr_assert_eq(sf_send_after(ctx, 1500, "tok-1", "a.ns/target", "t2",
                             sf_value_cstring(ctx, "later")), SF_OK);
  cr_assert_eq(sf_send_after(ctx, 0, NULL, "a.ns/target", "t3", sf_value_bool(ctx, true)), SF_OK);
  cr_assert_eq(sf_cancel_delayed(ctx, "tok-0"), SF_OK);
  cr_assert_eq(sf_egress_kafka(ctx, "e.ns/kafka", "topic-a", "key-a", "v1", 2), SF_OK);
  cr_assert_eq(sf_egress_kafka(ctx, "e.ns/kafka", "topic-b", NULL, "", 0), SF_OK);
  cr_assert_eq(sf_egress_kinesis(ctx, "e.ns/kinesis", "stream-a", "pk", "hash", "v2", 2), SF_OK);
  static const sf_type raw = SF_TYPE_RAW("my.types/blob");
  uint8_t stack_bytes[3] = {1, 2, 3}; /* copied, so stack memory is fine */
  sf_value v = {raw.type_name, true, stack_bytes, 3};
  cr_assert_eq(sf_egress(ctx, "e.ns/generic", v), SF_OK);
  return SF_OK;
}
Test(context, messages_delays_cancellations_egress) {
  tf_from *f = run_body(send_things, SF_OK, NULL, NULL);
  const tf_resp *r = f->invocation_result;
  cr_assert_eq(r->n_state_mutations, 0);
  cr_assert_eq(r->n_outgoing_messages, 1);
  cr_assert_str_eq(r->outgoing_messages[0]->target->namespace_, "a.ns");
  cr_assert_str_eq(r->outgoing_messages[0]->target->type, "target");
  cr_assert_str_eq(r->outgoing_messages[0]->target->id, "t1");
  cr_assert_str_eq(r->outgoing_messages[0]->argument->typename_, SF_TYPENAME_INT);
  cr_assert(r->outgoing_messages[0]->argument->has_value);

  cr_assert_eq(r->n_delayed_invocations, 3);
  cr_assert_eq(r->delayed_invocations[0]->delay_in_ms, 1500);
  cr_assert_str_eq(r->delayed_invocations[0]->cancellation_token, "tok-1");
  cr_assert_str_eq(r->delayed_invocations[0]->target->id, "t2");
  cr_assert(!r->delayed_invocations[0]->is_cancellation_request);
  cr_assert_str_eq(r->delayed_invocations[1]->cancellation_token, "");
  cr_assert_eq(r->delayed_invocations[1]->delay_in_ms, 0);
  cr_assert(r->delayed_invocations[2]->is_cancellation_request);
  cr_assert_str_eq(r->delayed_invocations[2]->cancellation_token, "tok-0");
  cr_assert_null(r->delayed_invocations[2]->target);

  cr_assert_eq(r->n_outgoing_egresses, 4);
  const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *e = r->outgoing_egresses[0];
  cr_assert_str_eq(e->egress_namespace, "e.ns");
  cr_assert_str_eq(e->egress_type, "kafka");
  cr_assert_str_eq(e->argument->typename_, SF_TYPENAME_KAFKA_RECORD);
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *k =
      io__statefun__sdk__egress__kafka_producer_record__unpack(NULL, e->argument->value.len,
                                                               e->argument->value.data);
  cr_assert_not_null(k);
  cr_assert_str_eq(k->topic, "topic-a");
  cr_assert_str_eq(k->key, "key-a");
  cr_assert_eq(k->value_bytes.len, 2);
  cr_assert_eq(memcmp(k->value_bytes.data, "v1", 2), 0);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);
  k = io__statefun__sdk__egress__kafka_producer_record__unpack(
      NULL, r->outgoing_egresses[1]->argument->value.len, r->outgoing_egresses[1]->argument->value.data);
  cr_assert_str_eq(k->key, "");
  cr_assert_str_eq(k->topic, "topic-b");
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);

  e = r->outgoing_egresses[2];
  cr_assert_str_eq(e->egress_type, "kinesis");
  cr_assert_str_eq(e->argument->typename_, SF_TYPENAME_KINESIS_RECORD);
  Io__Statefun__Sdk__Egress__KinesisEgressRecord *kin =
      io__statefun__sdk__egress__kinesis_egress_record__unpack(NULL, e->argument->value.len,
                                                               e->argument->value.data);
  cr_assert_str_eq(kin->stream, "stream-a");
  cr_assert_str_eq(kin->partition_key, "pk");
  cr_assert_str_eq(kin->explicit_hash_key, "hash");
  io__statefun__sdk__egress__kinesis_egress_record__free_unpacked(kin, NULL);

  e = r->outgoing_egresses[3];
  cr_assert_str_eq(e->egress_type, "generic");
  cr_assert_str_eq(e->argument->typename_, "my.types/blob");
  cr_assert_eq(e->argument->value.len, 3);
  cr_assert_eq(e->argument->value.data[2], 3);
  tf_from_free(f);
}

static sf_status bad_sends(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  cr_assert_eq(sf_send(ctx, "noslash", "x", sf_value_int(ctx, 1)), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_send(ctx, "a/b", NULL, sf_value_int(ctx, 1)), SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_send_after(ctx, -1, NULL, "a/b", "x", sf_value_int(ctx, 1)),
               SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_cancel_delayed(ctx, ""), SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_cancel_delayed(ctx, NULL), SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_egress_kafka(ctx, "e/k", "", NULL, "x", 1), SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_egress_kinesis(ctx, "e/k", "s", "", NULL, "x", 1), SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_egress(ctx, "bad", sf_value_int(ctx, 1)), SF_ERR_BAD_TYPENAME);
  sf_value untyped = {NULL, true, NULL, 0};
  cr_assert_neq(sf_send(ctx, "a/b", "x", untyped), SF_OK);
  return SF_OK; /* the function itself succeeds: nothing was queued */
}
Test(context, misuse_is_reported_and_queues_nothing) {
  tf_from *f = run_body(bad_sends, SF_OK, NULL, NULL);
  cr_assert_eq(f->response_case, IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE__NOT_SET);
  tf_from_free(f);
}

static sf_status bad_value_fails_batch(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  static const sf_type bad = SF_TYPE_RAW("no-slash");
  sf_value v = sf_value_bytes(ctx, &bad, "x", 1);
  cr_assert_null(v.type_name);
  return SF_OK; /* ignored the error; the sticky failure still fails the batch */
}
Test(context, failed_value_constructor_fails_batch) {
  sf_handle_info info;
  run_body(bad_value_fails_batch, SF_ERR_FUNCTION_FAILED, &info, NULL);
  cr_assert(strstr(info.error, "sf_value_bytes"), "error: %s", info.error);
}

static sf_status stored_type_mismatch(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  int32_t i;
  return sf_state_get_int(ctx, &s_int, &i);
}
Test(context, stored_typename_must_match_spec) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "t.fns/f", trampoline, (void *)stored_type_mismatch,
                                   all_specs, 6), SF_OK);
  tf_req *r = tf_req_new("t.fns", "f", "me");
  const char *names[] = {"b", "l", "f", "d", "s"};
  for (int i = 0; i < 5; i++) tf_req_state(r, names[i], NULL, NULL, 0);
  tf_req_state(r, "i", "other.types/int", "\x0d\x01\x00\x00\x00", 5);
  tf_req_invoke_string(r, "go");
  tf_from *f;
  cr_assert_eq(tf_run(h, r, &f, NULL), SF_ERR_FUNCTION_FAILED);
  tf_req_free(r);
  sf_handler_free(h);
}

static sf_status printf_body(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  size_t n = 0;
  char *s = sf_context_printf(ctx, &n, "%s-%d", sf_self(ctx)->id, 42);
  cr_assert_str_eq(s, "me-42");
  cr_assert_eq(n, 5);
  /* longer than the one-pass buffer */
  char *big = sf_context_printf(ctx, &n, "%0300d|%s", 7, "end");
  cr_assert_eq(n, 304);
  cr_assert_eq(big[299], '7');
  cr_assert_str_eq(big + 300, "|end");
  cr_assert_not_null(sf_context_printf(ctx, NULL, "x"));
  return SF_OK;
}
Test(context, printf_into_the_arena) {
  tf_from_free(run_body(printf_body, SF_OK, NULL, NULL));
}

static sf_status handles_own_error(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  static const sf_value_spec undeclared = SF_VALUE_SPEC("nope", &sf_type_int);
  int32_t v;
  /* records a reason in the context, but the function carries on */
  cr_assert_eq(sf_state_get_int(ctx, &undeclared, &v), SF_ERR_UNKNOWN_STATE);
  return SF_OK;
}
Test(context, success_leaves_no_error_behind) {
  sf_handle_info info;
  tf_from_free(run_body(handles_own_error, SF_OK, &info, NULL));
  cr_assert_str_empty(info.error, "stale error on success: %s", info.error);
}

/* sf_context_printf formats common texts itself (context.c, fast_format)
 * and leaves the rest to vsnprintf: the output must be vsnprintf's. */
static sf_status printf_like_vsnprintf(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  char want[1000];
  size_t len = 0;
  const char *s;
#define SAME(...)                                                        \
  do {                                                                   \
    snprintf(want, sizeof want, __VA_ARGS__);                            \
    s = sf_context_printf(ctx, &len, __VA_ARGS__);                       \
    cr_assert_not_null(s);                                               \
    cr_assert_str_eq(s, want);                                           \
    cr_assert_eq(len, strlen(want));                                     \
  } while (0)
  SAME("Hello, %s! You have been here %d time(s).", "Alice", 5);
  SAME("%d %i %d %d", 0, -1, INT32_MIN, INT32_MAX);
  SAME("%u %lu %llu %zu", 4000000000u, ULONG_MAX, ULLONG_MAX, (size_t)SIZE_MAX);
  SAME("%ld %lld %zd", LONG_MIN, LLONG_MIN, (ssize_t)-7);
  SAME("100%% %c%c", 'o', 'k');
  SAME("%s", "");
  SAME("plain text");
  SAME("%5d|%-3s|%.2f|%x|%p", 42, "ab", 3.14159, 255u, (void *)0);
  const char *volatile none = NULL; /* glibc prints "(null)" */
  SAME("%s and %s", none, "x");
  char longs[400];
  memset(longs, 'a', sizeof longs - 1);
  longs[sizeof longs - 1] = '\0';
  SAME("%s%d", longs, 12345); /* longer than the stack buffer */
  SAME("%.*s", 3, "abcdef");
  /* The fast formatter writes into the arena's free tail: leave 320 bytes
   * there (one block so far), then a text that fits and one that does not
   * (formatted again into the next block). */
  sf_arena *a = sf_context_arena(ctx);
  size_t room = sf_arena_capacity(a) - sf_arena_used(a);
  cr_assert_gt(room, 320);
  cr_assert_not_null(sf_arena_alloc(a, room - 320));
  SAME("%s|%d", longs + 200, 7); /* 201 bytes: in the tail */
  SAME("%s%d", longs, 12345);     /* 404 bytes: past it */
  SAME("%s|%s", longs, longs + 100);
#undef SAME
  return SF_OK;
}

Test(context, printf_matches_vsnprintf) {
  tf_from_free(run_body(printf_like_vsnprintf, SF_OK, NULL, NULL));
}
