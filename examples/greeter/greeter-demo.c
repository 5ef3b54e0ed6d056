/*
 * greeter-demo - plays the StateFun runtime against a running greeter, so
 * you can watch the protocol without Flink.
 *
 *   greeter --listen 127.0.0.1:8000 &
 *   greeter-demo Alice Bob Alice
 *
 * For each name it sends what Flink would send for a message to
 * greeter.fns/greet/<name>: a ToFunction with the state the "runtime" knows
 * about, POSTed as application/octet-stream. Like Flink it starts knowing
 * no state at all, so the first reply asks for the missing state
 * (incomplete_invocation_context); the demo registers it and sends the same
 * invocation again. It then keeps the state the function wrote and attaches
 * it to the next request for the same name, exactly as Flink's keyed state
 * would.
 *
 * The requests are built with the protobuf-c code generated from
 * proto/request_reply.proto; no SDK code is involved on this side.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <curl/curl.h>

#include "kafka_egress.pb-c.h"
#include "request_reply.pb-c.h"
#include "types.pb-c.h"

/* Shorter names for the generated types. */
typedef Io__Statefun__Sdk__Reqreply__Address Address;
typedef Io__Statefun__Sdk__Reqreply__TypedValue TypedValue;
typedef Io__Statefun__Sdk__Reqreply__ToFunction ToFunction;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__InvocationBatchRequest Batch;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__Invocation Invocation;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__PersistedValue PersistedValue;
typedef Io__Statefun__Sdk__Reqreply__FromFunction FromFunction;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse Result;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueSpec Spec;

#define FUNCTION_NAMESPACE "greeter.fns"
#define FUNCTION_TYPE "greet"
#define TYPENAME_INT "io.statefun.types/int"
#define TYPENAME_STRING "io.statefun.types/string"
#define TYPENAME_KAFKA \
  "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"

/* ---- the "runtime's" state ------------------------------------------------ */

/* A state the function asked for (registered for the whole function type). */
typedef struct registered {
  char name[64];
  char typename_[128];
} registered;

/* The value of one state of one address (one person). */
typedef struct stored {
  char id[64];
  char state[64];
  uint8_t bytes[256];
  size_t len;
} stored;

static registered g_registered[8];
static size_t g_n_registered;
static stored g_stored[64];
static size_t g_n_stored;

static stored *find_stored(const char *id, const char *state, bool create) {
  for (size_t i = 0; i < g_n_stored; i++)
    if (strcmp(g_stored[i].id, id) == 0 && strcmp(g_stored[i].state, state) == 0)
      return &g_stored[i];
  if (!create || g_n_stored == sizeof g_stored / sizeof g_stored[0]) return NULL;
  stored *s = &g_stored[g_n_stored++];
  snprintf(s->id, sizeof s->id, "%s", id);
  snprintf(s->state, sizeof s->state, "%s", state);
  s->len = 0;
  return s;
}

static void forget_stored(const char *id, const char *state) {
  stored *s = find_stored(id, state, false);
  if (s != NULL) *s = g_stored[--g_n_stored];
}

/* ---- printing values ----------------------------------------------------- */

/* Prints a typed value readably: ints and strings decoded, else a size. */
static void print_value(const char *typename_, const uint8_t *data,
                        size_t len) {
  if (strcmp(typename_, TYPENAME_INT) == 0) {
    Io__Statefun__Sdk__Types__IntWrapper *w =
        io__statefun__sdk__types__int_wrapper__unpack(NULL, len, data);
    if (w != NULL) {
      printf("%d", (int)w->value);
      io__statefun__sdk__types__int_wrapper__free_unpacked(w, NULL);
      return;
    }
  } else if (strcmp(typename_, TYPENAME_STRING) == 0) {
    Io__Statefun__Sdk__Types__StringWrapper *w =
        io__statefun__sdk__types__string_wrapper__unpack(NULL, len, data);
    if (w != NULL) {
      printf("\"%s\"", w->value);
      io__statefun__sdk__types__string_wrapper__free_unpacked(w, NULL);
      return;
    }
  }
  printf("<%zu bytes of %s>", len, typename_);
}

static const char *expiration_text(const Spec *spec) {
  const Io__Statefun__Sdk__Reqreply__FromFunction__ExpirationSpec *e =
      spec->expiration_spec;
  static char text[64];
  if (e == NULL ||
      e->mode == IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__NONE)
    return "no expiration";
  snprintf(text, sizeof text, "expires %lld ms after %s",
           (long long)e->expire_after_millis,
           e->mode == IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__AFTER_WRITE
               ? "write"
               : "call");
  return text;
}

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct buffer {
  uint8_t *data;
  size_t len;
} buffer;

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata) {
  buffer *b = userdata;
  size_t n = size * nmemb;
  uint8_t *grown = realloc(b->data, b->len + n + 1);
  if (grown == NULL) return 0;
  memcpy(grown + b->len, ptr, n);
  b->data = grown;
  b->len += n;
  b->data[b->len] = '\0';
  return n;
}

/* POSTs `request`; on HTTP 200 returns the FromFunction, else NULL. */
static FromFunction *post(CURL *curl, const char *url, const uint8_t *request,
                          size_t len) {
  buffer reply = {NULL, 0};
  struct curl_slist *headers = NULL;
  headers = curl_slist_append(headers, "Content-Type: application/octet-stream");
  headers = curl_slist_append(headers, "Accept: application/octet-stream");
  curl_easy_setopt(curl, CURLOPT_URL, url);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, (const char *)request);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &reply);
  CURLcode rc = curl_easy_perform(curl);
  curl_slist_free_all(headers);

  FromFunction *from = NULL;
  long code = 0;
  if (rc != CURLE_OK) {
    fprintf(stderr, "greeter-demo: POST %s: %s\n", url, curl_easy_strerror(rc));
  } else if (curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code),
             code != 200) {
    printf("<- HTTP %ld: %s", code, reply.data != NULL ? (char *)reply.data : "");
  } else {
    from = io__statefun__sdk__reqreply__from_function__unpack(NULL, reply.len,
                                                              reply.data);
    if (from == NULL) fprintf(stderr, "greeter-demo: reply is not a FromFunction\n");
  }
  free(reply.data);
  return from;
}

/* ---- one visit ------------------------------------------------------------ */

/* Builds the ToFunction Flink would send for one message to `name`. */
static uint8_t *build_request(const char *name, size_t *len) {
  Address target = IO__STATEFUN__SDK__REQREPLY__ADDRESS__INIT;
  target.namespace_ = FUNCTION_NAMESPACE;
  target.type = FUNCTION_TYPE;
  target.id = (char *)name;

  /* The argument: the name as an io.statefun.types/string. */
  Io__Statefun__Sdk__Types__StringWrapper text =
      IO__STATEFUN__SDK__TYPES__STRING_WRAPPER__INIT;
  text.value = (char *)name;
  uint8_t arg_bytes[256];
  TypedValue argument = IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  argument.typename_ = TYPENAME_STRING;
  argument.has_value = true;
  argument.value.data = arg_bytes;
  argument.value.len =
      io__statefun__sdk__types__string_wrapper__pack(&text, arg_bytes);

  Invocation invocation = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INVOCATION__INIT;
  invocation.argument = &argument; /* no caller: it came from an ingress */
  Invocation *invocations[] = {&invocation};

  /* Every registered state travels along; one without a value has no
   * state_value at all (that is how Flink says "empty"). */
  PersistedValue values[8];
  TypedValue typed[8];
  PersistedValue *state[8];
  for (size_t i = 0; i < g_n_registered; i++) {
    PersistedValue pv = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__PERSISTED_VALUE__INIT;
    values[i] = pv;
    values[i].state_name = g_registered[i].name;
    stored *s = find_stored(name, g_registered[i].name, false);
    if (s != NULL) {
      TypedValue tv = IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
      typed[i] = tv;
      typed[i].typename_ = g_registered[i].typename_;
      typed[i].has_value = true;
      typed[i].value.data = s->bytes;
      typed[i].value.len = s->len;
      values[i].state_value = &typed[i];
    }
    state[i] = &values[i];
  }

  Batch batch = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INVOCATION_BATCH_REQUEST__INIT;
  batch.target = &target;
  batch.n_state = g_n_registered;
  batch.state = state;
  batch.n_invocations = 1;
  batch.invocations = invocations;
  ToFunction to = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INIT;
  to.request_case = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__REQUEST_INVOCATION;
  to.invocation = &batch;

  *len = io__statefun__sdk__reqreply__to_function__get_packed_size(&to);
  uint8_t *bytes = malloc(*len);
  if (bytes != NULL) io__statefun__sdk__reqreply__to_function__pack(&to, bytes);

  printf("-> %s/%s/%s  \"%s\"", FUNCTION_NAMESPACE, FUNCTION_TYPE, name, name);
  for (size_t i = 0; i < g_n_registered; i++) {
    printf("%s%s = ", i == 0 ? "  [state: " : ", ", g_registered[i].name);
    if (values[i].state_value == NULL)
      printf("(none)");
    else
      print_value(typed[i].typename_, typed[i].value.data, typed[i].value.len);
    if (i + 1 == g_n_registered) printf("]");
  }
  printf("\n");
  return bytes;
}

/* Registers the states the function asked for, as Flink does. */
static void register_missing(const FromFunction *from) {
  const Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext
      *ctx = from->incomplete_invocation_context;
  for (size_t i = 0; i < ctx->n_missing_values; i++) {
    const Spec *spec = ctx->missing_values[i];
    printf("<- missing state: %s (%s, %s)\n", spec->state_name,
           spec->type_typename, expiration_text(spec));
    if (g_n_registered == sizeof g_registered / sizeof g_registered[0]) continue;
    registered *r = &g_registered[g_n_registered++];
    snprintf(r->name, sizeof r->name, "%s", spec->state_name);
    snprintf(r->typename_, sizeof r->typename_, "%s", spec->type_typename);
  }
}

/* Applies and prints a successful result. */
static void apply_result(const char *name, const Result *result) {
  const char *sep = "<- ";
  for (size_t i = 0; i < result->n_state_mutations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *m =
        result->state_mutations[i];
    if (m->mutation_type ==
        IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__DELETE) {
      printf("%sstate %s deleted", sep, m->state_name);
      forget_stored(name, m->state_name);
    } else if (m->state_value != NULL) {
      printf("%sstate %s = ", sep, m->state_name);
      print_value(m->state_value->typename_, m->state_value->value.data,
                  m->state_value->value.len);
      stored *s = find_stored(name, m->state_name, true);
      if (s != NULL && m->state_value->value.len <= sizeof s->bytes) {
        memcpy(s->bytes, m->state_value->value.data, m->state_value->value.len);
        s->len = m->state_value->value.len;
      }
    }
    sep = "; ";
  }
  for (size_t i = 0; i < result->n_outgoing_messages; i++) {
    const Address *t = result->outgoing_messages[i]->target;
    printf("%smessage to %s/%s/%s", sep, t->namespace_, t->type, t->id);
    sep = "; ";
  }
  for (size_t i = 0; i < result->n_outgoing_egresses; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *e =
        result->outgoing_egresses[i];
    printf("%segress %s/%s", sep, e->egress_namespace, e->egress_type);
    const TypedValue *arg = e->argument;
    Io__Statefun__Sdk__Egress__KafkaProducerRecord *record = NULL;
    if (arg != NULL && strcmp(arg->typename_, TYPENAME_KAFKA) == 0)
      record = io__statefun__sdk__egress__kafka_producer_record__unpack(
          NULL, arg->value.len, arg->value.data);
    if (record != NULL) {
      printf(" kafka topic=%s key=%s value=\"%.*s\"", record->topic,
             record->key, (int)record->value_bytes.len,
             (const char *)record->value_bytes.data);
      io__statefun__sdk__egress__kafka_producer_record__free_unpacked(record,
                                                                      NULL);
    }
    sep = "; ";
  }
  for (size_t i = 0; i < result->n_delayed_invocations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
        result->delayed_invocations[i];
    if (d->is_cancellation_request)
      printf("%scancel delayed token %s", sep, d->cancellation_token);
    else
      printf("%sdelayed %lld ms token %s", sep, (long long)d->delay_in_ms,
             d->cancellation_token[0] != '\0' ? d->cancellation_token
                                               : "(none)");
    sep = "; ";
  }
  if (strcmp(sep, "<- ") == 0) printf("<- no effects");
  printf("\n");
}

/* One message to greeter.fns/greet/<name>, with the missing-state round
 * trip when needed. Returns false on any failure. */
static bool visit(CURL *curl, const char *url, const char *name) {
  for (int attempt = 0; attempt < 3; attempt++) {
    size_t len = 0;
    uint8_t *request = build_request(name, &len);
    if (request == NULL) return false;
    FromFunction *from = post(curl, url, request, len);
    free(request);
    if (from == NULL) return false;
    bool done = false;
    switch (from->response_case) {
    case IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT:
      register_missing(from); /* and send the same invocation again */
      break;
    case IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT:
      apply_result(name, from->invocation_result);
      done = true;
      break;
    default:
      printf("<- empty reply\n");
      done = true;
      break;
    }
    io__statefun__sdk__reqreply__from_function__free_unpacked(from, NULL);
    if (done) return true;
  }
  fprintf(stderr, "greeter-demo: still missing state after 3 attempts\n");
  return false;
}

static void usage(FILE *out) {
  fprintf(out,
          "Usage: greeter-demo [--url URL] [NAME...]\n"
          "\n"
          "Sends one message per NAME to greeter.fns/greet/NAME on a running\n"
          "greeter, playing the StateFun runtime (missing-state round trip,\n"
          "keeping state between requests), and prints what goes each way.\n"
          "\n"
          "  --url URL  the greeter's endpoint\n"
          "             (default http://127.0.0.1:8000/statefun)\n"
          "  NAME...    who visits, in order (default: Alice Bob Alice)\n"
          "\n"
          "Example:\n"
          "  greeter --listen 127.0.0.1:8000 &\n"
          "  greeter-demo Alice Bob Alice Alice\n");
}

int main(int argc, char **argv) {
  const char *url = "http://127.0.0.1:8000/statefun";
  const char *names[64];
  size_t n_names = 0;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
      usage(stdout);
      return 0;
    } else if (strcmp(argv[i], "--url") == 0 && i + 1 < argc) {
      url = argv[++i];
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "greeter-demo: unknown option '%s'\n", argv[i]);
      usage(stderr);
      return 2;
    } else if (n_names < sizeof names / sizeof names[0]) {
      if (strlen(argv[i]) == 0 || strlen(argv[i]) >= 64) {
        fprintf(stderr, "greeter-demo: names must be 1-63 bytes\n");
        return 2;
      }
      names[n_names++] = argv[i];
    }
  }
  if (n_names == 0) {
    names[n_names++] = "Alice";
    names[n_names++] = "Bob";
    names[n_names++] = "Alice";
  }

  curl_global_init(CURL_GLOBAL_DEFAULT);
  CURL *curl = curl_easy_init(); /* one handle: one keep-alive connection */
  if (curl == NULL) return 1;
  int rc = 0;
  for (size_t i = 0; i < n_names && rc == 0; i++) {
    if (!visit(curl, url, names[i])) rc = 1;
    fflush(stdout);
  }
  curl_easy_cleanup(curl);
  curl_global_cleanup();
  return rc;
}
