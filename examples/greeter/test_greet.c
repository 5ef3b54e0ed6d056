/*
 * test_greet.c - greeter.fns/greet tested with <statefun/testing.h>: three
 * visits of one person (the reminder scheduled, then cancelled, then
 * neither), the greeting on the Kafka egress, and a message of the wrong
 * type refused with its reason. No server, no runtime.
 */
#include <criterion/criterion.h>
#include <statefun/testing.h>
#include <string.h>

#include "greet.h"

static sf_handler *handler;

static void setup(void) {
  handler = sf_handler_new();
  cr_assert_eq(greeter_register(handler), SF_OK);
}
static void teardown(void) { sf_handler_free(handler); }

/* The Kafka record the last run wrote, checked field by field. */
static void assert_greeting(sf_test *t, const char *want) {
  cr_assert_eq(sf_test_egress_count(t), 1);
  cr_assert_str_eq(sf_test_egress_at(t, 0)->egress_type, GREETER_EGRESS);
  sf_test_kafka_record rec;
  cr_assert_eq(sf_test_egress_kafka(t, 0, &rec), SF_OK);
  cr_assert_str_eq(rec.topic, GREETER_TOPIC);
  cr_assert_eq(rec.key_len, 5);
  cr_assert_eq(memcmp(rec.key, "Alice", 5), 0);
  cr_assert_eq(rec.value_len, strlen(want), "%.*s", (int)rec.value_len, rec.value);
  cr_assert_eq(memcmp(rec.value, want, rec.value_len), 0);
}

Test(greeter, three_visits, .init = setup, .fini = teardown) {
  sf_test *t = sf_test_new(handler, GREETER_FUNCTION, "Alice");

  /* First visit: the runtime does not know `seen` yet, so the function
   * asks for it and the batch runs again with it registered. */
  sf_test_send_string(t, "hi");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert_eq(sf_test_rounds(t), 2);
  cr_assert_str_eq(sf_test_missing_name(t, 0), "seen");
  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 1);
  assert_greeting(t, "Hello, Alice! You have been here 1 time(s).");
  cr_assert_eq(sf_test_delayed_count(t), 1);
  const sf_test_delayed *d = sf_test_delayed_at(t, 0);
  cr_assert_not(d->cancellation);
  cr_assert_eq(d->delay_ms, GREETER_REMINDER_MS);
  cr_assert_str_eq(d->token, "remind-Alice");
  cr_assert_str_eq(d->message.target.type, "greet");
  cr_assert_str_eq(d->message.target.id, "Alice");

  /* Second visit: the reminder is called off. */
  sf_test_send_string(t, "hi");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert_eq(sf_test_rounds(t), 1);
  assert_greeting(t, "Hello, Alice! You have been here 2 time(s).");
  cr_assert_eq(sf_test_delayed_count(t), 1);
  cr_assert(sf_test_delayed_at(t, 0)->cancellation);
  cr_assert_str_eq(sf_test_delayed_at(t, 0)->token, "remind-Alice");

  /* Third visit: a greeting only. */
  sf_test_send_string(t, "hi");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  assert_greeting(t, "Hello, Alice! You have been here 3 time(s).");
  cr_assert_eq(sf_test_delayed_count(t), 0);
  sf_test_free(t);
}

Test(greeter, a_returning_visitor, .init = setup, .fini = teardown) {
  sf_test *t = sf_test_new(handler, GREETER_FUNCTION, "Alice");
  sf_test_set_state_int(t, "seen", 41);
  sf_test_send_string(t, "hi");
  cr_assert_eq(sf_test_run(t), SF_OK, "%s", sf_test_error(t));
  cr_assert_eq(sf_test_rounds(t), 1);
  assert_greeting(t, "Hello, Alice! You have been here 42 time(s).");
  sf_test_free(t);
}

Test(greeter, wrong_message_type, .init = setup, .fini = teardown) {
  sf_test *t = sf_test_new(handler, GREETER_FUNCTION, "Alice");
  sf_test_set_state_int(t, "seen", 1);
  sf_test_send_int(t, 7);
  cr_assert_eq(sf_test_run(t), SF_ERR_FUNCTION_FAILED);
  cr_assert(strstr(sf_test_error(t), "expects a io.statefun.types/string message, "
                                     "got io.statefun.types/int") != NULL,
            "%s", sf_test_error(t));
  int32_t seen;
  cr_assert_eq(sf_test_state_int(t, "seen", &seen), SF_OK);
  cr_assert_eq(seen, 1);
  sf_test_free(t);
}
