/*
 * testing_scenario.c - the entity scenario of <statefun/testing.h>: a
 * deterministic in-memory router between entity instances.
 *
 * Each address gets a sf_test (testing.c), which holds its state and turns
 * one delivery into one real batch through sf_handler_handle. The router
 * adds what sits between addresses on the runtime: one FIFO queue of
 * messages (so a scenario always runs in the same order), the Replies of
 * external calls collected by request id, failures injected in place of a
 * callee, and a trace of every step read from the envelopes and from the
 * entity's bookkeeping state (statefun.entities/State: suspended frames
 * and the isolation queue).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/entity.h>
#include <statefun/testing.h>

#include "entities.pb-c.h"
#include "internal.h"

/* The egress and topic the scenario gives external calls for their Reply. */
#define SCENARIO_EGRESS SF_SCENARIO_REPLY_EGRESS
#define SCENARIO_TOPIC "replies"

typedef Statefun__Entities__Call pb_call;
typedef Statefun__Entities__Reply pb_reply;

/* A message on its way to an address. */
typedef struct qmsg {
  const char *type, *key;        /* target "ns/name" and id */
  const char *caller_type, *caller_key; /* NULL: ingress */
  sf_value value;
} qmsg;

/* One address and its state. */
typedef struct inst {
  const char *type, *key;
  sf_test *t;
} inst;

typedef struct fail_rule {
  const char *type, *key, *method, *reason;
  bool used;
} fail_rule;

typedef struct kept_reply {
  const char *request_id;
  sf_scenario_reply reply;
} kept_reply;

struct sf_scenario {
  const sf_handler *handler;
  sf_arena *mem; /* every string and byte the scenario keeps */
  qmsg *queue;
  size_t q_head, q_len, q_cap;
  inst *insts;
  size_t n_insts;
  fail_rule *rules;
  size_t n_rules;
  kept_reply *replies;
  size_t n_replies;
  sf_scenario_event *trace;
  size_t n_trace;
  char error[sizeof(((sf_handle_info *)0)->error) + 64];
};

/* ---- small helpers ------------------------------------------------------- */

static const char *keep_str(sf_scenario *sc, const char *s) {
  return sf_arena_strndup(sc->mem, s ? s : "", s ? strlen(s) : 0);
}

/* Appends `item` (of `size` bytes) to a malloc'd array. */
static bool push(void **array, size_t *n, size_t size, const void *item) {
  void *grown = realloc(*array, (*n + 1) * size);
  if (!grown) return false;
  memcpy((char *)grown + *n * size, item, size);
  *array = grown;
  (*n)++;
  return true;
}

static sf_status enqueue(sf_scenario *sc, const char *type, const char *key,
                         const char *caller_type, const char *caller_key,
                         const sf_value *v) {
  qmsg m = {keep_str(sc, type), keep_str(sc, key),
            caller_type ? keep_str(sc, caller_type) : NULL,
            caller_key ? keep_str(sc, caller_key) : NULL,
            {keep_str(sc, v->type_name), true,
             v->len ? sf_arena_memdup(sc->mem, v->data, v->len) : NULL, v->len}};
  if (!m.type || !m.key || !m.value.type_name || (v->len && !m.value.data))
    return SF_ERR_NOMEM;
  size_t n = sc->q_len;
  if (!push((void **)&sc->queue, &n, sizeof(m), &m)) return SF_ERR_NOMEM;
  sc->q_len = n;
  return SF_OK;
}

/* ---- lifetime ------------------------------------------------------------ */

sf_scenario *sf_scenario_new(const sf_handler *handler) {
  if (!handler) return NULL;
  sf_scenario *sc = calloc(1, sizeof(*sc));
  if (!sc) return NULL;
  sc->handler = handler;
  if (!(sc->mem = sf_arena_new(0))) {
    free(sc);
    return NULL;
  }
  return sc;
}

void sf_scenario_free(sf_scenario *sc) {
  if (!sc) return;
  for (size_t i = 0; i < sc->n_insts; i++) sf_test_free(sc->insts[i].t);
  free(sc->insts);
  free(sc->queue);
  free(sc->rules);
  free(sc->replies);
  free(sc->trace);
  sf_arena_free(sc->mem);
  free(sc);
}

sf_arena *sf_scenario_arena(sf_scenario *sc) { return sc ? sc->mem : NULL; }

/* ---- input --------------------------------------------------------------- */

sf_status sf_scenario_call(sf_scenario *sc, const char *entity_type,
                           const char *key, const char *method,
                           const void *args, size_t args_len,
                           const char *request_id) {
  if (!sc || !key || !method || !request_id || !request_id[0] || (!args && args_len) ||
      sf_typename_validate(entity_type) != SF_OK)
    return SF_ERR_INVALID_ARGUMENT;
  pb_call c = STATEFUN__ENTITIES__CALL__INIT;
  c.method = (char *)method;
  c.args.data = (uint8_t *)args;
  c.args.len = args_len;
  c.call_id = (char *)request_id;
  c.request_id = (char *)request_id;
  c.reply_egress = SCENARIO_EGRESS;
  c.reply_topic = SCENARIO_TOPIC;
  size_t n = statefun__entities__call__get_packed_size(&c);
  uint8_t *buf = sf_arena_alloc(sc->mem, n ? n : 1);
  if (!buf) return SF_ERR_NOMEM;
  statefun__entities__call__pack(&c, buf);
  sf_value v = {SF_TYPENAME_CALL, true, buf, n};
  return enqueue(sc, entity_type, key, NULL, NULL, &v);
}

sf_status sf_scenario_send(sf_scenario *sc, const char *type, const char *key,
                           sf_value value) {
  if (!sc || !key || !value.type_name || (!value.data && value.len) ||
      sf_typename_validate(type) != SF_OK)
    return SF_ERR_INVALID_ARGUMENT;
  return enqueue(sc, type, key, NULL, NULL, &value);
}

sf_status sf_scenario_fail_next(sf_scenario *sc, const char *entity_type,
                                const char *key, const char *method,
                                const char *reason) {
  if (!sc || !key || !method || !reason || sf_typename_validate(entity_type) != SF_OK)
    return SF_ERR_INVALID_ARGUMENT;
  fail_rule r = {keep_str(sc, entity_type), keep_str(sc, key), keep_str(sc, method),
                 keep_str(sc, reason), false};
  if (!r.type || !r.key || !r.method || !r.reason) return SF_ERR_NOMEM;
  return push((void **)&sc->rules, &sc->n_rules, sizeof(r), &r) ? SF_OK : SF_ERR_NOMEM;
}

/* ---- delivery ------------------------------------------------------------ */

static inst *instance(sf_scenario *sc, const char *type, const char *key, bool create) {
  for (size_t i = 0; i < sc->n_insts; i++)
    if (!strcmp(sc->insts[i].type, type) && !strcmp(sc->insts[i].key, key))
      return &sc->insts[i];
  if (!create) return NULL;
  inst in = {type, key, sf_test_new(sc->handler, type, key)};
  if (!in.t || !push((void **)&sc->insts, &sc->n_insts, sizeof(in), &in)) {
    sf_test_free(in.t);
    return NULL;
  }
  return &sc->insts[sc->n_insts - 1];
}

/* The first unused rule matching a Call to (type, key, method). */
static fail_rule *rule_for(sf_scenario *sc, const qmsg *m, const pb_call *c) {
  for (size_t i = 0; i < sc->n_rules; i++) {
    fail_rule *r = &sc->rules[i];
    if (!r->used && !strcmp(r->type, m->type) && !strcmp(r->key, m->key) &&
        !strcmp(r->method, c->method))
      return r;
  }
  return NULL;
}

/* A Reply kept for sf_scenario_reply_of; its bytes are copied. */
static sf_status keep_reply(sf_scenario *sc, const pb_reply *r) {
  kept_reply k = {keep_str(sc, r->request_id),
                  {r->ok, r->result.len ? sf_arena_memdup(sc->mem, r->result.data, r->result.len)
                                        : NULL,
                   r->result.len, keep_str(sc, r->error)}};
  if (!k.request_id || !k.reply.error || (r->result.len && !k.reply.result))
    return SF_ERR_NOMEM;
  return push((void **)&sc->replies, &sc->n_replies, sizeof(k), &k) ? SF_OK : SF_ERR_NOMEM;
}

/* Answers a Call with a failed Reply, where the callee would have. */
static sf_status inject_failure(sf_scenario *sc, const qmsg *m, const pb_call *c,
                                const char *reason) {
  pb_reply r = STATEFUN__ENTITIES__REPLY__INIT;
  r.call_id = c->call_id;
  r.ok = false;
  r.error = (char *)reason;
  r.request_id = c->request_id;
  r.trace_id = c->trace_id;
  if (!c->reply_to) return c->reply_egress[0] ? keep_reply(sc, &r) : SF_OK;
  size_t n = statefun__entities__reply__get_packed_size(&r);
  uint8_t *buf = sf_arena_alloc(sc->mem, n ? n : 1);
  if (!buf) return SF_ERR_NOMEM;
  statefun__entities__reply__pack(&r, buf);
  sf_value v = {SF_TYPENAME_REPLY, true, buf, n};
  size_t tl = strlen(c->reply_to->namespace_) + strlen(c->reply_to->type) + 2;
  char *tn = sf_arena_alloc(sc->mem, tl);
  if (!tn) return SF_ERR_NOMEM;
  snprintf(tn, tl, "%s/%s", c->reply_to->namespace_, c->reply_to->type);
  return enqueue(sc, tn, c->reply_to->id, m->type, m->key, &v);
}

/* Routes what one delivery produced: messages and delayed messages to the
 * queue, external Replies kept; the counts go to the event. */
static sf_status route(sf_scenario *sc, const qmsg *m, sf_test *t, sf_scenario_event *ev) {
  sf_status st = SF_OK;
  for (size_t i = 0; st == SF_OK && i < sf_test_sent_count(t); i++) {
    const sf_message *o = sf_test_sent(t, i);
    char tn[512];
    snprintf(tn, sizeof tn, "%s/%s", o->target.namespace_, o->target.type);
    st = enqueue(sc, tn, o->target.id, m->type, m->key, &o->value);
    ev->sent++;
  }
  for (size_t i = 0; st == SF_OK && i < sf_test_delayed_count(t); i++) {
    const sf_test_delayed *d = sf_test_delayed_at(t, i);
    if (d->cancellation) continue;
    char tn[512];
    snprintf(tn, sizeof tn, "%s/%s", d->message.target.namespace_, d->message.target.type);
    st = enqueue(sc, tn, d->message.target.id, m->type, m->key, &d->message.value);
    ev->sent++;
  }
  for (size_t i = 0; st == SF_OK && i < sf_test_egress_count(t); i++) {
    sf_test_kafka_record k;
    if (strcmp(sf_test_egress_at(t, i)->egress_type, SCENARIO_EGRESS) != 0 ||
        sf_test_egress_kafka(t, i, &k) != SF_OK)
      continue;
    pb_reply *r = statefun__entities__reply__unpack(NULL, k.value_len, k.value);
    if (!r) return SF_ERR_VALUE_DECODE;
    st = keep_reply(sc, r);
    statefun__entities__reply__free_unpacked(r, NULL);
  }
  return st;
}

/* The suspended instances and queued calls of an entity after a step. */
static void bookkeeping(const sf_test *t, sf_scenario_event *ev) {
  sf_value v;
  if (sf_test_state(t, "__entity", &v) != SF_OK || !v.has_value) return;
  Statefun__Entities__State *s = statefun__entities__state__unpack(NULL, v.len, v.data);
  if (!s) return;
  ev->awaiting = s->n_frames;
  ev->isolation_queue = s->n_queue;
  statefun__entities__state__free_unpacked(s, NULL);
}

static sf_status finish_event(sf_scenario *sc, sf_scenario_event *ev) {
  char line[1024];
  snprintf(line, sizeof line, "#%zu %s %s <- %s%s%s%s%s%s | sent %zu | awaiting %zu | queued %zu",
           ev->step, ev->type, ev->key, ev->what, ev->method[0] ? " " : "", ev->method,
           ev->call_id[0] ? " [" : "", ev->call_id, ev->call_id[0] ? "]" : "", ev->sent,
           ev->awaiting, ev->isolation_queue);
  if (ev->failed) {
    size_t n = strlen(line);
    snprintf(line + n, sizeof line - n, " | FAILED: %s", sc->error);
  }
  ev->line = keep_str(sc, line);
  if (!ev->line) return SF_ERR_NOMEM;
  return push((void **)&sc->trace, &sc->n_trace, sizeof(*ev), ev) ? SF_OK : SF_ERR_NOMEM;
}

/* Fills what the envelope says: a Call's method and id, a Reply's id. */
static pb_call *read_envelope(sf_scenario *sc, const qmsg *m, sf_scenario_event *ev) {
  ev->what = "message";
  if (!strcmp(m->value.type_name, SF_TYPENAME_REPLY)) {
    ev->what = "reply";
    pb_reply *r = statefun__entities__reply__unpack(NULL, m->value.len, m->value.data);
    if (r) {
      ev->call_id = keep_str(sc, r->call_id);
      statefun__entities__reply__free_unpacked(r, NULL);
    }
    return NULL;
  }
  if (strcmp(m->value.type_name, SF_TYPENAME_CALL) != 0) return NULL;
  ev->what = "call";
  return statefun__entities__call__unpack(NULL, m->value.len, m->value.data);
}

sf_status sf_scenario_step(sf_scenario *sc) {
  if (!sc) return SF_ERR_INVALID_ARGUMENT;
  if (sc->q_head == sc->q_len) return SF_ERR_NO_VALUE;
  qmsg m = sc->queue[sc->q_head++];
  sc->error[0] = '\0';
  sf_scenario_event ev = {sc->n_trace + 1, m.type, m.key, "message", "", "", false, 0, 0, 0, ""};
  pb_call *call = read_envelope(sc, &m, &ev);
  if (call) {
    ev.method = keep_str(sc, call->method);
    ev.call_id = keep_str(sc, call->call_id);
  }
  sf_status st = SF_OK;
  fail_rule *rule = call ? rule_for(sc, &m, call) : NULL;
  inst *in = NULL;
  if (!ev.method || !ev.call_id) {
    st = SF_ERR_NOMEM;
  } else if (rule) {
    rule->used = true;
    ev.what = "injected failure";
    ev.failed = true;
    snprintf(sc->error, sizeof sc->error, "%s", rule->reason);
    st = inject_failure(sc, &m, call, rule->reason);
  } else if (!(in = instance(sc, m.type, m.key, true))) {
    st = SF_ERR_NOMEM;
  } else {
    sf_test_set_caller(in->t, m.caller_type, m.caller_key);
    st = sf_test_send(in->t, m.value.type_name, m.value.data, m.value.len);
    if (st == SF_OK) st = sf_test_run(in->t);
    if (st != SF_OK) {
      ev.failed = true;
      snprintf(sc->error, sizeof sc->error, "%s %s: %s", m.type, m.key, sf_test_error(in->t));
    } else {
      st = route(sc, &m, in->t, &ev);
      bookkeeping(in->t, &ev);
    }
  }
  if (call) statefun__entities__call__free_unpacked(call, NULL);
  sf_status tst = finish_event(sc, &ev);
  return st != SF_OK ? st : tst;
}

sf_status sf_scenario_run(sf_scenario *sc, size_t max_steps) {
  if (!sc) return SF_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < max_steps; i++) {
    sf_status st = sf_scenario_step(sc);
    if (st == SF_ERR_NO_VALUE) return SF_OK;
    if (st != SF_OK) return st;
  }
  if (sc->q_head == sc->q_len) return SF_OK;
  snprintf(sc->error, sizeof sc->error, "%zu messages still queued after %zu steps",
           sc->q_len - sc->q_head, max_steps);
  return SF_ERR_TOO_LARGE;
}

const char *sf_scenario_error(const sf_scenario *sc) { return sc ? sc->error : ""; }
size_t sf_scenario_queued(const sf_scenario *sc) { return sc ? sc->q_len - sc->q_head : 0; }

/* ---- output -------------------------------------------------------------- */

sf_status sf_scenario_reply_of(const sf_scenario *sc, const char *request_id,
                               sf_scenario_reply *out) {
  if (!sc || !request_id || !out) return SF_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < sc->n_replies; i++)
    if (!strcmp(sc->replies[i].request_id, request_id)) {
      *out = sc->replies[i].reply;
      return SF_OK;
    }
  return SF_ERR_NO_VALUE;
}

sf_status sf_scenario_result_int64(const sf_scenario_reply *reply, int64_t *out) {
  if (!reply || !out) return SF_ERR_INVALID_ARGUMENT;
  if (!reply->ok) return SF_ERR_NO_VALUE;
  sf_rbuf r;
  sf_rbuf_init(&r, reply->result, reply->result_len);
  uint32_t field;
  int wt, more;
  *out = 0;
  while ((more = sf_r_next(&r, &field, &wt)) == 1) {
    sf_status st = field == 1 ? sf_r_int64(&r, wt, out) : sf_r_skip(&r, wt);
    if (st != SF_OK) return st;
  }
  return more == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}

sf_status sf_scenario_state(const sf_scenario *sc, const char *type, const char *key,
                            const char *state_name, sf_value *out) {
  if (!sc || !type || !key || !state_name || !out) return SF_ERR_INVALID_ARGUMENT;
  inst *in = instance((sf_scenario *)sc, type, key, false);
  return in ? sf_test_state(in->t, state_name, out) : SF_ERR_UNKNOWN_STATE;
}

size_t sf_scenario_trace_count(const sf_scenario *sc) { return sc ? sc->n_trace : 0; }

const sf_scenario_event *sf_scenario_trace_at(const sf_scenario *sc, size_t i) {
  return (sc && i < sc->n_trace) ? &sc->trace[i] : NULL;
}

void sf_scenario_print_trace(const sf_scenario *sc, void *out) {
  if (!sc || !out) return;
  for (size_t i = 0; i < sc->n_trace; i++) fprintf(out, "%s\n", sc->trace[i].line);
}
