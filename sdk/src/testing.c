/*
 * testing.c - the function test harness of <statefun/testing.h>: the
 * runtime's half of the protocol, in memory.
 *
 * A sf_test keeps what the runtime keeps for one address (its registered
 * states and their values) and a queue of messages. A run packs them into
 * a ToFunction with protobuf-c (the same generated code the runtime's
 * peers use, not the SDK's own hot-path codec, so the two are checked
 * against each other), calls sf_handler_handle, unpacks the FromFunction
 * and applies it as the runtime does (PROTOCOL.md: mutations, and the
 * IncompleteInvocationContext round trip). Everything a test reads points
 * into two arenas: `mem` (the test's lifetime) and `run` (the last run's
 * answer, reset by the next run).
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/testing.h>

#include "internal.h"
#include "kafka_egress.pb-c.h"
#include "kinesis_egress.pb-c.h"
#include "sfb/pbwire.h"

typedef Io__Statefun__Sdk__Reqreply__Address pb_addr;
typedef Io__Statefun__Sdk__Reqreply__TypedValue pb_tv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction pb_to;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__PersistedValue pb_pv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__Invocation pb_inv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__InvocationBatchRequest pb_batch;
typedef Io__Statefun__Sdk__Reqreply__FromFunction pb_from;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse pb_resp;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation pb_mut;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueSpec pb_spec;
typedef Io__Statefun__Sdk__Egress__KafkaProducerRecord pb_kafka;
typedef Io__Statefun__Sdk__Egress__KinesisEgressRecord pb_kinesis;

/* A registered state as the runtime holds it. */
typedef struct tstate {
  const char *name;
  sf_value value; /* type_name NULL and has_value false when empty */
  sf_test_change change;
} tstate;

/* A queued message: its value and caller (caller_ns NULL: ingress). */
typedef struct tmsg {
  sf_value value;
  char *caller_ns, *caller_name, *caller_id;
} tmsg;

/* A spec the function said was missing. */
typedef struct tspec {
  const char *name, *type_name;
  sf_expire_mode mode;
  int64_t after_ms;
} tspec;

struct sf_test {
  const sf_handler *handler;
  sf_arena *mem; /* copies of inputs, state values, user's unpacked protos */
  sf_arena *run; /* the last answer and what points into it */
  char *ns, *name, *id;
  tstate *states;
  size_t n_states;
  tmsg *queue;
  size_t n_queue;
  char *caller_ns, *caller_name, *caller_id;
  bool auto_register;
  int rounds;
  bool incomplete;
  char error[sizeof(((sf_handle_info *)0)->error)];
  tspec *missing;
  size_t n_missing;
  sf_message *sent;
  size_t n_sent;
  sf_test_delayed *delayed;
  size_t n_delayed;
  sf_test_egress *egress;
  size_t n_egress;
};

/* ---- lifetime ------------------------------------------------------------ */

sf_test *sf_test_new(const sf_handler *handler, const char *function_type,
                     const char *id) {
  if (!handler || !id || sf_typename_validate(function_type) != SF_OK) return NULL;
  sf_test *t = calloc(1, sizeof(*t));
  if (!t) return NULL;
  t->handler = handler;
  t->auto_register = true;
  t->mem = sf_arena_new(0);
  t->run = sf_arena_new(0);
  if (!t->mem || !t->run ||
      sf_split_typename(t->mem, function_type, &t->ns, &t->name) != SF_OK ||
      !(t->id = sf_arena_strndup(t->mem, id, strlen(id)))) {
    sf_test_free(t);
    return NULL;
  }
  return t;
}

void sf_test_free(sf_test *t) {
  if (!t) return;
  sf_arena_free(t->mem);
  sf_arena_free(t->run);
  free(t->states);
  free(t->queue);
  free(t);
}

/* ---- state in ------------------------------------------------------------ */

static tstate *find_state(const sf_test *t, const char *name) {
  for (size_t i = 0; i < t->n_states; i++)
    if (strcmp(t->states[i].name, name) == 0) return &t->states[i];
  return NULL;
}

/* The state `name`, added empty when new; NULL when out of memory. */
static tstate *state_slot(sf_test *t, const char *name) {
  tstate *s = find_state(t, name);
  if (s) return s;
  tstate *grown = realloc(t->states, (t->n_states + 1) * sizeof(*grown));
  if (!grown) return NULL;
  t->states = grown;
  s = &t->states[t->n_states];
  memset(s, 0, sizeof(*s));
  s->name = sf_arena_strndup(t->mem, name, strlen(name));
  if (!s->name) return NULL;
  t->n_states++;
  return s;
}

/* A value of `type_name` holding a copy of the bytes, in `mem`. */
static sf_status copy_value(sf_test *t, const char *type_name, const void *data,
                            size_t len, sf_value *out) {
  if (sf_typename_validate(type_name) != SF_OK || (!data && len))
    return SF_ERR_INVALID_ARGUMENT;
  out->type_name = sf_arena_strndup(t->mem, type_name, strlen(type_name));
  out->data = len ? sf_arena_memdup(t->mem, data, len) : NULL;
  out->len = len;
  out->has_value = true;
  return (!out->type_name || (len && !out->data)) ? SF_ERR_NOMEM : SF_OK;
}

sf_status sf_test_set_state(sf_test *t, const char *name, const char *type_name,
                            const void *data, size_t len) {
  if (!t || !name || sf_state_name_validate(name) != SF_OK)
    return SF_ERR_INVALID_ARGUMENT;
  sf_value v;
  sf_status st = copy_value(t, type_name, data, len, &v);
  if (st != SF_OK) return st;
  tstate *s = state_slot(t, name);
  if (!s) return SF_ERR_NOMEM;
  s->value = v;
  return SF_OK;
}

sf_status sf_test_set_state_empty(sf_test *t, const char *name) {
  if (!t || !name || sf_state_name_validate(name) != SF_OK)
    return SF_ERR_INVALID_ARGUMENT;
  tstate *s = state_slot(t, name);
  if (!s) return SF_ERR_NOMEM;
  memset(&s->value, 0, sizeof(s->value));
  return SF_OK;
}

sf_status sf_test_set_state_bool(sf_test *t, const char *name, bool v) {
  uint8_t b[2];
  return sf_test_set_state(t, name, SF_TYPENAME_BOOL, b, sf_encode_bool(v, b));
}
sf_status sf_test_set_state_int(sf_test *t, const char *name, int32_t v) {
  uint8_t b[5];
  return sf_test_set_state(t, name, SF_TYPENAME_INT, b, sf_encode_int(v, b));
}
sf_status sf_test_set_state_long(sf_test *t, const char *name, int64_t v) {
  uint8_t b[9];
  return sf_test_set_state(t, name, SF_TYPENAME_LONG, b, sf_encode_long(v, b));
}
sf_status sf_test_set_state_float(sf_test *t, const char *name, float v) {
  uint8_t b[5];
  return sf_test_set_state(t, name, SF_TYPENAME_FLOAT, b, sf_encode_float(v, b));
}
sf_status sf_test_set_state_double(sf_test *t, const char *name, double v) {
  uint8_t b[9];
  return sf_test_set_state(t, name, SF_TYPENAME_DOUBLE, b, sf_encode_double(v, b));
}

/* StringWrapper bytes of a NUL-terminated string, in `mem` (proto3: ""
 * is zero bytes). NULL data with *len 0 for "". */
static sf_status encode_string(sf_test *t, const char *s, uint8_t **data,
                               size_t *len) {
  size_t n = s ? strlen(s) : 0;
  *data = NULL;
  *len = 0;
  if (!s || !sf_utf8_valid(s, n)) return SF_ERR_INVALID_ARGUMENT;
  if (n == 0) return SF_OK;
  uint8_t *p = sf_arena_alloc(t->mem, n + 11);
  if (!p) return SF_ERR_NOMEM;
  size_t i = sfb_tag_put(p, 1, SFB_WT_LEN); /* StringWrapper.value */
  i += sfb_varint_put(p + i, n);
  memcpy(p + i, s, n);
  *data = p;
  *len = i + n;
  return SF_OK;
}

sf_status sf_test_set_state_string(sf_test *t, const char *name, const char *s) {
  uint8_t *b;
  size_t n;
  if (!t) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = encode_string(t, s, &b, &n);
  return st != SF_OK ? st : sf_test_set_state(t, name, SF_TYPENAME_STRING, b, n);
}

static bool kind_is(const sf_type *type, sf_type_kind kind) {
  return type && type->kind == kind && type->type_name;
}

sf_status sf_test_set_state_json(sf_test *t, const char *name,
                                 const sf_type *type, const char *json_text) {
  if (!kind_is(type, SF_KIND_JSON) || !json_text) return SF_ERR_INVALID_ARGUMENT;
  return sf_test_set_state(t, name, type->type_name, json_text, strlen(json_text));
}

/* Packs a protobuf-c message of `type` into `mem`. */
static sf_status pack_proto(sf_test *t, const sf_type *type,
                            const struct ProtobufCMessage *msg, uint8_t **data,
                            size_t *len) {
  if (!t || !kind_is(type, SF_KIND_PROTO) || !msg || msg->descriptor != type->proto)
    return SF_ERR_INVALID_ARGUMENT;
  *len = protobuf_c_message_get_packed_size(msg);
  *data = sf_arena_alloc(t->mem, *len ? *len : 1);
  if (!*data) return SF_ERR_NOMEM;
  protobuf_c_message_pack(msg, *data);
  return SF_OK;
}

sf_status sf_test_set_state_proto(sf_test *t, const char *name,
                                  const sf_type *type,
                                  const struct ProtobufCMessage *msg) {
  uint8_t *b;
  size_t n;
  sf_status st = pack_proto(t, type, msg, &b, &n);
  return st != SF_OK ? st : sf_test_set_state(t, name, type->type_name, b, n);
}

/* ---- messages in --------------------------------------------------------- */

sf_status sf_test_set_caller(sf_test *t, const char *caller_type,
                             const char *caller_id) {
  if (!t) return SF_ERR_INVALID_ARGUMENT;
  if (!caller_type && !caller_id) {
    t->caller_ns = t->caller_name = t->caller_id = NULL;
    return SF_OK;
  }
  if (!caller_id || sf_typename_validate(caller_type) != SF_OK)
    return SF_ERR_INVALID_ARGUMENT;
  sf_status st = sf_split_typename(t->mem, caller_type, &t->caller_ns, &t->caller_name);
  if (st != SF_OK) return st;
  t->caller_id = sf_arena_strndup(t->mem, caller_id, strlen(caller_id));
  return t->caller_id ? SF_OK : SF_ERR_NOMEM;
}

sf_status sf_test_send(sf_test *t, const char *type_name, const void *data,
                       size_t len) {
  if (!t) return SF_ERR_INVALID_ARGUMENT;
  tmsg m = {.caller_ns = t->caller_ns, .caller_name = t->caller_name,
            .caller_id = t->caller_id};
  sf_status st = copy_value(t, type_name, data, len, &m.value);
  if (st != SF_OK) return st;
  tmsg *grown = realloc(t->queue, (t->n_queue + 1) * sizeof(*grown));
  if (!grown) return SF_ERR_NOMEM;
  t->queue = grown;
  t->queue[t->n_queue++] = m;
  return SF_OK;
}

sf_status sf_test_send_bool(sf_test *t, bool v) {
  uint8_t b[2];
  return sf_test_send(t, SF_TYPENAME_BOOL, b, sf_encode_bool(v, b));
}
sf_status sf_test_send_int(sf_test *t, int32_t v) {
  uint8_t b[5];
  return sf_test_send(t, SF_TYPENAME_INT, b, sf_encode_int(v, b));
}
sf_status sf_test_send_long(sf_test *t, int64_t v) {
  uint8_t b[9];
  return sf_test_send(t, SF_TYPENAME_LONG, b, sf_encode_long(v, b));
}
sf_status sf_test_send_float(sf_test *t, float v) {
  uint8_t b[5];
  return sf_test_send(t, SF_TYPENAME_FLOAT, b, sf_encode_float(v, b));
}
sf_status sf_test_send_double(sf_test *t, double v) {
  uint8_t b[9];
  return sf_test_send(t, SF_TYPENAME_DOUBLE, b, sf_encode_double(v, b));
}
sf_status sf_test_send_string(sf_test *t, const char *s) {
  uint8_t *b;
  size_t n;
  if (!t) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = encode_string(t, s, &b, &n);
  return st != SF_OK ? st : sf_test_send(t, SF_TYPENAME_STRING, b, n);
}
sf_status sf_test_send_json(sf_test *t, const sf_type *type, const char *json_text) {
  if (!kind_is(type, SF_KIND_JSON) || !json_text) return SF_ERR_INVALID_ARGUMENT;
  return sf_test_send(t, type->type_name, json_text, strlen(json_text));
}
sf_status sf_test_send_proto(sf_test *t, const sf_type *type,
                             const struct ProtobufCMessage *msg) {
  uint8_t *b;
  size_t n;
  sf_status st = pack_proto(t, type, msg, &b, &n);
  return st != SF_OK ? st : sf_test_send(t, type->type_name, b, n);
}

/* ---- the request --------------------------------------------------------- */

static pb_tv *make_pb_value(sf_arena *a, const sf_value *v) {
  pb_tv *tv = sf_arena_alloc(a, sizeof(*tv));
  if (!tv) return NULL;
  io__statefun__sdk__reqreply__typed_value__init(tv);
  tv->typename_ = (char *)v->type_name;
  tv->has_value = v->has_value;
  tv->value.data = (uint8_t *)v->data;
  tv->value.len = v->len;
  return tv;
}

static pb_addr *make_pb_address(sf_arena *a, char *ns, char *name, char *id) {
  pb_addr *addr = sf_arena_alloc(a, sizeof(*addr));
  if (!addr) return NULL;
  io__statefun__sdk__reqreply__address__init(addr);
  addr->namespace_ = ns;
  addr->type = name;
  addr->id = id;
  return addr;
}

/* One state as the runtime attaches it: with no value, state_value unset
 * (PROTOCOL.md, "Every request attaches a PersistedValue"). */
static pb_pv *make_pb_state(sf_arena *a, const tstate *s) {
  pb_pv *pv = sf_arena_alloc(a, sizeof(*pv));
  if (!pv) return NULL;
  io__statefun__sdk__reqreply__to_function__persisted_value__init(pv);
  pv->state_name = (char *)s->name;
  if (s->value.has_value && !(pv->state_value = make_pb_value(a, &s->value))) return NULL;
  return pv;
}

static pb_inv *make_pb_invocation(sf_arena *a, tmsg *m) {
  pb_inv *inv = sf_arena_alloc(a, sizeof(*inv));
  if (!inv) return NULL;
  io__statefun__sdk__reqreply__to_function__invocation__init(inv);
  if (!(inv->argument = make_pb_value(a, &m->value))) return NULL;
  if (m->caller_ns &&
      !(inv->caller = make_pb_address(a, m->caller_ns, m->caller_name, m->caller_id)))
    return NULL;
  return inv;
}

/* The ToFunction of the current states and queue, packed into `run`. */
static sf_status pack_request(sf_test *t, uint8_t **buf, size_t *len) {
  sf_arena *a = t->run;
  pb_to to = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INIT;
  pb_batch batch = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__INVOCATION_BATCH_REQUEST__INIT;
  batch.target = make_pb_address(a, t->ns, t->name, t->id);
  batch.state = sf_arena_alloc(a, (t->n_states + 1) * sizeof(pb_pv *));
  batch.invocations = sf_arena_alloc(a, t->n_queue * sizeof(pb_inv *));
  if (!batch.target || !batch.state || !batch.invocations) return SF_ERR_NOMEM;
  for (; batch.n_state < t->n_states; batch.n_state++)
    if (!(batch.state[batch.n_state] = make_pb_state(a, &t->states[batch.n_state])))
      return SF_ERR_NOMEM;
  for (; batch.n_invocations < t->n_queue; batch.n_invocations++)
    if (!(batch.invocations[batch.n_invocations] =
              make_pb_invocation(a, &t->queue[batch.n_invocations])))
      return SF_ERR_NOMEM;
  to.request_case = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__REQUEST_INVOCATION;
  to.invocation = &batch;
  *len = io__statefun__sdk__reqreply__to_function__get_packed_size(&to);
  *buf = sf_arena_alloc(a, *len ? *len : 1);
  if (!*buf) return SF_ERR_NOMEM;
  io__statefun__sdk__reqreply__to_function__pack(&to, *buf);
  return SF_OK;
}

/* ---- the answer ---------------------------------------------------------- */

static sf_value from_pb_value(const pb_tv *tv) {
  sf_value v = {NULL, false, NULL, 0};
  if (!tv) return v;
  v.type_name = tv->typename_;
  v.has_value = tv->has_value;
  v.data = tv->value.data;
  v.len = tv->value.len;
  return v;
}

static sf_address from_pb_address(const pb_addr *a) {
  sf_address r = {"", "", ""};
  if (a) {
    r.namespace_ = a->namespace_;
    r.type = a->type;
    r.id = a->id;
  }
  return r;
}

static sf_expire_mode from_pb_mode(const pb_spec *s) {
  if (!s->expiration_spec) return SF_EXPIRE_NONE;
  switch (s->expiration_spec->mode) {
    case IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__AFTER_WRITE:
      return SF_EXPIRE_AFTER_WRITE;
    case IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__AFTER_INVOKE:
      return SF_EXPIRE_AFTER_CALL;
    default: return SF_EXPIRE_NONE;
  }
}

/* Remembers the missing specs (copied into `mem`, they outlive the run's
 * arena) and, when asked, registers them empty as the runtime does. */
static sf_status take_missing(sf_test *t, const pb_from *from, bool register_them) {
  const Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext *ic =
      from->incomplete_invocation_context;
  size_t n = ic ? ic->n_missing_values : 0;
  t->missing = sf_arena_alloc(t->mem, (n + 1) * sizeof(tspec));
  if (!t->missing) return SF_ERR_NOMEM;
  for (size_t i = 0; i < n; i++) {
    const pb_spec *s = ic->missing_values[i];
    tspec *m = &t->missing[i];
    m->name = sf_arena_strndup(t->mem, s->state_name, strlen(s->state_name));
    m->type_name = sf_arena_strndup(t->mem, s->type_typename, strlen(s->type_typename));
    if (!m->name || !m->type_name) return SF_ERR_NOMEM;
    m->mode = from_pb_mode(s);
    m->after_ms = s->expiration_spec ? s->expiration_spec->expire_after_millis : 0;
    if (register_them && !find_state(t, m->name) && !state_slot(t, m->name))
      return SF_ERR_NOMEM;
  }
  t->n_missing = n;
  return SF_OK;
}

/* Applies the mutations like the runtime: MODIFY stores the bytes, DELETE
 * empties; a state the harness does not hold is an error there too. */
static sf_status apply_mutations(sf_test *t, const pb_resp *r) {
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    const pb_mut *m = r->state_mutations[i];
    tstate *s = find_state(t, m->state_name);
    if (!s) {
      snprintf(t->error, sizeof(t->error),
               "the function wrote state '%s', which the runtime never registered",
               m->state_name);
      return SF_ERR_UNKNOWN_STATE;
    }
    if (m->mutation_type ==
        IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__DELETE) {
      memset(&s->value, 0, sizeof(s->value));
      s->change = SF_TEST_CLEARED;
      continue;
    }
    sf_value v = from_pb_value(m->state_value);
    sf_status st = copy_value(t, v.type_name, v.data, v.len, &s->value);
    if (st != SF_OK) return st;
    s->change = SF_TEST_SET;
  }
  return SF_OK;
}

/* "ns/name" in the arena, or NULL. */
static const char *join_typename(sf_arena *a, const char *ns, const char *name) {
  size_t n = strlen(ns), m = strlen(name);
  char *s = sf_arena_alloc(a, n + m + 2);
  if (!s) return NULL;
  memcpy(s, ns, n);
  s[n] = '/';
  memcpy(s + n + 1, name, m + 1);
  return s;
}

/* Lists messages, delayed messages and egress records of the answer (they
 * point into the run's arena). */
static sf_status take_effects(sf_test *t, const pb_resp *r) {
  sf_arena *a = t->run;
  t->sent = sf_arena_alloc(a, (r->n_outgoing_messages + 1) * sizeof(*t->sent));
  t->delayed = sf_arena_alloc(a, (r->n_delayed_invocations + 1) * sizeof(*t->delayed));
  t->egress = sf_arena_alloc(a, (r->n_outgoing_egresses + 1) * sizeof(*t->egress));
  if (!t->sent || !t->delayed || !t->egress) return SF_ERR_NOMEM;
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    t->sent[i].target = from_pb_address(r->outgoing_messages[i]->target);
    t->sent[i].value = from_pb_value(r->outgoing_messages[i]->argument);
  }
  t->n_sent = r->n_outgoing_messages;
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
        r->delayed_invocations[i];
    t->delayed[i].cancellation = d->is_cancellation_request;
    t->delayed[i].token = d->cancellation_token;
    t->delayed[i].delay_ms = d->delay_in_ms;
    t->delayed[i].message.target = from_pb_address(d->target);
    t->delayed[i].message.value = from_pb_value(d->argument);
  }
  t->n_delayed = r->n_delayed_invocations;
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *e =
        r->outgoing_egresses[i];
    t->egress[i].egress_type = join_typename(a, e->egress_namespace, e->egress_type);
    if (!t->egress[i].egress_type) return SF_ERR_NOMEM;
    t->egress[i].value = from_pb_value(e->argument);
  }
  t->n_egress = r->n_outgoing_egresses;
  return SF_OK;
}

/* ---- running ------------------------------------------------------------- */

void sf_test_set_auto_register(sf_test *t, bool on) {
  if (t) t->auto_register = on;
}

static void forget_results(sf_test *t) {
  sf_arena_reset(t->run);
  t->error[0] = '\0';
  t->rounds = 0;
  t->incomplete = false;
  t->n_missing = t->n_sent = t->n_delayed = t->n_egress = 0;
  for (size_t i = 0; i < t->n_states; i++) t->states[i].change = SF_TEST_UNCHANGED;
}

/* One call of the handler with the current states and queue; `*from` is
 * the unpacked answer in the run's arena. */
static sf_status one_round(sf_test *t, pb_from **from) {
  uint8_t *req, *reply = NULL;
  size_t req_len, reply_len = 0;
  sf_status st = pack_request(t, &req, &req_len);
  if (st != SF_OK) return st;
  sf_arena *scratch = sf_arena_new(0);
  if (!scratch) return SF_ERR_NOMEM;
  sf_handle_info info;
  t->rounds++;
  st = sf_handler_handle(t->handler, req, req_len, scratch, &reply, &reply_len, &info);
  if (st != SF_OK) {
    snprintf(t->error, sizeof(t->error), "%s", info.error[0] ? info.error : sf_strerror(st));
  } else {
    ProtobufCAllocator alloc;
    sf_arena_protobuf_allocator(t->run, &alloc);
    *from = io__statefun__sdk__reqreply__from_function__unpack(&alloc, reply_len, reply);
    if (!*from) {
      snprintf(t->error, sizeof(t->error), "the handler's answer is not a FromFunction");
      st = SF_ERR_DECODE;
    }
  }
  sf_arena_free(scratch);
  return st;
}

sf_status sf_test_run(sf_test *t) {
  if (!t) return SF_ERR_INVALID_ARGUMENT;
  forget_results(t);
  if (t->n_queue == 0) {
    snprintf(t->error, sizeof(t->error), "no message queued (sf_test_send_*)");
    return SF_ERR_NO_INVOCATION;
  }
  pb_from *from = NULL;
  sf_status st = one_round(t, &from);
  if (st == SF_OK && from->response_case ==
                         IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT) {
    st = take_missing(t, from, t->auto_register);
    if (st == SF_OK && t->auto_register) st = one_round(t, &from);
  }
  t->n_queue = 0; /* the batch is consumed, run or failed */
  if (st != SF_OK) return st;
  if (from->response_case ==
      IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT) {
    t->incomplete = true;
    if (t->auto_register) {
      snprintf(t->error, sizeof(t->error),
               "the function still asks for state after registering what it asked for");
      return SF_ERR_UNKNOWN_STATE;
    }
    return SF_OK;
  }
  if (!from->invocation_result) return SF_OK; /* no side effects */
  st = apply_mutations(t, from->invocation_result);
  return st != SF_OK ? st : take_effects(t, from->invocation_result);
}

const char *sf_test_error(const sf_test *t) { return t ? t->error : ""; }
int sf_test_rounds(const sf_test *t) { return t ? t->rounds : 0; }

/* ---- missing state ------------------------------------------------------- */

bool sf_test_incomplete(const sf_test *t) { return t && t->incomplete; }
size_t sf_test_missing_count(const sf_test *t) { return t ? t->n_missing : 0; }

static const tspec *missing_at(const sf_test *t, size_t i) {
  return (t && i < t->n_missing) ? &t->missing[i] : NULL;
}
const char *sf_test_missing_name(const sf_test *t, size_t i) {
  const tspec *s = missing_at(t, i);
  return s ? s->name : NULL;
}
const char *sf_test_missing_type(const sf_test *t, size_t i) {
  const tspec *s = missing_at(t, i);
  return s ? s->type_name : NULL;
}
sf_expire_mode sf_test_missing_expire_mode(const sf_test *t, size_t i) {
  const tspec *s = missing_at(t, i);
  return s ? s->mode : SF_EXPIRE_NONE;
}
int64_t sf_test_missing_expire_after_ms(const sf_test *t, size_t i) {
  const tspec *s = missing_at(t, i);
  return s ? s->after_ms : 0;
}

/* ---- state after --------------------------------------------------------- */

sf_test_change sf_test_state_change(const sf_test *t, const char *name) {
  const tstate *s = (t && name) ? find_state(t, name) : NULL;
  return s ? s->change : SF_TEST_UNKNOWN;
}

sf_status sf_test_state(const sf_test *t, const char *name, sf_value *out) {
  if (!t || !name || !out) return SF_ERR_INVALID_ARGUMENT;
  const tstate *s = find_state(t, name);
  if (!s) return SF_ERR_UNKNOWN_STATE;
  *out = s->value;
  if (!out->type_name) out->type_name = "";
  return SF_OK;
}

/* The state as a message to this address, so that the sf_message_as_*
 * decoders of statefun.h read it (one implementation of each decoding). */
static sf_status state_message(const sf_test *t, const char *name, sf_message *m) {
  m->target.namespace_ = t ? t->ns : "";
  m->target.type = t ? t->name : "";
  m->target.id = t ? t->id : "";
  sf_status st = sf_test_state(t, name, &m->value);
  if (st == SF_OK && !m->value.has_value) return SF_ERR_NO_VALUE;
  return st;
}

#define STATE_READ(fn, ctype, as)                                         \
  sf_status fn(const sf_test *t, const char *name, ctype *out) {          \
    sf_message m;                                                         \
    sf_status st = state_message(t, name, &m);                            \
    return st != SF_OK ? st : as(&m, out);                                \
  }
STATE_READ(sf_test_state_bool, bool, sf_message_as_bool)
STATE_READ(sf_test_state_int, int32_t, sf_message_as_int)
STATE_READ(sf_test_state_long, int64_t, sf_message_as_long)
STATE_READ(sf_test_state_double, double, sf_message_as_double)
#undef STATE_READ

sf_status sf_test_state_string(const sf_test *t, const char *name,
                               const char **out, size_t *len) {
  sf_message m;
  sf_status st = state_message(t, name, &m);
  return st != SF_OK ? st : sf_message_as_string(&m, out, len);
}

sf_status sf_test_message_as_json(sf_test *t, const sf_message *msg,
                                  const sf_type *type, struct json_t **out) {
  if (!t || !msg || !out || !kind_is(type, SF_KIND_JSON)) return SF_ERR_INVALID_ARGUMENT;
  if (!sf_message_is(msg, type)) return SF_ERR_TYPE_MISMATCH;
  if (!msg->value.has_value) return SF_ERR_NO_VALUE;
  char detail[160];
  return sf_json_parse(t->mem, &msg->value, out, detail, sizeof detail);
}

sf_status sf_test_state_json(sf_test *t, const char *name, const sf_type *type,
                             struct json_t **out) {
  sf_message m;
  sf_status st = state_message(t, name, &m);
  return st != SF_OK ? st : sf_test_message_as_json(t, &m, type, out);
}

sf_status sf_test_message_as_proto(sf_test *t, const sf_message *msg,
                                   const sf_type *type,
                                   struct ProtobufCMessage **out) {
  if (!t || !msg || !out || !kind_is(type, SF_KIND_PROTO) || !type->proto)
    return SF_ERR_INVALID_ARGUMENT;
  if (!sf_message_is(msg, type)) return SF_ERR_TYPE_MISMATCH;
  if (!msg->value.has_value) return SF_ERR_NO_VALUE;
  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(t->mem, &alloc);
  *out = protobuf_c_message_unpack(type->proto, &alloc, msg->value.len,
                                   msg->value.data ? msg->value.data : (const uint8_t *)"");
  return *out ? SF_OK : SF_ERR_VALUE_DECODE;
}

sf_status sf_test_state_proto(sf_test *t, const char *name, const sf_type *type,
                              struct ProtobufCMessage **out) {
  sf_message m;
  sf_status st = state_message(t, name, &m);
  return st != SF_OK ? st : sf_test_message_as_proto(t, &m, type, out);
}

/* ---- messages and egress out --------------------------------------------- */

size_t sf_test_sent_count(const sf_test *t) { return t ? t->n_sent : 0; }
const sf_message *sf_test_sent(const sf_test *t, size_t i) {
  return (t && i < t->n_sent) ? &t->sent[i] : NULL;
}
size_t sf_test_delayed_count(const sf_test *t) { return t ? t->n_delayed : 0; }
const sf_test_delayed *sf_test_delayed_at(const sf_test *t, size_t i) {
  return (t && i < t->n_delayed) ? &t->delayed[i] : NULL;
}
size_t sf_test_egress_count(const sf_test *t) { return t ? t->n_egress : 0; }
const sf_test_egress *sf_test_egress_at(const sf_test *t, size_t i) {
  return (t && i < t->n_egress) ? &t->egress[i] : NULL;
}

/* Egress record `i` unpacked as `desc` when its typename is `type_name`. */
static sf_status egress_record(sf_test *t, size_t i, const char *type_name,
                               const ProtobufCMessageDescriptor *desc,
                               ProtobufCMessage **out) {
  const sf_test_egress *e = sf_test_egress_at(t, i);
  if (!e) return SF_ERR_INVALID_ARGUMENT;
  if (!e->value.type_name || strcmp(e->value.type_name, type_name) != 0)
    return SF_ERR_TYPE_MISMATCH;
  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(t->run, &alloc);
  *out = protobuf_c_message_unpack(desc, &alloc, e->value.len,
                                   e->value.data ? e->value.data : (const uint8_t *)"");
  return *out ? SF_OK : SF_ERR_VALUE_DECODE;
}

sf_status sf_test_egress_kafka(sf_test *t, size_t i, sf_test_kafka_record *out) {
  ProtobufCMessage *m;
  if (!out) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = egress_record(t, i, SF_TYPENAME_KAFKA_RECORD,
                               &io__statefun__sdk__egress__kafka_producer_record__descriptor, &m);
  if (st != SF_OK) return st;
  const pb_kafka *k = (const pb_kafka *)m;
  out->topic = k->topic;
  out->key_len = strlen(k->key);
  out->key = out->key_len ? (const uint8_t *)k->key : NULL;
  out->value = k->value_bytes.data;
  out->value_len = k->value_bytes.len;
  return SF_OK;
}

sf_status sf_test_egress_kinesis(sf_test *t, size_t i, sf_test_kinesis_record *out) {
  ProtobufCMessage *m;
  if (!out) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = egress_record(t, i, SF_TYPENAME_KINESIS_RECORD,
                               &io__statefun__sdk__egress__kinesis_egress_record__descriptor, &m);
  if (st != SF_OK) return st;
  const pb_kinesis *k = (const pb_kinesis *)m;
  out->stream = k->stream;
  out->partition_key = k->partition_key;
  out->explicit_hash_key = k->explicit_hash_key;
  out->value = k->value_bytes.data;
  out->value_len = k->value_bytes.len;
  return SF_OK;
}
