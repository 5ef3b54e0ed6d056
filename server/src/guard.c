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
 */
#include "guard.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "sfb/utf8.h"

#define REAP_INTERVAL_MS 250

typedef struct gconn {
  struct gconn *prev, *next;
  int fd;
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
  pthread_cond_t cv;
  bool stop;
  gconn *conns;
  pthread_t reaper;
};

/* The coarse clock (a few ms of resolution, no TSC read): deadlines are
 * seconds, and three are set per request. */
static long long mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void *reap(void *arg) {
  sf_guard *g = arg;
  pthread_mutex_lock(&g->mu);
  while (!g->stop) {
    long long now = mono_ms();
    for (gconn *c = g->conns; c != NULL; c = c->next) {
      long long d = atomic_load(&c->deadline_ms);
      if (d != 0 && now >= d) {
        atomic_store(&c->deadline_ms, 0);
        shutdown(c->fd, SHUT_RDWR); /* MHD sees the end and closes it */
      }
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_nsec += REAP_INTERVAL_MS * 1000000L;
    if (until.tv_nsec >= 1000000000L) {
      until.tv_sec++;
      until.tv_nsec -= 1000000000L;
    }
    pthread_cond_timedwait(&g->cv, &g->mu, &until);
  }
  pthread_mutex_unlock(&g->mu);
  return NULL;
}

sf_guard *sf_guard_new(unsigned head_s, unsigned body_s, unsigned idle_s) {
  sf_guard *g = calloc(1, sizeof *g);
  if (g == NULL) return NULL;
  g->head_ms = (long long)head_s * 1000;
  g->body_ms = (long long)body_s * 1000;
  g->idle_ms = (long long)idle_s * 1000;
  pthread_mutex_init(&g->mu, NULL);
  pthread_cond_init(&g->cv, NULL);
  if (pthread_create(&g->reaper, NULL, reap, g) != 0) {
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
    free(g);
    return NULL;
  }
  return g;
}

void sf_guard_free(sf_guard *g) {
  if (g == NULL) return;
  pthread_mutex_lock(&g->mu);
  g->stop = true;
  pthread_cond_signal(&g->cv);
  pthread_mutex_unlock(&g->mu);
  pthread_join(g->reaper, NULL);
  while (g->conns != NULL) { /* none left after MHD_stop_daemon */
    gconn *c = g->conns;
    g->conns = c->next;
    free(c);
  }
  pthread_cond_destroy(&g->cv);
  pthread_mutex_destroy(&g->mu);
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
    pthread_mutex_lock(&g->mu);
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
  if (gc->prev != NULL)
    gc->prev->next = gc->next;
  else
    g->conns = gc->next;
  if (gc->next != NULL) gc->next->prev = gc->prev;
  pthread_mutex_unlock(&g->mu);
  free(gc);
  *socket_ctx = NULL;
}

static gconn *gconn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

static void request_line(sf_guard *g, gconn *gc) {
  if (gc == NULL || g->head_ms == 0) return;
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
  if (gc != NULL) atomic_store(&gc->deadline_ms, 0);
}

void sf_guard_request_done(sf_guard *g, struct MHD_Connection *c) {
  gconn *gc = gconn_of(c);
  if (gc != NULL) atomic_store(&gc->deadline_ms, after(g->idle_ms));
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
