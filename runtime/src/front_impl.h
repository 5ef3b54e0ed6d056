/*
 * front_impl.h - what the files of sf-local's HTTP front share (private to
 * runtime/src/front_*.c and http_front.c; the API is http_front.h): the
 * front's state, a request and its exchange, the limits, and the helpers
 * each part uses: parsing path parts, answering, reading query arguments
 * and headers, waiting on the egress, and the two routers.
 *
 *   front_parse.c     pure request-parsing helpers (paths, Content-Type,
 *                     the JSON convenience, ?wait=)
 *   front_exchange.c  answering (JSON, text, errors) and reading a request
 *   front_ingress.c   the ingress server: sends, topics, views, the summary
 *   front_entity.c    entity calls and views for --ir
 *   front_egress.c    the egress server: playground pops and JSON lines
 *   front_conn.c      connections and waits without a thread: parking a
 *                     request that must wait (suspend/resume), the
 *                     per-connection deadlines and their sweep
 *   http_front.c      libmicrohttpd glue, strict request checks, limits,
 *                     start and stop
 */
#ifndef SF_LOCAL_FRONT_IMPL_H
#define SF_LOCAL_FRONT_IMPL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>
#include <pthread.h>
#include <microhttpd.h>

#include "http_front.h"
#include "ir.h"
#include "ir_call.h"

#define DEFAULT_SEND_WAIT_MS 2000
#define DEFAULT_MAX_POLL_MS 60000
#define DEFAULT_EGRESS_MAX 100
#define MAX_EGRESS_MAX 10000
#define MAX_IDEMPOTENCY_KEY 256
#define MAX_BATCH_RECORDS 10000 /* records in one JSON-lines topic request */
#define HTTP_TOO_LARGE 413 /* MHD renamed the constant across versions */
/* The reply egress topics the front remembers (front_conn.c). */
#define REPLY_RING 256
#define MAX_REPLY_TOPIC 256 /* >= SFC_CALL_MAX_REQUEST_ID */

struct request;
struct conn_ctx;

struct sfl_front {
  sfl_engine *engine;
  const sfl_config *config;
  size_t max_body;
  int64_t send_wait_ms;
  int64_t max_poll_ms;
  int verbose;
  const sfc_ir *irs; /* --ir files */
  size_t n_irs;
  sfl_front_limits lim; /* with the defaults filled in */
  atomic_bool stopping;
  /* Requests that wait without a thread (front_conn.c): suspended
   * connections, resumed by the waker thread when the engine reports a
   * change (change_seq moved since the request looked) or their deadline
   * passes. An entity call waits for its Reply's topic only: the hook
   * resumes just that request itself, and keeps the topics of the last
   * REPLY_RING reply records (reply_seq counts them) for a request that
   * looked just before its Reply came and parks just after (`woken`:
   * the waker resumes it). */
  pthread_mutex_t park_mu;
  pthread_cond_t park_cv;
  struct request *parked;
  atomic_size_t n_parked;
  atomic_size_t n_parked_any; /* parked requests that wait for any change */
  atomic_uint_fast64_t change_seq;
  atomic_uint_fast64_t reply_seq;
  char reply_ring[REPLY_RING][MAX_REPLY_TOPIC];
  bool waker_stop;
  pthread_t waker;
  /* Every open connection with its deadline (swept by the waker). */
  pthread_mutex_t conn_mu;
  struct conn_ctx *conns;
  /* Body bytes buffered by requests in progress (--max-inflight-bytes). */
  atomic_size_t inflight_bytes;
  struct MHD_Daemon *ingress;
  struct MHD_Daemon *egress;
  uint16_t ingress_port;
  uint16_t egress_port;
  char bind[256];
};

/* Per-connection state (MHD's socket context): the deadline by which the
 * connection must have made its next step, or 0 for none (an answer in
 * progress, a parked request). */
typedef struct conn_ctx {
  struct MHD_Connection *conn;
  int fd;
  _Atomic int64_t deadline_ms;
  struct conn_ctx *prev, *next;
} conn_ctx;

struct exchange;

/* Per-request state: the body as it arrives, and what a parked request
 * needs to go on when it is resumed. */
typedef struct request {
  uint8_t *body;
  size_t len;
  size_t cap;
  bool too_large;
  bool head_checked;
  struct MHD_Connection *conn;
  conn_ctx *cc;
  /* parking (front_conn.c) */
  struct request *pnext, *pprev;
  int64_t park_deadline; /* 0: not parked yet */
  uint64_t seen;         /* change_seq before the last attempt */
  uint64_t seen_reply;   /* reply_seq before the last attempt */
  bool wait_reply;       /* parked for the Reply on topic `rid` only */
  bool woken;            /* that Reply came before it parked (under park_mu) */
  /* A resumed request goes on here instead of being routed again. */
  enum MHD_Result (*resume)(struct exchange *x, struct request *r);
  /* a durable send waiting for its commit */
  uint64_t commit_gen;
  sfl_result sent;
  const char *to_key;
  char *to;
  ssize_t records; /* a JSON-lines batch: how many (-1: one message) */
  /* an entity call waiting for its Reply */
  const void *method; /* const sfc_method * */
  char rid[256];       /* >= SFC_CALL_MAX_REQUEST_ID + 1 */
  int64_t call_deadline;
  int64_t call_wait_ms;
  /* sf-local's span of the call while tracing (span.span "" otherwise) */
  sfc_call_span span;
} request;

/* What a handler needs to answer. */
typedef struct exchange {
  sfl_front *f;
  struct MHD_Connection *conn;
  const char *server; /* "ingress" / "egress" for the log */
  const char *method;
  const char *url;
} exchange;

/* ---- waiting without a thread (front_conn.c) ----------------------------- */

/* Parks request r (suspends its connection) until the engine reports a
 * change or `wait_ms` from the first park of this request pass; the
 * request's handler then runs again (or r->resume). False when the wait
 * is over (or the front stops): the caller answers now. */
bool front_park(exchange *x, request *r, int64_t wait_ms);
/* The same for an entity call waiting for its Reply (topic r->rid of the
 * reply egress): resumed when that record comes, not on other changes. */
bool front_park_reply(exchange *x, request *r, int64_t wait_ms);
/* The engine's change hook (sfl_engine_on_change). */
void front_changed(void *ctx, const char *egress_id, const char *topic);
/* Starts and stops the waker thread (parks, deadlines). */
int front_waker_start(sfl_front *f);
void front_waker_stop(sfl_front *f);
/* Connection bookkeeping (MHD_OPTION_NOTIFY_CONNECTION). */
void front_conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                       enum MHD_ConnectionNotificationCode code);
/* The connection's next deadline: now + ms, or none for ms 0. */
void front_conn_deadline(struct MHD_Connection *c, int64_t ms);
conn_ctx *front_conn_of(struct MHD_Connection *c);

/* ---- parsing (front_parse.c) --------------------------------------------- */

/* printf into err[0..err_len) (err may be NULL). */
void front_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether s has a control character (below 0x20, or DEL). */
bool front_has_control(const char *s);
/* Decodes one path part into a fresh string; NULL on a bad escape. */
char *front_decode_part(const char *in, size_t len);
/* Checks a decoded name part (namespace, type, topic, egress parts). */
int front_check_name(const char *what, const char *s, bool allow_empty,
                     char *err, size_t err_len);

/* ---- answering and reading a request (front_exchange.c) ------------------ */

/* Header values must be printable ASCII (MHD refuses CR/LF anyway). */
bool front_header_safe(const char *s);
enum MHD_Result front_send(exchange *x, unsigned code, const char *ctype,
                           const void *data, size_t len,
                           const char *const *headers);
/* front_send of a malloc'd body that the answer takes (freed in any case):
 * no copy of a large body, and no mmap/munmap pair for the copy. */
enum MHD_Result front_send_owned(exchange *x, unsigned code, const char *ctype,
                                 void *data, size_t len);
/* Answers a JSON object (taking the reference) followed by a newline. */
enum MHD_Result front_send_json(exchange *x, unsigned code, json_t *obj,
                                const char *const *headers);
/* A one-line error with extra headers (NULL-terminated name, value
 * pairs, or NULL). */
enum MHD_Result front_send_error_h(exchange *x, unsigned code,
                                   const char *const *headers, const char *fmt,
                                   ...) __attribute__((format(printf, 4, 5)));
#define front_send_error(x, code, ...) \
  front_send_error_h((x), (code), NULL, __VA_ARGS__)
enum MHD_Result front_send_text(exchange *x, unsigned code, const char *ctype,
                                const char *text);
/* A query argument, percent-decoded (malloc'd); *bad on a bad escape. */
char *front_query_arg(exchange *x, const char *key, bool *bad);
/* A request header, NULL if absent. */
const char *front_header(exchange *x, const char *name);
/* The answer to a non-blocking send (sfl_engine_send*_nb): at once, or
 * once its commit is durable, the request parked meanwhile. 202
 * {"accepted":true,"<to_key>":"<to>"} (with "records":N for a batch of
 * `records`; -1: one message), or the engine's error as its HTTP status. */
enum MHD_Result front_answer_send_nb(exchange *x, request *r, sfl_result res,
                                     uint64_t commit_gen, const char *err,
                                     const char *to_key, const char *to,
                                     ssize_t records);
/* X-Idempotency-Key: optional, printable ASCII, bounded. */
int front_idempotency_key(exchange *x, const char **key, char *err,
                          size_t err_len);

/* ---- the parts ----------------------------------------------------------- */

/* The ingress and egress routers (front_ingress.c, front_egress.c). */
enum MHD_Result front_ingress_route(exchange *x, request *r);
enum MHD_Result front_egress_route(exchange *x, request *r);
/* Pops the oldest record now; when there is none and wait_ms > 0, parks
 * the request (*parked: answer nothing, return MHD_YES) (front_egress.c). */
sfl_result front_pop_or_park(exchange *x, request *r, const char *egress_id,
                             const char *topic, int64_t wait_ms,
                             sfl_record *out, bool *parked);
/* Routes a POST whose address may name an IR entity (front_entity.c):
 * true when it answered, false to fall through to the plain send. */
bool front_entity_post(exchange *x, request *r, enum MHD_Result *ret);
/* Adds "fields" (the IR's state fields, decoded) to an address view. */
char *front_entity_fields(sfl_front *f, const char *fn_typename, char *view);

#endif
