/*
 * engine.h - sf-local's runtime core: what Flink StateFun does for remote
 * functions, on one machine.
 *
 * One event-loop thread (sfl_engine_run) owns the data: mailboxes per
 * address, registered state specs per function type, state values, delayed
 * messages, egress records. It calls the functions over HTTP (its own
 * HTTP/1.1 client for http://, libcurl's multi interface for https://),
 * at most one request in flight per address, batching the
 * messages that arrive meanwhile, exactly like StateFun's request-reply
 * runtime (see docs/sf-local.md for where it differs).
 *
 * The other entry points are thread-safe: the HTTP ingress/egress server
 * calls them from its own threads; they take the engine lock and wake the
 * loop.
 */
#ifndef SF_LOCAL_ENGINE_H
#define SF_LOCAL_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"

typedef struct sfl_engine sfl_engine;

typedef struct sfl_engine_options {
  const sfl_config *config;  /* must outlive the engine */
  const char *data_dir;      /* NULL: everything in memory */
  int verbose;               /* log every request/response on stderr */
  int stats_interval_ms;     /* >0: a stat line on stderr this often */
  int64_t retry_pause_ms;    /* after a batch finally failed: pause, retry */
  /* Bytes of queued messages plus unread egress records beyond which
   * sends answer SFL_ERR_BUSY (0: SFL_ENGINE_DEFAULT_MAX_QUEUED_BYTES). */
  size_t max_queued_bytes;
} sfl_engine_options;

#define SFL_ENGINE_DEFAULT_MAX_QUEUED_BYTES ((size_t)512 * 1024 * 1024)

/* Creates the engine (and loads --data). NULL with a reason on failure. */
sfl_engine *sfl_engine_new(const sfl_engine_options *opts, char *err,
                           size_t err_len);
/* Runs the event loop until sfl_engine_stop. Returns 0 on a clean stop. */
int sfl_engine_run(sfl_engine *e);
/* Asks the loop to stop (thread-safe, async-signal-unsafe). */
void sfl_engine_stop(sfl_engine *e);
void sfl_engine_free(sfl_engine *e);

/*
 * A reserved egress id that every module has without declaring it in
 * module.yaml: functions may emit records to it (any typename; Kafka and
 * Kinesis records are unpacked as usual), and the HTTP front's entity
 * calls (POST /<ns>/<Entity>/<key>/<method>, docs/sf-local-http.md) name it
 * as the Call's reply_egress and read the Reply from it. Namespace
 * "sf-local" cannot clash with an IR namespace or a StateFun one.
 */
#define SFL_REPLY_EGRESS "sf-local/replies"

/* Outcome codes of the thread-safe calls. */
typedef enum sfl_result {
  SFL_OK = 0,
  SFL_DUPLICATE = 1,        /* idempotency key seen before: accepted earlier */
  SFL_ERR_NO_FUNCTION = -1, /* no endpoint serves that function type */
  SFL_ERR_BAD_REQUEST = -2, /* malformed address/typename/topic */
  SFL_ERR_NO_TOPIC = -3,    /* no ingress routes that topic */
  SFL_ERR_BUSY = -4,        /* backpressure: the address is full (retry) */
  SFL_ERR_STORE = -5,       /* the durable store failed */
  SFL_ERR_NOT_FOUND = -6,   /* nothing there (egress empty, unknown egress) */
  SFL_ERR_TOO_LARGE = -7,   /* a send no wait can make room for: more bytes
                               than --max-queued-bytes */
} sfl_result;

/*
 * Delivers one message to `fn_typename` ("ns/name") with `id`, as an
 * ingress would: TypedValue{value_typename, has_value, value}. Returns once
 * the message is accepted (durable with --data). `idempotency_key` may be
 * NULL; a key seen before returns SFL_DUPLICATE and delivers nothing.
 * Waits up to `wait_ms` while the address is over its batch limit, then
 * returns SFL_ERR_BUSY. `err` gets a reason for any error.
 */
sfl_result sfl_engine_send(sfl_engine *e, const char *fn_typename,
                           const char *id, const char *value_typename,
                           const void *value, size_t len,
                           const char *idempotency_key, int64_t wait_ms,
                           char *err, size_t err_len);

/*
 * Delivers a record to an ingress topic (Kafka topic or Kinesis stream of
 * module.yaml): the value goes to every target of the topic's route, with
 * id = key, typed with the route's valueType. SFL_ERR_NO_TOPIC if no
 * ingress routes it.
 */
sfl_result sfl_engine_send_topic(sfl_engine *e, const char *topic,
                                 const char *key, const void *value,
                                 size_t len, const char *idempotency_key,
                                 int64_t wait_ms, char *err, size_t err_len);

/*
 * The same two sends for a front that does not block a thread: they never
 * wait for space (SFL_ERR_BUSY at once) nor, with --data, for the group
 * commit: *commit_gen gets the transaction to wait for (0 when nothing to
 * wait for); the message counts as accepted once sfl_engine_commit_state
 * says 1. Wait for a change with sfl_engine_on_change.
 */
sfl_result sfl_engine_send_nb(sfl_engine *e, const char *fn_typename,
                              const char *id, const char *value_typename,
                              const void *value, size_t len,
                              const char *idempotency_key,
                              uint64_t *commit_gen, char *err, size_t err_len);
sfl_result sfl_engine_send_topic_nb(sfl_engine *e, const char *topic,
                                    const char *key, const void *value,
                                    size_t len, const char *idempotency_key,
                                    uint64_t *commit_gen, char *err,
                                    size_t err_len);

/*
 * Many records of one topic in one send, as a Kafka producer batches
 * them: all are accepted (one transaction) or none. SFL_ERR_BUSY when an
 * address of the batch has no room for its share (retry the whole batch;
 * an address with nothing waiting takes any share), SFL_ERR_TOO_LARGE
 * when the batch is more bytes than --max-queued-bytes, SFL_ERR_BAD_REQUEST
 * naming the
 * first record without a key ("record N: ..."). The idempotency key, if
 * any, covers the batch. n = 0 accepts nothing and succeeds.
 */
typedef struct sfl_topic_record {
  const char *key; /* the target function id */
  const void *value;
  size_t len;
} sfl_topic_record;
sfl_result sfl_engine_send_topic_batch_nb(sfl_engine *e, const char *topic,
                                          const sfl_topic_record *recs,
                                          size_t n, const char *idempotency_key,
                                          uint64_t *commit_gen, char *err,
                                          size_t err_len);
/* 1: transaction `gen` is durable (or gen is 0); 0: not yet; -1: its
 * commit failed or the engine stops. */
int sfl_engine_commit_state(sfl_engine *e, uint64_t gen);
/* Registers fn(ctx, egress_id, topic), called (with the engine's lock
 * held, so it must only signal) whenever a waiting request may go on: an
 * egress record was added (egress_id and topic say where, so a request
 * waiting for one topic need not look at every change), or, with both
 * NULL, a backlog has room, a transaction committed, the engine stops. */
typedef void sfl_change_fn(void *ctx, const char *egress_id, const char *topic);
void sfl_engine_on_change(sfl_engine *e, sfl_change_fn *fn, void *ctx);

/* One egress record. Strings and value are malloc'd: free with
 * sfl_record_free. */
typedef struct sfl_record {
  uint64_t seq;
  char *egress_id;  /* "ns/name" */
  char *topic;      /* Kafka topic / Kinesis stream; "" for generic */
  char *key;        /* Kafka key / Kinesis partition key; "" if none */
  char *typename;   /* typename of the TypedValue the function sent */
  uint8_t *value;   /* Kafka value_bytes / Kinesis value / raw bytes */
  size_t len;
} sfl_record;
void sfl_record_free(sfl_record *r);

/*
 * Takes the oldest unread record of `topic` (any egress when egress_id is
 * NULL), waiting up to wait_ms for one. SFL_ERR_NOT_FOUND when none.
 */
sfl_result sfl_engine_egress_pop(sfl_engine *e, const char *egress_id,
                                 const char *topic, int64_t wait_ms,
                                 sfl_record *out);

/*
 * Takes up to `max` of the oldest unread records of `topic` (of egress_id,
 * unless NULL) that are there now, without waiting, under one acquisition
 * of the engine's lock (a reader draining a busy topic record by record
 * contended with the loop for it), and no more than fit in `max_bytes` by
 * sfl_record_bytes: the caller reserves room for what it takes, so that
 * nothing taken is lost. Returns how many were put in out[]; 0 with *need
 * set to the size of the next record when that one does not fit (0 when
 * there is none).
 */
size_t sfl_engine_egress_pop_some(sfl_engine *e, const char *egress_id,
                                  const char *topic, sfl_record *out, size_t max,
                                  size_t max_bytes, size_t *need);

/* The bytes a record's strings and value hold. */
static inline size_t sfl_record_bytes(const sfl_record *r) {
  return (r->egress_id != NULL ? strlen(r->egress_id) : 0) +
         (r->topic != NULL ? strlen(r->topic) : 0) + (r->key != NULL ? strlen(r->key) : 0) +
         (r->typename != NULL ? strlen(r->typename) : 0) + r->len;
}

/* True when a record of `topic` has ever been emitted (the playground's
 * egress answers 404 for a known topic with nothing unread). */
bool sfl_engine_knows_topic(sfl_engine *e, const char *topic);

/*
 * A JSON description (malloc'd, caller frees) of one address: its state
 * (name, typename, value decoded when built-in, base64 bytes, expiry), its
 * mailbox, whether a request is in flight, and the last failure. NULL if
 * the address has never been seen.
 */
/*
 * Drops message `seq` (as GET /<ns>/<type>/<id> lists it) from the mailbox
 * of `fn_typename` with `id`: sf-local's way out for a message a function
 * cannot take (Flink has none: it fails the job). A batch waiting to be
 * retried is rebuilt without it. `*dropped` gets the message as JSON
 * (malloc'd; the caller frees it). SFL_ERR_NOT_FOUND for no such message,
 * SFL_ERR_BUSY while it is in a request to the function, SFL_ERR_STORE.
 */
sfl_result sfl_engine_drop(sfl_engine *e, const char *fn_typename, const char *id,
                           uint64_t seq, char **dropped, char *err, size_t err_len);

char *sfl_engine_describe_address(sfl_engine *e, const char *fn_typename,
                                  const char *id);

/* Prometheus text with the engine's counters (malloc'd, caller frees). */
char *sfl_engine_metrics(sfl_engine *e);

/* A JSON summary: counts of addresses, queued, in flight, failed, delayed,
 * egress records, messages/s (malloc'd). */
char *sfl_engine_summary(sfl_engine *e);

/*
 * Whether the Content-Type headers of a function's reply (every one, in
 * the order received) pass the check of Flink's transport:
 *   async (Netty, NettyRequestReplyHandler): some header holds, among its
 *     comma-separated elements (each trimmed), one equal to
 *     application/octet-stream ignoring case; "; charset=..." fails;
 *   okhttp (DefaultHttpRequestReplyClient): the last header, trimmed, is
 *     exactly "application/octet-stream" (MediaType.equals compares the
 *     header text as written, so case and parameters count).
 */
bool sfl_reply_content_type_ok(sfl_transport transport,
                               const char *const *values, size_t n);

/*
 * Whether the okhttp transport retries a reply with this HTTP status
 * (RetryingCallback: 408, 409, 420, 429, 499 and every status >= 500); any
 * other non-2xx status fails the call at once. The async transport retries
 * every failure.
 */
bool sfl_okhttp_retries_status(long status);

#endif
