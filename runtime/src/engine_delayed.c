/*
 * engine_delayed.c - delayed messages: a min-heap on fire_at, cancellation
 * tokens per owner, and moving due messages into their mailboxes.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool heap_less(const delayed *x, const delayed *y) {
  return x->fire_at < y->fire_at || (x->fire_at == y->fire_at && x->seq < y->seq);
}

static void heap_push(sfl_engine *e, delayed *d) {
  if (e->n_heap == e->cap_heap) {
    size_t cap = e->cap_heap ? e->cap_heap * 2 : 64;
    delayed **h = realloc(e->heap, cap * sizeof(*h));
    if (!h) return;
    e->heap = h;
    e->cap_heap = cap;
  }
  size_t i = e->n_heap++;
  e->heap[i] = d;
  while (i > 0) {
    size_t p = (i - 1) / 2;
    if (!heap_less(e->heap[i], e->heap[p])) break;
    delayed *t = e->heap[i];
    e->heap[i] = e->heap[p];
    e->heap[p] = t;
    i = p;
  }
}

static delayed *heap_pop(sfl_engine *e) {
  if (!e->n_heap) return NULL;
  delayed *top = e->heap[0];
  e->heap[0] = e->heap[--e->n_heap];
  size_t i = 0;
  for (;;) {
    size_t l = 2 * i + 1, r = l + 1, m = i;
    if (l < e->n_heap && heap_less(e->heap[l], e->heap[m])) m = l;
    if (r < e->n_heap && heap_less(e->heap[r], e->heap[m])) m = r;
    if (m == i) break;
    delayed *t = e->heap[i];
    e->heap[i] = e->heap[m];
    e->heap[m] = t;
    i = m;
  }
  return top;
}

char *eng_token_key(const char *owner, const char *token) {
  return sfl_strfmt("%s\x1f%s", owner, token);
}

void eng_delayed_free(delayed *d) {
  free(d->target);
  free(d->owner);
  free(d->token);
  free(d->inv);
  free(d);
}

void eng_delayed_add(sfl_engine *e, delayed *d) {
  if (d->token[0]) {
    char *k = eng_token_key(d->owner, d->token);
    if (k) sfl_map_put(&e->tokens, k, d);
    free(k);
  }
  heap_push(e, d);
}

/* Moves due delayed messages into their mailboxes. */
void eng_fire_due(sfl_engine *e, int64_t now) {
  while (e->n_heap && e->heap[0]->fire_at <= now) {
    delayed *d = heap_pop(e);
    if (!d->cancelled) {
      if (d->token[0]) {
        char *k = eng_token_key(d->owner, d->token);
        if (k && sfl_map_get(&e->tokens, k) == d) sfl_map_del(&e->tokens, k);
        free(k);
      }
      eng_txn_begin(e);
      STORE(sfl_store_delayed_del(e->store, d->seq));
      addr *a = eng_addr_by_key(e, d->target);
      if (a) {
        eng_deliver(e, a, d->inv, d->len);
        d->inv = NULL;
        e->c_delayed_fired++;
      } else {
        eng_log("error", "delayed message to malformed address %s dropped", d->target);
      }
    } else {
      e->n_cancelled--;
    }
    eng_delayed_free(d);
  }
}
