/*
 * engine.c - sf-local's runtime core: StateFun's request-reply runtime on
 * one machine. This file holds the lifecycle, loading the store and the
 * loop; the other parts are engine_*.c (see engine_impl.h).
 *
 * Per address there is a mailbox. When an address has messages and nothing
 * in flight, the loop sends them as one batch (at most maxNumBatchRequests)
 * with every state registered so far for the function type; messages that
 * arrive meanwhile wait for the next batch. A reply is validated whole
 * before anything of it is applied; then, in StateFun's order, outgoing
 * messages are routed, delayed messages scheduled or cancelled, egress
 * records kept and state mutations applied, and the batch leaves the
 * mailbox — all in one store transaction with --data. A reply asking for
 * missing state registers the specs and resends the same batch. Failures
 * (transport, timeout, non-2xx, bad reply) are retried with exponential
 * backoff within the endpoint's call timeout; a batch that still fails is
 * reported and stays queued, and the address is retried after a pause.
 *
 * Threads: the loop (sfl_engine_run) and the HTTP front share the data
 * under one mutex; the loop releases it while it does network I/O and
 * waits (eng_http_io: epoll, and curl_multi_poll while libcurl has
 * https:// transfers).
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- loading the store ------------------------------------------------------------ */

static int load_mailbox(void *ctx, uint64_t seq, const char *key, const uint8_t *inv,
                        size_t len) {
  sfl_engine *e = ctx;
  addr *a = eng_addr_by_key(e, key);
  uint8_t *copy = malloc(len ? len : 1);
  if (!a || !copy) {
    free(copy);
    return a ? -1 : 0;
  }
  if (len) memcpy(copy, inv, len);
  eng_mailbox_append(e, a, seq, copy, len);
  return 0;
}

static int load_state(void *ctx, const char *key, const char *name, const char *tn,
                      const uint8_t *v, size_t len, int64_t exp) {
  sfl_engine *e = ctx;
  addr *a = eng_addr_by_key(e, key);
  if (a) eng_state_set(e, a, name, tn, v, len, exp, false);
  return 0;
}

static int load_delayed(void *ctx, uint64_t seq, int64_t fire_at, const char *target,
                        const char *owner, const char *token, const uint8_t *inv, size_t len) {
  sfl_engine *e = ctx;
  delayed *d = calloc(1, sizeof(*d));
  if (!d) return -1;
  d->seq = seq;
  d->fire_at = fire_at;
  d->target = strdup(target);
  d->owner = strdup(owner);
  d->token = strdup(token);
  d->inv = malloc(len ? len : 1);
  if (!d->target || !d->owner || !d->token || !d->inv) {
    eng_delayed_free(d);
    return -1;
  }
  if (len) memcpy(d->inv, inv, len);
  d->len = len;
  eng_delayed_add(e, d);
  return 0;
}

static int load_egress(void *ctx, uint64_t seq, const char *egress_id, const char *topic,
                       const char *key, const char *tn, const uint8_t *v, size_t len) {
  sfl_engine *e = ctx;
  record *rec = calloc(1, sizeof(*rec));
  if (!rec) return -1;
  rec->r.seq = seq;
  rec->r.egress_id = strdup(egress_id);
  rec->r.topic = strdup(topic);
  rec->r.key = strdup(key);
  rec->r.typename = strdup(tn);
  rec->r.value = malloc(len ? len : 1);
  if (rec->r.value && len) memcpy(rec->r.value, v, len);
  rec->r.len = len;
  eng_record_add(e, rec, false);
  return 0;
}

/* ---- lifecycle ---------------------------------------------------------------------- */

static void curl_init_once(void) { curl_global_init(CURL_GLOBAL_DEFAULT); }

sfl_engine *sfl_engine_new(const sfl_engine_options *opts, char *err, size_t err_len) {
  static pthread_once_t once = PTHREAD_ONCE_INIT;
  pthread_once(&once, curl_init_once);
  sfl_engine *e = calloc(1, sizeof(*e));
  if (!e) {
    snprintf(err, err_len, "out of memory");
    return NULL;
  }
  e->opts = *opts;
  if (e->opts.retry_pause_ms <= 0) e->opts.retry_pause_ms = 1000;
  e->max_held_bytes = e->opts.max_queued_bytes != 0 ? e->opts.max_queued_bytes
                                                    : SFL_ENGINE_DEFAULT_MAX_QUEUED_BYTES;
  e->cfg = opts->config;
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->egress_cv, NULL);
  pthread_cond_init(&e->space_cv, NULL);
  pthread_cond_init(&e->commit_cv, NULL);
  e->epfd = e->wakefd = -1;
  e->http_check_ms = INT64_MAX;
  e->multi = curl_multi_init();
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 1024L);
  e->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
  e->headers = curl_slist_append(e->headers, "Accept: application/octet-stream");
  e->headers = curl_slist_append(e->headers, "User-Agent: sf-local");
  e->headers = curl_slist_append(e->headers, "Expect:");
  e->reply_arena = sf_arena_new(0);
  /* a large reply must not keep its size: 1 MiB is kept across replies */
  if (e->reply_arena) sf_arena_set_retain(e->reply_arena, 1024 * 1024);
  if (!e->multi || !e->headers || !e->reply_arena || eng_http_init(e) != 0) {
    snprintf(err, err_len, "libcurl or epoll initialisation failed");
    sfl_engine_free(e);
    return NULL;
  }
  if (opts->data_dir) {
    e->store = sfl_store_open(opts->data_dir, err, err_len);
    if (!e->store) {
      sfl_engine_free(e);
      return NULL;
    }
    sfl_store_visitor v = {e, load_mailbox, load_state, load_delayed, load_egress};
    uint64_t max_seq = 0;
    if (sfl_store_load(e->store, &v, &max_seq) != 0) {
      snprintf(err, err_len, "%s", sfl_store_error(e->store));
      sfl_engine_free(e);
      return NULL;
    }
    e->seq = max_seq;
  }
  e->stats_last_ms = sfl_mono_ms();
  return e;
}

void sfl_engine_free(sfl_engine *e) {
  if (!e) return;
  size_t i = 0;
  sfl_map_entry *it = NULL;
  while ((it = sfl_map_next(&e->addrs, &i, it))) {
    addr *a = it->value;
    if (a->easy) {
      curl_multi_remove_handle(e->multi, a->easy);
      curl_easy_cleanup(a->easy);
    }
    for (msg *m = a->head; m;) {
      msg *n = m->next;
      free(m->inv);
      sflt_msg_free(m->trace);
      free(m);
      m = n;
    }
    for (state_val *s = a->state; s;) {
      state_val *n = s->next;
      free(s->name);
      free(s->typename);
      free(s->value);
      free(s);
      s = n;
    }
    sfb_buf_free(&a->body);
    sfb_buf_free(&a->reply);
    free(a->key);
    free(a->id);
    free(a);
  }
  i = 0;
  it = NULL;
  while ((it = sfl_map_next(&e->fns, &i, it))) {
    fn_type *f = it->value;
    for (size_t k = 0; k < f->n_specs; k++) {
      free(f->specs[k].name);
      free(f->specs[k].typename);
    }
    free(f->specs);
    free(f->typename);
    free(f->ns);
    free(f->name);
    free(f->url);
    free(f->req_head);
    free(f);
  }
  i = 0;
  it = NULL;
  while ((it = sfl_map_next(&e->topics, &i, it))) {
    topic_q *q = it->value;
    for (record *r = q->head; r;) {
      record *n = r->next;
      sfl_record_free(&r->r);
      free(r);
      r = n;
    }
    free(q);
  }
  for (size_t k = 0; k < e->n_heap; k++) eng_delayed_free(e->heap[k]);
  free(e->heap);
  sfl_map_free(&e->addrs);
  sfl_map_free(&e->fns);
  sfl_map_free(&e->topics);
  sfl_map_free(&e->tokens);
  sfl_map_free(&e->dedup);
  eng_http_free(e);
  for (int k = 0; k < 1; k++) sfb_buf_free(&e->rq_scratch[k]);
  sf_arena_free(e->reply_arena);
  for (size_t k = 0; k < e->n_checked; k++) eng_egress_rec_free(&e->checked[k]);
  free(e->checked);
  if (e->multi) curl_multi_cleanup(e->multi);
  curl_slist_free_all(e->headers);
  if (e->store) sfl_store_close(e->store);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->egress_cv);
  pthread_cond_destroy(&e->space_cv);
  pthread_cond_destroy(&e->commit_cv);
  e->committed_gen = UINT64_MAX; /* frees the pending notes */
  e->on_change = NULL;
  eng_notify_synced(e);
  free(e->notes);
  free(e);
}

void sfl_engine_stop(sfl_engine *e) {
  e->stop = 1;
  eng_wakeup(e);
  pthread_mutex_lock(&e->mu);
  pthread_cond_broadcast(&e->egress_cv);
  pthread_cond_broadcast(&e->space_cv);
  pthread_cond_broadcast(&e->commit_cv);
  eng_changed(e);
  pthread_mutex_unlock(&e->mu);
}

static void print_stats(sfl_engine *e, int64_t now) {
  double secs = (double)(now - e->stats_last_ms) / 1000.0;
  if (secs <= 0) return;
  e->rate = (double)(e->c_invocations - e->stats_last_invocations) / secs;
  e->stats_last_ms = now;
  e->stats_last_invocations = e->c_invocations;
  if (e->opts.stats_interval_ms > 0)
    fprintf(stderr,
            "sf-local: %.0f msg/s | addresses %zu | queued %zu | in flight %zu | delayed %zu | "
            "egress unread %zu | invocations %llu | batches %llu | retries %llu | failed %llu\n",
            e->rate, e->addrs.n, e->queued, e->inflight, e->n_heap - e->n_cancelled, e->n_records,
            (unsigned long long)e->c_invocations, (unsigned long long)e->c_batches,
            (unsigned long long)e->c_retries, (unsigned long long)e->c_final_failures);
}

/* Milliseconds until the loop has something to do by itself. */
static long next_timeout(sfl_engine *e) {
  long t = 1000;
  if (e->ready_head) return 0;
  int64_t now_wall = sfl_now_ms(), now = sfl_mono_ms();
  if (e->n_heap) {
    int64_t d = e->heap[0]->fire_at - now_wall;
    if (d < t) t = d < 0 ? 0 : (long)d;
  }
  for (addr *a = e->timed; a; a = a->timed_next) {
    int64_t when = a->retry_at_ms ? a->retry_at_ms : a->parked_until_ms;
    if (when) {
      int64_t d = when - now;
      if (d < t) t = d < 0 ? 0 : (long)d;
    }
  }
  return eng_http_timeout(e, t);
}

/* Restarts the retries that are due and wakes parked addresses; drops
 * addresses without a pending timer from the list. */
static void wake_timers(sfl_engine *e) {
  int64_t now = sfl_mono_ms();
  addr **pp = &e->timed;
  while (*pp) {
    addr *a = *pp;
    if (a->retry_at_ms && a->retry_at_ms <= now) {
      a->retry_at_ms = 0;
      eng_start_transfer(e, a); /* the same request again (a->body) */
    } else if (a->parked_until_ms && a->parked_until_ms <= now) {
      if (a->queued && !eng_in_flight(a)) eng_ready_push(e, a); /* dispatch clears it */
    }
    if (!a->retry_at_ms && !a->parked_until_ms) {
      *pp = a->timed_next;
      a->in_timed = false;
      a->timed_next = NULL;
    } else if (a->parked_until_ms && a->parked_until_ms <= now && !a->retry_at_ms) {
      /* due: eng_dispatch() will clear parked_until_ms; drop it from the list */
      *pp = a->timed_next;
      a->in_timed = false;
      a->timed_next = NULL;
    } else {
      pp = &a->timed_next;
    }
  }
}

/* After a batch, an address's request and reply buffers are kept for its
 * next batch only while they are small, or while its mailbox has more to
 * send: one that grew past KEEP_IDLE_BYTES (a backlog made a large batch)
 * goes back to nothing once the mailbox is empty, and one past
 * KEEP_BUFFER_BYTES after every batch. So an idle address holds at most
 * 2 x KEEP_IDLE_BYTES of buffers, whatever backlog it once had: kept at
 * up to 64 KiB each, a 4 s stall of the function left 200 addresses
 * holding +8 MB after the backlog drained (bench/README.md, "The soak").
 * The common batch of a few messages fits in 1 KiB, so steady traffic
 * reuses its buffers. Not while a transfer or a retry of the same request
 * (a->body) is pending. */
#define KEEP_BUFFER_BYTES (64 * 1024)
#define KEEP_IDLE_BYTES 1024
void eng_shrink_buffers(addr *a) {
  if (eng_in_flight(a) || a->retry_at_ms) return;
  size_t keep = a->queued ? KEEP_BUFFER_BYTES : KEEP_IDLE_BYTES;
  if (a->body.cap > keep) sfb_buf_free(&a->body);
  if (a->reply.cap > keep) sfb_buf_free(&a->reply);
}

/* (lock held) Finished transfers of both clients: applied, retried or
 * failed. */
static void take_replies(sfl_engine *e) {
  eng_http_complete(e);
  CURLMsg *m;
  int left;
  while ((m = curl_multi_info_read(e->multi, &left)))
    if (m->msg == CURLMSG_DONE) {
      addr *a = NULL;
      curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&a);
      eng_on_done(e, m->easy_handle, m->data.result);
      if (a) eng_shrink_buffers(a);
    }
}

/* One turn of the loop, under the lock and in one store transaction (one
 * fsync with --data): the replies that came in, due delayed messages and
 * retries, then the next batch of every ready address. */
static int turn(sfl_engine *e) {
  eng_txn_begin(e);
  take_replies(e);
  eng_fire_due(e, sfl_now_ms());
  wake_timers(e);
  while (e->ready_head) {
    addr *a = e->ready_head;
    e->ready_head = a->ready_next;
    if (!e->ready_head) e->ready_tail = NULL;
    a->in_ready = false;
    eng_dispatch(e, a);
  }
  return eng_txn_commit(e);
}

/* When nothing is in flight or ready and batches ran since the last time
 * (at most once a second), gives the memory the allocator holds free back
 * to the system. glibc keeps what a burst freed (in the main heap and in
 * the arenas of the HTTP threads) and reuses it only partly, so without
 * this RSS creeps up for minutes under steady load while the memory in
 * use stays flat (bench/soak.py: +12% over 10 minutes, live heap +0.3 MB;
 * bench/README.md, "The soak"). Cheap: at most 0.1 ms measured. */
static void trim_when_idle(sfl_engine *e, int64_t now) {
  if (e->inflight || e->ready_head || e->c_batches == e->trim_batches ||
      now - e->trim_last_ms < 1000)
    return;
  e->trim_last_ms = now;
  e->trim_batches = e->c_batches;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

int sfl_engine_run(sfl_engine *e) {
  pthread_mutex_lock(&e->mu);
  /* Whatever was loaded from the store goes out first. */
  while (!e->stop) {
    if (turn(e) != 0) {
      pthread_mutex_unlock(&e->mu);
      return 1;
    }
    int64_t now = sfl_mono_ms();
    if (now - e->stats_last_ms >= (e->opts.stats_interval_ms > 0 ? e->opts.stats_interval_ms : 1000))
      print_stats(e, now);
    long timeout = next_timeout(e);
    trim_when_idle(e, now);
    pthread_mutex_unlock(&e->mu);
    /* Network I/O without the lock: transfers only touch their own
     * address's request and reply buffers, which only this thread uses
     * while a request is in flight. */
    eng_http_io(e, timeout);
    if (e->curl_transfers) {
      int running = 0;
      curl_multi_perform(e->multi, &running);
    }
    pthread_mutex_lock(&e->mu);
  }
  int rc = eng_txn_commit(e) != 0; /* what ingress threads added meanwhile */
  pthread_cond_broadcast(&e->commit_cv);
  pthread_mutex_unlock(&e->mu);
  return rc;
}
