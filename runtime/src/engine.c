/*
 * engine.c - sf-local's runtime core: StateFun's request-reply runtime on
 * one machine.
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
 * under one mutex; the loop releases it while it waits in curl_multi_poll.
 */
#define _GNU_SOURCE
#include "engine.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <statefun/statefun.h>

#include "kafka_egress.pb-c.h"
#include "kinesis_egress.pb-c.h"
#include "request_reply.pb-c.h"
#include "store.h"
#include "util.h"

#include "sfb/base64.h"

typedef Io__Statefun__Sdk__Reqreply__FromFunction pb_from;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse pb_resp;
typedef Io__Statefun__Sdk__Reqreply__Address pb_addr;
typedef Io__Statefun__Sdk__Reqreply__TypedValue pb_tv;

#define MAX_BACKOFF_MS 1000
/* The playground egress's record type (the playground's Constants.java). */
#define SFL_PLAYGROUND_EGRESS_RECORD "io.statefun.playground/EgressRecord"
/* The Java class names Flink's generic egress serializers name in their
 * errors (java_package of kafka-egress.proto / kinesis-egress.proto). */
#define SFL_JAVA_KAFKA_RECORD "org.apache.flink.statefun.sdk.egress.generated.KafkaProducerRecord"
#define SFL_JAVA_KINESIS_RECORD \
  "org.apache.flink.statefun.sdk.egress.generated.KinesisEgressRecord"

/* ---- data ---------------------------------------------------------------------- */

typedef struct spec {
  char *name;
  char *typename;
  int mode; /* 0 none, 1 after write, 2 after invoke */
  int64_t ms;
} spec;

typedef struct fn_type {
  char *typename;
  char *ns;
  char *name;
  const sfl_endpoint *ep; /* NULL: no endpoint serves it (messages wait) */
  char *url;
  spec *specs;
  size_t n_specs;
} fn_type;

typedef struct msg {
  uint64_t seq;
  uint8_t *inv; /* serialized ToFunction.Invocation */
  size_t len;
  struct msg *next;
} msg;

typedef struct state_val {
  char *name;
  char *typename;
  uint8_t *value;
  size_t len;
  int64_t expire_at; /* wall ms, 0 = never */
  struct state_val *next;
} state_val;

typedef struct addr {
  char *key; /* ns/type/id */
  char *id;
  fn_type *fn;
  msg *head, *tail;
  size_t queued;    /* messages in the mailbox, in-flight ones included */
  size_t inflight;  /* the first `inflight` messages form the batch in flight */
  state_val *state;
  /* the request in flight */
  CURL *easy;
  sfb_buf body;
  sfb_buf reply;
  bool reply_too_large;
  int attempts;
  int64_t first_attempt_ms; /* mono */
  int64_t retry_at_ms;      /* mono; > 0 while waiting to retry */
  int64_t parked_until_ms;  /* mono; > 0 after a final failure */
  char last_error[512];
  uint64_t failures;
  uint64_t batches;
  bool in_ready;
  struct addr *ready_next;
  bool in_timed; /* on the engine's list of addresses with a timer */
  struct addr *timed_next;
} addr;

typedef struct delayed {
  uint64_t seq;
  int64_t fire_at; /* wall ms */
  char *target;    /* address key */
  char *owner;     /* sender id: scopes the token */
  char *token;     /* "" when untokened */
  uint8_t *inv;
  size_t len;
  bool cancelled;
} delayed;

typedef struct record {
  sfl_record r;
  struct record *next;
} record;

typedef struct topic_q {
  record *head, *tail;
  size_t n;
} topic_q;

struct sfl_engine {
  pthread_mutex_t mu;
  pthread_cond_t egress_cv;
  pthread_cond_t space_cv;
  const sfl_config *cfg;
  sfl_engine_options opts;
  sfl_store *store;
  bool in_txn;
  /* Group commit: ingress threads add to the open transaction and wait
   * until the loop has committed it (one fsync for many messages). */
  uint64_t txn_gen;       /* generation of the open (or last) transaction */
  uint64_t committed_gen; /* last generation durably committed */
  uint64_t failed_gen;    /* last generation whose commit failed */
  pthread_cond_t commit_cv;
  CURLM *multi;
  struct curl_slist *headers;
  volatile int stop;

  sfl_map fns;    /* typename -> fn_type */
  sfl_map addrs;  /* key -> addr */
  sfl_map tokens; /* owner "\x1f" token -> delayed */
  sfl_map topics; /* topic -> topic_q */
  sfl_map dedup;  /* idempotency keys (in-memory mode) */
  addr *ready_head, *ready_tail;
  addr *timed; /* addresses waiting to retry or parked after a failure */
  delayed **heap;
  size_t n_heap, cap_heap;
  size_t n_cancelled; /* cancelled entries still in the heap (dropped lazily) */
  uint64_t seq;

  /* counters */
  uint64_t c_ingress, c_invocations, c_batches, c_retries, c_final_failures,
      c_missing_state, c_egress, c_delayed_fired, c_routed, c_max_batch;
  size_t inflight, queued, n_records;
  int64_t stats_last_ms;
  uint64_t stats_last_invocations;
  double rate;
};

/* ---- logging ------------------------------------------------------------------- */

static void logf_(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void logf_(const char *level, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "sf-local: %s: ", level);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
}

/* ---- store helpers (no-ops without --data) -------------------------------------- */

static void txn_begin(sfl_engine *e) {
  if (e->store && !e->in_txn) {
    if (sfl_store_begin(e->store) != 0) {
      logf_("error", "store: cannot begin a transaction: %s", sfl_store_error(e->store));
    } else {
      e->in_txn = true;
      e->txn_gen++;
    }
  }
}

/* Commits; on failure the process cannot promise durability any more. */
static int txn_commit(sfl_engine *e) {
  if (!e->store || !e->in_txn) return 0;
  e->in_txn = false;
  int rc = 0;
  if (sfl_store_commit(e->store) != 0) {
    logf_("error", "store commit failed: %s", sfl_store_error(e->store));
    e->failed_gen = e->txn_gen;
    rc = -1;
  } else {
    e->committed_gen = e->txn_gen;
  }
  pthread_cond_broadcast(&e->commit_cv);
  return rc;
}

/* Waits (lock held) until transaction `gen` is committed by the loop. */
static int wait_committed(sfl_engine *e, uint64_t gen) {
  curl_multi_wakeup(e->multi);
  while (e->committed_gen < gen && e->failed_gen < gen && !e->stop)
    pthread_cond_wait(&e->commit_cv, &e->mu);
  return e->committed_gen >= gen ? 0 : -1;
}

#define STORE(call)                                                      \
  do {                                                                   \
    if (e->store && (call) != 0)                                         \
      logf_("error", "store: %s", sfl_store_error(e->store));            \
  } while (0)

/* ---- function types and addresses ------------------------------------------------ */

static fn_type *fn_get(sfl_engine *e, const char *typename) {
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

static addr *addr_get(sfl_engine *e, fn_type *f, const char *id) {
  char *key = sfl_strfmt("%s/%s", f->typename, id);
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
static addr *addr_by_key(sfl_engine *e, const char *key) {
  const char *s1 = strchr(key, '/');
  const char *s2 = s1 ? strchr(s1 + 1, '/') : NULL;
  if (!s2) return NULL;
  char *tn = strndup(key, (size_t)(s2 - key));
  fn_type *f = tn ? fn_get(e, tn) : NULL;
  free(tn);
  return f ? addr_get(e, f, s2 + 1) : NULL;
}

static void ready_push(sfl_engine *e, addr *a) {
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
static void timed_push(sfl_engine *e, addr *a) {
  if (a->in_timed) return;
  a->in_timed = true;
  a->timed_next = e->timed;
  e->timed = a;
}

static void mailbox_append(sfl_engine *e, addr *a, uint64_t seq, uint8_t *inv,
                           size_t len) {
  msg *m = malloc(sizeof(*m));
  if (!m) {
    free(inv);
    logf_("error", "out of memory queueing a message for %s", a->key);
    return;
  }
  m->seq = seq;
  m->inv = inv;
  m->len = len;
  m->next = NULL;
  if (a->tail)
    a->tail->next = m;
  else
    a->head = m;
  a->tail = m;
  a->queued++;
  e->queued++;
  if (!a->easy) ready_push(e, a);
}

/* A new message to an address, persisted. Takes ownership of inv. */
static void deliver(sfl_engine *e, addr *a, uint8_t *inv, size_t len) {
  uint64_t seq = ++e->seq;
  STORE(sfl_store_mailbox_put(e->store, seq, a->key, inv, len));
  mailbox_append(e, a, seq, inv, len);
}

/* Serialized ToFunction.Invocation{caller?, argument}. malloc'd. */
static uint8_t *make_invocation(const addr *caller, const char *typename,
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

static state_val *state_find(addr *a, const char *name) {
  for (state_val *s = a->state; s; s = s->next)
    if (strcmp(s->name, name) == 0) return s;
  return NULL;
}

static void state_remove(sfl_engine *e, addr *a, const char *name) {
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

static void state_set(sfl_engine *e, addr *a, const char *name,
                      const char *typename, const uint8_t *value, size_t len,
                      int64_t expire_at, bool persist) {
  state_val *s = state_find(a, name);
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

static const spec *spec_find(const fn_type *f, const char *name) {
  for (size_t i = 0; i < f->n_specs; i++)
    if (strcmp(f->specs[i].name, name) == 0) return &f->specs[i];
  return NULL;
}

/* ---- delayed messages: a min-heap on fire_at ------------------------------------ */

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

static char *token_key(const char *owner, const char *token) {
  return sfl_strfmt("%s\x1f%s", owner, token);
}

static void delayed_free(delayed *d) {
  free(d->target);
  free(d->owner);
  free(d->token);
  free(d->inv);
  free(d);
}

static void delayed_add(sfl_engine *e, delayed *d) {
  if (d->token[0]) {
    char *k = token_key(d->owner, d->token);
    if (k) sfl_map_put(&e->tokens, k, d);
    free(k);
  }
  heap_push(e, d);
}

/* Moves due delayed messages into their mailboxes. */
static void fire_due(sfl_engine *e, int64_t now) {
  while (e->n_heap && e->heap[0]->fire_at <= now) {
    delayed *d = heap_pop(e);
    if (!d->cancelled) {
      if (d->token[0]) {
        char *k = token_key(d->owner, d->token);
        if (k && sfl_map_get(&e->tokens, k) == d) sfl_map_del(&e->tokens, k);
        free(k);
      }
      txn_begin(e);
      STORE(sfl_store_delayed_del(e->store, d->seq));
      addr *a = addr_by_key(e, d->target);
      if (a) {
        deliver(e, a, d->inv, d->len);
        d->inv = NULL;
        e->c_delayed_fired++;
      } else {
        logf_("error", "delayed message to malformed address %s dropped", d->target);
      }
    } else {
      e->n_cancelled--;
    }
    delayed_free(d);
  }
}

/* ---- egress records ---------------------------------------------------------------- */

static void record_add(sfl_engine *e, record *rec, bool persist) {
  topic_q *q = sfl_map_get(&e->topics, rec->r.topic);
  if (!q) {
    q = calloc(1, sizeof(*q));
    if (!q) return;
    sfl_map_put(&e->topics, rec->r.topic, q);
  }
  if (persist)
    STORE(sfl_store_egress_put(e->store, rec->r.seq, rec->r.egress_id, rec->r.topic,
                               rec->r.key, rec->r.typename, rec->r.value, rec->r.len));
  rec->next = NULL;
  if (q->tail)
    q->tail->next = rec;
  else
    q->head = rec;
  q->tail = rec;
  q->n++;
  e->n_records++;
  pthread_cond_broadcast(&e->egress_cv);
}

void sfl_record_free(sfl_record *r) {
  if (!r) return;
  free(r->egress_id);
  free(r->topic);
  free(r->key);
  free(r->typename);
  free(r->value);
  memset(r, 0, sizeof(*r));
}

/* ---- requests ------------------------------------------------------------------ */

static size_t on_reply_data(char *ptr, size_t size, size_t n, void *ud) {
  addr *a = ud;
  size_t len = size * n;
  /* The async transport's payload_max_bytes (Netty fails a longer reply
   * with TooLongFrameException, retried); okhttp has no limit (0). */
  size_t max = a->fn->ep->payload_max_bytes ? a->fn->ep->payload_max_bytes : SIZE_MAX;
  if (a->reply.len + len > max) {
    a->reply_too_large = true;
    return 0; /* aborts the transfer */
  }
  sfb_buf_put(&a->reply, ptr, len);
  return a->reply.oom ? 0 : len;
}

/* Builds the ToFunction for a batch of `a` into a->body: the next batch
 * (up to maxNumBatchRequests) when `same_batch` is false, else the batch in
 * flight again (a->inflight messages), as StateFun resends exactly the same
 * invocations after a missing-state reply. Returns -1 (with a->last_error)
 * when a stored value conflicts with its spec. */
static int build_request(sfl_engine *e, addr *a, bool same_batch) {
  fn_type *f = a->fn;
  /* max_batch 0: no limit (maxNumBatchRequests <= 0), the whole backlog. */
  size_t max = same_batch ? a->inflight : (f->ep->max_batch ? f->ep->max_batch : SIZE_MAX);
  int64_t now = sfl_now_ms();
  sfb_buf batch = {0}, tmp = {0}, tv = {0};
  sfl_pb_address(&tmp, f->ns, f->name, a->id);
  sfb_buf_len_field(&batch, 1, tmp.p, tmp.len);
  for (size_t i = 0; i < f->n_specs; i++) {
    const spec *sp = &f->specs[i];
    state_val *s = state_find(a, sp->name);
    if (s && s->expire_at && now >= s->expire_at) {
      state_remove(e, a, sp->name);
      s = NULL;
    }
    if (s && strcmp(s->typename, sp->typename) != 0) {
      snprintf(a->last_error, sizeof(a->last_error),
               "state '%s' of %s holds a %s but is registered as %s", sp->name,
               a->key, s->typename, sp->typename);
      sfb_buf_free(&batch);
      sfb_buf_free(&tmp);
      return -1;
    }
    if (s && sp->mode == 2) { /* expire after invoke: a read refreshes it */
      s->expire_at = now + sp->ms;
      STORE(sfl_store_state_put(e->store, a->key, s->name, s->typename, s->value,
                                s->len, s->expire_at));
    }
    sfb_buf_reset(&tmp);
    sfl_pb_string(&tmp, 1, sp->name);
    if (s) {
      sfb_buf_reset(&tv);
      sfl_pb_typed_value(&tv, sp->typename, true, s->value, s->len);
      sfb_buf_len_field(&tmp, 2, tv.p, tv.len);
    }
    sfb_buf_len_field(&batch, 2, tmp.p, tmp.len);
  }
  size_t n = 0;
  for (msg *m = a->head; m && n < max; m = m->next, n++)
    sfb_buf_len_field(&batch, 3, m->inv, m->len);
  a->inflight = n;
  sfb_buf_reset(&a->body);
  sfb_buf_len_field(&a->body, 100, batch.p, batch.len);
  sfb_buf_free(&batch);
  sfb_buf_free(&tmp);
  sfb_buf_free(&tv);
  if (a->body.oom) {
    snprintf(a->last_error, sizeof(a->last_error), "out of memory building a request");
    return -1;
  }
  return 0;
}

static void start_transfer(sfl_engine *e, addr *a) {
  const sfl_endpoint *ep = a->fn->ep;
  int64_t now = sfl_mono_ms();
  int64_t budget = ep->call_timeout_ms > 0 ? ep->call_timeout_ms : 120000;
  int64_t left = budget - (now - a->first_attempt_ms);
  if (left < 1) left = 1;
  CURL *c = curl_easy_init();
  if (!c) {
    logf_("error", "curl_easy_init failed");
    return;
  }
  sfb_buf_reset(&a->reply);
  a->reply_too_large = false;
  curl_easy_setopt(c, CURLOPT_URL, a->fn->url);
  curl_easy_setopt(c, CURLOPT_POST, 1L);
  curl_easy_setopt(c, CURLOPT_POSTFIELDS, a->body.p);
  curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)a->body.len);
  curl_easy_setopt(c, CURLOPT_HTTPHEADER, e->headers);
  curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_reply_data);
  curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
  curl_easy_setopt(c, CURLOPT_PRIVATE, a);
  curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)left);
  curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                   (long)(ep->connect_timeout_ms > 0 ? ep->connect_timeout_ms : 20000));
  curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
  a->easy = c;
  a->attempts++;
  e->inflight++;
  curl_multi_add_handle(e->multi, c);
}

/* Starts the next batch of a ready address, if it can go. */
static void dispatch(sfl_engine *e, addr *a) {
  if (a->easy || a->retry_at_ms || !a->queued) return;
  if (a->parked_until_ms && sfl_mono_ms() < a->parked_until_ms) return;
  a->parked_until_ms = 0;
  if (!a->fn->ep) {
    if (!a->last_error[0]) {
      snprintf(a->last_error, sizeof(a->last_error),
               "no endpoint in the module serves function type %s", a->fn->typename);
      logf_("error", "%s: %zu message(s) wait: %s", a->key, a->queued, a->last_error);
    }
    return;
  }
  a->attempts = 0;
  a->first_attempt_ms = sfl_mono_ms();
  if (build_request(e, a, false) != 0) {
    logf_("error", "%s: batch cannot be sent: %s (messages stay queued)", a->key,
          a->last_error);
    a->failures++;
    e->c_final_failures++;
    a->parked_until_ms = sfl_mono_ms() + e->opts.retry_pause_ms;
    timed_push(e, a);
    return;
  }
  start_transfer(e, a);
}

/* ---- replies -------------------------------------------------------------------- */

/* Why a reply cannot be accepted, into a->last_error. */
__attribute__((format(printf, 2, 3))) static int reject(addr *a, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
  va_end(ap);
  return -1;
}

static bool valid_typename(const char *s) {
  const char *slash = s ? strchr(s, '/') : NULL;
  return slash && slash != s && slash[1] && !strchr(slash + 1, '/');
}

/* ---- egress records: what each kind of egress accepts ---------------------------- */

/* One egress record as sf-local keeps it (malloc'd; egress_rec_free). */
typedef struct egress_rec {
  char *topic;
  char *key;
  uint8_t *value;
  size_t len;
} egress_rec;

static void egress_rec_free(egress_rec *r) {
  free(r->topic);
  free(r->key);
  free(r->value);
  memset(r, 0, sizeof(*r));
}

static int egress_rec_set(egress_rec *r, const char *topic, const char *key,
                          const uint8_t *value, size_t len) {
  r->topic = strdup(topic);
  r->key = strdup(key);
  r->value = malloc(len ? len : 1);
  if (r->value && len) memcpy(r->value, value, len);
  r->len = len;
  if (r->topic && r->key && r->value) return 0;
  egress_rec_free(r);
  return -1;
}

/* The module's egress with that namespace and type; NULL when undeclared. */
static const sfl_egress *egress_find(const sfl_config *cfg, const char *ns, const char *type) {
  size_t nl = strlen(ns);
  for (size_t k = 0; k < cfg->n_egresses; k++) {
    const char *id = cfg->egresses[k].id;
    if (strncmp(id, ns, nl) == 0 && id[nl] == '/' && strcmp(id + nl + 1, type) == 0)
      return &cfg->egresses[k];
  }
  return NULL;
}

static bool is_reply_egress(const char *ns, const char *type) {
  size_t rl = strlen(ns);
  return strncmp(SFL_REPLY_EGRESS, ns, rl) == 0 && SFL_REPLY_EGRESS[rl] == '/' &&
         strcmp(&SFL_REPLY_EGRESS[rl + 1], type) == 0;
}

static int decode_kafka(addr *a, size_t i, const pb_tv *v, egress_rec *out) {
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *k =
      io__statefun__sdk__egress__kafka_producer_record__unpack(NULL, v->value.len, v->value.data);
  if (!k || !k->topic[0]) {
    if (k) io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);
    return reject(a, "egress record %zu: malformed KafkaProducerRecord (or no topic)", i);
  }
  int rc = egress_rec_set(out, k->topic, k->key, k->value_bytes.data, k->value_bytes.len);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);
  return rc == 0 ? 0 : reject(a, "out of memory");
}

static int decode_kinesis(addr *a, size_t i, const pb_tv *v, egress_rec *out) {
  Io__Statefun__Sdk__Egress__KinesisEgressRecord *k =
      io__statefun__sdk__egress__kinesis_egress_record__unpack(NULL, v->value.len, v->value.data);
  if (!k || !k->stream[0]) {
    if (k) io__statefun__sdk__egress__kinesis_egress_record__free_unpacked(k, NULL);
    return reject(a, "egress record %zu: malformed KinesisEgressRecord (or no stream)", i);
  }
  int rc = egress_rec_set(out, k->stream, k->partition_key, k->value_bytes.data,
                          k->value_bytes.len);
  io__statefun__sdk__egress__kinesis_egress_record__free_unpacked(k, NULL);
  return rc == 0 ? 0 : reject(a, "out of memory");
}

/* A scalar JSON field of a playground EgressRecord as Jackson reads it into
 * a String: strings as they are, numbers and booleans as their text;
 * malloc'd, NULL when absent, null or not a scalar. */
static char *json_scalar_text(const json_t *j) {
  if (json_is_string(j)) return strndup(json_string_value(j), json_string_length(j));
  if (json_is_integer(j)) return sfl_strfmt("%lld", (long long)json_integer_value(j));
  if (json_is_real(j)) return sfl_strfmt("%.17g", json_real_value(j));
  if (json_is_boolean(j)) return strdup(json_is_true(j) ? "true" : "false");
  return NULL;
}

/*
 * The playground egress (PlaygroundEgress in the playground's
 * statefun-playground-entrypoint): a TypedValue of type
 * io.statefun.playground/EgressRecord holding the JSON object
 * {"topic": ..., "payload": ...}, read with a default Jackson ObjectMapper
 * (other keys fail), to one of the egress's `topics`; the payload's UTF-8
 * bytes are the record. Anything else fails the job there.
 */
static int decode_playground(addr *a, size_t i, const sfl_egress *eg, const pb_tv *v,
                             egress_rec *out) {
  if (strcmp(v->typename_, SFL_PLAYGROUND_EGRESS_RECORD) != 0)
    return reject(a, "egress record %zu to %s: the playground egress takes only values of "
                  "type " SFL_PLAYGROUND_EGRESS_RECORD " (JSON {\"topic\":...,\"payload\":...}), "
                  "got %s (Flink: \"Received unexpected value\")",
                  i, eg->id, v->typename_[0] ? v->typename_ : "a value without a type");
  json_error_t jerr;
  json_t *o = json_loadb((const char *)v->value.data, v->value.len, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return reject(a, "egress record %zu to %s: the EgressRecord is not a JSON object (%s)", i,
                  eg->id, o ? "another JSON value" : jerr.text);
  }
  const char *key;
  json_t *val;
  json_object_foreach(o, key, val) {
    if (strcmp(key, "topic") != 0 && strcmp(key, "payload") != 0) {
      int rc = reject(a, "egress record %zu to %s: unknown field '%s' in the EgressRecord "
                      "(only topic and payload; Flink's JSON reader fails on it too)",
                      i, eg->id, key);
      json_decref(o);
      return rc;
    }
  }
  char *topic = json_scalar_text(json_object_get(o, "topic"));
  char *payload = json_scalar_text(json_object_get(o, "payload"));
  json_decref(o);
  bool listed = false;
  for (size_t t = 0; topic && t < eg->n_topics; t++)
    if (strcmp(eg->topics[t], topic) == 0) listed = true;
  int rc = 0;
  if (!listed)
    rc = reject(a, "egress record %zu to %s: topic %s is not in the egress's topics in "
                "module.yaml (Flink: \"Message was targeted to unknown topic %s.\")",
                i, eg->id, topic ? topic : "(none)", topic ? topic : "null");
  else if (!payload)
    rc = reject(a, "egress record %zu to %s: the EgressRecord has no payload string (Flink "
                "fails on a null payload)", i, eg->id);
  else if (egress_rec_set(out, topic, "", (const uint8_t *)payload, strlen(payload)) != 0)
    rc = reject(a, "out of memory");
  free(topic);
  free(payload);
  return rc;
}

/*
 * Decodes egress message i as its egress takes it: a Kafka egress only
 * KafkaProducerRecords, a Kinesis egress only KinesisEgressRecords (as
 * Flink's GenericKafkaEgressSerializer / GenericKinesisEgressSerializer,
 * with their messages), the playground egress only EgressRecords. The
 * reserved SFL_REPLY_EGRESS takes anything (Kafka and Kinesis records are
 * unpacked). -1 with the reason in a->last_error.
 */
static int egress_decode(sfl_engine *e, addr *a, size_t i,
                         const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *m,
                         egress_rec *out) {
  memset(out, 0, sizeof(*out));
  static const pb_tv none = IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  const pb_tv *v = m->argument ? m->argument : &none;
  const sfl_egress *eg = egress_find(e->cfg, m->egress_namespace, m->egress_type);
  bool is_kafka = strcmp(v->typename_, SF_TYPENAME_KAFKA_RECORD) == 0;
  bool is_kinesis = strcmp(v->typename_, SF_TYPENAME_KINESIS_RECORD) == 0;
  if (!eg) {
    /* The reserved egress (engine.h) always exists: the HTTP front reads
     * entity Replies from it. */
    if (!is_reply_egress(m->egress_namespace, m->egress_type))
      return reject(a, "egress record to %s/%s: no such egress in the module",
                    m->egress_namespace, m->egress_type);
    if (is_kafka) return decode_kafka(a, i, v, out);
    if (is_kinesis) return decode_kinesis(a, i, v, out);
    return egress_rec_set(out, "", "", v->value.data, v->value.len) == 0
               ? 0 : reject(a, "out of memory");
  }
  switch (eg->kind) {
  case SFL_KAFKA:
    if (!is_kafka)
      return reject(a, "egress record %zu to %s (a Kafka egress) has type %s: The generic Kafka "
                    "egress expects only messages of type " SFL_JAVA_KAFKA_RECORD
                    " (typename " SF_TYPENAME_KAFKA_RECORD ")",
                    i, eg->id, v->typename_[0] ? v->typename_ : "(none)");
    return decode_kafka(a, i, v, out);
  case SFL_KINESIS:
    if (!is_kinesis)
      return reject(a, "egress record %zu to %s (a Kinesis egress) has type %s: The generic "
                    "Kinesis egress expects only messages of type " SFL_JAVA_KINESIS_RECORD
                    " (typename " SF_TYPENAME_KINESIS_RECORD ")",
                    i, eg->id, v->typename_[0] ? v->typename_ : "(none)");
    return decode_kinesis(a, i, v, out);
  case SFL_PLAYGROUND:
    return decode_playground(a, i, eg, v, out);
  }
  return reject(a, "egress record %zu: unknown egress kind", i);
}

/*
 * Whether the token of delayed entry i of a reply is pending when entry i
 * is applied. Flink applies a reply's delayed entries in order
 * (RequestReplyFunction -> DelaySink), so the last earlier entry of this
 * reply with the same token decides (a cancel clears it, a send sets it);
 * without one, the token table as it stands.
 */
static bool token_pending(sfl_engine *e, const addr *a, const pb_resp *r, size_t i) {
  const char *tok = r->delayed_invocations[i]->cancellation_token;
  for (size_t j = i; j-- > 0;) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *o =
        r->delayed_invocations[j];
    if (strcmp(o->cancellation_token, tok) == 0) return !o->is_cancellation_request;
  }
  char *k = token_key(a->id, tok);
  delayed *prev = k ? sfl_map_get(&e->tokens, k) : NULL;
  free(k);
  return prev && !prev->cancelled;
}

/* Checks the whole InvocationResponse before anything is applied. */
static int validate_result(sfl_engine *e, addr *a, const pb_resp *r) {
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    const pb_addr *t = r->outgoing_messages[i]->target;
    if (!t) return reject(a, "outgoing message %zu has no target", i);
    char *tn = sfl_strfmt("%s/%s", t->namespace_, t->type);
    fn_type *f = tn && valid_typename(tn) ? fn_get(e, tn) : NULL;
    bool served = f && f->ep;
    int rc = served ? 0 : reject(a, "outgoing message to %s/%s: no endpoint in the module serves that function type",
                                 t->namespace_, t->type);
    free(tn);
    if (rc) return rc;
  }
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
        r->delayed_invocations[i];
    if (d->is_cancellation_request) {
      if (!d->cancellation_token[0])
        return reject(a, "cancellation request without a token");
      continue;
    }
    if (d->delay_in_ms < 0) return reject(a, "delayed message with negative delay %lld",
                                          (long long)d->delay_in_ms);
    if (!d->target) return reject(a, "delayed message %zu has no target", i);
    char *tn = sfl_strfmt("%s/%s", d->target->namespace_, d->target->type);
    fn_type *f = tn && valid_typename(tn) ? fn_get(e, tn) : NULL;
    bool served = f && f->ep;
    int rc = served ? 0 : reject(a, "delayed message to %s: no endpoint in the module serves that function type",
                                 tn ? tn : "?");
    free(tn);
    if (rc) return rc;
    if (d->cancellation_token[0] && token_pending(e, a, r, i))
      return reject(a, "delayed message with cancellation token '%s' while one with that token "
                    "is still pending (Flink fails the job here too)", d->cancellation_token);
  }
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    egress_rec rec;
    if (egress_decode(e, a, i, r->outgoing_egresses[i], &rec) != 0) return -1;
    egress_rec_free(&rec);
  }
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *m =
        r->state_mutations[i];
    const spec *sp = spec_find(a->fn, m->state_name);
    if (!sp) return reject(a, "mutation of state '%s', which is not registered for %s",
                           m->state_name, a->fn->typename);
    if (m->mutation_type == 1) {
      if (!m->state_value) return reject(a, "MODIFY of state '%s' without a value", m->state_name);
      if (strcmp(m->state_value->typename_, sp->typename) != 0)
        return reject(a, "MODIFY of state '%s' with type %s; it is registered as %s",
                      m->state_name, m->state_value->typename_, sp->typename);
    } else if (m->mutation_type != 0) {
      return reject(a, "state '%s': unknown mutation type %d", m->state_name,
                    (int)m->mutation_type);
    }
  }
  return 0;
}

/* Applies a validated result: messages, delayed, egress, mutations. */
static void apply_result(sfl_engine *e, addr *a, const pb_resp *r) {
  for (size_t i = 0; i < r->n_outgoing_messages; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__Invocation *m = r->outgoing_messages[i];
    char *tn = sfl_strfmt("%s/%s", m->target->namespace_, m->target->type);
    addr *to = tn ? addr_get(e, fn_get(e, tn), m->target->id) : NULL;
    free(tn);
    const pb_tv *v = m->argument;
    size_t len;
    uint8_t *inv = make_invocation(a, v ? v->typename_ : "", v && v->has_value,
                                   v ? v->value.data : NULL, v ? v->value.len : 0, &len);
    if (to && inv) {
      deliver(e, to, inv, len);
      e->c_routed++;
    } else {
      free(inv);
    }
  }
  int64_t now = sfl_now_ms();
  for (size_t i = 0; i < r->n_delayed_invocations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
        r->delayed_invocations[i];
    if (d->is_cancellation_request) {
      char *k = token_key(a->id, d->cancellation_token);
      delayed *prev = k ? sfl_map_del(&e->tokens, k) : NULL;
      free(k);
      if (prev) {
        prev->cancelled = true; /* the heap drops it when it comes up */
        e->n_cancelled++;
        STORE(sfl_store_delayed_del(e->store, prev->seq));
      }
      continue;
    }
    delayed *dl = calloc(1, sizeof(*dl));
    if (!dl) continue;
    const pb_tv *v = d->argument;
    dl->seq = ++e->seq;
    dl->fire_at = now + d->delay_in_ms;
    dl->target = sfl_strfmt("%s/%s/%s", d->target->namespace_, d->target->type, d->target->id);
    dl->owner = strdup(a->id);
    dl->token = strdup(d->cancellation_token);
    dl->inv = make_invocation(a, v ? v->typename_ : "", v && v->has_value,
                              v ? v->value.data : NULL, v ? v->value.len : 0, &dl->len);
    if (!dl->target || !dl->owner || !dl->token || !dl->inv) {
      delayed_free(dl);
      continue;
    }
    STORE(sfl_store_delayed_put(e->store, dl->seq, dl->fire_at, dl->target, dl->owner,
                                dl->token, dl->inv, dl->len));
    delayed_add(e, dl);
  }
  for (size_t i = 0; i < r->n_outgoing_egresses; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *m = r->outgoing_egresses[i];
    const pb_tv *v = m->argument;
    egress_rec er;
    if (egress_decode(e, a, i, m, &er) != 0) continue; /* validated: cannot happen */
    record *rec = calloc(1, sizeof(*rec));
    if (!rec) {
      egress_rec_free(&er);
      continue;
    }
    rec->r.seq = ++e->seq;
    rec->r.egress_id = sfl_strfmt("%s/%s", m->egress_namespace, m->egress_type);
    rec->r.typename = strdup(v ? v->typename_ : "");
    rec->r.topic = er.topic;
    rec->r.key = er.key;
    rec->r.value = er.value;
    rec->r.len = er.len;
    if (!rec->r.egress_id || !rec->r.typename || !rec->r.topic || !rec->r.key || !rec->r.value) {
      sfl_record_free(&rec->r);
      free(rec);
      continue;
    }
    record_add(e, rec, true);
    e->c_egress++;
  }
  for (size_t i = 0; i < r->n_state_mutations; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *m =
        r->state_mutations[i];
    const spec *sp = spec_find(a->fn, m->state_name);
    if (m->mutation_type == 0) {
      state_remove(e, a, m->state_name);
    } else {
      int64_t exp = sp->mode ? now + sp->ms : 0;
      state_set(e, a, m->state_name, sp->typename, m->state_value->value.data,
                m->state_value->value.len, exp, true);
    }
  }
}

/* Registers the specs a function asked for. -1 when one conflicts. */
static int register_specs(addr *a,
                          const Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext *inc) {
  fn_type *f = a->fn;
  for (size_t i = 0; i < inc->n_missing_values; i++) {
    const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueSpec *ps =
        inc->missing_values[i];
    const char *tn = ps->type_typename[0] ? ps->type_typename : "io.statefun.types/unset";
    if (!ps->state_name[0]) return reject(a, "missing-state reply with an empty state name");
    if (!valid_typename(tn))
      return reject(a, "state '%s': type '%s' is not namespace/name", ps->state_name, tn);
    const spec *old = spec_find(f, ps->state_name);
    if (old) {
      /* As in Flink: a registered spec never changes; another type fails. */
      if (strcmp(old->typename, tn) != 0)
        return reject(a, "state '%s' of %s is registered as %s; the function now declares %s",
                      ps->state_name, f->typename, old->typename, tn);
      continue;
    }
    spec *ns = realloc(f->specs, (f->n_specs + 1) * sizeof(*ns));
    if (!ns) return reject(a, "out of memory");
    f->specs = ns;
    spec *s = &f->specs[f->n_specs++];
    s->name = strdup(ps->state_name);
    s->typename = strdup(tn);
    s->mode = ps->expiration_spec ? (int)ps->expiration_spec->mode : 0;
    s->ms = ps->expiration_spec ? ps->expiration_spec->expire_after_millis : 0;
    if (s->mode && s->ms <= 0) s->mode = 0;
  }
  return 0;
}

/* Removes the batch that was in flight from the mailbox. */
static void consume_batch(sfl_engine *e, addr *a) {
  for (size_t i = 0; i < a->inflight && a->head; i++) {
    msg *m = a->head;
    a->head = m->next;
    if (!a->head) a->tail = NULL;
    STORE(sfl_store_mailbox_del(e->store, m->seq));
    free(m->inv);
    free(m);
    a->queued--;
    e->queued--;
  }
  e->c_invocations += a->inflight;
  e->c_batches++;
  a->batches++;
  if (a->inflight > e->c_max_batch) e->c_max_batch = a->inflight;
  a->inflight = 0;
  pthread_cond_broadcast(&e->space_cv);
}

/* A batch that cannot succeed by retrying (the reply is well-formed but
 * breaks a rule, or a spec conflicts): reported at once, kept queued, and
 * tried again after the retry pause, as Flink would after a restart. */
static void fail_batch(sfl_engine *e, addr *a) {
  a->failures++;
  e->c_final_failures++;
  logf_("error", "%s: batch of %zu message(s) rejected: %s; the messages stay queued, "
        "retrying in %lld ms",
        a->key, a->inflight, a->last_error, (long long)e->opts.retry_pause_ms);
  a->inflight = 0;
  a->retry_at_ms = 0;
  a->parked_until_ms = sfl_mono_ms() + e->opts.retry_pause_ms;
  timed_push(e, a);
}

static void schedule_retry(sfl_engine *e, addr *a) {
  int64_t now = sfl_mono_ms();
  int64_t budget = a->fn->ep->call_timeout_ms > 0 ? a->fn->ep->call_timeout_ms : 120000;
  /* First backoff: 2 ms (NettyRequest), 10 ms for okhttp (RetryingCallback). */
  int64_t backoff = a->fn->ep->transport == SFL_TRANSPORT_OKHTTP ? 10 : 2;
  for (int i = 1; i < a->attempts && backoff < MAX_BACKOFF_MS; i++) backoff *= 2;
  if (backoff > MAX_BACKOFF_MS) backoff = MAX_BACKOFF_MS;
  a->failures++;
  if (now + backoff - a->first_attempt_ms >= budget) {
    e->c_final_failures++;
    logf_("error", "%s: batch of %zu message(s) failed after %d attempt(s) in %lld ms: %s; "
          "the messages stay queued, retrying in %lld ms",
          a->key, a->inflight, a->attempts, (long long)(now - a->first_attempt_ms),
          a->last_error, (long long)e->opts.retry_pause_ms);
    a->inflight = 0;
    a->parked_until_ms = now + e->opts.retry_pause_ms;
    a->retry_at_ms = 0;
    timed_push(e, a);
    return;
  }
  e->c_retries++;
  if (e->opts.verbose)
    logf_("info", "%s: attempt %d failed (%s), retrying in %lld ms", a->key, a->attempts,
          a->last_error, (long long)backoff);
  a->retry_at_ms = now + backoff;
  timed_push(e, a);
}

/* ---- reply checks as Flink's transports make them ------------------------------------ */

/* [p, end) without the characters Java's trim() and Netty's AsciiString.trim
 * drop at both ends (every char <= ' '). */
static void trim_span(const char **p, const char **end) {
  while (*p < *end && (unsigned char)**p <= ' ') (*p)++;
  while (*end > *p && (unsigned char)(*end)[-1] <= ' ') (*end)--;
}

static bool span_is(const char *p, const char *end, const char *want, bool nocase) {
  size_t n = strlen(want);
  if ((size_t)(end - p) != n) return false;
  return nocase ? strncasecmp(p, want, n) == 0 : strncmp(p, want, n) == 0;
}

bool sfl_reply_content_type_ok(sfl_transport transport, const char *const *values, size_t n) {
  static const char octet[] = "application/octet-stream";
  if (transport == SFL_TRANSPORT_OKHTTP) {
    if (n == 0 || !values[n - 1]) return false;
    const char *p = values[n - 1], *end = p + strlen(p);
    trim_span(&p, &end);
    return span_is(p, end, octet, false);
  }
  for (size_t i = 0; i < n; i++) {
    for (const char *p = values[i]; p;) {
      const char *comma = strchr(p, ',');
      const char *q = p, *end = comma ? comma : p + strlen(p);
      trim_span(&q, &end);
      if (span_is(q, end, octet, true)) return true;
      p = comma ? comma + 1 : NULL;
    }
  }
  return false;
}

bool sfl_okhttp_retries_status(long status) {
  return status == 408 || status == 409 || status == 420 || status == 429 || status == 499 ||
         status >= 500;
}

/* Every Content-Type header of the reply (libcurl's header API), checked as
 * the endpoint's transport checks it; the last value goes to *shown. */
static bool reply_content_type_ok(CURL *c, sfl_transport t, char *shown, size_t shown_len) {
  enum { MAX_CT = 16 };
  const char *vals[MAX_CT];
  size_t n = 0, amount = 1;
  shown[0] = '\0';
  for (size_t i = 0; i < amount && n < MAX_CT; i++) {
    struct curl_header *h = NULL;
    if (curl_easy_header(c, "Content-Type", i, CURLH_HEADER, -1, &h) != CURLHE_OK) break;
    amount = h->amount;
    vals[n++] = h->value;
  }
  if (n) snprintf(shown, shown_len, "%s", vals[n - 1]);
  return sfl_reply_content_type_ok(t, vals, n);
}

static void on_done(sfl_engine *e, CURL *c, CURLcode rc) {
  addr *a = NULL;
  curl_easy_getinfo(c, CURLINFO_PRIVATE, (char **)&a);
  long status = 0;
  char ctype[256];
  curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
  bool okhttp = a->fn->ep->transport == SFL_TRANSPORT_OKHTTP;
  bool octet = rc == CURLE_OK && reply_content_type_ok(c, a->fn->ep->transport, ctype,
                                                       sizeof ctype);
  curl_multi_remove_handle(e->multi, c);
  a->easy = NULL;
  e->inflight--;

  /* The async transport retries every failure within the call timeout; the
   * okhttp one only I/O failures and some statuses (RetryingCallback), and
   * fails at once on other statuses, a wrong Content-Type or a bad body. */
  pb_from *from = NULL;
  bool final = false;
  if (rc != CURLE_OK) {
    snprintf(a->last_error, sizeof(a->last_error), "%s%s", curl_easy_strerror(rc),
             a->reply_too_large ? " (reply over payload_max_bytes)" : "");
  } else if (status < 200 || status > 299) {
    final = okhttp && !sfl_okhttp_retries_status(status);
    snprintf(a->last_error, sizeof(a->last_error), "HTTP %ld from %s%s: %.*s", status, a->fn->url,
             final ? " (the okhttp transport retries only 408, 409, 420, 429, 499 and 5xx)" : "",
             (int)(a->reply.len > 200 ? 200 : a->reply.len),
             a->reply.p ? (const char *)a->reply.p : "");
  } else if (!octet) {
    final = okhttp;
    snprintf(a->last_error, sizeof(a->last_error),
             "reply Content-Type is '%s', not %s", ctype,
             okhttp ? "exactly application/octet-stream (okhttp transport)"
                    : "application/octet-stream");
  } else if (!(from = io__statefun__sdk__reqreply__from_function__unpack(
                   NULL, a->reply.len, a->reply.p ? a->reply.p : (const uint8_t *)""))) {
    final = okhttp;
    snprintf(a->last_error, sizeof(a->last_error), "reply is not a valid FromFunction (%zu bytes)",
             a->reply.len);
  }
  curl_easy_cleanup(c);
  if (!from) {
    if (final)
      fail_batch(e, a);
    else
      schedule_retry(e, a);
    return;
  }

  if (from->response_case ==
      IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT) {
    e->c_missing_state++;
    int ok = register_specs(a, from->incomplete_invocation_context);
    io__statefun__sdk__reqreply__from_function__free_unpacked(from, NULL);
    if (ok != 0 || build_request(e, a, true) != 0) {
      fail_batch(e, a); /* retrying cannot fix a spec conflict */
      return;
    }
    if (e->opts.verbose) logf_("info", "%s: registered state, resending the batch", a->key);
    start_transfer(e, a); /* the same batch, now with its state */
    return;
  }
  const pb_resp *r = from->response_case ==
                             IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT
                         ? from->invocation_result
                         : NULL;
  if (r && validate_result(e, a, r) != 0) {
    io__statefun__sdk__reqreply__from_function__free_unpacked(from, NULL);
    fail_batch(e, a);
    return;
  }
  txn_begin(e);
  if (r) apply_result(e, a, r);
  if (e->opts.verbose)
    logf_("info", "%s: batch of %zu done (%zu mutation(s), %zu message(s), %zu egress)", a->key,
          a->inflight, r ? r->n_state_mutations : 0, r ? r->n_outgoing_messages : 0,
          r ? r->n_outgoing_egresses : 0);
  consume_batch(e, a);
  io__statefun__sdk__reqreply__from_function__free_unpacked(from, NULL);
  a->last_error[0] = '\0';
  a->attempts = 0;
  if (a->queued) ready_push(e, a);
}

/* ---- loading the store ------------------------------------------------------------ */

static int load_mailbox(void *ctx, uint64_t seq, const char *key, const uint8_t *inv,
                        size_t len) {
  sfl_engine *e = ctx;
  addr *a = addr_by_key(e, key);
  uint8_t *copy = malloc(len ? len : 1);
  if (!a || !copy) {
    free(copy);
    return a ? -1 : 0;
  }
  if (len) memcpy(copy, inv, len);
  mailbox_append(e, a, seq, copy, len);
  return 0;
}

static int load_state(void *ctx, const char *key, const char *name, const char *tn,
                      const uint8_t *v, size_t len, int64_t exp) {
  sfl_engine *e = ctx;
  addr *a = addr_by_key(e, key);
  if (a) state_set(e, a, name, tn, v, len, exp, false);
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
    delayed_free(d);
    return -1;
  }
  if (len) memcpy(d->inv, inv, len);
  d->len = len;
  delayed_add(e, d);
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
  record_add(e, rec, false);
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
  e->cfg = opts->config;
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->egress_cv, NULL);
  pthread_cond_init(&e->space_cv, NULL);
  pthread_cond_init(&e->commit_cv, NULL);
  e->multi = curl_multi_init();
  curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 1024L);
  e->headers = curl_slist_append(NULL, "Content-Type: application/octet-stream");
  e->headers = curl_slist_append(e->headers, "Accept: application/octet-stream");
  e->headers = curl_slist_append(e->headers, "User-Agent: sf-local");
  e->headers = curl_slist_append(e->headers, "Expect:");
  if (!e->multi || !e->headers) {
    snprintf(err, err_len, "libcurl initialisation failed");
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
  for (size_t k = 0; k < e->n_heap; k++) delayed_free(e->heap[k]);
  free(e->heap);
  sfl_map_free(&e->addrs);
  sfl_map_free(&e->fns);
  sfl_map_free(&e->topics);
  sfl_map_free(&e->tokens);
  sfl_map_free(&e->dedup);
  if (e->multi) curl_multi_cleanup(e->multi);
  curl_slist_free_all(e->headers);
  if (e->store) sfl_store_close(e->store);
  pthread_mutex_destroy(&e->mu);
  pthread_cond_destroy(&e->egress_cv);
  pthread_cond_destroy(&e->space_cv);
  pthread_cond_destroy(&e->commit_cv);
  free(e);
}

void sfl_engine_stop(sfl_engine *e) {
  e->stop = 1;
  curl_multi_wakeup(e->multi);
  pthread_mutex_lock(&e->mu);
  pthread_cond_broadcast(&e->egress_cv);
  pthread_cond_broadcast(&e->space_cv);
  pthread_cond_broadcast(&e->commit_cv);
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
  return t;
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
      start_transfer(e, a); /* the same request again (a->body) */
    } else if (a->parked_until_ms && a->parked_until_ms <= now) {
      if (a->queued && !a->easy) ready_push(e, a); /* dispatch clears it */
    }
    if (!a->retry_at_ms && !a->parked_until_ms) {
      *pp = a->timed_next;
      a->in_timed = false;
      a->timed_next = NULL;
    } else if (a->parked_until_ms && a->parked_until_ms <= now && !a->retry_at_ms) {
      /* due: dispatch() will clear parked_until_ms; drop it from the list */
      *pp = a->timed_next;
      a->in_timed = false;
      a->timed_next = NULL;
    } else {
      pp = &a->timed_next;
    }
  }
}

int sfl_engine_run(sfl_engine *e) {
  pthread_mutex_lock(&e->mu);
  /* Whatever was loaded from the store goes out first. */
  while (!e->stop) {
    txn_begin(e);
    fire_due(e, sfl_now_ms());
    wake_timers(e);
    while (e->ready_head) {
      addr *a = e->ready_head;
      e->ready_head = a->ready_next;
      if (!e->ready_head) e->ready_tail = NULL;
      a->in_ready = false;
      dispatch(e, a);
    }
    if (txn_commit(e) != 0) {
      pthread_mutex_unlock(&e->mu);
      return 1;
    }
    int64_t now = sfl_mono_ms();
    if (now - e->stats_last_ms >= (e->opts.stats_interval_ms > 0 ? e->opts.stats_interval_ms : 1000))
      print_stats(e, now);
    long timeout = next_timeout(e);
    pthread_mutex_unlock(&e->mu);
    /* Network I/O without the lock: transfers only touch their own
     * address's request and reply buffers, which only this thread uses
     * while a request is in flight. */
    if (timeout > 0) curl_multi_poll(e->multi, NULL, 0, (int)timeout, NULL);
    int running = 0;
    curl_multi_perform(e->multi, &running);
    pthread_mutex_lock(&e->mu);
    CURLMsg *m;
    int left;
    txn_begin(e);
    while ((m = curl_multi_info_read(e->multi, &left)))
      if (m->msg == CURLMSG_DONE) on_done(e, m->easy_handle, m->data.result);
    if (txn_commit(e) != 0) {
      pthread_mutex_unlock(&e->mu);
      return 1;
    }
  }
  int rc = txn_commit(e) != 0; /* what ingress threads added meanwhile */
  pthread_cond_broadcast(&e->commit_cv);
  pthread_mutex_unlock(&e->mu);
  return rc;
}

/* ---- thread-safe entry points ---------------------------------------------------------- */

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
                                 const char *value_typename, int64_t wait_ms, addr **out,
                                 char *err, size_t err_len) {
  if (!valid_typename(fn_typename)) {
    snprintf(err, err_len, "'%s' is not a function type (namespace/name)", fn_typename);
    return SFL_ERR_BAD_REQUEST;
  }
  if (!valid_typename(value_typename)) {
    snprintf(err, err_len, "'%s' is not a typename (namespace/name)", value_typename);
    return SFL_ERR_BAD_REQUEST;
  }
  if (!id || !*id) {
    snprintf(err, err_len, "empty id");
    return SFL_ERR_BAD_REQUEST;
  }
  fn_type *f = fn_get(e, fn_typename);
  if (!f || !f->ep) {
    snprintf(err, err_len, "no endpoint in the module serves function type %s", fn_typename);
    return SFL_ERR_NO_FUNCTION;
  }
  addr *a = addr_get(e, f, id);
  if (!a) {
    snprintf(err, err_len, "out of memory");
    return SFL_ERR_STORE;
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
                              const char *idempotency_key, char *err, size_t err_len) {
  txn_begin(e); /* joins the transaction the loop will commit next */
  uint64_t gen = e->txn_gen;
  bool dup = dedup_check(e, idempotency_key) != 0;
  for (size_t i = 0; i < n && !dup; i++) {
    size_t ilen;
    uint8_t *inv = make_invocation(NULL, value_typename, true, value, len, &ilen);
    if (!inv) {
      snprintf(err, err_len, "out of memory");
      return SFL_ERR_STORE;
    }
    deliver(e, targets[i], inv, ilen);
    e->c_ingress++;
  }
  /* Acknowledged only once durable: wait for the loop's group commit. The
   * message may already be on its way to the function meanwhile; its
   * effects commit in the same or a later transaction. */
  if (e->store && wait_committed(e, gen) != 0) {
    snprintf(err, err_len, "durable store: %s",
             e->stop ? "sf-local is stopping" : sfl_store_error(e->store));
    return SFL_ERR_STORE;
  }
  return dup ? SFL_DUPLICATE : SFL_OK;
}

sfl_result sfl_engine_send(sfl_engine *e, const char *fn_typename, const char *id,
                           const char *value_typename, const void *value, size_t len,
                           const char *idempotency_key, int64_t wait_ms, char *err,
                           size_t err_len) {
  pthread_mutex_lock(&e->mu);
  addr *a = NULL;
  sfl_result r = resolve_target(e, fn_typename, id, value_typename, wait_ms, &a, err, err_len);
  if (r == SFL_OK)
    r = deliver_all(e, &a, 1, value_typename, value, len, idempotency_key, err, err_len);
  pthread_mutex_unlock(&e->mu);
  if (r == SFL_OK) curl_multi_wakeup(e->multi);
  return r;
}

sfl_result sfl_engine_send_topic(sfl_engine *e, const char *topic, const char *key,
                                 const void *value, size_t len, const char *idempotency_key,
                                 int64_t wait_ms, char *err, size_t err_len) {
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
    r = resolve_target(e, route->targets[i], key, route->value_type, wait_ms, &targets[i], err,
                       err_len);
  if (r == SFL_OK)
    r = deliver_all(e, targets, route->n_targets, route->value_type, value, len,
                    idempotency_key, err, err_len);
  pthread_mutex_unlock(&e->mu);
  free(targets);
  if (r == SFL_OK) curl_multi_wakeup(e->multi);
  return r;
}

static record *pop_record(topic_q *q, const char *egress_id) {
  record **pp = &q->head, *prev = NULL;
  for (; *pp; prev = *pp, pp = &(*pp)->next) {
    if (!egress_id || strcmp((*pp)->r.egress_id, egress_id) == 0) {
      record *r = *pp;
      *pp = r->next;
      if (q->tail == r) q->tail = prev;
      q->n--;
      return r;
    }
  }
  return NULL;
}

sfl_result sfl_engine_egress_pop(sfl_engine *e, const char *egress_id, const char *topic,
                                 int64_t wait_ms, sfl_record *out) {
  memset(out, 0, sizeof(*out));
  pthread_mutex_lock(&e->mu);
  int64_t deadline = sfl_mono_ms() + wait_ms;
  for (;;) {
    topic_q *q = sfl_map_get(&e->topics, topic);
    record *r = q ? pop_record(q, egress_id) : NULL;
    if (r) {
      if (e->store) {
        /* The delete joins the loop's next group commit (no fsync per
         * record). A crash before that commit brings the record back:
         * egress reads are at-least-once, never lost. */
        txn_begin(e);
        STORE(sfl_store_egress_del(e->store, r->r.seq));
        curl_multi_wakeup(e->multi);
      }
      e->n_records--;
      pthread_mutex_unlock(&e->mu);
      *out = r->r;
      free(r);
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

bool sfl_engine_knows_topic(sfl_engine *e, const char *topic) {
  pthread_mutex_lock(&e->mu);
  bool known = sfl_map_get(&e->topics, topic) != NULL;
  pthread_mutex_unlock(&e->mu);
  return known;
}

/* A JSON rendering of a typed value: decoded when built-in. */
static json_t *value_json(const char *tn, const uint8_t *v, size_t len) {
  json_t *o = json_object();
  json_object_set_new(o, "typename", json_string(tn));
  char *b64 = sfb_base64_encode(v, len);
  json_object_set_new(o, "base64", json_string(b64 ? b64 : ""));
  free(b64);
  json_t *dec = NULL;
  if (strcmp(tn, SF_TYPENAME_INT) == 0) {
    int32_t x;
    if (sf_decode_int(v, len, &x) == SF_OK) dec = json_integer(x);
  } else if (strcmp(tn, SF_TYPENAME_LONG) == 0) {
    int64_t x;
    if (sf_decode_long(v, len, &x) == SF_OK) dec = json_integer(x);
  } else if (strcmp(tn, SF_TYPENAME_BOOL) == 0) {
    bool x;
    if (sf_decode_bool(v, len, &x) == SF_OK) dec = json_boolean(x);
  } else if (strcmp(tn, SF_TYPENAME_FLOAT) == 0) {
    float x;
    if (sf_decode_float(v, len, &x) == SF_OK) dec = json_real(x);
  } else if (strcmp(tn, SF_TYPENAME_DOUBLE) == 0) {
    double x;
    if (sf_decode_double(v, len, &x) == SF_OK) dec = json_real(x);
  } else if (strcmp(tn, SF_TYPENAME_STRING) == 0) {
    const char *s;
    size_t n;
    if (sf_decode_string(v, len, &s, &n) == SF_OK) dec = json_stringn(s, n);
  }
  if (dec) json_object_set_new(o, "value", dec);
  return o;
}

char *sfl_engine_describe_address(sfl_engine *e, const char *fn_typename, const char *id) {
  char *key = sfl_strfmt("%s/%s", fn_typename, id);
  if (!key) return NULL;
  pthread_mutex_lock(&e->mu);
  addr *a = sfl_map_get(&e->addrs, key);
  free(key);
  if (!a) {
    pthread_mutex_unlock(&e->mu);
    return NULL;
  }
  json_t *o = json_object();
  json_object_set_new(o, "address", json_string(a->key));
  json_t *st = json_object();
  int64_t now = sfl_now_ms();
  for (state_val *s = a->state; s; s = s->next) {
    if (s->expire_at && now >= s->expire_at) continue;
    json_t *v = value_json(s->typename, s->value, s->len);
    if (s->expire_at) json_object_set_new(v, "expires_in_ms", json_integer(s->expire_at - now));
    json_object_set_new(st, s->name, v);
  }
  json_object_set_new(o, "state", st);
  json_t *mb = json_array();
  size_t n = 0;
  for (msg *m = a->head; m && n < 100; m = m->next, n++) {
    Io__Statefun__Sdk__Reqreply__ToFunction__Invocation *inv =
        (Io__Statefun__Sdk__Reqreply__ToFunction__Invocation *)protobuf_c_message_unpack(
            &io__statefun__sdk__reqreply__to_function__invocation__descriptor, NULL, m->len, m->inv);
    json_t *j = inv && inv->argument
                    ? value_json(inv->argument->typename_, inv->argument->value.data,
                                 inv->argument->value.len)
                    : json_object();
    json_object_set_new(j, "seq", json_integer((json_int_t)m->seq));
    if (inv && inv->caller)
      json_object_set_new(j, "caller", json_pack("s+s+s", inv->caller->namespace_, "/",
                                                 inv->caller->type));
    if (inv) protobuf_c_message_free_unpacked(&inv->base, NULL);
    json_array_append_new(mb, j);
  }
  json_object_set_new(o, "mailbox", mb);
  json_object_set_new(o, "queued", json_integer((json_int_t)a->queued));
  json_object_set_new(o, "in_flight", json_integer((json_int_t)a->inflight));
  json_object_set_new(o, "batches", json_integer((json_int_t)a->batches));
  json_object_set_new(o, "failures", json_integer((json_int_t)a->failures));
  if (a->last_error[0]) json_object_set_new(o, "last_error", json_string(a->last_error));
  pthread_mutex_unlock(&e->mu);
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(o);
  return s;
}

char *sfl_engine_metrics(sfl_engine *e) {
  pthread_mutex_lock(&e->mu);
  char *s = sfl_strfmt(
      "# HELP sflocal_ingress_messages_total Messages accepted from the ingress.\n"
      "# TYPE sflocal_ingress_messages_total counter\nsflocal_ingress_messages_total %llu\n"
      "# HELP sflocal_invocations_total Invocations answered by functions.\n"
      "# TYPE sflocal_invocations_total counter\nsflocal_invocations_total %llu\n"
      "# TYPE sflocal_batches_total counter\nsflocal_batches_total %llu\n"
      "# HELP sflocal_batch_size_max Largest batch sent.\n"
      "# TYPE sflocal_batch_size_max gauge\nsflocal_batch_size_max %llu\n"
      "# TYPE sflocal_retries_total counter\nsflocal_retries_total %llu\n"
      "# TYPE sflocal_failed_batches_total counter\nsflocal_failed_batches_total %llu\n"
      "# TYPE sflocal_missing_state_total counter\nsflocal_missing_state_total %llu\n"
      "# TYPE sflocal_routed_messages_total counter\nsflocal_routed_messages_total %llu\n"
      "# TYPE sflocal_delayed_fired_total counter\nsflocal_delayed_fired_total %llu\n"
      "# TYPE sflocal_egress_records_total counter\nsflocal_egress_records_total %llu\n"
      "# TYPE sflocal_messages_per_second gauge\nsflocal_messages_per_second %.1f\n"
      "# TYPE sflocal_in_flight gauge\nsflocal_in_flight %zu\n"
      "# TYPE sflocal_queued gauge\nsflocal_queued %zu\n"
      "# TYPE sflocal_delayed_pending gauge\nsflocal_delayed_pending %zu\n"
      "# TYPE sflocal_egress_unread gauge\nsflocal_egress_unread %zu\n"
      "# TYPE sflocal_addresses gauge\nsflocal_addresses %zu\n",
      (unsigned long long)e->c_ingress, (unsigned long long)e->c_invocations,
      (unsigned long long)e->c_batches, (unsigned long long)e->c_max_batch,
      (unsigned long long)e->c_retries, (unsigned long long)e->c_final_failures,
      (unsigned long long)e->c_missing_state, (unsigned long long)e->c_routed,
      (unsigned long long)e->c_delayed_fired, (unsigned long long)e->c_egress, e->rate,
      e->inflight, e->queued, e->n_heap - e->n_cancelled, e->n_records, e->addrs.n);
  pthread_mutex_unlock(&e->mu);
  return s;
}

char *sfl_engine_summary(sfl_engine *e) {
  pthread_mutex_lock(&e->mu);
  json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b}", "addresses",
                        (json_int_t)e->addrs.n, "queued", (json_int_t)e->queued, "in_flight",
                        (json_int_t)e->inflight, "delayed", (json_int_t)(e->n_heap - e->n_cancelled),
                        "egress_unread", (json_int_t)e->n_records, "invocations",
                        (json_int_t)e->c_invocations, "batches", (json_int_t)e->c_batches,
                        "failed_batches", (json_int_t)e->c_final_failures, "messages_per_second",
                        e->rate, "durable", e->store != NULL);
  pthread_mutex_unlock(&e->mu);
  char *s = json_dumps(o, JSON_INDENT(2));
  json_decref(o);
  return s;
}
