/*
 * engine_impl.h - what the files of sf-local's engine share (private to
 * runtime/src/engine*.c; the API is engine.h): the engine's data (function
 * types, addresses with their mailboxes and state, delayed messages,
 * egress records) and the functions one part calls in another.
 *
 *   engine.c          lifecycle, loading the store, the loop
 *   engine_state.c    function types, addresses, mailboxes, state, the
 *                     store transaction, the log
 *   engine_delayed.c  delayed messages (a min-heap on fire_at)
 *   engine_request.c  building batches, the HTTP transfers, the reply
 *                     checks of Flink's transports, a finished transfer
 *   engine_http.c     the HTTP/1.1 client of http:// endpoints (https://
 *                     ones go through libcurl)
 *   engine_reply.c    a reply validated whole, then applied; retries
 *   engine_egress.c   egress records: what each kind of egress accepts
 *   engine_api.c      the thread-safe entry points the front calls
 *   engine_views.c    the address view, /metrics and the summary
 *   engine_trace.c    sf-local's spans of the hops and HTTP attempts
 *
 * Threads: the loop and the front's threads share the data under one
 * mutex (sfl_engine.mu); every function here expects it held.
 */
#ifndef SF_LOCAL_ENGINE_IMPL_H
#define SF_LOCAL_ENGINE_IMPL_H

#include <curl/curl.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>

#include <statefun/statefun.h>

#include "engine.h"
#include "kafka_egress.pb-c.h"
#include "kinesis_egress.pb-c.h"
#include "request_reply.pb-c.h"
#include "store.h"
#include "trace_spans.h"
#include "util.h"

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

typedef struct hpool hpool; /* engine_http.c: a host:port's connections */
typedef struct hconn hconn; /* engine_http.c: one connection */

typedef struct fn_type {
  char *typename;
  char *ns;
  char *name;
  const sfl_endpoint *ep; /* NULL: no endpoint serves it (messages wait) */
  char *url;
  hpool *pool;         /* http:// URLs, once used: connections to its host */
  char *req_head;      /* http:// URLs: the request head up to Content-Length's value */
  size_t req_head_len;
  spec *specs;
  size_t n_specs;
} fn_type;

typedef struct msg {
  uint64_t seq;
  uint8_t *inv; /* serialized ToFunction.Invocation */
  size_t len;
  struct sflt_msg *trace; /* its trace context while tracing (engine_trace.c) */
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

/* The rate limit of the first-failure lines (engine_failures.c): lines in
 * the current one-second window. */
typedef struct eng_ff_limit {
  int64_t window_ms; /* mono; start of the window */
  int lines;
} eng_ff_limit;

typedef struct addr {
  char *key; /* ns/type/id */
  char *id;
  fn_type *fn;
  msg *head, *tail;
  size_t queued;    /* messages in the mailbox, in-flight ones included */
  size_t inflight;  /* the first `inflight` messages form the batch in flight */
  size_t sending;   /* engine_api.c's scratch: messages of the send being checked */
  state_val *state;
  /* the request in flight (on libcurl for https://, else on conn) */
  CURL *easy;
  hconn *conn;
  sfb_buf body;
  sfb_buf reply;
  bool reply_too_large;
  int attempts;
  int64_t first_attempt_ms; /* mono */
  int64_t retry_at_ms;      /* mono; > 0 while waiting to retry */
  int64_t parked_until_ms;  /* mono; > 0 after a final failure */
  char last_error[512];
  int64_t first_failure_logged_ms; /* mono; engine_failures.c's rate limit */
  int64_t first_failure_batch_ms;  /* first_attempt_ms of the batch logged */
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
  uint64_t gen; /* with --data: readable once this transaction is synced */
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
  /* Records whose front notification waits for their sync (--data). */
  struct pending_note *notes;
  size_t n_notes, cap_notes;
  pthread_cond_t commit_cv;
  /* The front's hook (sfl_engine_on_change), called with the lock held
   * whenever a waiting request could go on: an egress record (its egress
   * and topic), space in a backlog, a commit, the stop (NULL, NULL). */
  sfl_change_fn *on_change;
  void *on_change_ctx;
  /* Bytes of queued messages and unread egress records, and their bound
   * (sfl_engine_options.max_queued_bytes): sends beyond it get BUSY. */
  size_t held_bytes;
  size_t max_held_bytes;
  CURLM *multi;
  struct curl_slist *headers;
  sfb_buf rq_scratch[1]; /* build_request's address buffer */
  sf_arena *reply_arena; /* the unpacked reply being handled */
  /* egress records eng_validate_result decoded, for eng_apply_result */
  struct egress_rec *checked;
  size_t n_checked, cap_checked;
  size_t curl_transfers; /* easy handles on multi */
  volatile int stop;
  /* engine_http.c: the loop's epoll set (connections and wakefd), the
   * pools by host:port, busy connections, the loop's send and done lists,
   * the earliest deadline of a busy connection (mono ms). */
  int epfd, wakefd;
  int wake_pending;
  sfl_map pools;
  hconn *http_busy, *http_tosend, *http_done;
  int64_t http_check_ms;

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
  eng_ff_limit ff; /* engine_failures.c: the first-failure lines' rate */
  int64_t stats_last_ms;
  uint64_t stats_last_invocations;
  int64_t trim_last_ms;     /* engine.c: memory last given back when idle */
  uint64_t trim_batches;    /* c_batches then */
  double rate;
};

/* One egress record as sf-local keeps it (malloc'd; eng_egress_rec_free). */
typedef struct egress_rec {
  char *topic;
  char *key;
  uint8_t *value;
  size_t len;
} egress_rec;

/* ---- addresses, mailboxes, state, the store transaction, the log (engine_state.c) */

/* One line on stderr: "sf-local: <level>: ...". */
void eng_log(const char *level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Opens the store transaction of a step (no-op without --data). */
void eng_txn_begin(sfl_engine *e);
/* Commits; on failure the process cannot promise durability any more. */
int eng_txn_commit(sfl_engine *e);
/* Calls the front's change hook (lock held). */
static inline void eng_changed(sfl_engine *e) {
  if (e->on_change) e->on_change(e->on_change_ctx, NULL, NULL);
}

/* Waits (lock held) until transaction `gen` is committed by the loop. */
int eng_wait_committed(sfl_engine *e, uint64_t gen);
/* The function type of a typename, created on first use (NULL: OOM). */
fn_type *eng_fn_get(sfl_engine *e, const char *typename);
/* The address (type, id), created on first use (NULL: OOM). */
addr *eng_addr_get(sfl_engine *e, fn_type *f, const char *id);
/* Splits "ns/type/id" (id may hold '/'). */
addr *eng_addr_by_key(sfl_engine *e, const char *key);
/* Queues an address whose mailbox has something to send. */
void eng_ready_push(sfl_engine *e, addr *a);
/* Puts an address on the timer list (retry_at_ms or parked_until_ms set),
 * so the loop only looks at addresses that wait for a timer. */
void eng_timed_push(sfl_engine *e, addr *a);
/* Appends an invocation (already persisted as `seq`) to a mailbox. */
void eng_mailbox_append(sfl_engine *e, addr *a, uint64_t seq, uint8_t *inv,
                        size_t len);
/* Takes message `m` (after `prev`, NULL: the head) out of a mailbox and
 * the store, and frees it. */
void eng_mailbox_remove(sfl_engine *e, addr *a, msg *m, msg *prev);
/* A new message to an address, persisted. Takes ownership of inv. */
void eng_deliver(sfl_engine *e, addr *a, uint8_t *inv, size_t len);
/* Serialized ToFunction.Invocation{caller?, argument}. malloc'd. */
uint8_t *eng_make_invocation(const addr *caller, const char *typename,
                             bool has_value, const uint8_t *value,
                             size_t len, size_t *out_len);
/* A state value of an address by name, NULL if unset. */
state_val *eng_state_find(addr *a, const char *name);
/* Deletes a state value (and its stored copy). */
void eng_state_remove(sfl_engine *e, addr *a, const char *name);
/* Sets a state value; `persist` writes it to the store too. */
void eng_state_set(sfl_engine *e, addr *a, const char *name,
                   const char *typename, const uint8_t *value, size_t len,
                   int64_t expire_at, bool persist);
/* A registered state spec of a function type by name. */
const spec *eng_spec_find(const fn_type *f, const char *name);
/* Runs a store call (with --data) and logs its failure. */
#define STORE(call)                                                      \
  do {                                                                   \
    if (e->store && (call) != 0)                                         \
      eng_log("error", "store: %s", sfl_store_error(e->store));            \
  } while (0)

/* ---- delayed messages (engine_delayed.c) --------------------------------- */

/* The key of a cancellation token: owner address and token. */
char *eng_token_key(const char *owner, const char *token);
/* Frees a delayed message. */
void eng_delayed_free(delayed *d);
/* Schedules a delayed message (heap and token index). */
void eng_delayed_add(sfl_engine *e, delayed *d);
/* Moves due delayed messages into their mailboxes. */
void eng_fire_due(sfl_engine *e, int64_t now);

/* ---- requests and transports (engine_request.c) -------------------------- */

/* A finished transfer, whichever client made it: a transport failure
 * (error) or a reply (status, every Content-Type value, body in a->reply). */
typedef struct eng_result {
  const char *error;
  long status;
  const char *const *ctype;
  size_t n_ctype;
} eng_result;

/* After a batch: drops an address's request and reply buffers when they
 * grew large (engine.c). */
void eng_shrink_buffers(addr *a);
/* Whether a request is in flight for the address. */
static inline bool eng_in_flight(const addr *a) { return a->easy || a->conn; }
/* Checks a reply as the endpoint's transport does, then applies, resends
 * (missing state), retries or fails the batch. */
void eng_finish_transfer(sfl_engine *e, addr *a, const eng_result *r);

/* Sends the built request of an address on the multi handle. */
void eng_start_transfer(sfl_engine *e, addr *a);
/* Starts the next batch of a ready address, if it can go. */
void eng_dispatch(sfl_engine *e, addr *a);
/* A finished transfer: checks the reply, applies or retries. */
void eng_on_done(sfl_engine *e, CURL *c, CURLcode rc);

/* ---- the HTTP/1.1 client of http:// endpoints (engine_http.c) ------------ */

/* The epoll set and the wake-up eventfd. -1 on failure. */
int eng_http_init(sfl_engine *e);
/* Closes every connection and the pools. */
void eng_http_free(sfl_engine *e);
/* Wakes the loop (any thread; one write while a wake-up is pending). */
void eng_wakeup(sfl_engine *e);
/* (the loop) Takes a wake-up: empties the eventfd, clears the flag. */
void eng_wake_consume(sfl_engine *e);
/* Whether this client serves a function type's URL (http://). */
bool eng_http_serves(const fn_type *f);
/* (lock held) Starts a->body on a connection; `deadline`: the call's
 * (mono ms). -1 with a->last_error when it cannot start. */
int eng_http_start(sfl_engine *e, addr *a, int64_t deadline);
/* ms until the earliest connection deadline, at most t. */
long eng_http_timeout(sfl_engine *e, long t);
/* (lock not held) Sends, waits up to timeout ms, reads, checks deadlines. */
void eng_http_io(sfl_engine *e, long timeout);
/* (lock held) Finishes the transfers eng_http_io completed. */
void eng_http_complete(sfl_engine *e);

/* ---- replies: validation and application (engine_reply.c) ---------------- */

/* Why a reply cannot be accepted, into a->last_error. */
int eng_reject(addr *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* "namespace/name": one slash, neither part empty. */
bool eng_valid_typename(const char *s);
/* Checks the whole InvocationResponse before anything is applied. */
int eng_validate_result(sfl_engine *e, addr *a, const pb_resp *r);
/* Applies a validated result: messages, delayed, egress, mutations. */
void eng_apply_result(sfl_engine *e, addr *a, const pb_resp *r);
/* Registers the specs a function asked for. -1 when one conflicts. */
int eng_register_specs(addr *a,
                       const Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext *inc);
/* Removes the batch that was in flight from the mailbox. */
void eng_consume_batch(sfl_engine *e, addr *a);
/* A batch that cannot succeed by retrying (the reply is well-formed but
 * breaks a rule, or a spec conflicts): reported at once, kept queued, and
 * tried again after the retry pause, as Flink would after a restart. */
void eng_fail_batch(sfl_engine *e, addr *a);
/* Retries the batch after a backoff; past the call timeout, reports it
 * and parks the address for the retry pause. */
void eng_schedule_retry(sfl_engine *e, addr *a);

/* ---- failures a person looks at (engine_failures.c) ---------------------- */

/* Logs a batch's first failed attempt at once (later ones of the same
 * batch are not), rate-limited per address and overall, with where to
 * look and how to drop a message. */
void eng_first_failure(sfl_engine *e, addr *a);
/* The rate limit's verdict at `now` for an address that last logged at
 * `addr_logged_ms` (0: never): log (and count it), stay quiet (the address
 * logged in the last 10 s), or later (5 lines this second already: a later
 * attempt of the batch may log). */
typedef enum { ENG_FF_LOG, ENG_FF_QUIET, ENG_FF_LATER } eng_ff_verdict;
eng_ff_verdict eng_ff_decide(eng_ff_limit *g, int64_t addr_logged_ms, int64_t now);
/* A mailbox message as the address view shows it (typename, base64, a
 * decoded value, seq, caller); engine_views.c. */
json_t *eng_message_json(const msg *m);

/* ---- egress records (engine_egress.c) ------------------------------------ */
/* Tells the front about the records of transactions synced so far (lock
 * held; after committed_gen advanced). */
void eng_notify_synced(sfl_engine *e);

/* Keeps an egress record for the front (and in the store). */
void eng_record_add(sfl_engine *e, record *rec, bool persist);
/* Frees an egress_rec. */
void eng_egress_rec_free(egress_rec *r);
/*
 * Decodes egress message i as its egress takes it: a Kafka egress only
 * KafkaProducerRecords, a Kinesis egress only KinesisEgressRecords (as
 * Flink's GenericKafkaEgressSerializer / GenericKinesisEgressSerializer,
 * with their messages), the playground egress only EgressRecords. The
 * reserved SFL_REPLY_EGRESS takes anything (Kafka and Kinesis records are
 * unpacked). -1 with the reason in a->last_error.
 */
int eng_egress_decode(sfl_engine *e, addr *a, size_t i,
                      const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *m,
                      egress_rec *out);

/* ---- sf-local's spans (engine_trace.c); each hook through SFLT(...) ------- */

/* A message entered a mailbox: an entity envelope with a trace context
 * gets m->trace (its hop starts). */
void sflt_enqueued(addr *a, msg *m);
/* An HTTP attempt of the batch in flight begins (after a->attempts++). */
void sflt_attempt_begin(addr *a);
/* It ended: error NULL when the reply was taken. The outcome says what
 * follows; FAILED and DONE end the hops of the batch. */
enum { SFLT_RETRY, SFLT_RESEND, SFLT_FAILED, SFLT_DONE };
void sflt_attempt_end(addr *a, const char *error, int outcome);
/* Frees a message's trace context (NULL is fine). */
void sflt_msg_free(struct sflt_msg *t);

#endif
