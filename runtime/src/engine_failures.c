/*
 * engine_failures.c - what sf-local does for a person whose function
 * fails. The first failure of an address's batch is logged at once
 * (rate-limited), not only when the endpoint's call timeout (2 minutes by
 * default) ends the retries; and a message the function cannot take can
 * be dropped from its mailbox (the front's DELETE /<ns>/<type>/<id>?seq=N),
 * the answer carrying what was dropped. Both are sf-local's debugging aids:
 * Flink retries a failing batch within the call timeout and then fails the
 * job (docs/sf-local.md).
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An address logs a first failure at most once in this long ... */
#define QUIET_PER_ADDRESS_MS 10000
/* ... and all addresses together at most this many lines a second. */
#define LINES_PER_SECOND 5

eng_ff_verdict eng_ff_decide(eng_ff_limit *g, int64_t addr_logged_ms, int64_t now) {
  if (addr_logged_ms && now - addr_logged_ms < QUIET_PER_ADDRESS_MS) return ENG_FF_QUIET;
  if (now - g->window_ms >= 1000) {
    g->window_ms = now;
    g->lines = 0;
  }
  if (g->lines >= LINES_PER_SECOND) return ENG_FF_LATER;
  g->lines++;
  return ENG_FF_LOG;
}

void eng_first_failure(sfl_engine *e, addr *a) {
  /* A batch is known by when its first attempt started (eng_dispatch);
   * attempts are no guide: the missing-state round trip is one too. */
  if (a->first_failure_batch_ms == a->first_attempt_ms) return;
  int64_t now = sfl_mono_ms();
  switch (eng_ff_decide(&e->ff, a->first_failure_logged_ms, now)) {
    case ENG_FF_LATER: return; /* retries come within a second: one may log */
    case ENG_FF_QUIET: a->first_failure_batch_ms = a->first_attempt_ms; return;
    case ENG_FF_LOG: break;
  }
  a->first_failure_batch_ms = a->first_attempt_ms;
  a->first_failure_logged_ms = now;
  int64_t budget = a->fn->ep->call_timeout_ms > 0 ? a->fn->ep->call_timeout_ms : 120000;
  eng_log("error",
          "%s: a batch of %zu message(s) failed: %s; retrying for up to %lld ms (the "
          "call timeout), then every %lld ms; the mailbox: GET /%s, drop a message: "
          "DELETE /%s?seq=N",
          a->key, a->inflight, a->last_error, (long long)budget,
          (long long)e->opts.retry_pause_ms, a->key, a->key);
}

/* The message `seq` of an address's mailbox and its position, or NULL. */
static msg *find_message(addr *a, uint64_t seq, size_t *index, msg **prev) {
  *prev = NULL;
  *index = 0;
  for (msg *m = a ? a->head : NULL; m; *prev = m, m = m->next, (*index)++)
    if (m->seq == seq) return m;
  return NULL;
}

/* Forgets the batch an address is waiting to retry: the next one is built
 * anew from what is left of the mailbox. */
static void forget_batch(addr *a) {
  a->inflight = 0;
  a->retry_at_ms = 0;
  a->parked_until_ms = 0;
  a->attempts = 0;
}

sfl_result sfl_engine_drop(sfl_engine *e, const char *fn_typename, const char *id,
                           uint64_t seq, char **dropped, char *err, size_t err_len) {
  *dropped = NULL;
  char *key = sfl_strjoin(fn_typename, '/', id);
  if (!key) {
    snprintf(err, err_len, "out of memory");
    return SFL_ERR_STORE;
  }
  pthread_mutex_lock(&e->mu);
  addr *a = sfl_map_get(&e->addrs, key);
  free(key);
  size_t index;
  msg *prev;
  msg *m = find_message(a, seq, &index, &prev);
  if (!m) {
    pthread_mutex_unlock(&e->mu);
    snprintf(err, err_len, "%s/%s has no message %llu in its mailbox (GET it to see them)",
             fn_typename, id, (unsigned long long)seq);
    return SFL_ERR_NOT_FOUND;
  }
  if (eng_in_flight(a) && index < a->inflight) {
    pthread_mutex_unlock(&e->mu);
    snprintf(err, err_len,
             "message %llu is in a request to the function right now; retry when it "
             "has answered", (unsigned long long)seq);
    return SFL_ERR_BUSY;
  }
  json_t *j = eng_message_json(m);
  *dropped = j ? json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
  json_decref(j);
  eng_txn_begin(e); /* joins the transaction the loop commits next */
  uint64_t gen = e->txn_gen;
  if (index < a->inflight) forget_batch(a); /* the batch waiting to retry */
  eng_mailbox_remove(e, a, m, prev);
  if (a->queued && !eng_in_flight(a)) eng_ready_push(e, a);
  pthread_cond_broadcast(&e->space_cv);
  eng_changed(e);
  eng_wakeup(e);
  sfl_result res = SFL_OK;
  if (e->store && eng_wait_committed(e, gen) != 0) {
    snprintf(err, err_len, "durable store: %s", sfl_store_error(e->store));
    res = SFL_ERR_STORE;
  }
  pthread_mutex_unlock(&e->mu);
  eng_log("info", "%s/%s: message %llu dropped on request: %s", fn_typename, id,
          (unsigned long long)seq, *dropped ? *dropped : "");
  return res;
}
