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

/* Waits while the address's backlog is at its batch limit. */
static bool wait_for_space(sfl_engine *e, addr *a, int64_t wait_ms) {
  if (!a->fn->ep || !a->fn->ep->max_batch) return !e->stop; /* no limit */
  size_t limit = a->fn->ep->max_batch;
  int64_t deadline = sfl_mono_ms() + wait_ms;
  while (a->queued - a->inflight >= limit && !e->stop) {
    int64_t left = deadline - sfl_mono_ms();
    if (left <= 0) return false;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (left % 1000) * 1000000;
    ts.tv_sec += left / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&e->space_cv, &e->mu, &ts);
  }
  return !e->stop;
}

/* Phase 1 of a send, before any store transaction: validates the target
 * and waits (releasing the lock) while its backlog is full. */
static sfl_result resolve_target(sfl_engine *e, const char *fn_typename, const char *id,
                                 const char *value_typename, size_t len, int64_t wait_ms,
                                 addr **out, char *err, size_t err_len) {
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
  /* The global bound on what sf-local holds for readers that have not
   * come yet (mailboxes and unread egress records). */
  if (e->held_bytes + len > e->max_held_bytes) {
    snprintf(err, err_len,
             "sf-local holds %zu bytes of queued messages and unread egress records "
             "(--max-queued-bytes %zu); retry later",
             e->held_bytes, e->max_held_bytes);
    return SFL_ERR_BUSY;
  }
  if (!wait_for_space(e, a, wait_ms)) {
    snprintf(err, err_len, "%s has %zu messages waiting (maxNumBatchRequests); retry later",
             a->key, a->queued - a->inflight);
    return SFL_ERR_BUSY;
  }
  *out = a;
  return SFL_OK;
}

/* Phase 2: one transaction that records the idempotency key and delivers
 * the value to every target. Called with the lock held, no waiting. */
static sfl_result deliver_all(sfl_engine *e, addr **targets, size_t n,
                              const char *value_typename, const void *value, size_t len,
                              const char *idempotency_key, uint64_t *commit_gen, char *err,
                              size_t err_len) {
  eng_txn_begin(e); /* joins the transaction the loop will commit next */
  uint64_t gen = e->txn_gen;
  bool dup = dedup_check(e, idempotency_key) != 0;
  for (size_t i = 0; i < n && !dup; i++) {
    size_t ilen;
    uint8_t *inv = eng_make_invocation(NULL, value_typename, true, value, len, &ilen);
    if (!inv) {
      snprintf(err, err_len, "out of memory");
      return SFL_ERR_STORE;
    }
    eng_deliver(e, targets[i], inv, ilen);
    e->c_ingress++;
  }
  /* Acknowledged only once durable: wait for the loop's group commit (or
   * hand its generation to a caller that waits without a thread). The
   * message may already be on its way to the function meanwhile; its
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
  pthread_mutex_lock(&e->mu);
  addr *a = NULL;
  sfl_result r =
      resolve_target(e, fn_typename, id, value_typename, len, wait_ms, &a, err, err_len);
  if (r == SFL_OK)
    r = deliver_all(e, &a, 1, value_typename, value, len, idempotency_key, commit_gen, err,
                    err_len);
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

static sfl_result send_topic(sfl_engine *e, const char *topic, const char *key,
                             const void *value, size_t len, const char *idempotency_key,
                             int64_t wait_ms, uint64_t *commit_gen, char *err, size_t err_len) {
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
  if (!key || !*key) {
    /* Flink fails the job on a record without a key; we refuse it. */
    snprintf(err, err_len, "a record for topic '%s' needs a key (it becomes the function id)", topic);
    return SFL_ERR_BAD_REQUEST;
  }
  addr **targets = calloc(route->n_targets ? route->n_targets : 1, sizeof(*targets));
  if (!targets) {
    snprintf(err, err_len, "out of memory");
    return SFL_ERR_STORE;
  }
  pthread_mutex_lock(&e->mu);
  sfl_result r = SFL_OK;
  for (size_t i = 0; i < route->n_targets && r == SFL_OK; i++)
    r = resolve_target(e, route->targets[i], key, route->value_type, len, wait_ms, &targets[i],
                       err, err_len);
  if (r == SFL_OK)
    r = deliver_all(e, targets, route->n_targets, route->value_type, value, len,
                    idempotency_key, commit_gen, err, err_len);
  pthread_mutex_unlock(&e->mu);
  free(targets);
  if (r == SFL_OK) eng_wakeup(e);
  return r;
}

sfl_result sfl_engine_send_topic(sfl_engine *e, const char *topic, const char *key,
                                 const void *value, size_t len, const char *idempotency_key,
                                 int64_t wait_ms, char *err, size_t err_len) {
  return send_topic(e, topic, key, value, len, idempotency_key, wait_ms, NULL, err, err_len);
}

sfl_result sfl_engine_send_topic_nb(sfl_engine *e, const char *topic, const char *key,
                                    const void *value, size_t len, const char *idempotency_key,
                                    uint64_t *commit_gen, char *err, size_t err_len) {
  return send_topic(e, topic, key, value, len, idempotency_key, 0, commit_gen, err, err_len);
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    int64_t ns = ts.tv_nsec + (left % 1000) * 1000000;
    ts.tv_sec += left / 1000 + ns / 1000000000;
    ts.tv_nsec = ns % 1000000000;
    pthread_cond_timedwait(&e->egress_cv, &e->mu, &ts);
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
