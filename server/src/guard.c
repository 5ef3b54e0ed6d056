/*
 * guard.c - connection deadlines and strict request heads for the function
 * server (see guard.h for what each entry point means).
 *
 * Every connection carries one deadline (monotonic milliseconds, 0 = none),
 * moved at fixed points of its requests by server.c. A reaper thread looks
 * at the list four times a second and shuts down (shutdown(2)) every
 * connection past its deadline; libmicrohttpd then sees the end of the
 * stream on its own thread and closes the connection as usual, so no
 * connection is touched from two threads. The list is guarded by a mutex
 * taken once per connection open/close and by the reaper; moving a
 * deadline is an atomic store.
 *
 * Hang-ups: the server runs libmicrohttpd in epoll mode (poll(2) over
 * hundreds of keep-alive connections, as Flink's pool of up to 1,024 opens,
 * cost the function server a third of its CPU), and 0.9.75's epoll mode
 * misses a FIN that arrives with an incomplete request: such a connection
 * would sit in CLOSE_WAIT until a deadline. The reaper therefore also
 * waits on its own epoll set, where every connection is registered for
 * EPOLLRDHUP alone (data arrivals do not wake it): a connection whose
 * client hung up and that is not being answered HANG_UP_GRACE_MS later is
 * shut down by the sweep (a request complete with its FIN is answered:
 * the grace lets the server read it first).
 */
#include "guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "sfb/utf8.h"

#define REAP_INTERVAL_MS 250
/* How long a hung-up connection that is not being answered is left to
 * libmicrohttpd: a FIN can come with the rest of a whole request, which
 * the server has not read yet and must still answer. */
#define HANG_UP_GRACE_MS 500

typedef struct gconn {
  struct gconn *prev, *next;
  int fd;
  bool closed;   /* on the graveyard list (under mu) */
  long long hung_up_ms; /* when the reaper saw its FIN, 0: not (under mu) */
  atomic_bool answering;
  bool bad_path; /* set by the unescape callback, read on the same thread */
  /* The raw request target as the URI log callback saw it: MHD ends it
   * where the space before the version was, so a raw NUL inside it shows
   * as a string shorter than the span up to the version. */
  const char *uri;
  size_t uri_len;
  atomic_llong deadline_ms;
} gconn;

struct sf_guard {
  long long head_ms, body_ms, idle_ms;
  pthread_mutex_t mu;
  bool stop;
  gconn *conns;
  /* Closed connections, freed by the reaper between two epoll_waits: an
   * event it got may name one closed since (it is skipped). */
  gconn *graveyard;
  int ep, wake; /* the reaper's epoll set (EPOLLRDHUP) and its stop eventfd */
  pthread_t reaper;
  void (*on_sweep)(void *ctx); /* sf_guard_on_sweep (under mu) */
  void *on_sweep_ctx;
};

/* The coarse clock (a few ms of resolution, no TSC read): deadlines are
 * seconds, and three are set per request. */
static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Shuts down a connection whose client hung up at least HANG_UP_GRACE_MS
 * ago, unless it is being answered (mu held). */
static void reap_hung_up(gconn *c, long long now) {
  if (c->hung_up_ms != 0 && now - c->hung_up_ms >= HANG_UP_GRACE_MS &&
      !atomic_load(&c->answering)) {
    c->hung_up_ms = 0;
    atomic_store(&c->deadline_ms, 0);
    shutdown(c->fd, SHUT_RDWR); /* MHD sees the end and closes it */
  }
}

static void *reap(void *arg) {
  sf_guard *g = arg;
  struct epoll_event evs[64];
  long long next_sweep = 0;
  pthread_mutex_lock(&g->mu);
  while (!g->stop) {
    long long now = mono_ms();
    bool swept = now >= next_sweep;
    if (swept) { /* at most four times a second, however many hang-ups */
      next_sweep = now + REAP_INTERVAL_MS;
      for (gconn *c = g->conns; c != NULL; c = c->next) {
        long long d = atomic_load(&c->deadline_ms);
        if (d != 0 && now >= d) {
          atomic_store(&c->deadline_ms, 0);
          shutdown(c->fd, SHUT_RDWR); /* MHD sees the end and closes it */
        } else {
          reap_hung_up(c, now);
        }
      }
    }
    void (*fn)(void *) = g->on_sweep;
    void *ctx = g->on_sweep_ctx;
    pthread_mutex_unlock(&g->mu);
    if (fn != NULL && swept) fn(ctx);
    int n = epoll_wait(g->ep, evs, 64, (int)(next_sweep - now));
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < n; i++) {
      gconn *c = evs[i].data.ptr;
      /* NULL: the stop eventfd. EPOLLONESHOT: a hang-up is reported once. */
      if (c != NULL && !c->closed) c->hung_up_ms = mono_ms();
    }
    while (g->graveyard != NULL) { /* no event names these any more */
      gconn *c = g->graveyard;
      g->graveyard = c->next;
      free(c);
    }
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

void sf_guard_on_sweep(sf_guard *g, void (*fn)(void *ctx), void *ctx) {
  pthread_mutex_lock(&g->mu);
  g->on_sweep = fn;
  g->on_sweep_ctx = ctx;
  pthread_mutex_unlock(&g->mu);
}

sf_guard *sf_guard_new(unsigned head_s, unsigned body_s, unsigned idle_s) {
  sf_guard *g = calloc(1, sizeof *g);
  if (g == NULL) return NULL;
  g->head_ms = (long long)head_s * 1000;
  g->body_ms = (long long)body_s * 1000;
  g->idle_ms = (long long)idle_s * 1000;
  g->ep = epoll_create1(EPOLL_CLOEXEC);
  g->wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (g->ep < 0 || g->wake < 0 || epoll_ctl(g->ep, EPOLL_CTL_ADD, g->wake, &ev) != 0) {
    if (g->ep >= 0) close(g->ep);
    if (g->wake >= 0) close(g->wake);
    free(g);
    return NULL;
  }
  pthread_mutex_init(&g->mu, NULL);
  if (pthread_create(&g->reaper, NULL, reap, g) != 0) {
    pthread_mutex_destroy(&g->mu);
    close(g->ep);
    close(g->wake);
    free(g);
    return NULL;
  }
  return g;
}

void sf_guard_free(sf_guard *g) {
  if (g == NULL) return;
  pthread_mutex_lock(&g->mu);
  g->stop = true;
  pthread_mutex_unlock(&g->mu);
  uint64_t one = 1;
  (void)!write(g->wake, &one, sizeof one);
  pthread_join(g->reaper, NULL);
  for (gconn **list = &g->conns; list != NULL;
       list = list == &g->conns ? &g->graveyard : NULL) {
    while (*list != NULL) { /* no live ones after MHD_stop_daemon */
      gconn *c = *list;
      *list = c->next;
      free(c);
    }
  }
  pthread_mutex_destroy(&g->mu);
  close(g->ep);
  close(g->wake);
  free(g);
}

static long long after(long long ms) { return ms > 0 ? mono_ms() + ms : 0; }

void sf_guard_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code) {
  sf_guard *g = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    gconn *gc = ci != NULL ? calloc(1, sizeof *gc) : NULL;
    if (gc == NULL) return; /* no deadline: MHD's own timeout still holds */
    gc->fd = ci->connect_fd;
    atomic_init(&gc->deadline_ms, after(g->head_ms));
    atomic_init(&gc->answering, false);
    pthread_mutex_lock(&g->mu);
    /* Without it (out of memory) the connection still has its deadlines. */
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLONESHOT, .data.ptr = gc};
    (void)epoll_ctl(g->ep, EPOLL_CTL_ADD, gc->fd, &ev);
    gc->next = g->conns;
    if (g->conns != NULL) g->conns->prev = gc;
    g->conns = gc;
    pthread_mutex_unlock(&g->mu);
    *socket_ctx = gc;
    return;
  }
  gconn *gc = *socket_ctx;
  if (gc == NULL) return;
  pthread_mutex_lock(&g->mu);
  (void)epoll_ctl(g->ep, EPOLL_CTL_DEL, gc->fd, NULL); /* still open here */
  if (gc->prev != NULL)
    gc->prev->next = gc->next;
  else
    g->conns = gc->next;
  if (gc->next != NULL) gc->next->prev = gc->prev;
  gc->closed = true;
  gc->next = g->graveyard;
  g->graveyard = gc;
  pthread_mutex_unlock(&g->mu);
  *socket_ctx = NULL;
}

static gconn *gconn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

static void request_line(sf_guard *g, gconn *gc) {
  if (gc == NULL) return;
  atomic_store(&gc->answering, false);
  if (g->head_ms == 0) return;
  /* An earlier deadline (the connection's first head) stays. */
  long long d = after(g->head_ms), cur = atomic_load(&gc->deadline_ms);
  if (cur == 0 || d < cur) atomic_store(&gc->deadline_ms, d);
}

void sf_guard_request_line(sf_guard *g, struct MHD_Connection *c) {
  request_line(g, gconn_of(c));
}

void sf_guard_head_done(sf_guard *g, struct MHD_Connection *c) {
  gconn *gc = gconn_of(c);
  if (gc != NULL) atomic_store(&gc->deadline_ms, after(g->body_ms));
}

void sf_guard_answering(struct MHD_Connection *c) {
  gconn *gc = gconn_of(c);
  if (gc != NULL) {
    atomic_store(&gc->answering, true);
    atomic_store(&gc->deadline_ms, 0);
  }
}

void sf_guard_request_done(sf_guard *g, struct MHD_Connection *c) {
  gconn *gc = gconn_of(c);
  if (gc != NULL) {
    atomic_store(&gc->deadline_ms, after(g->idle_ms));
    atomic_store(&gc->answering, false);
  }
}

/* ---- strict heads --------------------------------------------------------- */

typedef struct head_count {
  int content_length, transfer_encoding, host;
  const char *length_value; /* the first Content-Length's */
} head_count;

/* Whether header name `key` (`len` bytes) is `name`, a literal. */
#define IS_HEADER(key, len, name) \
  ((len) == sizeof(name) - 1 && strcasecmp((key), (name)) == 0)

/* One pass over the headers finds everything the checks and the server
 * read (looking each up again costs a pass per header); names are told
 * apart by length first. */
static enum MHD_Result count_header(void *cls, enum MHD_ValueKind kind,
                                    const char *key, size_t key_len,
                                    const char *value, size_t value_len) {
  (void)kind;
  (void)value_len;
  head_count *n = cls;
  if (IS_HEADER(key, key_len, MHD_HTTP_HEADER_CONTENT_LENGTH)) {
    if (n->content_length++ == 0) n->length_value = value;
  } else if (IS_HEADER(key, key_len, MHD_HTTP_HEADER_TRANSFER_ENCODING)) {
    n->transfer_encoding++;
  } else if (IS_HEADER(key, key_len, MHD_HTTP_HEADER_HOST)) {
    n->host++;
  }
  return MHD_YES;
}

/* Whether s[0..n) is valid UTF-8 without a NUL (sfbase's validator). */
static bool text_ok(const unsigned char *s, size_t n) {
  return memchr(s, 0, n) == NULL && sfb_utf8_valid(s, n);
}

size_t sf_guard_unescape(void *cls, struct MHD_Connection *c, char *s) {
  (void)cls;
  size_t n = MHD_http_unescape(s);
  /* A %00 leaves the C string shorter than what was decoded. */
  if (n != strlen(s) || !text_ok((const unsigned char *)s, n)) {
    gconn *gc = gconn_of(c);
    if (gc != NULL) gc->bad_path = true;
  }
  return n;
}

void *sf_guard_uri(void *cls, const char *uri, struct MHD_Connection *c) {
  sf_guard *g = cls;
  gconn *gc = gconn_of(c);
  if (gc != NULL) {
    gc->bad_path = false;
    gc->uri = uri;
    gc->uri_len = strlen(uri);
  }
  request_line(g, gc);
  return NULL;
}

bool sf_guard_head_ok(struct MHD_Connection *c, const char *url,
                      const char *version, sf_guard_head *head, char *why,
                      size_t why_len) {
  head_count n = {0, 0, 0, NULL};
  MHD_get_connection_values_n(c, MHD_HEADER_KIND, count_header, &n);
  head->content_length = n.length_value;
  head->transfer_encoding = n.transfer_encoding > 0;
  if (n.content_length > 1) {
    snprintf(why, why_len, "more than one Content-Length header");
    return false;
  }
  if (n.content_length > 0 && n.transfer_encoding > 0) {
    snprintf(why, why_len, "both Content-Length and Transfer-Encoding");
    return false;
  }
  if (strcmp(version, MHD_HTTP_VERSION_1_1) == 0 && n.host == 0) {
    snprintf(why, why_len, "an HTTP/1.1 request without a Host header");
    return false;
  }
  gconn *gc = gconn_of(c);
  bool raw_nul = gc != NULL && gc->uri != NULL &&
                 version != gc->uri + gc->uri_len + 1;
  if (raw_nul || (gc != NULL && gc->bad_path) ||
      !text_ok((const unsigned char *)url, strlen(url))) {
    snprintf(why, why_len, "the path has a NUL or is not valid UTF-8");
    return false;
  }
  return true;
}
