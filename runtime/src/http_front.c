/*
 * http_front.c - the ingress and egress HTTP servers of sf-local: the
 * libmicrohttpd glue (receiving bodies, routing to the two servers),
 * starting and stopping them. The handlers are in front_*.c (see
 * front_impl.h for which file owns what).
 *
 * Ingress (8090): what a StateFun playground user or a test sends in:
 * messages to function addresses (playground-style PUT/POST), records on
 * module.yaml ingress topics (what a Kafka producer would do), plus the
 * state view of an address, /metrics, /health and a summary at /.
 * Egress (8091): what the functions sent out, popped one record at a time
 * (playground-style GET /<topic>) or as JSON lines per egress id.
 *
 * Every handler validates its input at the edge and answers a 4xx with a
 * one-line reason; nothing from the network can abort the process. The
 * servers poll with a small thread pool (poll(2): libmicrohttpd 0.9.75's
 * epoll mode misses a FIN that comes with an incomplete request and
 * leaves such connections in CLOSE_WAIT); a request that must wait parks
 * without a thread (front_conn.c). Heads that a proxy could read
 * differently are refused (400, connection closed), bodies are buffered
 * as they arrive within a global budget, and every connection runs on a
 * deadline (head, body, idle keep-alive).
 *
 * libmicrohttpd would percent-decode the path before we see it, which
 * makes "a%2Fb" and "a/b" indistinguishable; we install a no-op unescape
 * callback and decode each part ourselves.
 */
#include "front_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "sfb/listen.h"
#include "util.h"

typedef struct server_cls {
  sfl_front *f;
  bool ingress;
} server_cls;

static server_cls *cls_of(sfl_front *f, bool ingress);

/* Counts the Content-Length and Transfer-Encoding headers. */
typedef struct head_count {
  unsigned content_length, transfer_encoding;
} head_count;

static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
                                    const char *key, const char *value) {
  head_count *hc = cls;
  if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) hc->content_length++;
  if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
    hc->transfer_encoding++;
  return MHD_YES;
}

static enum MHD_Result count_arg(void *cls, enum MHD_ValueKind kind,
                                 const char *key, const char *value) {
  (*(unsigned *)cls)++;
  return MHD_YES;
}

/* Whether the request line held a NUL byte in its target. libmicrohttpd
 * parses the line in place: the target ends where it found the space
 * before the version (or the '?' of a query, which then has arguments);
 * anything else between the target's end and the version was hidden from
 * us behind a NUL ("a\0b" would otherwise name "a"). A NUL right before
 * the space ("a\0 ") looks like an empty query and is let through: the
 * target then ends there, and nothing after it is lost. */
static bool target_has_nul(struct MHD_Connection *conn, const char *url,
                           const char *version) {
  if (version == NULL || version <= url) return false;
  const char *end = url + strlen(url);
  /* Only the space before the version, or an empty query ("?" + space). */
  if (end + 2 >= version) return false;
  unsigned args = 0;
  MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, count_arg, &args);
  return args == 0;
}

static const char *const close_hdr[] = {"Connection", "close", NULL};

/* The checks of a complete head that a proxy in front could disagree on
 * (request smuggling): answered 400 with the connection closed. */
static bool head_rejected(exchange *x, const char *version,
                          enum MHD_Result *ret) {
  head_count hc = {0, 0};
  MHD_get_connection_values(x->conn, MHD_HEADER_KIND, count_header, &hc);
  const char *why = NULL;
  if (hc.content_length > 1)
    why = "more than one Content-Length header";
  else if (hc.content_length > 0 && hc.transfer_encoding > 0)
    why = "both Content-Length and Transfer-Encoding";
  else if (hc.transfer_encoding > 1)
    why = "more than one Transfer-Encoding header";
  else if (version != NULL && strcmp(version, MHD_HTTP_VERSION_1_1) == 0 &&
           front_header(x, MHD_HTTP_HEADER_HOST) == NULL)
    why = "an HTTP/1.1 request without a Host header";
  else if (target_has_nul(x->conn, x->url, version))
    why = "a NUL byte in the request target";
  if (why == NULL) return false;
  *ret = front_send_error_h(x, MHD_HTTP_BAD_REQUEST, close_hdr, "%s", why);
  return true;
}

/* The first call for a request: its head is complete. */
static enum MHD_Result on_head(exchange *x, request *r, bool ingress,
                               const char *version) {
  sfl_front *f = x->f;
  enum MHD_Result ret;
  if (head_rejected(x, version, &ret)) return ret;
  /* The body (if any) must now arrive in time. */
  front_conn_deadline(x->conn, (int64_t)f->lim.body_timeout_s * 1000);
  const char *cl = front_header(x, MHD_HTTP_HEADER_CONTENT_LENGTH);
  if (cl == NULL) return MHD_YES;
  char *end = NULL;
  errno = 0;
  unsigned long long n = strtoull(cl, &end, 10);
  if (errno != 0 || end == cl || *end != '\0' || cl[0] == '-' ||
      cl[0] == '+') {
    return front_send_error_h(x, MHD_HTTP_BAD_REQUEST, close_hdr,
                              "bad Content-Length");
  }
  if (n > f->max_body) {
    r->too_large = true;
    /* Answering before the body arrives makes MHD close the connection
     * instead of reading it. */
    if (ingress)
      return front_send_error(x, HTTP_TOO_LARGE, "body larger than %zu bytes",
                              f->max_body);
  } else if (n > 0 && atomic_load(&f->inflight_bytes) + n > f->lim.max_inflight) {
    static const char *const h[] = {"Retry-After", "1", "Connection", "close",
                                    NULL};
    return front_send_error_h(
        x, MHD_HTTP_SERVICE_UNAVAILABLE, h,
        "sf-local is buffering %zu bytes of request bodies (--max-inflight-bytes "
        "%zu); retry later",
        atomic_load(&f->inflight_bytes), f->lim.max_inflight);
  }
  return MHD_YES;
}

/* Takes a piece of the body as it arrives (never reserved from
 * Content-Length), within --max-body and the global budget. */
static enum MHD_Result on_body(exchange *x, request *r, const char *data,
                               size_t n) {
  sfl_front *f = x->f;
  if (r->too_large) return MHD_YES;
  if (n > f->max_body - r->len) {
    r->too_large = true; /* chunked upload over the limit: drain, 413 */
    atomic_fetch_sub(&f->inflight_bytes, r->cap);
    free(r->body);
    r->body = NULL;
    r->len = r->cap = 0;
    return MHD_YES;
  }
  if (r->len + n > r->cap) {
    size_t nc = r->cap == 0 ? 4096 : r->cap;
    while (nc < r->len + n) nc *= 2;
    if (nc > f->max_body) nc = f->max_body;
    size_t grow = nc - r->cap;
    if (atomic_fetch_add(&f->inflight_bytes, grow) + grow > f->lim.max_inflight) {
      atomic_fetch_sub(&f->inflight_bytes, grow);
      static const char *const h[] = {"Retry-After", "1", "Connection",
                                      "close", NULL};
      return front_send_error_h(
          x, MHD_HTTP_SERVICE_UNAVAILABLE, h,
          "request bodies in progress exceed --max-inflight-bytes %zu; retry "
          "later",
          f->lim.max_inflight);
    }
    uint8_t *nb = realloc(r->body, nc);
    if (nb == NULL) {
      atomic_fetch_sub(&f->inflight_bytes, grow);
      return MHD_NO;
    }
    r->body = nb;
    r->cap = nc;
  }
  memcpy(r->body + r->len, data, n);
  r->len += n;
  return MHD_YES;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn,
                                 const char *url, const char *method,
                                 const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls) {
  server_cls *sc = cls;
  sfl_front *f = sc->f;
  exchange x = {f, conn, sc->ingress ? "ingress" : "egress", method, url};
  request *r = *con_cls;
  if (r == NULL) {
    r = calloc(1, sizeof *r);
    if (r == NULL) return MHD_NO;
    *con_cls = r;
    r->cc = front_conn_of(conn);
    return on_head(&x, r, sc->ingress, version);
  }
  if (*upload_data_size != 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    return on_body(&x, r, upload_data, n);
  }
  /* The whole request is here (or it was parked and is resumed): no
   * deadline while it is answered; it looks at the engine now. */
  if (r->cc != NULL) atomic_store(&r->cc->deadline_ms, 0);
  r->seen = atomic_load(&f->change_seq);
  r->seen_reply = atomic_load(&f->reply_seq);
  if (r->resume != NULL) return r->resume(&x, r);
  return sc->ingress ? front_ingress_route(&x, r) : front_egress_route(&x, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  server_cls *sc = cls;
  sfl_front *f = sc->f;
  request *r = *con_cls;
  /* Kept alive: the next request must come within the idle timeout. */
  front_conn_deadline(conn, (int64_t)f->lim.idle_timeout_s * 1000);
  if (r == NULL) return;
  atomic_fetch_sub(&f->inflight_bytes, r->cap);
  free(r->body);
  free(r->to);
  free(r);
  *con_cls = NULL;
}

/* The request line is in: the rest of the head must follow in time. */
static void *on_uri(void *cls, const char *uri, struct MHD_Connection *conn) {
  sfl_front *f = cls;
  conn_ctx *cc = front_conn_of(conn);
  if (cc != NULL) {
    int64_t d = sfl_mono_ms() + (int64_t)f->lim.head_timeout_s * 1000;
    int64_t cur = atomic_load(&cc->deadline_ms);
    if (cur == 0 || d < cur) atomic_store(&cc->deadline_ms, d);
  }
  return NULL;
}

/* Keeps "%2F" as it is: we decode each path part ourselves. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  sfl_front *f = cls;
  if (!f->verbose) return;
  char line[512];
  vsnprintf(line, sizeof line, fmt, ap);
  size_t n = strlen(line);
  while (n > 0 && line[n - 1] == '\n') line[--n] = '\0';
  fprintf(stderr, "sf-local: http: %s\n", line);
}

/* The two closures live inside the front so that they die with it. */
struct front_with_cls {
  sfl_front front;
  server_cls cls[2];
};

static server_cls *cls_of(sfl_front *f, bool ingress) {
  struct front_with_cls *fc = (struct front_with_cls *)f;
  return &fc->cls[ingress ? 0 : 1];
}

/* The listening socket of one server (sfbase), with sf-local's wording of
 * what went wrong. -1 with err set on failure. */
static int open_listener(const char *host, uint16_t port, uint16_t *bound,
                         bool *v6, char *err, size_t err_len,
                         const char *what) {
  sfb_listener l;
  if (sfb_listen_tcp(host, port, &l) == 0) {
    *bound = l.port;
    *v6 = l.ipv6;
    return l.fd;
  }
  if (l.gai_error != 0)
    front_err(err, err_len, "cannot resolve --bind address '%s': %s", host,
              sfb_listen_strerror(&l));
  else
    front_err(err, err_len, "cannot listen for the %s on %s:%u: %s%s", what,
              host, (unsigned)port, sfb_listen_strerror(&l),
              l.sys_errno == EADDRINUSE
                  ? " (another sf-local or playground running? "
                    "see --ingress-port/--egress-port)"
                  : "");
  return -1;
}

/* Per-connection MHD memory (request head plus read buffer). MHD zeroes
 * the unused part of this pool after every keep-alive request, so its size
 * is paid per request: the default 32 KiB was ~50% of the front's user
 * instructions per message (callgrind) and 3-6% of sf-local's cycles
 * (perf). 16 KiB holds any head a client sends here; bodies are copied
 * out of it chunk by chunk, in reads of half of it (the function server
 * weighs the same trade at 12 KiB: server/src/server.c). */
#define FRONT_CONNECTION_MEMORY 16384

static struct MHD_Daemon *start_daemon(sfl_front *f, bool ingress,
                                       uint16_t port, uint16_t *bound,
                                       char *err, size_t err_len) {
  const char *what = ingress ? "ingress" : "egress";
  bool v6 = false;
  int fd = open_listener(f->bind, port, bound, &v6, err, err_len, what);
  if (fd < 0) return NULL;
  /* TURBO, as the function server: read, write and accept are tried before
   * asking poll whether the socket is ready (bench/sflocal.sh, hot keys:
   * 46.4-46.5k msg/s without it, 52.9-55.2k with it, same machine). */
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_TURBO |
                   MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  server_cls *sc = cls_of(f, ingress);
  sc->f = f;
  sc->ingress = ingress;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, *bound, NULL, NULL, on_access, sc, MHD_OPTION_EXTERNAL_LOGGER,
      mhd_log, f, /* must come first */
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_UNESCAPE_CALLBACK,
      no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, sc,
      MHD_OPTION_NOTIFY_CONNECTION, front_conn_notify, f,
      MHD_OPTION_URI_LOG_CALLBACK, on_uri, f,
      MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)f->lim.threads,
      MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)FRONT_CONNECTION_MEMORY,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)f->lim.max_connections,
      MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)f->lim.per_client,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)f->lim.idle_timeout_s,
      MHD_OPTION_STRICT_FOR_CLIENT, (int)1, MHD_OPTION_END);
  if (d == NULL) {
    front_err(err, err_len, "cannot start the %s HTTP server on %s:%u", what,
              f->bind, (unsigned)*bound);
    close(fd);
  }
  return d;
}

sfl_front *sfl_front_start(const sfl_front_options *o, char *err,
                           size_t err_len) {
  if (err != NULL && err_len > 0) err[0] = '\0';
  if (o == NULL || o->engine == NULL) {
    front_err(err, err_len, "no engine given");
    return NULL;
  }
  const char *bind_to = o->bind != NULL && o->bind[0] != '\0'
                            ? o->bind
                            : SFL_FRONT_DEFAULT_BIND;
  if (strlen(bind_to) >= sizeof((sfl_front *)0)->bind) {
    front_err(err, err_len, "--bind address too long");
    return NULL;
  }
  struct front_with_cls *fc = calloc(1, sizeof *fc);
  if (fc == NULL) {
    front_err(err, err_len, "out of memory");
    return NULL;
  }
  sfl_front *f = &fc->front;
  f->engine = o->engine;
  f->config = o->config;
  f->max_body = o->max_body != 0 ? o->max_body : SFL_FRONT_DEFAULT_MAX_BODY;
  f->send_wait_ms = o->send_wait_ms > 0 ? o->send_wait_ms
                                        : DEFAULT_SEND_WAIT_MS;
  f->max_poll_ms = o->max_poll_ms > 0 ? o->max_poll_ms : DEFAULT_MAX_POLL_MS;
  f->verbose = o->verbose;
  f->lim = o->limits;
#define DEF(field, value) \
  if (f->lim.field == 0) f->lim.field = (value)
  DEF(threads, SFL_FRONT_DEFAULT_THREADS);
  DEF(max_connections, SFL_FRONT_DEFAULT_MAX_CONNECTIONS);
  DEF(per_client, SFL_FRONT_DEFAULT_PER_CLIENT);
  DEF(head_timeout_s, SFL_FRONT_DEFAULT_HEAD_TIMEOUT_S);
  DEF(body_timeout_s, SFL_FRONT_DEFAULT_BODY_TIMEOUT_S);
  DEF(idle_timeout_s, SFL_FRONT_DEFAULT_IDLE_TIMEOUT_S);
  DEF(max_inflight, SFL_FRONT_DEFAULT_MAX_INFLIGHT);
#undef DEF
  f->irs = o->irs;
  f->n_irs = o->irs != NULL ? o->n_irs : 0;
  atomic_init(&f->stopping, false);
  atomic_init(&f->n_parked, 0);
  atomic_init(&f->change_seq, 0);
  atomic_init(&f->n_parked_any, 0);
  atomic_init(&f->reply_seq, 0);
  atomic_init(&f->inflight_bytes, 0);
  snprintf(f->bind, sizeof f->bind, "%s", bind_to);
  if (front_waker_start(f) != 0) {
    front_err(err, err_len, "cannot start the front's waker thread");
    free(fc);
    return NULL;
  }
  sfl_engine_on_change(f->engine, front_changed, f);
  f->ingress = start_daemon(f, true, o->ingress_port, &f->ingress_port, err,
                            err_len);
  if (f->ingress != NULL)
    f->egress = start_daemon(f, false, o->egress_port, &f->egress_port, err,
                             err_len);
  if (f->egress == NULL) {
    if (f->ingress != NULL) MHD_stop_daemon(f->ingress);
    sfl_engine_on_change(f->engine, NULL, NULL);
    front_waker_stop(f);
    free(fc);
    return NULL;
  }
  return f;
}

uint16_t sfl_front_ingress_port(const sfl_front *f) {
  return f != NULL ? f->ingress_port : 0;
}

uint16_t sfl_front_egress_port(const sfl_front *f) {
  return f != NULL ? f->egress_port : 0;
}

void sfl_front_stop(sfl_front *f) {
  if (f == NULL) return;
  atomic_store(&f->stopping, true);
  /* Parked requests are resumed and answer (nothing parks any more), then
   * MHD joins its threads and closes the sockets. */
  sfl_engine_on_change(f->engine, NULL, NULL);
  front_waker_stop(f);
  MHD_stop_daemon(f->ingress);
  MHD_stop_daemon(f->egress);
  pthread_mutex_destroy(&f->park_mu);
  pthread_cond_destroy(&f->park_cv);
  pthread_mutex_destroy(&f->conn_mu);
  free((struct front_with_cls *)f);
}
