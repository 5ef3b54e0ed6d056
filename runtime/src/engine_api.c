/*
 * engine_api.c - the thread-safe entry points of sf-local's engine that
 * the HTTP front calls: sending messages (idempotency keys, backpressure,
 * resolving targets, delivering to several addresses at once) and popping
 * egress records.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Checks and records an idempotency key. 1: seen before. */
static int dedup_check(sfl_engine *e, const char *key) {
  if (!key || !*key) return 0;
  if (e->store) {
    int has = sfl_store_dedup_has(e->store, key);
    if (has != 0) return has;
    STORE(sfl_store_dedup_put(e->store, key, sfl_now_ms()));
    return 0;
  }
  if (sfl_map_get(&e->dedup, key)) return 1;
  sfl_map_put(&e->dedup, key, (void *)1);
  return 0;
}

/* One value for one address: a send is a list of them, delivered in one
 * transaction or not at all. */
typedef struct delivery {
  addr *a;
  const void *value;
  size_t len;
  uint8_t *inv; /* the serialized Invocation, made before anything is kept */
  size_t inv_len;
} delivery;

/* Validates a target and finds (or makes) its address. */
static sfl_result resolve_target(sfl_engine *e, const char *fn_typename, const char *id,
                                 const char *value_typename, addr **out, char *err,
                                 size_t err_len) {
  if (!eng_valid_typename(fn_typename)) {
    snprintf(err, err_len, "'%s' is not a function type (namespace/name)", fn_typename);
    return SFL_ERR_BAD_REQUEST;
  }
  if (!eng_valid_typename(value_typename)) {
    snprintf(err, err_len, "'%s' is not a typename (namespace/name)", value_typename);
    return SFL_ERR_BAD_REQUEST;
  }
  if (!id || !*id) {
    snprintf(err, err_len, "empty id");
    return SFL_ERR_BAD_REQUEST;
  }
  fn_type *f = eng_fn_get(e, fn_typename);
  if (!f || !f->ep) {
    snprintf(err, err_len, "no endpoint in the module serves function type %s", fn_typename);
    return SFL_ERR_NO_FUNCTION;
  }
  addr *a = eng_addr_get(e, f, id);
  if (!a) {
    snprintf(err, err_len, "out of memory");
    return SFL_ERR_STORE;
  }
  *out = a;
  return SFL_OK;
}

/* The first address of d[0..n) with no room for its share of the send, or
 * NULL when all have: maxNumBatchRequests bounds the messages waiting (not
 * counting the batch in flight), and an address with none waiting takes
 * any share, as Flink's operator takes a producer's batch whatever its
 * size (the engine sends a backlog maxNumBatchRequests at a time). */
static addr *full_address(delivery *d, size_t n) {
  for (size_t i = 0; i < n; i++) d[i].a->sending = 0;
  for (size_t i = 0; i < n; i++) d[i].a->sending++;
  for (size_t i = 0; i < n; i++) {
    addr *a = d[i].a;
    size_t limit = a->fn->ep ? a->fn->ep->max_batch : 0;
    size_t waiting = a->queued - a->inflight;
    if (limit != 0 && waiting != 0 && waiting + a->sending > limit) return a;
  }
  return NULL;
}

/* Phase 1 of a send, before any store transaction: checks the global bound
 * on what sf-local holds for readers that have not come yet (mailboxes and
 * unread egress records) and waits up to wait_ms (releasing the lock)
 * while an address of the send has no room. */
static sfl_result wait_for_room(sfl_engine *e, delivery *d, size_t n, int64_t wait_ms,
                                char *err, size_t err_len) {
  size_t bytes = 0;
  for (size_t i = 0; i < n; i++) bytes += d[i].len;
  if (bytes > e->max_held_bytes) {
    snprintf(err, err_len,
             "%zu bytes in one send, more than sf-local may hold (--max-queued-bytes %zu)",
             bytes, e->max_held_bytes);
    return SFL_ERR_TOO_LARGE;
  }
  if (e->held_bytes + bytes > e->max_held_bytes) {
    snprintf(err, err_len,
             "sf-local holds %zu bytes of queued messages and unread egress records "
             "(--max-queued-bytes %zu); retry later",
             e->held_bytes, e->max_held_bytes);
    return SFL_ERR_BUSY;
  }
  int64_t deadline = sfl_mono_ms() + wait_ms;
  addr *full;
  while ((full = full_address(d, n)) != NULL && !e->stop) {
    int64_t left = deadline - sfl_mono_ms();
    if (left <= 0) break;
    sfl_cond_wait_ms(&e->space_cv, &e->mu, left);
  }
  if (e->stop) {
    snprintf(err, err_len, "sf-local is stopping");
    return SFL_ERR_BUSY;
  }
  if (full == NULL) return SFL_OK;
  snprintf(err, err_len, "%s has %zu messages waiting (maxNumBatchRequests); retry later",
           full->key, full->queued - full->inflight);
  return SFL_ERR_BUSY;
}

/* Phase 2: one transaction that records the idempotency key and delivers
 * every value. Called with the lock held, no waiting. Every invocation is
 * made before anything is kept, so running out of memory keeps nothing. */
static sfl_result deliver_all(sfl_engine *e, delivery *d, size_t n, const char *value_typename,
                              const char *idempotency_key, uint64_t *commit_gen, char *err,
                              size_t err_len) {
  for (size_t i = 0; i < n; i++) {
    d[i].inv = eng_make_invocation(NULL, value_typename, true, d[i].value, d[i].len,
                                   &d[i].inv_len);
    if (!d[i].inv) {
      for (size_t k = 0; k < i; k++) free(d[k].inv);
      snprintf(err, err_len, "out of memory");
      return SFL_ERR_STORE;
    }
  }
  eng_txn_begin(e); /* joins the transaction the loop will commit next */
  uint64_t gen = e->txn_gen;
  bool dup = dedup_check(e, idempotency_key) != 0;
  for (size_t i = 0; i < n; i++) {
    if (dup) {
      free(d[i].inv);
      continue;
    }
    eng_deliver(e, d[i].a, d[i].inv, d[i].inv_len);
    e->c_ingress++;
  }
  /* Acknowledged only once durable: wait for the loop's group commit (or
   * hand its generation to a caller that waits without a thread). The
   * messages may already be on their way to the function meanwhile; their
   * effects commit in the same or a later transaction. */
  if (commit_gen) {
    *commit_gen = e->store ? gen : 0;
    if (e->store) eng_wakeup(e);
  } else if (e->store && eng_wait_committed(e, gen) != 0) {
    snprintf(err, err_len, "durable store: %s",
             e->stop ? "sf-local is stopping" : sfl_store_error(e->store));
    return SFL_ERR_STORE;
  }
  return dup ? SFL_DUPLICATE : SFL_OK;
}

static sfl_result send_one(sfl_engine *e, const char *fn_typename, const char *id,
                           const char *value_typename, const void *value, size_t len,
                           const char *idempotency_key, int64_t wait_ms, uint64_t *commit_gen,
                           char *err, size_t err_len) {
  delivery d = {.value = value, .len = len};
  pthread_mutex_lock(&e->mu);
  sfl_result r = resolve_target(e, fn_typename, id, value_typename, &d.a, err, err_len);
  if (r == SFL_OK) r = wait_for_room(e, &d, 1, wait_ms, err, err_len);
  if (r == SFL_OK)
    r = deliver_all(e, &d, 1, value_typename, idempotency_key, commit_gen, err, err_len);
  pthread_mutex_unlock(&e->mu);
  if (r == SFL_OK) eng_wakeup(e);
  return r;
}

sfl_result sfl_engine_send(sfl_engine *e, const char *fn_typename, const char *id,
                           const char *value_typename, const void *value, size_t len,
                           const char *idempotency_key, int64_t wait_ms, char *err,
                           size_t err_len) {
  return send_one(e, fn_typename, id, value_typename, value, len, idempotency_key, wait_ms,
                  NULL, err, err_len);
}

sfl_result sfl_engine_send_nb(sfl_engine *e, const char *fn_typename, const char *id,
                              const char *value_typename, const void *value, size_t len,
                              const char *idempotency_key, uint64_t *commit_gen, char *err,
                              size_t err_len) {
  return send_one(e, fn_typename, id, value_typename, value, len, idempotency_key, 0,
                  commit_gen, err, err_len);
}

/* Records of one topic: each to every target of the topic's route, all in
 * one transaction or none. */
static sfl_result send_topic(sfl_engine *e, const char *topic, const sfl_topic_record *recs,
                             size_t n, const char *idempotency_key, int64_t wait_ms,
                             uint64_t *commit_gen, char *err, size_t err_len) {
  if (commit_gen) *commit_gen = 0;
  const sfl_route *route = NULL;
  for (size_t i = 0; i < e->cfg->n_ingresses && !route; i++)
    for (size_t k = 0; k < e->cfg->ingresses[i].n_routes; k++)
      if (strcmp(e->cfg->ingresses[i].routes[k].topic, topic) == 0) {
        route = &e->cfg->ingresses[i].routes[k];
        break;
      }
  if (!route) {
    snprintf(err, err_len, "no ingress in the module routes topic '%s'", topic);
    return SFL_ERR_NO_TOPIC;
  }
  for (size_t i = 0; i < n; i++)
    if (!recs[i].key || !*recs[i].key) {
      /* Flink fails the job on a record without a key; we refuse it. */
      if (n == 1)
        snprintf(err, err_len, "a record for topic '%s' needs a key (it becomes the function id)",
                 topic);
      else
        snprintf(err, err_len,
                 "record %zu: a record for topic '%s' needs a key (it becomes the function id)",
                 i + 1, topic);
      return SFL_ERR_BAD_REQUEST;
    }
  size_t nd = n * route->n_targets;
  if (nd == 0) return SFL_OK;
  delivery *d = calloc(nd, sizeof(*d));
  if (!d) {
    snprintf(err, err_len, "out of memory");
    return SFL_ERR_STORE;
  }
  pthread_mutex_lock(&e->mu);
  sfl_result r = SFL_OK;
  for (size_t i = 0, j = 0; i < n && r == SFL_OK; i++)
    for (size_t k = 0; k < route->n_targets && r == SFL_OK; k++, j++) {
      d[j].value = recs[i].value;
      d[j].len = recs[i].len;
      r = resolve_target(e, route->targets[k], recs[i].key, route->value_type, &d[j].a, err,
                         err_len);
    }
  if (r == SFL_OK) r = wait_for_room(e, d, nd, wait_ms, err, err_len);
  if (r == SFL_OK)
    r = deliver_all(e, d, nd, route->value_type, idempotency_key, commit_gen, err, err_len);
  pthread_mutex_unlock(&e->mu);
  free(d);
  if (r == SFL_OK) eng_wakeup(e);
  return r;
}

sfl_result sfl_engine_send_topic(sfl_engine *e, const char *topic, const char *key,
                                 const void *value, size_t len, const char *idempotency_key,
                                 int64_t wait_ms, char *err, size_t err_len) {
  sfl_topic_record rec = {key, value, len};
  return send_topic(e, topic, &rec, 1, idempotency_key, wait_ms, NULL, err, err_len);
}

sfl_result sfl_engine_send_topic_nb(sfl_engine *e, const char *topic, const char *key,
                                    const void *value, size_t len, const char *idempotency_key,
                                    uint64_t *commit_gen, char *err, size_t err_len) {
  sfl_topic_record rec = {key, value, len};
  return send_topic(e, topic, &rec, 1, idempotency_key, 0, commit_gen, err, err_len);
}

sfl_result sfl_engine_send_topic_batch_nb(sfl_engine *e, const char *topic,
                                          const sfl_topic_record *recs, size_t n,
                                          const char *idempotency_key, uint64_t *commit_gen,
                                          char *err, size_t err_len) {
  return send_topic(e, topic, recs, n, idempotency_key, 0, commit_gen, err, err_len);
}

int sfl_engine_commit_state(sfl_engine *e, uint64_t gen) {
  if (gen == 0) return 1;
  pthread_mutex_lock(&e->mu);
  int st = e->committed_gen >= gen ? 1 : e->failed_gen >= gen || e->stop ? -1 : 0;
  pthread_mutex_unlock(&e->mu);
  return st;
}

void sfl_engine_on_change(sfl_engine *e, sfl_change_fn *fn, void *ctx) {
  pthread_mutex_lock(&e->mu);
  e->on_change = fn;
  e->on_change_ctx = ctx;
  pthread_mutex_unlock(&e->mu);
}

/* The link to the first record of q (of egress_id, unless NULL) whose
 * transaction is synced, or NULL: a reader never sees a record that a crash
 * could still undo. Records are queued in transaction order, so the first
 * unsynced one ends the search. *prev is the record before it (NULL at the
 * head), for unlink_record. */
static record **find_record(const sfl_engine *e, topic_q *q, const char *egress_id,
                            record **prev) {
  *prev = NULL;
  for (record **pp = &q->head; *pp; *prev = *pp, pp = &(*pp)->next) {
    if (e->store && (*pp)->gen > e->committed_gen) return NULL;
    if (!egress_id || strcmp((*pp)->r.egress_id, egress_id) == 0) return pp;
  }
  return NULL;
}

/* Takes the record *pp (found by find_record, with its `prev`) out of q. */
static record *unlink_record(topic_q *q, record **pp, record *prev) {
  record *r = *pp;
  *pp = r->next;
  if (q->tail == r) q->tail = prev;
  q->n--;
  return r;
}

static record *pop_record(const sfl_engine *e, topic_q *q, const char *egress_id) {
  record *prev, **pp = find_record(e, q, egress_id, &prev);
  return pp ? unlink_record(q, pp, prev) : NULL;
}

/* Hands record r over to *out (lock held): the store's delete joins the
 * loop's next group commit (no fsync per record). A crash before that
 * commit brings the record back: egress reads are at-least-once, never
 * lost. */
static void take_record(sfl_engine *e, record *r, sfl_record *out) {
  if (e->store) {
    eng_txn_begin(e);
    STORE(sfl_store_egress_del(e->store, r->r.seq));
    eng_wakeup(e);
  }
  e->n_records--;
  e->held_bytes -= r->r.len;
  *out = r->r;
  free(r);
}

sfl_result sfl_engine_egress_pop(sfl_engine *e, const char *egress_id, const char *topic,
                                 int64_t wait_ms, sfl_record *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&e->mu);
  int64_t deadline = sfl_mono_ms() + wait_ms;
  for (;;) {
    topic_q *q = sfl_map_get(&e->topics, topic);
    record *r = q ? pop_record(e, q, egress_id) : NULL;
    if (r) {
      take_record(e, r, out);
      pthread_mutex_unlock(&e->mu);
      return SFL_OK;
    }
    int64_t left = deadline - sfl_mono_ms();
    if (left <= 0 || e->stop) break;
    sfl_cond_wait_ms(&e->egress_cv, &e->mu, left);
  }
  pthread_mutex_unlock(&e->mu);
  return SFL_ERR_NOT_FOUND;
}

size_t sfl_engine_egress_pop_some(sfl_engine *e, const char *egress_id, const char *topic,
                                  sfl_record *out, size_t max, size_t max_bytes,
                                  size_t *need) {
  size_t n = 0, used = 0;
  *need = 0;
  pthread_mutex_lock(&e->mu);
  topic_q *q = sfl_map_get(&e->topics, topic);
  while (q != NULL && n < max) {
    record *prev, **pp = find_record(e, q, egress_id, &prev);
    if (pp == NULL) break;
    size_t bytes = sfl_record_bytes(&(*pp)->r);
    if (bytes > max_bytes - used) {
      if (n == 0) *need = bytes;
      break;
    }
    used += bytes;
    take_record(e, unlink_record(q, pp, prev), &out[n++]);
  }
  pthread_mutex_unlock(&e->mu);
  return n;
}

bool sfl_engine_knows_topic(sfl_engine *e, const char *topic) {
  pthread_mutex_lock(&e->mu);
  bool known = sfl_map_get(&e->topics, topic) != NULL;
  pthread_mutex_unlock(&e->mu);
  return known;
}

/* A JSON rendering of a typed value: decoded when built-in. */
