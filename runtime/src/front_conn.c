/*
 * front_conn.c - how sf-local's front waits without holding a thread, and
 * how it keeps every connection on a deadline.
 *
 * Waiting: a handler that cannot answer yet (an empty egress under
 * ?wait=, a full backlog, a commit not yet durable, an entity call's
 * Reply) parks its request: the connection is suspended
 * (MHD_suspend_connection) and the request put on a list. One waker
 * thread resumes a parked request when the engine reports a change after
 * the request last looked (front_changed, the engine's hook, moves
 * change_seq) or when its deadline passes; libmicrohttpd then calls the
 * access handler again, which retries. The polling threads never block.
 * An entity call waiting for its Reply is resumed only by the record on
 * its own topic (the hook names the egress and topic of every record):
 * with many calls in flight, every change resuming every parked call to
 * look and park again cost most of sf-local's CPU. The hook resumes such
 * a call itself, without the waker thread in between.
 *
 * Deadlines: libmicrohttpd's own timeout restarts on every byte, so a
 * client trickling a byte at a time would keep a connection forever. Each
 * connection carries its own deadline (set by http_front.c: head, body,
 * idle keep-alive) and the waker sweeps them: a connection past its
 * deadline is shut down (shutdown(2); libmicrohttpd then sees the end and
 * closes it in its own thread).
 */
#include "front_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "util.h"

#define SWEEP_MS 250

static void unpark(sfl_front *f, request *r);

/* A record on the reply egress (park_mu held): remembered in the ring,
 * and the calls parked for it (more than one when a client sent the same
 * X-Request-Id again while the first still waited) taken off the list;
 * returns them, linked by pnext, for the caller to resume. */
static request *reply_came(sfl_front *f, const char *topic) {
  uint64_t n = atomic_load(&f->reply_seq);
  snprintf(f->reply_ring[n % REPLY_RING], MAX_REPLY_TOPIC, "%s", topic);
  atomic_store(&f->reply_seq, n + 1);
  request *go = NULL;
  for (request *r = f->parked, *nx; r != NULL; r = nx) {
    nx = r->pnext;
    if (!r->wait_reply || strcmp(r->rid, topic) != 0) continue;
    unpark(f, r);
    r->pnext = go;
    go = r;
  }
  return go;
}

/* The engine's hook. A call's Reply resumes its request here, in the
 * engine's thread: handing it to the waker thread first cost a thread
 * wake-up per call (MHD_resume_connection is safe from any thread; it
 * takes only libmicrohttpd's own lock, which is never held while our
 * handlers run). Other changes wake the waker, which resumes the
 * requests waiting for any change. */
void front_changed(void *ctx, const char *egress_id, const char *topic) {
  sfl_front *f = ctx;
  atomic_fetch_add(&f->change_seq, 1);
  bool reply = egress_id != NULL && topic != NULL && strcmp(egress_id, SFL_REPLY_EGRESS) == 0;
  if (!reply && atomic_load(&f->n_parked_any) == 0) return;
  pthread_mutex_lock(&f->park_mu);
  request *go = reply ? reply_came(f, topic) : NULL;
  if (atomic_load(&f->n_parked_any) > 0) pthread_cond_signal(&f->park_cv);
  pthread_mutex_unlock(&f->park_mu);
  for (request *r = go, *nx; r != NULL; r = nx) {
    nx = r->pnext;
    r->pnext = NULL;
    MHD_resume_connection(r->conn);
  }
}

/* Whether the Reply on topic r->rid came since the request last looked
 * (park_mu held): it is among the ring's newest records, or so many came
 * that the ring no longer tells (then look again to be sure). */
static bool reply_came_since(sfl_front *f, const request *r) {
  uint64_t now = atomic_load(&f->reply_seq);
  if (now - r->seen_reply > REPLY_RING) return true;
  for (uint64_t i = r->seen_reply; i < now; i++)
    if (strcmp(f->reply_ring[i % REPLY_RING], r->rid) == 0) return true;
  return false;
}

static bool park(exchange *x, request *r, int64_t wait_ms, bool wait_reply) {
  sfl_front *f = x->f;
  int64_t now = sfl_mono_ms();
  if (r->park_deadline == 0) r->park_deadline = now + (wait_ms > 0 ? wait_ms : 0);
  if (now >= r->park_deadline || atomic_load(&f->stopping)) return false;
  pthread_mutex_lock(&f->park_mu);
  if (f->waker_stop) {
    pthread_mutex_unlock(&f->park_mu);
    return false;
  }
  MHD_suspend_connection(x->conn);
  if (r->cc != NULL) atomic_store(&r->cc->deadline_ms, 0);
  r->conn = x->conn;
  r->pprev = NULL;
  r->pnext = f->parked;
  if (f->parked != NULL) f->parked->pprev = r;
  f->parked = r;
  atomic_fetch_add(&f->n_parked, 1);
  /* The change may have come between the attempt and now: the waker
   * compares r->seen with change_seq, a Reply's waiter the ring. */
  r->wait_reply = wait_reply;
  r->woken = wait_reply && reply_came_since(f, r);
  if (!wait_reply) atomic_fetch_add(&f->n_parked_any, 1);
  pthread_cond_signal(&f->park_cv);
  pthread_mutex_unlock(&f->park_mu);
  return true;
}

bool front_park(exchange *x, request *r, int64_t wait_ms) { return park(x, r, wait_ms, false); }

bool front_park_reply(exchange *x, request *r, int64_t wait_ms) {
  return park(x, r, wait_ms, true);
}

static void unpark(sfl_front *f, request *r) {
  if (r->pprev != NULL)
    r->pprev->pnext = r->pnext;
  else
    f->parked = r->pnext;
  if (r->pnext != NULL) r->pnext->pprev = r->pprev;
  r->pnext = r->pprev = NULL;
  atomic_fetch_sub(&f->n_parked, 1);
  if (!r->wait_reply) atomic_fetch_sub(&f->n_parked_any, 1);
}

/* Shuts down every connection past its deadline. */
static void sweep(sfl_front *f, int64_t now) {
  pthread_mutex_lock(&f->conn_mu);
  for (conn_ctx *c = f->conns; c != NULL; c = c->next) {
    int64_t d = atomic_load(&c->deadline_ms);
    if (d != 0 && now >= d) {
      atomic_store(&c->deadline_ms, 0);
      if (f->verbose)
        fprintf(stderr, "sf-local: http: closing a connection past its deadline\n");
      shutdown(c->fd, SHUT_RDWR);
    }
  }
  pthread_mutex_unlock(&f->conn_mu);
}

/* Waits on park_cv (a CLOCK_MONOTONIC condition) until mono ms `until`. */
static void wait_until(sfl_front *f, int64_t until) {
  struct timespec ts = {(time_t)(until / 1000), (long)(until % 1000) * 1000000L};
  pthread_cond_timedwait(&f->park_cv, &f->park_mu, &ts);
}

static void *waker_main(void *arg) {
  sfl_front *f = arg;
  int64_t next_sweep = sfl_mono_ms() + SWEEP_MS;
  pthread_mutex_lock(&f->park_mu);
  for (;;) {
    bool stop = f->waker_stop;
    uint64_t seq = atomic_load(&f->change_seq);
    int64_t now = sfl_mono_ms();
    int64_t wake = next_sweep;
    request *go = NULL;
    for (request *r = f->parked, *nx; r != NULL; r = nx) {
      nx = r->pnext;
      bool changed = r->wait_reply ? r->woken : r->seen != seq;
      if (stop || changed || now >= r->park_deadline) {
        unpark(f, r);
        r->pnext = go;
        go = r;
      } else if (r->park_deadline < wake) {
        wake = r->park_deadline;
      }
    }
    pthread_mutex_unlock(&f->park_mu);
    for (request *r = go, *nx; r != NULL; r = nx) {
      nx = r->pnext;
      r->pnext = NULL;
      MHD_resume_connection(r->conn);
    }
    if (now >= next_sweep) {
      sweep(f, now);
      next_sweep = now + SWEEP_MS;
    }
    pthread_mutex_lock(&f->park_mu);
    if (stop) break;
    if (go != NULL || atomic_load(&f->change_seq) != seq) continue;
    wait_until(f, wake);
  }
  pthread_mutex_unlock(&f->park_mu);
  return NULL;
}

int front_waker_start(sfl_front *f) {
  pthread_mutex_init(&f->park_mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&f->park_cv, &ca);
  pthread_condattr_destroy(&ca);
  pthread_mutex_init(&f->conn_mu, NULL);
  return pthread_create(&f->waker, NULL, waker_main, f) == 0 ? 0 : -1;
}

/* Resumes every parked request (each answers as its wait is over) and
 * stops the thread; no request parks afterwards. */
void front_waker_stop(sfl_front *f) {
  pthread_mutex_lock(&f->park_mu);
  f->waker_stop = true;
  pthread_cond_signal(&f->park_cv);
  pthread_mutex_unlock(&f->park_mu);
  pthread_join(f->waker, NULL);
}

void front_conn_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                       enum MHD_ConnectionNotificationCode code) {
  sfl_front *f = cls;
  if (code == MHD_CONNECTION_NOTIFY_STARTED) {
    conn_ctx *cc = calloc(1, sizeof *cc);
    if (cc == NULL) return; /* no deadline for it: MHD's timeout still holds */
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    cc->conn = c;
    cc->fd = ci != NULL ? ci->connect_fd : -1;
    /* A new connection must send its first head in time. */
    atomic_init(&cc->deadline_ms,
                cc->fd >= 0 ? sfl_mono_ms() + (int64_t)f->lim.head_timeout_s * 1000 : 0);
    pthread_mutex_lock(&f->conn_mu);
    cc->next = f->conns;
    if (f->conns != NULL) f->conns->prev = cc;
    f->conns = cc;
    pthread_mutex_unlock(&f->conn_mu);
    *socket_ctx = cc;
    return;
  }
  conn_ctx *cc = *socket_ctx;
  if (cc == NULL) return;
  pthread_mutex_lock(&f->conn_mu);
  if (cc->prev != NULL)
    cc->prev->next = cc->next;
  else
    f->conns = cc->next;
  if (cc->next != NULL) cc->next->prev = cc->prev;
  pthread_mutex_unlock(&f->conn_mu);
  free(cc);
  *socket_ctx = NULL;
}

conn_ctx *front_conn_of(struct MHD_Connection *c) {
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
  return ci != NULL ? ci->socket_context : NULL;
}

void front_conn_deadline(struct MHD_Connection *c, int64_t ms) {
  conn_ctx *cc = front_conn_of(c);
  if (cc != NULL) atomic_store(&cc->deadline_ms, ms > 0 ? sfl_mono_ms() + ms : 0);
}
