/*
 * gateway.h - sf-gateway's parts and what they share: the options, the
 * entity routes (entity -> Kafka topic), the table of calls in flight
 * (request id -> the connections waiting for its Reply), the Kafka side
 * (producer of Calls, one consumer of Replies) and the HTTP front.
 *
 * Threads: libmicrohttpd's one polling thread runs the HTTP front; the
 * Kafka thread polls the replies consumer and the producer's delivery
 * reports and expires waits. A waiting connection is suspended (MHD) and
 * resumed by the Kafka thread with its answer ready. The table's mutex
 * guards every call and waiter.
 */
#ifndef SF_GATEWAY_H
#define SF_GATEWAY_H

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "ir.h"
#include "ir_call.h"

#define GW_NAME "sf-gateway"

/* A property for the Kafka client, "key=value" from the command line. */
typedef struct gw_prop {
  const char *key, *value;
  bool consumer; /* --consumer-prop (else --producer-prop) */
} gw_prop;

/* One entity of the IRs and the topic its Calls go to. */
typedef struct gw_route {
  char *fn_typename; /* "ns/Entity" */
  const sfc_entity *entity;
  char *topic;
} gw_route;

typedef struct gw_options {
  const char *listen;  /* host:port */
  const char *brokers; /* NULL: from --module, else 127.0.0.1:9092 */
  const char **ir_paths;
  size_t n_ir;
  const char *module;       /* module.yaml (optional) */
  const char *reply_egress; /* egress id the entities write Replies to */
  const char *replies_topic;
  int64_t timeout_ms;  /* default wait for a Reply */
  int64_t max_wait_ms; /* the most ?wait= may ask */
  int64_t remember_ms; /* how long a call's id (and Reply) is kept */
  size_t remember_max; /* and at most this many */
  size_t max_body;
  int isolation_committed; /* -1: from the module (exactly-once egress) */
  gw_prop *props;          /* --producer-prop / --consumer-prop */
  size_t n_props;
  const char *trace_out; /* --trace-out: the gateway's spans (NULL: none) */
  bool verbose;
} gw_options;

/* A connection waiting for a Reply (the request's state lives in http.c;
 * this is the part the Kafka thread touches under the table's lock). */
typedef struct gw_waiter {
  struct MHD_Connection *conn;
  const sfc_method *method; /* decodes the Reply's result */
  int64_t deadline_ms;      /* monotonic */
  int64_t wait_ms;
  char rid[SFC_CALL_MAX_REQUEST_ID + 1];
  /* The answer, set once (under the lock) before the connection resumes. */
  bool done;
  unsigned status;
  char *body; /* JSON text, malloc'd */
  char traceparent[64]; /* the Reply's trace context ("" = none) */
  /* The gateway's span of the call while tracing (trace_span "" else):
   * written when the call is answered (docs/tracing.md). */
  sfc_call_span span;
  char trace_name[160], trace_key[128];
  const char *trace_topic;
  struct gw_call *call;
  struct gw_waiter *next_in_call; /* waiters of the same call */
  struct gw_waiter *prev, *next;  /* every waiter (timeouts) */
} gw_waiter;

/* A call sent (or being sent) to Kafka, by request id. */
typedef struct gw_call {
  char *rid;
  char *idem; /* X-Idempotency-Key, or NULL */
  bool replied;
  uint8_t *reply; /* the Reply bytes once seen */
  size_t reply_len;
  int64_t forget_ms; /* monotonic: drop the entry after this */
  int64_t sent_us;   /* monotonic: when the Call was produced */
  gw_waiter *waiters;
  struct gw_call *hnext;         /* hash chain */
  struct gw_call *older, *newer; /* age order, for forgetting */
} gw_call;

typedef struct gw gw;

/* The upper bounds of the round-trip histogram (gw.rt_bucket), in ms. */
#define GW_RT_BUCKETS 13
extern const double gw_rt_bounds_ms[GW_RT_BUCKETS];

/* ---- the table of calls (calls.c) ------------------------------------- */
typedef struct gw_table {
  pthread_mutex_t mu;
  gw_call **buckets;
  size_t n_buckets, n_calls;
  gw_call *oldest, *newest;
  gw_waiter *waiting; /* every waiter not yet answered */
  size_t n_waiting;
} gw_table;

int gw_table_init(gw_table *t, size_t n_buckets);
void gw_table_free(gw_table *t);
/* Under t->mu: the call of rid (NULL if none), or of an idempotency key. */
gw_call *gw_table_find(gw_table *t, const char *rid);
gw_call *gw_table_find_idem(gw_table *t, const char *idem);
/* Under t->mu: a new call (NULL when out of memory). */
gw_call *gw_table_add(gw_table *t, const char *rid, const char *idem,
                      int64_t forget_ms);
/* Under t->mu: forgets a call (its waiters must be gone). */
void gw_table_remove(gw_table *t, gw_call *c);
/* Under t->mu: adds / removes a waiter of a call. */
void gw_table_wait(gw_table *t, gw_call *c, gw_waiter *w);
void gw_table_unwait(gw_table *t, gw_waiter *w);
/* Under t->mu: drops the oldest calls nobody waits for while they are
 * past their forget time or more than `max` are kept. */
void gw_table_expire(gw_table *t, int64_t now_ms, size_t max);

/* ---- the whole service ------------------------------------------------ */
struct gw {
  gw_options opt;
  sfc_ir *irs;
  size_t n_irs;
  gw_route *routes;
  size_t n_routes;
  bool read_committed;
  int reply_partitions;
  gw_table table;
  struct rd_kafka_s *producer;
  struct rd_kafka_s *consumer;
  struct MHD_Daemon *daemon;
  uint16_t port;
  pthread_t kafka_thread;
  atomic_bool stopping;
  atomic_bool ready; /* the replies consumer is assigned */
  /* counters for /metrics */
  atomic_uint_fast64_t n_calls, n_replies, n_timeouts, n_errors;
  /* Call produced -> its Reply consumed (Kafka, Flink and the function;
   * not the gateway's own HTTP and JSON work): a histogram. */
  atomic_uint_fast64_t rt_bucket[GW_RT_BUCKETS + 1], rt_sum_us;
  /* --trace-out: where the spans go, one writer at a time */
  FILE *trace_out;
  pthread_mutex_t trace_mu;
};

/* The route of entity "ns/Entity", or NULL. */
const gw_route *gw_route_of(const gw *g, const char *fn_typename);

/* monotonic milliseconds, microseconds */
int64_t gw_now_ms(void);
int64_t gw_now_us(void);

/* ---- Kafka (kafka.c) -------------------------------------------------- */
/* Creates the producer and the replies consumer (the Kafka thread assigns
 * it to the end of every partition of the replies topic and then sets
 * g->ready). -1 with a message on stderr. */
int gw_kafka_start(gw *g);
/* Produces a Call (key = the entity key). 0, or -1 with the reason. */
int gw_kafka_send(gw *g, const char *topic, const char *key,
                  const uint8_t *value, size_t len, const char *rid, char *err,
                  size_t err_len);
/* The Kafka thread: replies, delivery reports, timeouts; runs until
 * g->stopping and no waiter is left. */
void *gw_kafka_loop(void *arg);
void gw_kafka_stop(gw *g);

/* ---- answers (http.c) ------------------------------------------------- */
/* Under the table lock: sets w's answer (takes `body`), unlinks it, and
 * resumes its connection. */
void gw_answer(gw *g, gw_waiter *w, unsigned status, json_t *body);
/* Under the table lock: answers every waiter of c from its Reply. */
void gw_answer_reply(gw *g, gw_call *c);

/* Starts the HTTP front on opt.listen. -1 with a message on stderr. */
int gw_http_start(gw *g);
void gw_http_stop(gw *g);

#endif
