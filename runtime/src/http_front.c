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
 * servers run a thread per connection so that long-polls (?wait=) and the
 * engine's backpressure waits block only their own client. Long waits are
 * cut into short slices so that sfl_front_stop never waits on them.
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

typedef struct server_cls {
  sfl_front *f;
  bool ingress;
} server_cls;

static server_cls *cls_of(sfl_front *f, bool ingress);

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
    const char *cl = front_header(&x, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl != NULL) {
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      if (errno != 0 || end == cl || n > f->max_body) {
        r->too_large = true;
        /* Answering before the body arrives makes MHD close the
         * connection instead of reading it. */
        if (sc->ingress)
          return front_send_error(&x, HTTP_TOO_LARGE,
                                  "body larger than %zu bytes", f->max_body);
      }
    }
    return MHD_YES;
  }
  if (*upload_data_size != 0) {
    size_t n = *upload_data_size;
    *upload_data_size = 0;
    if (r->too_large) return MHD_YES;
    if (n > f->max_body - r->len) {
      r->too_large = true; /* chunked upload over the limit: drain, 413 */
      free(r->body);
      r->body = NULL;
      r->len = r->cap = 0;
      return MHD_YES;
    }
    if (r->len + n > r->cap) {
      size_t nc = r->cap == 0 ? 4096 : r->cap;
      while (nc < r->len + n) nc *= 2;
      if (nc > f->max_body) nc = f->max_body;
      uint8_t *nb = realloc(r->body, nc);
      if (nb == NULL) return MHD_NO;
      r->body = nb;
      r->cap = nc;
    }
    memcpy(r->body + r->len, upload_data, n);
    r->len += n;
    return MHD_YES;
  }
  return sc->ingress ? front_ingress_route(&x, r) : front_egress_route(&x, r);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  request *r = *con_cls;
  if (r == NULL) return;
  free(r->body);
  free(r);
  *con_cls = NULL;
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

static struct MHD_Daemon *start_daemon(sfl_front *f, bool ingress,
                                       uint16_t port, uint16_t *bound,
                                       char *err, size_t err_len) {
  const char *what = ingress ? "ingress" : "egress";
  bool v6 = false;
  int fd = open_listener(f->bind, port, bound, &v6, err, err_len, what);
  if (fd < 0) return NULL;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD |
                   MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL | MHD_USE_ITC |
                   MHD_USE_ERROR_LOG;
  if (v6) flags |= MHD_USE_IPv6;
  server_cls *sc = cls_of(f, ingress);
  sc->f = f;
  sc->ingress = ingress;
  struct MHD_Daemon *d = MHD_start_daemon(
      flags, *bound, NULL, NULL, on_access, sc, MHD_OPTION_EXTERNAL_LOGGER,
      mhd_log, f, /* must come first */
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_UNESCAPE_CALLBACK,
      no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, NULL,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CONNECTION_LIMIT,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)CONNECTION_TIMEOUT_S,
      MHD_OPTION_END);
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
  f->irs = o->irs;
  f->n_irs = o->irs != NULL ? o->n_irs : 0;
  atomic_init(&f->stopping, false);
  snprintf(f->bind, sizeof f->bind, "%s", bind_to);
  f->ingress = start_daemon(f, true, o->ingress_port, &f->ingress_port, err,
                            err_len);
  if (f->ingress == NULL) {
    free(fc);
    return NULL;
  }
  f->egress = start_daemon(f, false, o->egress_port, &f->egress_port, err,
                           err_len);
  if (f->egress == NULL) {
    MHD_stop_daemon(f->ingress);
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
  /* Joins every connection thread; long-polls notice `stopping` within a
   * slice, sends within send_wait_ms. MHD closes the listen sockets. */
  MHD_stop_daemon(f->ingress);
  MHD_stop_daemon(f->egress);
  free((struct front_with_cls *)f);
}
