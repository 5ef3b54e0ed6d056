/* Handler semantics: registration, missing-state round trip, batches,
 * mutations, failures, bad requests, and the malloc-free warm path. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"

static const sf_value_spec count_spec = SF_VALUE_SPEC("count", &sf_type_int);
static const sf_value_spec name_spec =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("name", &sf_type_string, 60000);
static const sf_value_spec last_spec =
    SF_VALUE_SPEC_EXPIRE_AFTER_CALL("last", &sf_type_long, 1000);
static const sf_value_spec *const specs[] = {&count_spec, &name_spec, &last_spec};

/* Adds the int argument (default 1) to count; "fail" strings fail; "clear"
 * clears count; "noop" does nothing. */
static sf_status counter(sf_context *ctx, const sf_message *msg, void *user) {
  (void)user;
  if (sf_message_is_string(msg)) {
    const char *s;
    size_t n;
    cr_assert_eq(sf_message_as_string(msg, &s, &n), SF_OK);
    if (n == 4 && memcmp(s, "fail", 4) == 0) return sf_context_fail(ctx, "asked to fail (%d)", 7);
    if (n == 5 && memcmp(s, "clear", 5) == 0) return sf_state_clear(ctx, &count_spec);
    if (n == 4 && memcmp(s, "noop", 4) == 0) return SF_OK;
    return sf_context_fail(ctx, "unknown command");
  }
  int32_t by = 1, cur = 0;
  if (sf_message_is_int(msg)) sf_message_as_int(msg, &by);
  sf_status st = sf_state_get_int(ctx, &count_spec, &cur);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  return sf_state_set_int(ctx, &count_spec, cur + by);
}

static sf_handler *make_handler(void) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "test.fns/counter", counter, NULL, specs, 3), SF_OK);
  return h;
}

static void attach_all(tf_req *r, int32_t count) {
  uint8_t b[5];
  tf_req_state(r, "count", SF_TYPENAME_INT, b, sf_encode_int(count, b));
  tf_req_state(r, "name", NULL, NULL, 0);
  tf_req_state(r, "last", NULL, NULL, 0);
}

static int32_t count_of(const tf_from *f) {
  cr_assert_eq(f->response_case, IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "count");
  cr_assert_not_null(m, "no mutation of count");
  cr_assert_eq(m->mutation_type, IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__MODIFY);
  cr_assert_str_eq(m->state_value->typename_, SF_TYPENAME_INT);
  cr_assert(m->state_value->has_value);
  int32_t v;
  cr_assert_eq(sf_decode_int(m->state_value->value.data, m->state_value->value.len, &v), SF_OK);
  return v;
}

Test(register, rejects_bad_input) {
  sf_handler *h = sf_handler_new();
  static const sf_value_spec bad_name = SF_VALUE_SPEC("1x", &sf_type_int);
  static const sf_value_spec no_type = {"x", NULL, SF_EXPIRE_NONE, 0};
  static const sf_value_spec bad_expiry = {"x", &sf_type_int, SF_EXPIRE_AFTER_WRITE, 0};
  static const sf_value_spec neg_expiry = {"x", &sf_type_int, SF_EXPIRE_AFTER_CALL, -5};
  static const sf_type bad_tn = SF_TYPE_RAW("noslash");
  static const sf_value_spec bad_type = SF_VALUE_SPEC("x", &bad_tn);
  const sf_value_spec *one[1];
  cr_assert_eq(sf_handler_register(h, "nons", counter, NULL, NULL, 0), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_handler_register(h, "a/b", NULL, NULL, NULL, 0), SF_ERR_INVALID_ARGUMENT);
  one[0] = &bad_name;
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, one, 1), SF_ERR_BAD_STATE_NAME);
  one[0] = &no_type;
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, one, 1), SF_ERR_INVALID_ARGUMENT);
  one[0] = &bad_expiry;
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, one, 1), SF_ERR_INVALID_ARGUMENT);
  one[0] = &neg_expiry;
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, one, 1), SF_ERR_INVALID_ARGUMENT);
  one[0] = &bad_type;
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, one, 1), SF_ERR_BAD_TYPENAME);
  const sf_value_spec *dup[] = {&count_spec, &count_spec};
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, dup, 2), SF_ERR_DUPLICATE);
  cr_assert_eq(sf_handler_function_count(h), 0);
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, specs, 3), SF_OK);
  cr_assert_eq(sf_handler_register(h, "a/b", counter, NULL, specs, 3), SF_ERR_DUPLICATE);
  cr_assert_eq(sf_handler_register(h, "a/c", counter, NULL, NULL, 0), SF_OK);
  cr_assert_eq(sf_handler_function_count(h), 2);
  cr_assert_str_eq(sf_handler_function_typename(h, 1), "a/c");
  cr_assert_null(sf_handler_function_typename(h, 2));
  sf_handler_free(h);
}

Test(handle, missing_state_lists_all_specs_in_order_and_runs_nothing) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  tf_req_invoke_int(r, 5);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_OK);
  cr_assert(info.incomplete);
  cr_assert_eq(info.invocations, 0);
  cr_assert_eq(f->response_case,
               IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT);
  Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext *inc =
      f->incomplete_invocation_context;
  cr_assert_eq(inc->n_missing_values, 3);
  cr_assert_str_eq(inc->missing_values[0]->state_name, "count");
  cr_assert_str_eq(inc->missing_values[0]->type_typename, SF_TYPENAME_INT);
  cr_assert_not_null(inc->missing_values[0]->expiration_spec);
  cr_assert_eq(inc->missing_values[0]->expiration_spec->mode, 0);
  cr_assert_str_eq(inc->missing_values[1]->state_name, "name");
  cr_assert_eq(inc->missing_values[1]->expiration_spec->mode, 1); /* AFTER_WRITE */
  cr_assert_eq(inc->missing_values[1]->expiration_spec->expire_after_millis, 60000);
  cr_assert_str_eq(inc->missing_values[2]->state_name, "last");
  cr_assert_eq(inc->missing_values[2]->expiration_spec->mode, 2); /* AFTER_INVOKE */
  cr_assert_eq(inc->missing_values[2]->expiration_spec->expire_after_millis, 1000);
  tf_from_free(f);
  tf_req_free(r);

  /* Partially present: only the missing ones; undeclared states ignored. */
  r = tf_req_new("test.fns", "counter", "a");
  tf_req_state(r, "name", NULL, NULL, 0);
  tf_req_state(r, "unrelated", SF_TYPENAME_INT, "\x0d\x01\x00\x00\x00", 5);
  tf_req_invoke_int(r, 5);
  cr_assert_eq(tf_run(h, r, &f, &info), SF_OK);
  inc = f->incomplete_invocation_context;
  cr_assert_eq(inc->n_missing_values, 2);
  cr_assert_str_eq(inc->missing_values[0]->state_name, "count");
  cr_assert_str_eq(inc->missing_values[1]->state_name, "last");
  tf_from_free(f);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, state_round_trip_after_registration) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  tf_req_state(r, "count", NULL, NULL, 0); /* registered, no value yet */
  tf_req_state(r, "name", NULL, NULL, 0);
  tf_req_state(r, "last", NULL, NULL, 0);
  tf_req_invoke_int(r, 5);
  tf_from *f;
  cr_assert_eq(tf_run(h, r, &f, NULL), SF_OK);
  cr_assert_eq(count_of(f), 5);
  /* Only the written state travels back. */
  cr_assert_eq(f->invocation_result->n_state_mutations, 1);
  tf_from_free(f);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, has_value_false_means_absent) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  tf_req_state(r, "count", SF_TYPENAME_INT, "\x0d\x09\x00\x00\x00", 5);
  tf_req_state(r, "name", NULL, NULL, 0);
  tf_req_state(r, "last", NULL, NULL, 0);
  tf_req_invoke_int(r, 1);
  /* flip has_value of count to false */
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  Io__Statefun__Sdk__Reqreply__ToFunction *to =
      io__statefun__sdk__reqreply__to_function__unpack(NULL, len, buf);
  to->invocation->state[0]->state_value->has_value = 0;
  size_t len2 = io__statefun__sdk__reqreply__to_function__get_packed_size(to);
  uint8_t *buf2 = malloc(len2);
  io__statefun__sdk__reqreply__to_function__pack(to, buf2);
  sf_arena *a = sf_arena_new(0);
  uint8_t *reply;
  size_t reply_len;
  cr_assert_eq(sf_handler_handle(h, buf2, len2, a, &reply, &reply_len, NULL), SF_OK);
  tf_from *f = tf_from_decode(reply, reply_len);
  cr_assert_eq(count_of(f), 1); /* started from absent, not from 9 */
  tf_from_free(f);
  sf_arena_free(a);
  io__statefun__sdk__reqreply__to_function__free_unpacked(to, NULL);
  free(buf);
  free(buf2);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, batch_of_1000_carries_state_in_order) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  attach_all(r, 7);
  for (int i = 0; i < 1000; i++) tf_req_invoke_int(r, 1);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_OK);
  cr_assert_eq(info.invocations, 1000);
  cr_assert_eq(count_of(f), 1007);
  tf_from_free(f);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, untouched_state_sends_no_mutation_and_empty_reply) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  attach_all(r, 3);
  tf_req_invoke_string(r, "noop");
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  sf_arena *a = sf_arena_new(0);
  uint8_t *reply;
  size_t reply_len = 99;
  cr_assert_eq(sf_handler_handle(h, buf, len, a, &reply, &reply_len, NULL), SF_OK);
  cr_assert_eq(reply_len, 0, "a batch without effects is an empty FromFunction");
  sf_arena_free(a);
  free(buf);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, clear_sends_delete_even_after_write) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  attach_all(r, 3);
  tf_req_invoke_int(r, 2);
  tf_req_invoke_string(r, "clear");
  tf_from *f;
  cr_assert_eq(tf_run(h, r, &f, NULL), SF_OK);
  const tf_mut *m = tf_find_mutation(f->invocation_result, "count");
  cr_assert_not_null(m);
  cr_assert_eq(m->mutation_type, IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__DELETE);
  cr_assert_null(m->state_value);
  tf_from_free(f);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, failing_invocation_fails_the_whole_batch) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "bob");
  attach_all(r, 0);
  tf_req_invoke_int(r, 1);
  tf_req_invoke_int(r, 1);
  tf_req_invoke_string(r, "fail");
  tf_req_invoke_int(r, 1);
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  sf_arena *a = sf_arena_new(0);
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_handle_info info;
  cr_assert_eq(sf_handler_handle(h, buf, len, a, &reply, &reply_len, &info),
               SF_ERR_FUNCTION_FAILED);
  cr_assert_null(reply, "no partial reply");
  cr_assert_eq(info.invocations, 3);
  cr_assert(strstr(info.error, "asked to fail (7)"), "error: %s", info.error);
  cr_assert(strstr(info.error, "test.fns/counter"), "error: %s", info.error);
  cr_assert(strstr(info.error, "bob"), "error: %s", info.error);
  cr_assert(strstr(info.error, "invocation 3 of 4"), "error: %s", info.error);
  sf_arena_free(a);
  free(buf);
  tf_req_free(r);
  sf_handler_free(h);
}

/* A batch with n int invocations (and the declared states, plus `extra`
 * more), handled with `limits`; the reply's count on SF_OK. */
static sf_status run_batch(const sf_request_limits *limits, size_t n,
                           size_t extra, sf_handle_info *info,
                           int32_t *count) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "bob");
  attach_all(r, 0);
  char name[32];
  for (size_t i = 0; i < extra; i++) {
    snprintf(name, sizeof name, "extra%zu", i);
    tf_req_state(r, name, NULL, NULL, 0);
  }
  for (size_t i = 0; i < n; i++) tf_req_invoke_int(r, 1);
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  sf_arena *a = sf_arena_new(0);
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_status st = sf_handler_handle_limited(h, limits, buf, len, a, &reply,
                                           &reply_len, info);
  if (st == SF_OK) {
    tf_from *f = tf_from_decode(reply, reply_len);
    *count = count_of(f);
    tf_from_free(f);
  } else {
    cr_assert_null(reply, "no reply when refused");
    cr_assert_eq(info->invocations, 0, "nothing ran");
  }
  sf_arena_free(a);
  free(buf);
  tf_req_free(r);
  sf_handler_free(h);
  return st;
}

Test(handle, invocation_and_state_caps) {
  sf_handle_info info;
  int32_t count = 0;
  /* The defaults (10000 each): at the cap runs, one over is refused. */
  cr_assert_eq(run_batch(NULL, SF_DEFAULT_MAX_INVOCATIONS, 0, &info, &count),
               SF_OK, "%s", info.error);
  cr_assert_eq(count, SF_DEFAULT_MAX_INVOCATIONS);
  cr_assert_eq(run_batch(NULL, SF_DEFAULT_MAX_INVOCATIONS + 1, 0, &info,
                         &count),
               SF_ERR_TOO_LARGE);
  cr_assert_str_eq(info.error,
                   "a batch of 10001 invocations is over the limit of 10000 "
                   "(sf_request_limits.max_invocations)");
  cr_assert_eq(run_batch(NULL, 1, SF_DEFAULT_MAX_STATE_VALUES - 3, &info,
                         &count),
               SF_OK, "%s", info.error);
  cr_assert_eq(run_batch(NULL, 1, SF_DEFAULT_MAX_STATE_VALUES - 2, &info,
                         &count),
               SF_ERR_TOO_LARGE);
  cr_assert_str_eq(info.error,
                   "a request with 10001 state values is over the limit of "
                   "10000 (sf_request_limits.max_state_values)");
  /* Caps of the caller's own; a zero field keeps the default. */
  sf_request_limits lim = {5, 0};
  cr_assert_eq(run_batch(&lim, 5, 0, &info, &count), SF_OK, "%s", info.error);
  cr_assert_eq(count, 5);
  cr_assert_eq(run_batch(&lim, 6, 0, &info, &count), SF_ERR_TOO_LARGE);
  cr_assert(strstr(info.error, "6 invocations is over the limit of 5"),
            "error: %s", info.error);
  lim = (sf_request_limits){0, 3};
  cr_assert_eq(run_batch(&lim, 1, 0, &info, &count), SF_OK, "%s", info.error);
  cr_assert_eq(run_batch(&lim, 1, 1, &info, &count), SF_ERR_TOO_LARGE);
  cr_assert(strstr(info.error, "4 state values is over the limit of 3"),
            "error: %s", info.error);
}

Test(handle, unknown_function) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "nobody", "a");
  tf_req_invoke_int(r, 1);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_ERR_UNKNOWN_FUNCTION);
  cr_assert_eq(info.function_index, -1);
  cr_assert(strstr(info.error, "test.fns/nobody"), "error: %s", info.error);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, malformed_requests) {
  sf_handler *h = make_handler();
  sf_arena *a = sf_arena_new(0);
  uint8_t *reply;
  size_t reply_len;
  sf_handle_info info;
  const uint8_t garbage[] = {0xFF, 0xFF, 0xFF, 0x01, 0x02};
  cr_assert_eq(sf_handler_handle(h, garbage, sizeof garbage, a, &reply, &reply_len, &info),
               SF_ERR_DECODE);
  cr_assert(strstr(info.error, "malformed"), "error: %s", info.error);
  cr_assert_eq(sf_handler_handle(h, NULL, 0, a, &reply, &reply_len, &info), SF_ERR_NO_INVOCATION);
  /* A valid request cut short. */
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  attach_all(r, 1);
  tf_req_invoke_int(r, 1);
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  for (size_t cut = 1; cut < len; cut++) {
    sf_status st = sf_handler_handle(h, buf, cut, a, &reply, &reply_len, &info);
    cr_assert(st != SF_OK || reply_len < 1000, "cut %zu", cut);
    sf_arena_reset(a);
  }
  cr_assert_eq(sf_handler_handle(h, buf, len, a, &reply, &reply_len, &info), SF_OK);
  cr_assert_eq(sf_handler_handle(NULL, buf, len, a, &reply, &reply_len, &info),
               SF_ERR_INVALID_ARGUMENT);
  free(buf);
  tf_req_free(r);
  sf_arena_free(a);
  sf_handler_free(h);
}

Test(handle, arena_limit_gives_nomem_not_crash) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  attach_all(r, 1);
  for (int i = 0; i < 200; i++) tf_req_invoke_int(r, 1);
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  sf_arena *a = sf_arena_new(2048);
  uint8_t *reply;
  size_t reply_len;
  sf_status st = sf_handler_handle(h, buf, len, a, &reply, &reply_len, NULL);
  cr_assert(st == SF_ERR_DECODE || st == SF_ERR_NOMEM, "status %d", st);
  sf_arena_free(a);
  free(buf);
  tf_req_free(r);
  sf_handler_free(h);
}

Test(handle, warm_path_makes_no_malloc) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "counter", "a");
  attach_all(r, 1);
  for (int i = 0; i < 100; i++) tf_req_invoke_int(r, 1);
  size_t len;
  uint8_t *buf = tf_req_pack(r, &len);
  sf_arena *a = sf_arena_new(0);
  uint8_t *reply;
  size_t reply_len;
  for (int i = 0; i < 3; i++) {
    cr_assert_eq(sf_handler_handle(h, buf, len, a, &reply, &reply_len, NULL), SF_OK);
    sf_arena_reset(a);
  }
  uint64_t warm = sf_arena_mallocs(a);
  for (int i = 0; i < 1000; i++) {
    cr_assert_eq(sf_handler_handle(h, buf, len, a, &reply, &reply_len, NULL), SF_OK);
    sf_arena_reset(a);
  }
  cr_assert_eq(sf_arena_mallocs(a), warm);
  sf_arena_free(a);
  free(buf);
  tf_req_free(r);
  sf_handler_free(h);
}
