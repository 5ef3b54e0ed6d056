/*
 * calls.c - the table of calls by request id (gateway.h): a chained hash
 * table, an age list so that remembered calls are forgotten in order, and
 * the list of every waiting connection so the Kafka thread can expire
 * waits. The caller holds t->mu for everything but init/free.
 */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "sfb/fnv.h"

static size_t hash(const char *s, size_t n) { return (size_t)(sfb_fnv1a64(s) % n); }

int gw_table_init(gw_table *t, size_t n_buckets) {
  memset(t, 0, sizeof *t);
  t->buckets = calloc(n_buckets, sizeof *t->buckets);
  if (t->buckets == NULL) return -1;
  t->n_buckets = n_buckets;
  pthread_mutex_init(&t->mu, NULL);
  return 0;
}

static void call_free(gw_call *c) {
  free(c->rid);
  free(c->idem);
  free(c->reply);
  free(c);
}

void gw_table_free(gw_table *t) {
  for (gw_call *c = t->oldest, *n; c != NULL; c = n) {
    n = c->newer;
    call_free(c);
  }
  free(t->buckets);
  pthread_mutex_destroy(&t->mu);
  memset(t, 0, sizeof *t);
}

gw_call *gw_table_find(gw_table *t, const char *rid) {
  for (gw_call *c = t->buckets[hash(rid, t->n_buckets)]; c; c = c->hnext)
    if (strcmp(c->rid, rid) == 0) return c;
  return NULL;
}

/* Idempotency keys are rare and few: a walk of the age list. */
gw_call *gw_table_find_idem(gw_table *t, const char *idem) {
  for (gw_call *c = t->newest; c != NULL; c = c->older)
    if (c->idem != NULL && strcmp(c->idem, idem) == 0) return c;
  return NULL;
}

gw_call *gw_table_add(gw_table *t, const char *rid, const char *idem,
                      int64_t forget_ms) {
  gw_call *c = calloc(1, sizeof *c);
  if (c == NULL) return NULL;
  c->rid = strdup(rid);
  c->idem = idem != NULL ? strdup(idem) : NULL;
  if (c->rid == NULL || (idem != NULL && c->idem == NULL)) {
    call_free(c);
    return NULL;
  }
  c->forget_ms = forget_ms;
  size_t b = hash(rid, t->n_buckets);
  c->hnext = t->buckets[b];
  t->buckets[b] = c;
  c->older = t->newest;
  if (t->newest != NULL) t->newest->newer = c;
  else t->oldest = c;
  t->newest = c;
  t->n_calls++;
  return c;
}

void gw_table_remove(gw_table *t, gw_call *c) {
  gw_call **pp = &t->buckets[hash(c->rid, t->n_buckets)];
  while (*pp != c) pp = &(*pp)->hnext;
  *pp = c->hnext;
  if (c->older != NULL) c->older->newer = c->newer;
  else t->oldest = c->newer;
  if (c->newer != NULL) c->newer->older = c->older;
  else t->newest = c->older;
  t->n_calls--;
  call_free(c);
}

void gw_table_wait(gw_table *t, gw_call *c, gw_waiter *w) {
  w->call = c;
  w->next_in_call = c->waiters;
  c->waiters = w;
  w->prev = NULL;
  w->next = t->waiting;
  if (t->waiting != NULL) t->waiting->prev = w;
  t->waiting = w;
  t->n_waiting++;
}

void gw_table_unwait(gw_table *t, gw_waiter *w) {
  gw_call *c = w->call;
  if (c == NULL) return;
  gw_waiter **pp = &c->waiters;
  while (*pp != NULL && *pp != w) pp = &(*pp)->next_in_call;
  if (*pp == w) *pp = w->next_in_call;
  if (w->prev != NULL) w->prev->next = w->next;
  else t->waiting = w->next;
  if (w->next != NULL) w->next->prev = w->prev;
  w->call = NULL;
  w->next_in_call = w->prev = w->next = NULL;
  t->n_waiting--;
}

void gw_table_expire(gw_table *t, int64_t now_ms, size_t max) {
  /* Oldest first; a call someone still waits for stays (and so do the
   * younger ones behind it: their turn comes on a later pass). */
  while (t->oldest != NULL && t->oldest->waiters == NULL &&
         (t->oldest->forget_ms <= now_ms || t->n_calls > max))
    gw_table_remove(t, t->oldest);
}
