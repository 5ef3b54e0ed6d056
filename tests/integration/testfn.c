/*
 * testfn.c - sfl_testfn, the function server the sf-local integration tests
 * (run_integration.py) talk to. Every function lives in namespace test.fns:
 *
 *   counter        state count (int). An int message n adds n; the string
 *                  "get" only reads. After every invocation: Kafka record
 *                  "<id>=<count>" (key <id>) to egress test.io/out, topic
 *                  counts. A message sent by another function also emits
 *                  "<caller ns>/<caller type>/<caller id>" to topic callers.
 *   slow           like counter, but sleeps --slow-ms per invocation (to
 *                  make batching observable); emits to topic slow.
 *   expiring       state v (int) expiring 1500 ms after write. An int sets
 *                  v; "get" emits "<v>" or "absent" to topic expiring.
 *   expiring_call  the same, expiring 1500 ms after the last call; topic
 *                  expiring_call.
 *   delayer        "arm:<ms>:<token>" sends "fired:<token>" to itself after
 *                  <ms> with cancellation token <token>; "cancel:<token>"
 *                  cancels it; "fired:<token>" emits "fired:<token>" to topic
 *                  delayed.
 *   pinger         an int n is sent on to test.fns/counter with the same id.
 *   changer        state x whose type is --changer-type (int or long); an
 *                  int n adds n to x and emits "<id>=<x>" to topic changer.
 *
 *   sfl_testfn --listen 127.0.0.1:PORT [--slow-ms N] [--delay-us N]
 *              [--changer-type T] [any other sf_server_main option]
 *
 * --delay-us N makes every counter invocation take N microseconds more, so
 * that a kill is likely to hit requests in flight.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#define EGRESS "test.io/out"

static long g_slow_ms = 20;
static long g_delay_us = 0;
static int g_changer_long = 0;

/* printf into the request arena. */
static char *aprintf(sf_context *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static char *aprintf(sf_context *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int len = vsnprintf(NULL, 0, fmt, ap);
  va_end(ap);
  if (len < 0) return NULL;
  char *s = sf_arena_alloc(sf_context_arena(ctx), (size_t)len + 1);
  if (s == NULL) return NULL;
  va_start(ap, fmt);
  vsnprintf(s, (size_t)len + 1, fmt, ap);
  va_end(ap);
  return s;
}

static sf_status emit(sf_context *ctx, const char *topic, const char *text) {
  if (text == NULL) return SF_ERR_NOMEM;
  return sf_egress_kafka(ctx, EGRESS, topic, sf_self(ctx)->id, text,
                         strlen(text));
}

/* Is the message the string `s`? */
static bool is_str(const sf_message *msg, const char *s) {
  const char *v;
  size_t n;
  if (!sf_message_is_string(msg)) return false;
  if (sf_message_as_string(msg, &v, &n) != SF_OK) return false;
  return n == strlen(s) && memcmp(v, s, n) == 0;
}

static void sleep_ms(long ms) {
  if (ms <= 0) return;
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

/* ---- counter and slow ------------------------------------------------- */

static const sf_value_spec count_spec = SF_VALUE_SPEC("count", &sf_type_int);

static sf_status count_step(sf_context *ctx, const sf_message *msg,
                            const char *topic) {
  int32_t count = 0;
  sf_status st = sf_state_get_int(ctx, &count_spec, &count);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  if (sf_message_is_int(msg)) {
    int32_t n = 0;
    st = sf_message_as_int(msg, &n);
    if (st != SF_OK) return st;
    count += n;
    st = sf_state_set_int(ctx, &count_spec, count);
    if (st != SF_OK) return st;
  } else if (!is_str(msg, "get")) {
    return sf_context_fail(ctx, "expected an int or \"get\", got a %s",
                           msg->value.type_name);
  }
  const sf_address *caller = sf_caller(ctx);
  if (caller != NULL) {
    st = emit(ctx, "callers",
              aprintf(ctx, "%s/%s/%s", caller->namespace_, caller->type,
                      caller->id));
    if (st != SF_OK) return st;
  }
  return emit(ctx, topic,
              aprintf(ctx, "%s=%d", sf_self(ctx)->id, (int)count));
}

static sf_status counter(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  if (g_delay_us > 0) {
    struct timespec ts = {g_delay_us / 1000000, (g_delay_us % 1000000) * 1000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
  }
  return count_step(ctx, msg, "counts");
}

static sf_status slow(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  sleep_ms(g_slow_ms);
  return count_step(ctx, msg, "slow");
}

/* ---- expiring and expiring_call --------------------------------------- */

static const sf_value_spec v_write_spec =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("v", &sf_type_int, 1500);
static const sf_value_spec v_call_spec =
    SF_VALUE_SPEC_EXPIRE_AFTER_CALL("v", &sf_type_int, 1500);

static sf_status expiring_step(sf_context *ctx, const sf_message *msg,
                               const sf_value_spec *spec, const char *topic) {
  if (sf_message_is_int(msg)) {
    int32_t n = 0;
    sf_status st = sf_message_as_int(msg, &n);
    if (st != SF_OK) return st;
    return sf_state_set_int(ctx, spec, n);
  }
  if (!is_str(msg, "get"))
    return sf_context_fail(ctx, "expected an int or \"get\"");
  int32_t v = 0;
  sf_status st = sf_state_get_int(ctx, spec, &v);
  if (st == SF_ERR_NO_VALUE) return emit(ctx, topic, "absent");
  if (st != SF_OK) return st;
  return emit(ctx, topic, aprintf(ctx, "%d", (int)v));
}

static sf_status expiring(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  return expiring_step(ctx, msg, &v_write_spec, "expiring");
}

static sf_status expiring_call(sf_context *ctx, const sf_message *msg,
                               void *ud) {
  (void)ud;
  return expiring_step(ctx, msg, &v_call_spec, "expiring_call");
}

/* ---- delayer ---------------------------------------------------------- */

static sf_status delayer(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  const char *s;
  size_t n;
  if (!sf_message_is_string(msg) ||
      sf_message_as_string(msg, &s, &n) != SF_OK)
    return sf_context_fail(ctx, "expected a string");
  char *text = sf_context_strdup(ctx, s, n);
  if (text == NULL) return SF_ERR_NOMEM;
  const sf_address *self = sf_self(ctx);
  if (strncmp(text, "arm:", 4) == 0) {
    char *end = NULL;
    long ms = strtol(text + 4, &end, 10);
    if (end == text + 4 || *end != ':' || ms < 0)
      return sf_context_fail(ctx, "bad arm message '%s'", text);
    const char *token = end + 1;
    char *fired = aprintf(ctx, "fired:%s", token);
    if (fired == NULL) return SF_ERR_NOMEM;
    char *tn = aprintf(ctx, "%s/%s", self->namespace_, self->type);
    if (tn == NULL) return SF_ERR_NOMEM;
    return sf_send_after(ctx, ms, token, tn, self->id,
                         sf_value_cstring(ctx, fired));
  }
  if (strncmp(text, "cancel:", 7) == 0)
    return sf_cancel_delayed(ctx, text + 7);
  if (strncmp(text, "fired:", 6) == 0) return emit(ctx, "delayed", text);
  return sf_context_fail(ctx, "unknown delayer command '%s'", text);
}

/* ---- pinger ----------------------------------------------------------- */

static sf_status pinger(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  int32_t n = 0;
  sf_status st = sf_message_as_int(msg, &n);
  if (st != SF_OK) return sf_context_fail(ctx, "pinger expects an int");
  return sf_send(ctx, "test.fns/counter", sf_self(ctx)->id,
                 sf_value_int(ctx, n));
}

/* ---- changer ---------------------------------------------------------- */

static const sf_value_spec x_int_spec = SF_VALUE_SPEC("x", &sf_type_int);
static const sf_value_spec x_long_spec = SF_VALUE_SPEC("x", &sf_type_long);

static sf_status changer(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  int32_t n = 0;
  sf_status st = sf_message_as_int(msg, &n);
  if (st != SF_OK) return sf_context_fail(ctx, "changer expects an int");
  if (g_changer_long) {
    int64_t x = 0;
    st = sf_state_get_long(ctx, &x_long_spec, &x);
    if (st != SF_OK && st != SF_ERR_NO_VALUE)
      return sf_context_fail(ctx, "reading x as long: %s", sf_strerror(st));
    x += n;
    st = sf_state_set_long(ctx, &x_long_spec, x);
    if (st != SF_OK) return st;
    return emit(ctx, "changer",
                aprintf(ctx, "%s=%lld", sf_self(ctx)->id, (long long)x));
  }
  int32_t x = 0;
  st = sf_state_get_int(ctx, &x_int_spec, &x);
  if (st != SF_OK && st != SF_ERR_NO_VALUE)
    return sf_context_fail(ctx, "reading x as int: %s", sf_strerror(st));
  x += n;
  st = sf_state_set_int(ctx, &x_int_spec, x);
  if (st != SF_OK) return st;
  return emit(ctx, "changer", aprintf(ctx, "%s=%d", sf_self(ctx)->id, (int)x));
}

/* ---- main ------------------------------------------------------------- */

static int usage_error(const char *why) {
  fprintf(stderr, "sfl_testfn: %s\n", why);
  return 2;
}

int main(int argc, char **argv) {
  /* Take out our own options; pass the rest to sf_server_main. */
  char **rest = calloc((size_t)argc + 1, sizeof(*rest));
  if (rest == NULL) return 1;
  int n_rest = 0;
  rest[n_rest++] = argv[0];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (strcmp(a, "--slow-ms") == 0 || strcmp(a, "--delay-us") == 0 ||
        strcmp(a, "--changer-type") == 0) {
      if (i + 1 >= argc) return usage_error("option needs a value");
      const char *v = argv[++i];
      if (strcmp(a, "--slow-ms") == 0 || strcmp(a, "--delay-us") == 0) {
        char *end = NULL;
        long n = strtol(v, &end, 10);
        if (end == v || *end != '\0' || n < 0)
          return usage_error("bad --slow-ms / --delay-us");
        if (a[2] == 's')
          g_slow_ms = n;
        else
          g_delay_us = n;
      } else if (strcmp(v, "int") == 0) {
        g_changer_long = 0;
      } else if (strcmp(v, "long") == 0) {
        g_changer_long = 1;
      } else {
        return usage_error("--changer-type takes int or long");
      }
      continue;
    }
    rest[n_rest++] = argv[i];
  }
  rest[n_rest] = NULL;

  sf_handler *h = sf_handler_new();
  if (h == NULL) return 1;
  static const sf_value_spec *const count_specs[] = {&count_spec};
  static const sf_value_spec *const write_specs[] = {&v_write_spec};
  static const sf_value_spec *const call_specs[] = {&v_call_spec};
  const sf_value_spec *const *x_specs = NULL;
  static const sf_value_spec *const x_int[] = {&x_int_spec};
  static const sf_value_spec *const x_long[] = {&x_long_spec};
  x_specs = g_changer_long ? x_long : x_int;
  struct {
    const char *tn;
    sf_function_fn fn;
    const sf_value_spec *const *specs;
    size_t n;
  } fns[] = {
      {"test.fns/counter", counter, count_specs, 1},
      {"test.fns/slow", slow, count_specs, 1},
      {"test.fns/expiring", expiring, write_specs, 1},
      {"test.fns/expiring_call", expiring_call, call_specs, 1},
      {"test.fns/delayer", delayer, NULL, 0},
      {"test.fns/pinger", pinger, NULL, 0},
      {"test.fns/changer", changer, x_specs, 1},
  };
  for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
    sf_status st = sf_handler_register(h, fns[i].tn, fns[i].fn, NULL,
                                       fns[i].specs, fns[i].n);
    if (st != SF_OK) {
      fprintf(stderr, "sfl_testfn: cannot register %s: %s\n", fns[i].tn,
              sf_strerror(st));
      return 1;
    }
  }
  int rc = sf_server_main(h, n_rest, rest);
  sf_handler_free(h);
  free(rest);
  return rc;
}
