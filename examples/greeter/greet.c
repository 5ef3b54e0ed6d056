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
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "greet.h"

static const sf_value_spec seen_spec = SF_VALUE_SPEC("seen", &sf_type_int);

/* printf into the request arena: the text lives until the reply is sent. */
static char *arena_printf(sf_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static char *arena_printf(sf_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0) return NULL;
  char *text = sf_arena_alloc(sf_context_arena(ctx), (size_t)len + 1);
  if (text == NULL) return NULL;
  va_start(ap, fmt);
  vsnprintf(text, (size_t)len + 1, fmt, ap);
  va_end(ap);
  return text;
}

static sf_status greet(sf_context *ctx, const sf_message *msg,
                       void *user_data) {
  const char *name = sf_self(ctx)->id;
  if (!sf_message_is_string(msg))
    return sf_context_fail(ctx, "%s expects a %s message, got %s",
                           GREETER_FUNCTION, SF_TYPENAME_STRING,
                           msg->value.typename);

  /* How many times have we seen this person? No value yet means never. */
  int32_t seen = 0;
  sf_status st = sf_state_get_int(ctx, &seen_spec, &seen);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  seen++;
  st = sf_state_set_int(ctx, &seen_spec, seen);
  if (st != SF_OK) return st;

  char *greeting = arena_printf(
      ctx, "Hello, %s! You have been here %d time(s).", name, (int)seen);
  char *token = arena_printf(ctx, "remind-%s", name);
  if (greeting == NULL || token == NULL) return SF_ERR_NOMEM;

  st = sf_egress_kafka(ctx, GREETER_EGRESS, GREETER_TOPIC, name, greeting,
                       strlen(greeting));
  if (st != SF_OK) return st;

  /* A reminder after the first visit, called off by the second. */
  if (seen == 1)
    return sf_send_after(ctx, GREETER_REMINDER_MS, token, GREETER_FUNCTION,
                         name, sf_value_cstring(ctx, name));
  if (seen == 2) return sf_cancel_delayed(ctx, token);
  return SF_OK;
}

sf_status greeter_register(sf_handler *handler) {
  static const sf_value_spec *const specs[] = {&seen_spec};
  return sf_handler_register(handler, GREETER_FUNCTION, greet, NULL, specs,
                             sizeof specs / sizeof specs[0]);
}
