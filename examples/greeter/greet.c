/*
 * greet.c - greeter.fns/greet: counts the visits of each person and greets
 * them on a Kafka topic.
 *
 * The address id is the person's name; the message is an
 * io.statefun.types/string. Each visit:
 *   - increments the state `seen` (io.statefun.types/int, never expires);
 *   - emits "Hello, <id>! You have been here <n> time(s)." to the Kafka
 *     egress greeter.io/greetings, topic greetings, key <id>;
 *   - on the first visit, schedules a reminder to itself in 60 s with the
 *     cancellation token remind-<id>; on the second visit, cancels it.
 */
#include <stdio.h>
#include <string.h>

#include "greet.h"

static const sf_value_spec seen_spec = SF_VALUE_SPEC("seen", &sf_type_int);

static sf_status greet(sf_context *ctx, const sf_message *msg,
                       void *user_data) {
  const char *name = sf_self(ctx)->id;
  if (!sf_message_is_string(msg))
    return sf_context_fail(ctx, "%s expects a %s message, got %s",
                           GREETER_FUNCTION, SF_TYPENAME_STRING,
                           msg->value.type_name);

  /* How many times have we seen this person? No value yet means never. */
  int32_t seen = 0;
  sf_status st = sf_state_get_int(ctx, &seen_spec, &seen);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  seen++;
  st = sf_state_set_int(ctx, &seen_spec, seen);
  if (st != SF_OK) return st;

  /* Text built in the request arena: it lives until the reply is sent. */
  size_t len;
  char *greeting = sf_context_printf(
      ctx, &len, "Hello, %s! You have been here %d time(s).", name, (int)seen);
  if (greeting == NULL) return SF_ERR_NOMEM;
  st = sf_egress_kafka(ctx, GREETER_EGRESS, GREETER_TOPIC, name, greeting, len);
  if (st != SF_OK || seen > 2) return st;

  /* A reminder after the first visit, called off by the second. */
  char *token = sf_context_printf(ctx, NULL, "remind-%s", name);
  if (token == NULL) return SF_ERR_NOMEM;
  if (seen == 1)
    return sf_send_after(ctx, GREETER_REMINDER_MS, token, GREETER_FUNCTION,
                         name, sf_value_cstring(ctx, name));
  return sf_cancel_delayed(ctx, token);
}

sf_status greeter_register(sf_handler *handler) {
  static const sf_value_spec *const specs[] = {&seen_spec};
  return sf_handler_register(handler, GREETER_FUNCTION, greet, NULL, specs,
                             sizeof specs / sizeof specs[0]);
}
