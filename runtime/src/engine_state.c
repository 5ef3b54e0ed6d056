/*
 * engine_state.c - the data of sf-local's engine: function types and
 * their addresses, the mailbox of an address and the invocations put in
 * it, its state values and specs, the store transaction around each step
 * (with --data) and the engine's log lines.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void eng_log(const char *level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sf-local: %s: ", level);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- store helpers (no-ops without --data) -------------------------------------- */

void eng_txn_begin(sfl_engine *e) {
  if (e->store && !e->in_txn) {
    if (sfl_store_begin(e->store) != 0) {
      eng_log("error", "store: cannot begin a transaction: %s", sfl_store_error(e->store));
    } else {
      e->in_txn = true;
      e->txn_gen++;
    }
  }
}

/* Commits (lock held); on failure the process cannot promise durability
 * any more. The fdatasync runs without the lock, so ingress threads keep
 * adding to the next transaction meanwhile (bigger group commits); only
 * then does committed_gen advance, which is what 202s and egress reads
 * wait for. Only the loop thread commits, so one sync at a time. */
int eng_txn_commit(sfl_engine *e) {
  if (!e->store || !e->in_txn) return 0;
  e->in_txn = false;
  uint64_t gen = e->txn_gen;
  int rc = sfl_store_commit_unsynced(e->store);
  if (rc < 0) {
    eng_log("error", "store commit failed: %s", sfl_store_error(e->store));
  } else if (rc > 0) {
    pthread_mutex_unlock(&e->mu);
    int err = sfl_store_sync(e->store);
    pthread_mutex_lock(&e->mu);
    rc = err ? -1 : 0;
    if (err) eng_log("error", "store sync failed: fdatasync: %s", strerror(err));
  }
  if (rc < 0)
    e->failed_gen = gen;
  else
    e->committed_gen = gen;
  pthread_cond_broadcast(&e->commit_cv);
  pthread_cond_broadcast(&e->egress_cv); /* its records are readable now */
  eng_notify_synced(e);
  eng_changed(e);
  return rc;
}

/* Waits (lock held) until transaction `gen` is committed by the loop. */
int eng_wait_committed(sfl_engine *e, uint64_t gen) {
  eng_wakeup(e);
  while (e->committed_gen < gen && e->failed_gen < gen && !e->stop)
    pthread_cond_wait(&e->commit_cv, &e->mu);
  return e->committed_gen >= gen ? 0 : -1;
}

/* ---- function types and addresses ------------------------------------------------ */

fn_type *eng_fn_get(sfl_engine *e, const char *typename) {
  fn_type *f = sfl_map_get(&e->fns, typename);
  if (f) return f;
  const char *slash = strchr(typename, '/');
  if (!slash || slash == typename || !slash[1] || strchr(slash + 1, '/')) return NULL;
  f = calloc(1, sizeof(*f));
  if (!f) return NULL;
  f->typename = strdup(typename);
  f->ns = strndup(typename, (size_t)(slash - typename));
  f->name = strdup(slash + 1);
  f->ep = sfl_config_endpoint_for(e->cfg, typename);
  f->url = f->ep ? sfl_endpoint_url(f->ep, typename) : NULL;
  sfl_map_put(&e->fns, typename, f);
  return f;
}

addr *eng_addr_get(sfl_engine *e, fn_type *f, const char *id) {
  char *key = sfl_strjoin(f->typename, '/', id);
  if (!key) return NULL;
  addr *a = sfl_map_get(&e->addrs, key);
  if (a) {
    free(key);
    return a;
  }
  a = calloc(1, sizeof(*a));
  if (!a) {
    free(key);
    return NULL;
  }
  a->key = key;
  a->id = strdup(id);
  a->fn = f;
  sfl_map_put(&e->addrs, key, a);
  return a;
}

/* Splits "ns/type/id" (id may hold '/'). */
addr *eng_addr_by_key(sfl_engine *e, const char *key) {
  const char *s1 = strchr(key, '/');
  const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
  if (!s2) return NULL;
  char *tn = strndup(key, (size_t)(s2 - key));
  fn_type *f = tn ? eng_fn_get(e, tn) : NULL;
  free(tn);
  return f ? eng_addr_get(e, f, s2 + 1) : NULL;
}

void eng_ready_push(sfl_engine *e, addr *a) {
  if (a->in_ready) return;
  a->in_ready = true;
  a->ready_next = NULL;
  if (e->ready_tail)
    e->ready_tail->ready_next = a;
  else
    e->ready_head = a;
  e->ready_tail = a;
}

/* Puts an address on the timer list (retry_at_ms or parked_until_ms set),
 * so the loop only looks at addresses that wait for a timer. */
void eng_timed_push(sfl_engine *e, addr *a) {
  if (a->in_timed) return;
  a->in_timed = true;
  a->timed_next = e->timed;
  e->timed = a;
}

void eng_mailbox_remove(sfl_engine *e, addr *a, msg *m, msg *prev) {
  if (prev)
    prev->next = m->next;
  else
    a->head = m->next;
  if (a->tail == m) a->tail = prev;
  STORE(sfl_store_mailbox_del(e->store, m->seq));
  e->held_bytes -= m->len;
  free(m->inv);
  if (m->trace) sflt_msg_free(m->trace);
  free(m);
  a->queued--;
  e->queued--;
}

void eng_mailbox_append(sfl_engine *e, addr *a, uint64_t seq, uint8_t *inv,
                        size_t len) {
  msg *m = malloc(sizeof(*m));
  if (!m) {
    free(inv);
    eng_log("error", "out of memory queueing a message for %s", a->key);
    return;
  }
  m->seq = seq;
  m->inv = inv;
  m->len = len;
  m->next = NULL;
  m->trace = NULL;
  SFLT(sflt_enqueued(a, m));
  if (a->tail)
    a->tail->next = m;
  else
    a->head = m;
  a->tail = m;
  a->queued++;
  e->queued++;
  e->held_bytes += len;
  if (!eng_in_flight(a)) eng_ready_push(e, a);
}

/* A new message to an address, persisted. Takes ownership of inv. */
void eng_deliver(sfl_engine *e, addr *a, uint8_t *inv, size_t len) {
  uint64_t seq = ++e->seq;
  STORE(sfl_store_mailbox_put(e->store, seq, a->key, inv, len));
  eng_mailbox_append(e, a, seq, inv, len);
}

/* Serialized ToFunction.Invocation{caller?, argument}. malloc'd. */
uint8_t *eng_make_invocation(const addr *caller, const char *typename,
                             bool has_value, const uint8_t *value,
                             size_t len, size_t *out_len) {
  sfb_buf b = {0}, tmp = {0};
  if (caller) {
    sfl_pb_address(&tmp, caller->fn->ns, caller->fn->name, caller->id);
    sfb_buf_len_field(&b, 1, tmp.p, tmp.len);
    sfb_buf_reset(&tmp);
  }
  sfl_pb_typed_value(&tmp, typename, has_value, value, len);
  sfb_buf_len_field(&b, 2, tmp.p, tmp.len);
  sfb_buf_free(&tmp);
  if (b.oom) {
    sfb_buf_free(&b);
    return NULL;
  }
  *out_len = b.len;
  if (!b.p) b.p = malloc(1);
  return b.p;
}

/* ---- state --------------------------------------------------------------------- */

state_val *eng_state_find(addr *a, const char *name) {
  for (state_val *s = a->state; s; s = s->next)
    if (strcmp(s->name, name) == 0) return s;
  return NULL;
}

void eng_state_remove(sfl_engine *e, addr *a, const char *name) {
  for (state_val **pp = &a->state; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->name, name) == 0) {
      state_val *s = *pp;
      *pp = s->next;
      STORE(sfl_store_state_del(e->store, a->key, name));
      free(s->name);
      free(s->typename);
      free(s->value);
      free(s);
      return;
    }
  }
}

void eng_state_set(sfl_engine *e, addr *a, const char *name,
                   const char *typename, const uint8_t *value, size_t len,
                   int64_t expire_at, bool persist) {
  state_val *s = eng_state_find(a, name);
  if (!s) {
    s = calloc(1, sizeof(*s));
    if (!s) return;
    s->name = strdup(name);
    s->next = a->state;
    a->state = s;
  }
  free(s->typename);
  free(s->value);
  s->typename = strdup(typename);
  s->value = malloc(len ? len : 1);
  if (s->value && len) memcpy(s->value, value, len);
  s->len = len;
  s->expire_at = expire_at;
  if (persist)
    STORE(sfl_store_state_put(e->store, a->key, name, typename, value, len, expire_at));
}

const spec *eng_spec_find(const fn_type *f, const char *name) {
  for (size_t i = 0; i < f->n_specs; i++)
    if (strcmp(f->specs[i].name, name) == 0) return &f->specs[i];
  return NULL;
}
