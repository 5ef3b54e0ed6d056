/* The function test harness (<statefun/testing.h>): state in and out, the
 * missing-state round trip (automatic and inspected), failures, callers,
 * sent and delayed messages, cancellations and egress records, each
 * checked against what the function did and, for one scenario, against
 * the same batch built and decoded by hand with protobuf-c (support.c). */
#include <criterion/criterion.h>
#include <jansson.h>
#include <statefun/testing.h>
#include <string.h>

#include "support.h"

static const sf_value_spec seen_spec = SF_VALUE_SPEC("seen", &sf_type_int);
static const sf_value_spec who_spec =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("who", &sf_type_string, 60000);
static const sf_value_spec *const specs[] = {&seen_spec, &who_spec};
static const sf_type profile_t = SF_TYPE_JSON("test.types/Profile");
static const sf_value_spec profile_spec = SF_VALUE_SPEC("profile", &profile_t);
static const sf_value_spec *const json_specs[] = {&profile_spec};

/* A greeter with every side effect: counts names in `seen`, remembers the
 * caller's id in `who`, greets "test.fns/out", sends a reminder after 5 s
 * (token "r-<name>"), cancels "old", writes a Kafka and a Kinesis record.
 * "fail" fails; "forget" clears `seen`. */
static sf_status greet(sf_context *ctx, const sf_message *msg, void *user) {
  (void)user;
  const char *name;
  size_t n;
  sf_status st = sf_message_as_string(msg, &name, &n);
  if (st != SF_OK) return st;
  if (n == 4 && memcmp(name, "fail", 4) == 0)
    return sf_context_fail(ctx, "no greeting for %.*s", (int)n, name);
  if (n == 6 && memcmp(name, "forget", 6) == 0) return sf_state_clear(ctx, &seen_spec);
  int32_t seen = 0;
  st = sf_state_get_int(ctx, &seen_spec, &seen);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  seen++;
  if ((st = sf_state_set_int(ctx, &seen_spec, seen)) != SF_OK) return st;
  const sf_address *caller = sf_caller(ctx);
  if (caller && (st = sf_state_set_string(ctx, &who_spec, caller->id,
                                          strlen(caller->id))) != SF_OK)
    return st;
  size_t glen;
  char *greeting = sf_context_printf(ctx, &glen, "Hello %.*s #%d", (int)n, name, seen);
  if ((st = sf_send(ctx, "test.fns/out", sf_self(ctx)->id,
                    sf_value_string(ctx, greeting, glen))) != SF_OK)
    return st;
  char *token = sf_context_printf(ctx, NULL, "r-%.*s", (int)n, name);
  if ((st = sf_send_after(ctx, 5000, token, "test.fns/remind", "x",
                          sf_value_int(ctx, seen))) != SF_OK)
    return st;
  if ((st = sf_cancel_delayed(ctx, "old")) != SF_OK) return st;
  char *key = sf_context_strdup(ctx, name, n);
  if ((st = sf_egress_kafka(ctx, "test.io/kafka", "greetings", key, greeting, glen)) != SF_OK)
    return st;
  return sf_egress_kinesis(ctx, "test.io/kinesis", "stream-1", key, NULL, "k", 1);
}

/* Stores a JSON profile message as state, adding "visits". */
static sf_status profile(sf_context *ctx, const sf_message *msg, void *user) {
  (void)user;
  json_t *j;
  sf_status st = sf_message_as_json(ctx, msg, &profile_t, &j);
  if (st != SF_OK) return st;
  json_object_set_new(j, "visits", json_integer(1)); /* the request's value */
  return sf_state_set_json(ctx, &profile_spec, j);
}

static sf_handler *make_handler(void) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "test.fns/greet", greet, NULL, specs, 2), SF_OK);
  cr_assert_eq(sf_handler_register(h, "test.fns/profile", profile, NULL, json_specs, 1),
               SF_OK);
  return h;
}

static void assert_string(const sf_message *m, const char *want) {
  const char *s;
  size_t n;
  cr_assert_eq(sf_message_as_string(m, &s, &n), SF_OK);
  cr_assert_eq(n, strlen(want), "got '%.*s', want '%s'", (int)n, s, want);
  cr_assert_eq(memcmp(s, want, n), 0, "got '%.*s', want '%s'", (int)n, s, want);
}

Test(testing, state_messages_delays_egress) {
  sf_handler *h = make_handler();
  sf_test *t = sf_test_new(h, "test.fns/greet", "Alice");
  cr_assert_not_null(t);
  cr_assert_eq(sf_test_set_state_int(t, "seen", 2), SF_OK);
  cr_assert_eq(sf_test_set_state_empty(t, "who"), SF_OK);
  cr_assert_eq(sf_test_send_string(t, "Alice"), SF_OK);
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert_eq(sf_test_rounds(t), 1);
  cr_assert_str_eq(sf_test_error(t), "");

  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 3);
  cr_assert_eq(sf_test_state_change(t, "seen"), SF_TEST_SET);
  cr_assert_eq(sf_test_state_change(t, "who"), SF_TEST_UNCHANGED);
  cr_assert_eq(sf_test_state_change(t, "nope"), SF_TEST_UNKNOWN);
  const char *s;
  cr_assert_eq(sf_test_state_string(t, "who", &s, NULL), SF_ERR_NO_VALUE);
  cr_assert_eq(sf_test_state_string(t, "seen", &s, NULL), SF_ERR_TYPE_MISMATCH);
  cr_assert_eq(sf_test_state_int(t, "nope", &seen), SF_ERR_UNKNOWN_STATE);

  cr_assert_eq(sf_test_sent_count(t), 1);
  const sf_message *m = sf_test_sent(t, 0);
  cr_assert_str_eq(m->target.namespace_, "test.fns");
  cr_assert_str_eq(m->target.type, "out");
  cr_assert_str_eq(m->target.id, "Alice");
  assert_string(m, "Hello Alice #3");
  cr_assert_null(sf_test_sent(t, 1));

  cr_assert_eq(sf_test_delayed_count(t), 2);
  const sf_test_delayed *d = sf_test_delayed_at(t, 0);
  cr_assert_not(d->cancellation);
  cr_assert_eq(d->delay_ms, 5000);
  cr_assert_str_eq(d->token, "r-Alice");
  cr_assert_str_eq(d->message.target.type, "remind");
  int32_t v;
  cr_assert_eq(sf_message_as_int(&d->message, &v), SF_OK);
  cr_assert_eq(v, 3);
  d = sf_test_delayed_at(t, 1);
  cr_assert(d->cancellation);
  cr_assert_str_eq(d->token, "old");

  cr_assert_eq(sf_test_egress_count(t), 2);
  cr_assert_str_eq(sf_test_egress_at(t, 0)->egress_type, "test.io/kafka");
  sf_test_kafka_record k;
  cr_assert_eq(sf_test_egress_kafka(t, 0, &k), SF_OK);
  cr_assert_str_eq(k.topic, "greetings");
  cr_assert_eq(k.key_len, 5);
  cr_assert_eq(memcmp(k.key, "Alice", 5), 0);
  cr_assert_eq(k.value_len, strlen("Hello Alice #3"));
  cr_assert_eq(memcmp(k.value, "Hello Alice #3", k.value_len), 0);
  sf_test_kinesis_record kr;
  cr_assert_eq(sf_test_egress_kafka(t, 1, &k), SF_ERR_TYPE_MISMATCH);
  cr_assert_eq(sf_test_egress_kinesis(t, 1, &kr), SF_OK);
  cr_assert_str_eq(kr.stream, "stream-1");
  cr_assert_str_eq(kr.partition_key, "Alice");
  cr_assert_str_eq(kr.explicit_hash_key, "");
  cr_assert_eq(kr.value_len, 1);
  cr_assert_eq(sf_test_egress_kinesis(t, 2, &kr), SF_ERR_INVALID_ARGUMENT);
  sf_test_free(t);
  sf_handler_free(h);
}

/* The harness against the same batch built and decoded by hand: the state
 * it reports and the message it lists are the bytes of the reply. */
Test(testing, agrees_with_hand_built_protobuf) {
  sf_handler *h = make_handler();
  tf_req *r = tf_req_new("test.fns", "greet", "Bob");
  uint8_t b[5];
  tf_req_state(r, "seen", SF_TYPENAME_INT, b, sf_encode_int(41, b));
  tf_req_state(r, "who", NULL, NULL, 0);
  tf_req_invoke_string(r, "Bob");
  tf_from *f;
  cr_assert_eq(tf_run(h, r, &f, NULL), SF_OK);
  const tf_resp *resp = f->invocation_result;
  const tf_mut *mut = tf_find_mutation(resp, "seen");

  sf_test *t = sf_test_new(h, "test.fns/greet", "Bob");
  sf_test_set_state_int(t, "seen", 41);
  sf_test_set_state_empty(t, "who");
  sf_test_send_string(t, "Bob");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  sf_value sv;
  cr_assert_eq(sf_test_state(t, "seen", &sv), SF_OK);
  cr_assert_str_eq(sv.type_name, mut->state_value->typename_);
  cr_assert_eq(sv.len, mut->state_value->value.len);
  cr_assert_eq(memcmp(sv.data, mut->state_value->value.data, sv.len), 0);
  cr_assert_eq(sf_test_sent_count(t), resp->n_outgoing_messages);
  const sf_message *m = sf_test_sent(t, 0);
  cr_assert_eq(m->value.len, resp->outgoing_messages[0]->argument->value.len);
  cr_assert_eq(memcmp(m->value.data, resp->outgoing_messages[0]->argument->value.data,
                      m->value.len), 0);
  cr_assert_eq(sf_test_delayed_count(t), resp->n_delayed_invocations);
  cr_assert_eq(sf_test_egress_count(t), resp->n_outgoing_egresses);
  tf_from_free(f);
  tf_req_free(r);
  sf_test_free(t);
  sf_handler_free(h);
}

Test(testing, missing_state_registered_and_rerun) {
  sf_handler *h = make_handler();
  sf_test *t = sf_test_new(h, "test.fns/greet", "Carol");
  sf_test_send_string(t, "Carol");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert_eq(sf_test_rounds(t), 2);
  cr_assert_not(sf_test_incomplete(t));
  cr_assert_eq(sf_test_missing_count(t), 2);
  cr_assert_str_eq(sf_test_missing_name(t, 0), "seen");
  cr_assert_str_eq(sf_test_missing_type(t, 0), SF_TYPENAME_INT);
  cr_assert_eq(sf_test_missing_expire_mode(t, 0), SF_EXPIRE_NONE);
  cr_assert_str_eq(sf_test_missing_name(t, 1), "who");
  cr_assert_eq(sf_test_missing_expire_mode(t, 1), SF_EXPIRE_AFTER_WRITE);
  cr_assert_eq(sf_test_missing_expire_after_ms(t, 1), 60000);
  cr_assert_null(sf_test_missing_name(t, 2));
  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 1);
  /* the next batch finds the state registered: one round */
  sf_test_send_string(t, "Carol");
  cr_assert_eq(sf_test_run(t), SF_OK);
  cr_assert_eq(sf_test_rounds(t), 1);
  cr_assert_eq(sf_test_missing_count(t), 0);
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 2);
  sf_test_free(t);
  sf_handler_free(h);
}

Test(testing, missing_state_inspected) {
  sf_handler *h = make_handler();
  sf_test *t = sf_test_new(h, "test.fns/greet", "Dan");
  sf_test_set_auto_register(t, false);
  sf_test_set_state_int(t, "seen", 7);
  sf_test_send_string(t, "Dan");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert(sf_test_incomplete(t));
  cr_assert_eq(sf_test_rounds(t), 1);
  cr_assert_eq(sf_test_missing_count(t), 1);
  cr_assert_str_eq(sf_test_missing_name(t, 0), "who");
  cr_assert_str_eq(sf_test_missing_type(t, 0), SF_TYPENAME_STRING);
  cr_assert_eq(sf_test_sent_count(t), 0);
  cr_assert_eq(sf_test_state_change(t, "seen"), SF_TEST_UNCHANGED);
  /* the test registers it itself and sends again */
  sf_test_set_state_empty(t, "who");
  sf_test_send_string(t, "Dan");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert_not(sf_test_incomplete(t));
  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 8);
  sf_test_free(t);
  sf_handler_free(h);
}

Test(testing, failure_keeps_state_and_gives_reason) {
  sf_handler *h = make_handler();
  sf_test *t = sf_test_new(h, "test.fns/greet", "Eve");
  sf_test_set_state_int(t, "seen", 5);
  sf_test_set_state_empty(t, "who");
  sf_test_send_string(t, "Eve");
  sf_test_send_string(t, "fail");
  cr_assert_eq(sf_test_run(t), SF_ERR_FUNCTION_FAILED);
  cr_assert(strstr(sf_test_error(t), "no greeting for fail") != NULL, "%s",
            sf_test_error(t));
  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 5, "a failed batch changes nothing");
  cr_assert_eq(sf_test_sent_count(t), 0);
  /* the queue was consumed */
  cr_assert_eq(sf_test_run(t), SF_ERR_NO_INVOCATION);
  sf_test_free(t);
  sf_handler_free(h);
}

Test(testing, caller_batch_and_clear) {
  sf_handler *h = make_handler();
  sf_test *t = sf_test_new(h, "test.fns/greet", "Fay");
  sf_test_set_state_empty(t, "seen");
  sf_test_set_state_empty(t, "who");
  cr_assert_eq(sf_test_set_caller(t, "test.fns/friend", "f-1"), SF_OK);
  sf_test_send_string(t, "Fay");
  cr_assert_eq(sf_test_set_caller(t, NULL, NULL), SF_OK);
  sf_test_send_string(t, "Fay");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  const char *who;
  size_t n;
  cr_assert_eq(sf_test_state_string(t, "who", &who, &n), SF_OK);
  cr_assert_eq(n, 3);
  cr_assert_eq(memcmp(who, "f-1", 3), 0);
  cr_assert_eq(sf_test_sent_count(t), 2, "one batch of two invocations");
  assert_string(sf_test_sent(t, 1), "Hello Fay #2");
  sf_test_send_string(t, "forget");
  cr_assert_eq(sf_test_run(t), SF_OK);
  cr_assert_eq(sf_test_state_change(t, "seen"), SF_TEST_CLEARED);
  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_ERR_NO_VALUE);
  cr_assert_eq(sf_test_set_caller(t, "nons", "x"), SF_ERR_INVALID_ARGUMENT);
  sf_test_free(t);
  sf_handler_free(h);
}

Test(testing, json_message_and_state) {
  sf_handler *h = make_handler();
  sf_test *t = sf_test_new(h, "test.fns/profile", "p1");
  cr_assert_eq(sf_test_send_json(t, &profile_t, "{\"name\":\"Gus\"}"), SF_OK);
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  json_t *j;
  cr_assert_eq(sf_test_state_json(t, "profile", &profile_t, &j), SF_OK);
  cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "Gus");
  cr_assert_eq(json_integer_value(json_object_get(j, "visits")), 1);
  /* j is the test's until sf_test_free */
  cr_assert_eq(sf_test_send_int(t, 1), SF_OK);
  sf_status st = sf_test_run(t);
  cr_assert_eq(st, SF_ERR_FUNCTION_FAILED, "an int is not a Profile: %s",
               sf_status_name(st));
  cr_assert_str_eq(sf_test_error(t),
                   "function test.fns/profile (id p1) failed at invocation 1 of 1: "
                   "the message is io.statefun.types/int, read as test.types/Profile: "
                   "test sf_message_is(msg, &type) first, or send it test.types/Profile");
  sf_test_free(t);
  sf_handler_free(h);
}

Test(testing, unknown_function_and_bad_arguments) {
  sf_handler *h = make_handler();
  cr_assert_null(sf_test_new(h, "no-slash", "x"));
  cr_assert_null(sf_test_new(NULL, "a/b", "x"));
  sf_test *t = sf_test_new(h, "test.fns/nobody", "x");
  cr_assert_eq(sf_test_set_state_int(t, "bad name", 1), SF_ERR_INVALID_ARGUMENT);
  cr_assert_eq(sf_test_send(t, "notatype", "", 0), SF_ERR_INVALID_ARGUMENT);
  sf_test_send_int(t, 1);
  cr_assert_eq(sf_test_run(t), SF_ERR_UNKNOWN_FUNCTION);
  cr_assert_neq(sf_test_error(t)[0], '\0');
  sf_test_free(t);
  sf_test_free(NULL);
  sf_handler_free(h);
}
