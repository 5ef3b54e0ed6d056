/*
 * server.c - serves a sf_handler over HTTP/1.1 with libmicrohttpd.
 *
 * MHD runs a pool of worker threads (one poll() loop each); every request is
 * handled entirely on the thread that owns its connection. A StateFun POST
 * goes through three calls of on_access(): headers (route, check
 * Content-Length, take a request slot), body chunks (append to the slot's
 * buffer) and the final call (run sf_handler_handle, queue the reply).
 *
 * Request slots. A slot holds the body buffer and the sf_arena of one
 * request. The reply is allocated in the arena and handed to MHD without a
 * copy, so the arena must live until MHD has sent it - which can be after
 * the same thread has served other connections. That is why arenas belong
 * to requests, not threads: slots come from a small free list and go back
 * to it (arena reset, buffer kept) when MHD reports the request complete,
 * so a warm server handles a request without malloc in our code.
 *
 * Arena memory. A request's arena may grow to arena_limit (8 x the body
 * limit, at least 64 MiB); going over it answers 413 with the reason. At
 * release the arena keeps blocks up to its retain cap (SF_ARENA_RETAIN,
 * default 16 MiB) only in the first HOT_SLOTS_PER_THREAD x threads slots
 * of the free list (the ones reused first); the rest keep none of it
 * (COLD_RETAIN) and at most COLD_BODY_KEEP of body buffer, so a burst of
 * connections with large requests does not leave every slot holding its
 * largest size (idle memory about 2 x threads x retain), and what the
 * burst freed goes back to the system once the server is idle
 * (trim_when_idle: glibc would keep it). A
 * request whose arena grew past the retain cap has its reply copied out
 * and the arena cut back to COLD_RETAIN as soon as it is handled, so one
 * that a slow client reads holds its reply, not all it used.
 *
 * Hostile clients. guard.c keeps every connection on a deadline (head,
 * body, idle keep-alive) that trickled bytes do not move, and checks each
 * head strictly (400 and close); MHD caps connections in all and per IP;
 * request bodies are buffered as they arrive and charged to one in-flight
 * budget (503 + Retry-After beyond it). Limits and defaults: server.h.
 *
 * Shutdown drains: stop accepting (MHD_quiesce_daemon), answer requests
 * that arrive on open keep-alive connections with "Connection: close",
 * wait for the in-flight count to reach zero (bounded), then stop MHD.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "guard.h"
#include "server_internal.h"
#include "sfb/listen.h"
#include "tls.h"

#define DEFAULT_HOST "127.0.0.1"
#define DEFAULT_PORT 8000
#define DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)
/* Every path: dispatch is by the target address in the request, so a
 * module.yaml URL with any path (or none) reaches the functions. */
#define DEFAULT_PREFIX "/"
#define MAX_PREFIX 200
#define MAX_THREADS 1024
/* How long sf_server_stop waits for requests in flight. */
#define DRAIN_TIMEOUT_MS 5000
/* The limits against hostile clients (server.h, SECURITY.md). The idle
 * timeout stays above Flink's pooled connection lifetime (15 s plus up to
 * 3 s of jitter), so the runtime closes idle connections first. */
#define DEFAULT_HEAD_TIMEOUT_S 10
#define DEFAULT_BODY_TIMEOUT_S 30
#define DEFAULT_IDLE_TIMEOUT_S 30
#define DEFAULT_MAX_CONNECTIONS 4096
#define DEFAULT_PER_CLIENT 1024
#define DEFAULT_MAX_INFLIGHT ((size_t)256 * 1024 * 1024)
/* Per-connection MHD memory: request headers plus the read buffer. MHD
 * zeroes the whole pool after every keep-alive request, so its size is
 * paid per request (and evicts that much of the L1 cache); and bodies are
 * read in chunks of half of it, a recv() (~1 us of system time here) per
 * chunk. 16 KiB: 8 KiB chunks, the zeroing 60% of a batch-1 request's
 * instructions; 8 KiB: 4 KiB chunks, two recv()s for a 5 KB batch and
 * 13 for 50 KB of state. 12 KiB takes most of the saving at batch 1 and
 * reads 6 KiB at a time (bench/README.md, "The request-reply hot path").
 * It holds a request head of about 11 KiB (Flink sends ~250 bytes; a
 * larger head gets 431), and bounds the connection memory: 4096 x 12 KiB. */
#define CONNECTION_MEMORY 12288
/* Free-list slots that keep their arena's full retain cap, per thread;
 * the others keep COLD_RETAIN bytes of arena: none. With 256 KiB each
 * (room for a batch of a few hundred greetings) the greeter's RssAnon
 * stepped up at every stall of bench/soak.py and stayed (bench/soak.py's
 * header); a request on a cold slot allocates its first block again,
 * which the benchmarks do not show (they reuse the hot slots). */
#define HOT_SLOTS_PER_THREAD 2
#define COLD_RETAIN ((size_t)0)
/* Bodies up to this size may use all of max_inflight_bytes; larger ones
 * three quarters of it (inflight_cap). */
#define SMALL_BODY ((size_t)64 * 1024)
/* A released slot keeps a body buffer up to this size for the next request
 * (a hot one; a cold one up to COLD_BODY_KEEP). */
#define BODY_KEEP ((size_t)1024 * 1024)
#define COLD_BODY_KEEP ((size_t)16 * 1024)

#define CT_OCTET "application/octet-stream"
#define CT_TEXT "text/plain; charset=utf-8"
#define CT_METRICS "text/plain; version=0.0.4; charset=utf-8"

/* One request's memory: body buffer and arena (see the top of the file). */
typedef struct slot {
  struct slot *next; /* free-list link */
  sf_arena *arena;
  uint8_t *body;
  size_t len;
  size_t cap;
  size_t charged; /* bytes of cap counted in the server's inflight_bytes */
  bool overflow; /* the body went over max_body; the rest is discarded */
  bool oom;      /* the buffer could not grow */
  bool busy;     /* over max_inflight_bytes; the rest is discarded */
} slot;

struct sf_server {
  const sf_handler *handler;
  struct MHD_Daemon *daemon;
  int listen_fd;
  uint16_t port;
  bool ipv6; /* the listen socket is AF_INET6 */
  char host[256];
  char prefix[MAX_PREFIX + 1]; /* without a trailing '/'; "" for "/" */
  size_t prefix_len;
  size_t max_body;
  sf_request_limits limits; /* invocations and state values per request */
  size_t arena_limit;
  size_t arena_retain; /* retain cap of a hot slot's arena */
  unsigned threads;
  int quiet;

  atomic_long in_flight;
  atomic_ulong completed;        /* requests completed, for trim_when_idle */
  unsigned long trim_completed;  /* its value at the last trim (reaper only) */
  long long trim_last_ms;        /* reaper only */
  atomic_bool draining;
  /* Body bytes buffered by requests in progress (max_inflight_bytes). */
  atomic_size_t inflight_bytes;
  size_t max_inflight;
  sf_guard *guard; /* connection deadlines and strict heads (guard.c) */

  pthread_mutex_t pool_lock;
  slot *free_slots;
  size_t n_free;
  atomic_size_t n_free_hint; /* n_free, for a read without the lock */
  size_t max_free;

  sf_server_metrics *metrics;
  sf_tls *tls; /* NULL: plain HTTP (tls.c) */
};

/* con_cls values of requests without a slot: k_marker[r] for a request on
 * route r still to be answered on its last call, K_ANSWERED once answered. */
static char k_marker[5];
#define K_ANSWERED (&k_marker[4])

/* ---- small helpers ------------------------------------------------------- */

static void set_error(sf_status *status, char *err, size_t err_len,
                      sf_status code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static void set_error(sf_status *status, char *err, size_t err_len,
                      sf_status code, const char *fmt, ...) {
  if (status != NULL) *status = code;
  if (err != NULL && err_len > 0) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
  }
}

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void log_line(const sf_server *s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

static void log_line(const sf_server *s, const char *fmt, ...) {
  if (s->quiet) return;
  char line[640]; /* an SDK reason (512) and room */
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  fprintf(stderr, "statefun: %s\n", line);
}

static void mhd_logger(void *cls, const char *fmt, va_list ap) {
  const sf_server *s = cls;
  if (s->quiet) return;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
  fprintf(stderr, "statefun: libmicrohttpd: %s\n", line);
}

/* ---- request slots ------------------------------------------------------- */

/* The retain cap a new arena gets (SF_ARENA_RETAIN or the SDK's default). */
static size_t arena_retain_default(void) {
  sf_arena *a = sf_arena_new(0);
  if (a == NULL) return COLD_RETAIN;
  size_t cap = sf_arena_retain(a);
  sf_arena_free(a);
  return cap;
}

static slot *slot_acquire(sf_server *s) {
  pthread_mutex_lock(&s->pool_lock);
  slot *sl = s->free_slots;
  if (sl != NULL) {
    s->free_slots = sl->next;
    s->n_free--;
    atomic_store_explicit(&s->n_free_hint, s->n_free, memory_order_relaxed);
  }
  pthread_mutex_unlock(&s->pool_lock);
  if (sl == NULL) {
    sl = calloc(1, sizeof *sl);
    if (sl == NULL) return NULL;
    sl->arena = sf_arena_new(s->arena_limit);
    if (sl->arena == NULL) {
      free(sl);
      return NULL;
    }
  }
  sl->next = NULL;
  sl->len = 0;
  sl->overflow = false;
  sl->oom = false;
  sl->busy = false;
  return sl;
}

static void slot_destroy(slot *sl) {
  sf_arena_free(sl->arena);
  free(sl->body);
  free(sl);
}

/* Frees what the slot's request used beyond `retain` bytes of arena and
 * BODY_KEEP bytes of body buffer (nothing may point into them any more). */
static void slot_shed(slot *sl, size_t retain) {
  /* Set before the reset, which frees the blocks beyond the cap. */
  sf_arena_set_retain(sl->arena, retain);
  sf_arena_reset(sl->arena);
  if (sl->cap > (retain == COLD_RETAIN ? COLD_BODY_KEEP : BODY_KEEP)) {
    free(sl->body);
    sl->body = NULL;
    sl->cap = 0;
  }
}

static void slot_release(sf_server *s, slot *sl) {
  atomic_fetch_sub(&s->inflight_bytes, sl->charged);
  sl->charged = 0;
  /* Whether it goes back as one of the hot slots: the count read without
   * the lock (one lock per request less). Two releases at once may both
   * see room, as they could when it was read under the lock and pushed
   * under another: the hot slots exceed their number by a few at most. */
  bool hot = atomic_load_explicit(&s->n_free_hint, memory_order_relaxed) <
             (size_t)HOT_SLOTS_PER_THREAD * s->threads;
  slot_shed(sl, hot ? s->arena_retain : COLD_RETAIN);
  pthread_mutex_lock(&s->pool_lock);
  bool keep = s->n_free < s->max_free;
  if (keep) {
    sl->next = s->free_slots;
    s->free_slots = sl;
    s->n_free++;
    atomic_store_explicit(&s->n_free_hint, s->n_free, memory_order_relaxed);
  }
  pthread_mutex_unlock(&s->pool_lock);
  if (!keep) slot_destroy(sl);
}

/* The part of max_inflight_bytes that bodies over SMALL_BODY may take:
 * the rest is kept for small requests, so stalled large uploads do not
 * turn every other client away. */
static size_t inflight_cap(const sf_server *s, size_t body) {
  return body > SMALL_BODY ? s->max_inflight / 4 * 3 : s->max_inflight;
}

/* Makes room for `need` bytes in all, as the body arrives. What the body
 * needs (doubling from 4 KiB) is charged to the server's in-flight budget,
 * not the buffer a reused slot may already have: sets sl->busy (and
 * returns false) when it would go over it, sl->oom when out of memory. */
static bool slot_reserve(sf_server *s, slot *sl, size_t need) {
  if (need <= sl->charged) return true;
  size_t cap = sl->charged < 4096 ? 4096 : sl->charged;
  while (cap < need && cap < s->max_body)
    cap = cap > s->max_body / 2 ? s->max_body : cap * 2;
  if (cap < need) cap = need;
  size_t more = cap - sl->charged;
  size_t was = atomic_fetch_add(&s->inflight_bytes, more);
  if (was + more > inflight_cap(s, cap)) {
    atomic_fetch_sub(&s->inflight_bytes, more);
    sl->busy = true;
    return false;
  }
  sl->charged = cap;
  if (cap > sl->cap) {
    uint8_t *body = realloc(sl->body, cap);
    if (body == NULL) {
      sl->oom = true;
      return false;
    }
    sl->body = body;
    sl->cap = cap;
  }
  return true;
}

/* ---- replies ------------------------------------------------------------- */

static enum MHD_Result queue(sf_server *s, struct MHD_Connection *conn,
                             unsigned code, struct MHD_Response *resp,
                             const char *content_type) {
  if (resp == NULL) return MHD_NO; /* MHD closes the connection */
  sf_guard_answering(conn); /* no deadline while the reply goes out */
  MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
  if (atomic_load(&s->draining))
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  enum MHD_Result r = MHD_queue_response(conn, code, resp);
  MHD_destroy_response(resp);
  sf_server_metrics_record_status(s->metrics, code);
  return r;
}

/* Extra headers of a text reply. */
typedef struct reply_extra {
  const char *allow;       /* the Allow header, or NULL */
  bool close;              /* Connection: close */
  const char *retry_after; /* the Retry-After header, or NULL */
} reply_extra;

static enum MHD_Result reply_textv(sf_server *s, struct MHD_Connection *conn,
                                   unsigned code, reply_extra x,
                                   const char *fmt, va_list ap) {
  char text[640]; /* an SDK reason (512) and room */
  int n = vsnprintf(text, sizeof text - 1, fmt, ap);
  if (n < 0) n = 0;
  size_t len = (size_t)n < sizeof text - 2 ? (size_t)n : sizeof text - 2;
  text[len++] = '\n';
  struct MHD_Response *resp =
      MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_COPY);
  if (resp != NULL && x.allow != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, x.allow);
  if (resp != NULL && x.close)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
  if (resp != NULL && x.retry_after != NULL)
    MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, x.retry_after);
  return queue(s, conn, code, resp, CT_TEXT);
}

/* A text/plain reply; `allow` (may be NULL) becomes the Allow header. */
static enum MHD_Result reply_text(sf_server *s, struct MHD_Connection *conn,
                                  unsigned code, const char *allow,
                                  const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static enum MHD_Result reply_text(sf_server *s, struct MHD_Connection *conn,
                                  unsigned code, const char *allow,
                                  const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_extra x = {allow, false, NULL};
  enum MHD_Result r = reply_textv(s, conn, code, x, fmt, ap);
  va_end(ap);
  return r;
}

/* A text/plain reply after which the connection is closed; with
 * `retry_after` (may be NULL) a Retry-After header. */
static enum MHD_Result reply_close(sf_server *s, struct MHD_Connection *conn,
                                   unsigned code, const char *retry_after,
                                   const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

static enum MHD_Result reply_close(sf_server *s, struct MHD_Connection *conn,
                                   unsigned code, const char *retry_after,
                                   const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  reply_extra x = {NULL, true, retry_after};
  enum MHD_Result r = reply_textv(s, conn, code, x, fmt, ap);
  va_end(ap);
  return r;
}

/* ---- routing ------------------------------------------------------------- */

typedef enum route {
  ROUTE_NONE,
  ROUTE_FUNCTION,
  ROUTE_HEALTH,
  ROUTE_METRICS,
} route;

static route route_of(const sf_server *s, const char *url) {
  if (strcmp(url, "/health") == 0) return ROUTE_HEALTH;
  if (strcmp(url, "/metrics") == 0) return ROUTE_METRICS;
  if (s->prefix_len == 0) return ROUTE_FUNCTION;
  if (strncmp(url, s->prefix, s->prefix_len) == 0 &&
      (url[s->prefix_len] == '\0' || url[s->prefix_len] == '/'))
    return ROUTE_FUNCTION;
  return ROUTE_NONE;
}

static bool is_get(const char *method) {
  return strcmp(method, MHD_HTTP_METHOD_GET) == 0 ||
         strcmp(method, MHD_HTTP_METHOD_HEAD) == 0;
}

/* GET /health, GET /metrics, wrong methods and unknown paths. */
static enum MHD_Result reply_simple(sf_server *s, struct MHD_Connection *conn,
                                    route r, const char *method,
                                    const char *url) {
  switch (r) {
  case ROUTE_FUNCTION:
    return reply_text(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "POST",
                      "method %s not allowed on %s: StateFun requests are "
                      "POSTed",
                      method, url);
  case ROUTE_HEALTH:
    if (!is_get(method))
      return reply_text(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
                        "method %s not allowed on %s", method, url);
    return queue(s, conn, MHD_HTTP_OK,
                 MHD_create_response_from_buffer(2, (void *)"ok",
                                                 MHD_RESPMEM_PERSISTENT),
                 CT_TEXT);
  case ROUTE_METRICS: {
    if (!is_get(method))
      return reply_text(s, conn, MHD_HTTP_METHOD_NOT_ALLOWED, "GET, HEAD",
                        "method %s not allowed on %s", method, url);
    size_t len = 0;
    char *text = sf_server_metrics_render(
        s->metrics, s->handler, atomic_load(&s->in_flight), &len);
    if (text == NULL)
      return reply_text(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                        "out of memory");
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) free(text);
    return queue(s, conn, MHD_HTTP_OK, resp, CT_METRICS);
  }
  case ROUTE_NONE:
    break;
  }
  return reply_text(s, conn, MHD_HTTP_NOT_FOUND, NULL,
                    "no such endpoint: %s (StateFun requests go to POST %s)",
                    url, s->prefix_len ? s->prefix : "/");
}

static bool is_marker(const void *con_cls) {
  return (const char *)con_cls >= k_marker &&
         (const char *)con_cls < k_marker + sizeof k_marker;
}

/* ---- the StateFun endpoint ----------------------------------------------- */

static unsigned http_code_of(sf_status st) {
  switch (st) {
  case SF_OK:
    return MHD_HTTP_OK;
  case SF_ERR_DECODE:
  case SF_ERR_NO_INVOCATION:
    return MHD_HTTP_BAD_REQUEST;
  case SF_ERR_UNKNOWN_FUNCTION:
    return MHD_HTTP_NOT_FOUND;
  case SF_ERR_TOO_LARGE:
    return MHD_HTTP_CONTENT_TOO_LARGE;
  default:
    return MHD_HTTP_INTERNAL_SERVER_ERROR;
  }
}

static enum MHD_Result handle_function(sf_server *s,
                                       struct MHD_Connection *conn,
                                       slot *sl) {
  if (sl->oom)
    return reply_text(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                      "out of memory buffering a request body of %zu bytes",
                      sl->len);
  static const uint8_t empty[1];
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_handle_info info;
  uint64_t t0 = now_ns();
  sf_status st = sf_handler_handle_limited(
      s->handler, &s->limits, sl->body != NULL ? sl->body : empty, sl->len,
      sl->arena, &reply, &reply_len, &info);
  sf_server_metrics_record_batch(s->metrics, &info, st, now_ns() - t0);

  if (st == SF_OK) {
    /* A request that grew its arena past the retain cap (so its blocks
     * would not be kept anyway): the reply is copied out and the rest
     * freed now, not when a slow client has read it all, so a request in
     * flight holds its reply and COLD_RETAIN of arena. */
    uint8_t *copy = sf_arena_capacity(sl->arena) > s->arena_retain
                        ? malloc(reply_len ? reply_len : 1)
                        : NULL;
    if (copy != NULL) {
      memcpy(copy, reply, reply_len);
      slot_shed(sl, COLD_RETAIN);
      struct MHD_Response *resp = MHD_create_response_from_buffer(
          reply_len, copy, MHD_RESPMEM_MUST_FREE);
      if (resp == NULL) free(copy);
      return queue(s, conn, MHD_HTTP_OK, resp, CT_OCTET);
    }
    /* Else the reply lives in the slot's arena until on_completed(). */
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        reply_len, reply, MHD_RESPMEM_PERSISTENT);
    return queue(s, conn, MHD_HTTP_OK, resp, CT_OCTET);
  }

  /* The SDK's reason names the function type, the id, what failed and the
   * fix (sdk/src/status.c): it is the body as it is, and the log line. */
  const char *reason = info.error[0] != '\0' ? info.error : sf_strerror(st);
  if (st == SF_ERR_TOO_LARGE) /* a cap of sf_request_limits */
    return reply_text(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                      "%s; the server's option: %s", info.error,
                      strstr(info.error, "invocations") != NULL
                          ? "--max-invocations"
                          : "--max-state-values");
  unsigned code = http_code_of(st);
  if (st == SF_ERR_NOMEM && sf_arena_over_limit(sl->arena))
    code = MHD_HTTP_CONTENT_TOO_LARGE;
  /* What the function or the deployment got wrong is logged; a malformed
   * request (400) is the sender's and only answered. */
  if (code != MHD_HTTP_BAD_REQUEST) log_line(s, "%s", reason);
  return reply_text(s, conn, code, NULL, "%s", reason);
}

/* Parses a Content-Length header; false when it is not a plain number or
 * does not fit. (A digit loop: strtoull's locale and base handling cost
 * ~150 instructions of every request.) */
static bool parse_length(const char *text, unsigned long long *out) {
  if (text == NULL || *text == '\0') return false;
  unsigned long long v = 0;
  for (const char *p = text; *p != '\0'; p++) {
    unsigned d = (unsigned)(*p - '0');
    if (d > 9 || v > (ULLONG_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
  sf_server *s = cls;

  if (*con_cls == NULL) { /* headers are in: route */
    atomic_fetch_add(&s->in_flight, 1);
    sf_guard_head_done(s->guard, conn); /* the body within body_timeout */
    char why[256];
    if (!sf_tls_peer_ok(s->tls, conn, why, sizeof why)) { /* mTLS (tls.c) */
      *con_cls = K_ANSWERED;
      return reply_text(s, conn, MHD_HTTP_FORBIDDEN, NULL, "%s", why);
    }
    sf_guard_head head;
    if (!sf_guard_head_ok(conn, url, version, &head, why, sizeof why)) {
      *con_cls = K_ANSWERED; /* a proxy could read it otherwise: close */
      return reply_close(s, conn, MHD_HTTP_BAD_REQUEST, NULL,
                         "malformed request head: %s", why);
    }
    route r = route_of(s, url);
    unsigned long long declared = 0;
    bool has_length = parse_length(head.content_length, &declared);
    if (r != ROUTE_FUNCTION || strcmp(method, MHD_HTTP_METHOD_POST) != 0) {
      /* Answered on the last call so that keep-alive survives; a request
       * with a body we do not want is answered now (MHD then closes). */
      if ((has_length && declared > 0) || head.transfer_encoding) {
        *con_cls = K_ANSWERED;
        return reply_simple(s, conn, r, method, url);
      }
      *con_cls = &k_marker[r];
      return MHD_YES;
    }
    if (has_length && declared > s->max_body) {
      *con_cls = K_ANSWERED;
      return reply_text(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                        "request body of %llu bytes exceeds the limit of %zu "
                        "bytes (--max-body)",
                        declared, s->max_body);
    }
    size_t used = atomic_load(&s->inflight_bytes);
    if (has_length && declared > 0 &&
        (used > inflight_cap(s, (size_t)declared) ||
         declared > inflight_cap(s, (size_t)declared) - used)) {
      *con_cls = K_ANSWERED;
      return reply_close(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "1",
                         "the server is buffering too many request bodies "
                         "(--max-inflight-bytes %zu); retry later",
                         s->max_inflight);
    }
    slot *sl = slot_acquire(s);
    if (sl == NULL) {
      *con_cls = K_ANSWERED;
      return reply_text(s, conn, MHD_HTTP_INTERNAL_SERVER_ERROR, NULL,
                        "out of memory");
    }
    /* The body is buffered as it arrives, never reserved from the
     * declared length: a client declaring 16 MiB and sending nothing
     * holds nothing. */
    *con_cls = sl;
    return MHD_YES;
  }

  if (is_marker(*con_cls)) { /* no slot: discard any body, then answer */
    if (*upload_data_size > 0) {
      *upload_data_size = 0;
      return MHD_YES;
    }
    if (*con_cls == K_ANSWERED) return MHD_YES;
    route r = (route)((const char *)*con_cls - k_marker);
    *con_cls = K_ANSWERED;
    return reply_simple(s, conn, r, method, url);
  }

  slot *sl = *con_cls;
  if (*upload_data_size > 0) { /* a body chunk */
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (sl->overflow || sl->oom || sl->busy) return MHD_YES;
    if (n > s->max_body - sl->len) {
      sl->overflow = true; /* keep reading, stop buffering */
      return MHD_YES;
    }
    if (!slot_reserve(s, sl, sl->len + n)) return MHD_YES; /* busy, oom */
    memcpy(sl->body + sl->len, upload_data, n);
    sl->len += n;
    return MHD_YES;
  }

  /* the whole body is in: a client that hangs up now still gets its answer */
  sf_guard_answering(conn);
  if (sl->busy)
    return reply_close(s, conn, MHD_HTTP_SERVICE_UNAVAILABLE, "1",
                       "the server is buffering too many request bodies "
                       "(--max-inflight-bytes %zu); retry later",
                       s->max_inflight);
  if (sl->overflow)
    return reply_text(s, conn, MHD_HTTP_CONTENT_TOO_LARGE, NULL,
                      "request body exceeds the limit of %zu bytes "
                      "(--max-body)",
                      s->max_body);
  return handle_function(s, conn, sl);
}

static void on_completed(void *cls, struct MHD_Connection *conn,
                         void **con_cls, enum MHD_RequestTerminationCode toe) {
  sf_server *s = cls;
  sf_guard_request_done(s->guard, conn); /* idle for idle_timeout at most */
  if (*con_cls == NULL) return;
  if (!is_marker(*con_cls)) slot_release(s, *con_cls);
  *con_cls = NULL;
  atomic_fetch_add_explicit(&s->completed, 1, memory_order_relaxed);
  atomic_fetch_sub(&s->in_flight, 1);
}

/* The guard's reaper calls this four times a second. When no request is in
 * progress and some completed since the last time (at most once a second),
 * the memory the allocator holds free goes back to the system: glibc keeps
 * what a burst freed in the worker threads' arenas, so after each backlog
 * (a stall of the caller, then hundreds of large batches at once) RssAnon
 * stepped up and stayed (bench/soak.py: 3.2 -> 6.2 -> 10.6 -> 12.2 MB over
 * three 1 s stalls, 3.9 MB in use; malloc_trim gave back all but that).
 * sf-local does the same (runtime/src/engine.c, trim_when_idle). */
static void trim_when_idle(void *ctx) {
  sf_server *s = ctx;
  unsigned long done = atomic_load_explicit(&s->completed, memory_order_relaxed);
  long long now = (long long)(now_ns() / 1000000);
  if (atomic_load(&s->in_flight) != 0 || done == s->trim_completed ||
      now - s->trim_last_ms < 1000)
    return;
  s->trim_completed = done;
  s->trim_last_ms = now;
#ifdef __GLIBC__
  malloc_trim(0);
#endif
}

/* ---- start and stop ------------------------------------------------------ */

/* Binds and listens on host:port (sfb/listen.h); returns the socket or -1
 * with an error. */
static int open_listener(sf_server *s, const char *host, uint16_t port,
                         sf_status *status, char *err, size_t err_len) {
  sfb_listener l;
  if (sfb_listen_tcp(host, port, &l) != 0) {
    if (l.gai_error != 0)
      set_error(status, err, err_len, SF_ERR_INVALID_ARGUMENT,
                "cannot resolve listen host '%s': %s", host,
                sfb_listen_strerror(&l));
    else
      set_error(status, err, err_len, SF_ERR_IO, "cannot listen on %s:%u: %s",
                host, (unsigned)port, sfb_listen_strerror(&l));
    return -1;
  }
  s->ipv6 = l.ipv6;
  s->port = l.port;
  return l.fd;
}

static unsigned online_cores(void) {
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  if (n < 1) return 1;
  return n > MAX_THREADS ? MAX_THREADS : (unsigned)n;
}

/* Frees a server whose daemon is not running. */
static void server_free(sf_server *s) {
  while (s->free_slots != NULL) {
    slot *sl = s->free_slots;
    s->free_slots = sl->next;
    slot_destroy(sl);
  }
  pthread_mutex_destroy(&s->pool_lock);
  sf_server_metrics_free(s->metrics);
  sf_tls_free(s->tls);
  sf_guard_free(s->guard);
  free(s);
}

SF_SERVER_EXPORT
sf_server *sf_server_start(const sf_handler *handler,
                           const sf_server_options *options, sf_status *status,
                           char *err, size_t err_len) {
  if (err != NULL && err_len > 0) err[0] = '\0';
  if (status != NULL) *status = SF_OK;
  sf_server_options defaults;
  memset(&defaults, 0, sizeof defaults);
  const sf_server_options *o = options != NULL ? options : &defaults;
  if (handler == NULL) {
    set_error(status, err, err_len, SF_ERR_INVALID_ARGUMENT,
              "no handler given");
    return NULL;
  }
  const char *host = o->host != NULL && o->host[0] != '\0' ? o->host
                                                           : DEFAULT_HOST;
  const char *prefix = o->path_prefix != NULL && o->path_prefix[0] != '\0'
                           ? o->path_prefix
                           : DEFAULT_PREFIX;
  if (prefix[0] != '/' || strlen(prefix) > MAX_PREFIX) {
    set_error(status, err, err_len, SF_ERR_INVALID_ARGUMENT,
              "path prefix must start with '/' and have at most %d "
              "characters: '%s'",
              MAX_PREFIX, prefix);
    return NULL;
  }
  if (strlen(host) >= 256) {
    set_error(status, err, err_len, SF_ERR_INVALID_ARGUMENT,
              "listen host too long");
    return NULL;
  }
  if (o->threads > MAX_THREADS) {
    set_error(status, err, err_len, SF_ERR_INVALID_ARGUMENT,
              "too many threads: %u (at most %d)", o->threads, MAX_THREADS);
    return NULL;
  }

  sf_server *s = calloc(1, sizeof *s);
  if (s == NULL) {
    set_error(status, err, err_len, SF_ERR_NOMEM, "out of memory");
    return NULL;
  }
  s->handler = handler;
  s->listen_fd = -1;
  snprintf(s->host, sizeof s->host, "%s", host);
  snprintf(s->prefix, sizeof s->prefix, "%s", prefix);
  s->prefix_len = strlen(s->prefix);
  while (s->prefix_len > 0 && s->prefix[s->prefix_len - 1] == '/')
    s->prefix[--s->prefix_len] = '\0';
  s->max_body = o->max_body != 0 ? o->max_body : DEFAULT_MAX_BODY;
  s->limits.max_invocations = o->max_invocations; /* 0: the SDK's default */
  s->limits.max_state_values = o->max_state_values;
  /* Decoding takes a few times the body; the cap stops pathological input
   * from eating the machine while leaving honest requests plenty. */
  s->arena_limit = s->max_body < SIZE_MAX / 8 ? s->max_body * 8 : 0;
  if (s->arena_limit != 0 && s->arena_limit < (size_t)64 * 1024 * 1024)
    s->arena_limit = (size_t)64 * 1024 * 1024;
  s->threads = o->threads != 0 ? o->threads : online_cores();
  s->arena_retain = arena_retain_default();
  s->quiet = o->quiet;
  s->max_free = 4 * (size_t)s->threads + 16;
  s->max_inflight = o->max_inflight_bytes != 0 ? o->max_inflight_bytes
                                               : DEFAULT_MAX_INFLIGHT;
  atomic_init(&s->inflight_bytes, 0);
  unsigned idle_s = o->idle_timeout_s ? o->idle_timeout_s
                                      : DEFAULT_IDLE_TIMEOUT_S;
  s->guard = sf_guard_new(
      o->head_timeout_s ? o->head_timeout_s : DEFAULT_HEAD_TIMEOUT_S,
      o->body_timeout_s ? o->body_timeout_s : DEFAULT_BODY_TIMEOUT_S, idle_s);
  atomic_init(&s->in_flight, 0);
  atomic_init(&s->completed, 0);
  atomic_init(&s->n_free_hint, 0);
  atomic_init(&s->draining, false);
  pthread_mutex_init(&s->pool_lock, NULL);
  s->metrics = sf_server_metrics_new(handler);
  if (s->metrics == NULL || s->guard == NULL) {
    set_error(status, err, err_len, SF_ERR_NOMEM, "out of memory");
    server_free(s);
    return NULL;
  }
  sf_guard_on_sweep(s->guard, trim_when_idle, s);

  if (sf_tls_load(o, &s->tls, err, err_len) != 0) {
    if (status != NULL) *status = SF_ERR_INVALID_ARGUMENT;
    server_free(s);
    return NULL;
  }

  /* No options at all means port 8000; given options, port 0 means "pick a
   * free port" as the header documents (see sf_server_port). */
  uint16_t port = options != NULL ? options->port : DEFAULT_PORT;
  s->listen_fd = open_listener(s, host, port, status, err, err_len);
  if (s->listen_fd < 0) {
    server_free(s);
    return NULL;
  }

  /* epoll, not poll(): with hundreds of keep-alive connections (Flink's
   * pool holds up to 1,024) poll's walk over every socket per wake-up cost
   * a third of the server's CPU (bench/README.md, "sf-local end to end").
   * libmicrohttpd 0.9.75's epoll mode misses a FIN that arrives with an
   * incomplete request (issue 13); guard.c watches every connection for
   * the hang-up and closes it at once. TURBO: read, write and accept are
   * tried before asking the loop whether the socket is ready, which saves
   * a loop round per keep-alive request. */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ITC |
                   MHD_USE_ERROR_LOG | MHD_USE_EPOLL | MHD_USE_TURBO;
  if (s->ipv6) flags |= MHD_USE_IPv6;
  flags |= sf_tls_mhd_flags(s->tls);
  struct MHD_OptionItem pool[] = {
      {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)s->threads, NULL},
      {MHD_OPTION_END, 0, NULL},
  };
  if (s->threads < 2) pool[0].option = MHD_OPTION_END;
  s->daemon = MHD_start_daemon(
      flags, s->port, NULL, NULL, on_access, s,
      MHD_OPTION_EXTERNAL_LOGGER, mhd_logger, s,
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)s->listen_fd,
      MHD_OPTION_NOTIFY_COMPLETED, on_completed, s,
      MHD_OPTION_NOTIFY_CONNECTION, sf_guard_notify, s->guard,
      MHD_OPTION_URI_LOG_CALLBACK, sf_guard_uri, s->guard,
      MHD_OPTION_UNESCAPE_CALLBACK, sf_guard_unescape, s->guard,
      /* MHD's own timeout restarts on every byte; guard.c's deadlines do
       * not. This one still bounds a reply the client does not read. */
      MHD_OPTION_CONNECTION_TIMEOUT, idle_s,
      MHD_OPTION_CONNECTION_LIMIT,
      o->max_connections ? o->max_connections
                         : (unsigned)DEFAULT_MAX_CONNECTIONS,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT,
      o->max_connections_per_client ? o->max_connections_per_client
                                    : (unsigned)DEFAULT_PER_CLIENT,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)CONNECTION_MEMORY,
      MHD_OPTION_ARRAY, pool, MHD_OPTION_ARRAY, sf_tls_mhd_options(s->tls),
      MHD_OPTION_END);
  if (s->daemon == NULL) {
    int e = errno;
    set_error(status, err, err_len, SF_ERR_IO,
              "cannot start the HTTP server on %s:%u: %s", host,
              (unsigned)s->port, e != 0 ? strerror(e) : "libmicrohttpd failed");
    close(s->listen_fd);
    server_free(s);
    return NULL;
  }

  if (!s->quiet) {
    size_t n = sf_handler_function_count(handler);
    char types[1024];
    size_t used = 0;
    types[0] = '\0';
    for (size_t i = 0; i < n && used < sizeof types; i++) {
      int w = snprintf(types + used, sizeof types - used, "%s%s",
                       i > 0 ? ", " : "",
                       sf_handler_function_typename(handler, i));
      if (w < 0) break;
      used += (size_t)w;
    }
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr,
            "statefun: serving %zu function(s) [%s] on %s://%s%s%s:%u%s "
            "(%u threads%s)\n",
            n, types, sf_tls_scheme(s->tls), v6 ? "[" : "", host,
            v6 ? "]" : "", (unsigned)s->port, s->prefix_len ? s->prefix : "/",
            s->threads,
            sf_tls_mutual(s->tls) ? ", client certificates required" : "");
  }
  return s;
}

SF_SERVER_EXPORT
uint16_t sf_server_port(const sf_server *server) {
  return server != NULL ? server->port : 0;
}

SF_SERVER_EXPORT
void sf_server_stop(sf_server *server) {
  if (server == NULL) return;
  sf_server *s = server;
  atomic_store(&s->draining, true);
  MHD_socket lfd = MHD_quiesce_daemon(s->daemon);
  long pending = atomic_load(&s->in_flight);
  if (pending > 0)
    log_line(s, "draining %ld request(s) in flight (up to %d ms)", pending,
             DRAIN_TIMEOUT_MS);
  uint64_t deadline = now_ns() + (uint64_t)DRAIN_TIMEOUT_MS * 1000000u;
  while (atomic_load(&s->in_flight) > 0 && now_ns() < deadline) {
    struct timespec ts = {0, 5 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  pending = atomic_load(&s->in_flight);
  if (pending > 0)
    log_line(s, "%ld request(s) still in flight after %d ms; closing them",
             pending, DRAIN_TIMEOUT_MS);
  MHD_stop_daemon(s->daemon);
  /* After a quiesce the listen socket is ours to close (and MHD's threads
   * are gone, so nobody can still be using it). */
  if (lfd != MHD_INVALID_SOCKET)
    close(lfd);
  log_line(s, "stopped");
  server_free(s);
}
