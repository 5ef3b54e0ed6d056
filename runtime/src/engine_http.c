/*
 * engine_http.c - sf-local's own HTTP/1.1 client for http:// function
 * endpoints, driven by the engine's loop: keep-alive connections pooled per
 * host and port, non-blocking sockets on one epoll set, the request head
 * and the batch written with one sendmsg, the reply read by
 * sfb/httpresp.h. https:// endpoints stay on libcurl (engine_request.c),
 * which brings TLS and mutual TLS.
 *
 * Why not libcurl here too: per batch, a libcurl easy handle (set-up,
 * curl_multi_perform's walk, clean-up) cost about half of sf-local's CPU
 * per message; a request here is a sendmsg and a read or two.
 *
 * Timeouts as Flink's transports have them: the call timeout bounds the
 * whole call (a->first_attempt_ms + call), connect bounds each connection
 * attempt, and the okhttp transport's read and write timeouts bound each
 * wait for reply bytes and for the socket to take request bytes.
 *
 * Threads: only the loop thread touches connections. Starting a transfer
 * (lock held) only queues the connection; the loop writes, waits and reads
 * without the lock (eng_http_io) and hands finished transfers back under
 * the lock (eng_http_complete).
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include "sfb/httpresp.h"

/* Idle connections kept per host and port (libcurl's cache had 1024 for all). */
#define MAX_IDLE_PER_POOL 1024
#define MAX_ADDRS 4
/* Room for a read: small, as most replies are, so that a thousand idle
 * connections hold little; doubled while a read fills it. An idle pooled
 * connection keeps no more: one whose reply needed more gives it back on
 * release. Kept up to 16 KiB before, the larger replies of a backlog
 * (a stall of the function) left 200 pooled connections holding +1 to
 * 2 MB for good (bench/README.md, "The soak"). */
#define READ_ROOM 4096

enum { PH_CONNECTING, PH_SENDING, PH_READING, PH_IDLE, PH_DONE };

/* One host:port of the function URLs: its addresses and idle connections. */
struct hpool {
  char *authority; /* host[:port] as in the URL: the Host header */
  char *host;
  char port[8];
  struct sockaddr_storage sa[MAX_ADDRS];
  socklen_t salen[MAX_ADDRS];
  size_t n_sa, good; /* resolved addresses; the one that connected last */
  hconn *idle;
  size_t n_idle;
};

struct hconn {
  int fd;
  hpool *pool;
  addr *a; /* the transfer on it; NULL while idle */
  int phase;
  bool reused;   /* has answered before: a close before any reply byte is retried */
  bool want_out; /* EPOLLOUT registered */
  size_t sa_idx, sa_tries;
  size_t sent;
  sfb_buf head;
  sfb_buf in;
  sfb_http_resp resp;
  int64_t call_deadline, deadline; /* mono ms */
  char error[256];                 /* why the transfer failed ("" if it did not) */
  hconn *next;                     /* idle list, or the loop's send / done lists */
  hconn *bprev, *bnext;            /* the engine's list of busy connections */
};

/* ---- set-up ------------------------------------------------------------------------ */

int eng_http_init(sfl_engine *e) {
  e->epfd = epoll_create1(EPOLL_CLOEXEC);
  e->wakefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (e->epfd < 0 || e->wakefd < 0) return -1;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  return epoll_ctl(e->epfd, EPOLL_CTL_ADD, e->wakefd, &ev);
}

static void conn_close(hconn *c) {
  if (c->fd >= 0) close(c->fd);
  sfb_buf_free(&c->head);
  sfb_buf_free(&c->in);
  free(c);
}

void eng_http_free(sfl_engine *e) {
  for (hconn *c = e->http_busy, *n; c; c = n) {
    n = c->bnext;
    conn_close(c);
  }
  size_t i = 0;
  sfl_map_entry *it = NULL;
  while ((it = sfl_map_next(&e->pools, &i, it))) {
    hpool *p = it->value;
    for (hconn *c = p->idle, *n; c; c = n) {
      n = c->next;
      conn_close(c);
    }
    free(p->authority);
    free(p->host);
    free(p);
  }
  sfl_map_free(&e->pools);
  if (e->epfd >= 0) close(e->epfd);
  if (e->wakefd >= 0) close(e->wakefd);
}

void eng_wakeup(sfl_engine *e) {
  if (__atomic_exchange_n(&e->wake_pending, 1, __ATOMIC_ACQ_REL)) return;
  uint64_t one = 1;
  ssize_t w = write(e->wakefd, &one, sizeof one);
  (void)w; /* EAGAIN: the counter is already non-zero, the loop wakes anyway */
}

/* Read, then clear the flag. Cleared first, a wake-up between the two
 * would set the flag again and then lose its write to this read: the flag
 * would stay set, and every later wake-up would be skipped (the loop slept
 * until its 1 s timeout). A wake-up skipped between the read and the clear
 * is seen anyway: the loop takes the lock after this. */
void eng_wake_consume(sfl_engine *e) {
  uint64_t v;
  ssize_t r = read(e->wakefd, &v, sizeof v);
  (void)r;
  __atomic_store_n(&e->wake_pending, 0, __ATOMIC_RELEASE);
}

/* ---- URLs and pools ------------------------------------------------------------------- */

static int resolve(hpool *p, char *err, size_t err_len) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
  int rc = getaddrinfo(p->host, p->port, &hints, &res);
  if (rc != 0) {
    snprintf(err, err_len, "cannot resolve %s: %s", p->host, gai_strerror(rc));
    return -1;
  }
  p->n_sa = p->good = 0;
  for (struct addrinfo *ai = res; ai && p->n_sa < MAX_ADDRS; ai = ai->ai_next) {
    if (ai->ai_addrlen > sizeof p->sa[0]) continue;
    memcpy(&p->sa[p->n_sa], ai->ai_addr, ai->ai_addrlen);
    p->salen[p->n_sa++] = ai->ai_addrlen;
  }
  freeaddrinfo(res);
  if (!p->n_sa) snprintf(err, err_len, "no address for %s", p->host);
  return p->n_sa ? 0 : -1;
}

/* Splits an http:// URL into its pool (made on first use) and the request
 * line's target. -1 with the reason when it is not a URL this client
 * reads (user info, a bad port). */
static int parse_url(sfl_engine *e, fn_type *f, char *err, size_t err_len) {
  const char *u = f->url + 7; /* after "http://" */
  size_t alen = strcspn(u, "/?#");
  const char *rest = u + alen;
  char *authority = strndup(u, alen);
  if (!authority) return snprintf(err, err_len, "out of memory"), -1;
  if (!alen || strchr(authority, '@')) {
    snprintf(err, err_len, "function URL %s: no host, or user info (not supported)", f->url);
    free(authority);
    return -1;
  }
  hpool *p = sfl_map_get(&e->pools, authority);
  if (!p) {
    p = calloc(1, sizeof *p);
    const char *h = authority, *hend, *port = "80";
    if (*h == '[') {
      hend = strchr(h, ']');
      if (hend && hend[1] == ':') port = hend + 2;
      else if (hend && hend[1]) hend = NULL;
      h++;
    } else {
      hend = strrchr(h, ':');
      if (hend) port = hend + 1;
      else hend = h + strlen(h);
    }
    bool port_ok = hend && strlen(port) > 0 && strlen(port) < sizeof p->port &&
                   strspn(port, "0123456789") == strlen(port) && atoi(port) > 0 &&
                   atoi(port) < 65536;
    if (!p || !port_ok || hend == h) {
      snprintf(err, err_len, "function URL %s: bad host or port", f->url);
      free(p);
      free(authority);
      return -1;
    }
    p->host = strndup(h, (size_t)(hend - h));
    snprintf(p->port, sizeof p->port, "%s", port);
    p->authority = authority;
    if (!p->host || sfl_map_put(&e->pools, authority, p) != 0) {
      free(p->host);
      free(p);
      free(authority);
      return snprintf(err, err_len, "out of memory"), -1;
    }
  } else {
    free(authority);
  }
  size_t tlen = strcspn(rest, "#");
  f->pool = p;
  f->req_head = sfl_strfmt("POST %s%.*s HTTP/1.1\r\nHost: %s\r\n"
                           "Content-Type: application/octet-stream\r\n"
                           "Accept: application/octet-stream\r\n"
                           "User-Agent: sf-local\r\nContent-Length: ",
                           *rest == '/' ? "" : "/", (int)tlen, rest, p->authority);
  if (!f->req_head) return snprintf(err, err_len, "out of memory"), -1;
  f->req_head_len = strlen(f->req_head);
  return 0;
}

bool eng_http_serves(const fn_type *f) { return strncasecmp(f->url, "http://", 7) == 0; }

/* ---- connections ------------------------------------------------------------------------ */

static int set_events(sfl_engine *e, hconn *c, bool out, int op) {
  struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (out ? EPOLLOUT : 0u),
                           .data.ptr = c};
  c->want_out = out;
  return epoll_ctl(e->epfd, op, c->fd, &ev);
}

/* Starts a non-blocking connect to the pool's address c->sa_idx. */
static int conn_connect(sfl_engine *e, hconn *c) {
  hpool *p = c->pool;
  if (c->fd >= 0) close(c->fd);
  c->fd = socket(p->sa[c->sa_idx].ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) {
    snprintf(c->error, sizeof c->error, "socket: %s", strerror(errno));
    return -1;
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  c->sa_tries++;
  c->phase = PH_CONNECTING;
  if (connect(c->fd, (struct sockaddr *)&p->sa[c->sa_idx], p->salen[c->sa_idx]) == 0)
    c->phase = PH_SENDING;
  else if (errno != EINPROGRESS) {
    snprintf(c->error, sizeof c->error, "connect to %s: %s", p->authority, strerror(errno));
    return -1;
  }
  return set_events(e, c, c->phase == PH_CONNECTING, EPOLL_CTL_ADD);
}

/* The deadline of the phase c is in, bounded by the call's. */
static void set_deadline(sfl_engine *e, hconn *c, int64_t now) {
  const sfl_endpoint *ep = c->a->fn->ep;
  int64_t t = 0;
  if (c->phase == PH_CONNECTING)
    t = ep->connect_timeout_ms > 0 ? ep->connect_timeout_ms : 20000;
  else if (c->phase == PH_SENDING)
    t = ep->write_timeout_ms;
  else if (c->phase == PH_READING)
    t = ep->read_timeout_ms;
  c->deadline = t > 0 && now + t < c->call_deadline ? now + t : c->call_deadline;
  if (c->deadline < e->http_check_ms) e->http_check_ms = c->deadline;
}

static void busy_link(sfl_engine *e, hconn *c) {
  c->bprev = NULL;
  c->bnext = e->http_busy;
  if (e->http_busy) e->http_busy->bprev = c;
  e->http_busy = c;
}

static void busy_unlink(sfl_engine *e, hconn *c) {
  if (c->bprev) c->bprev->bnext = c->bnext;
  else e->http_busy = c->bnext;
  if (c->bnext) c->bnext->bprev = c->bprev;
  c->bprev = c->bnext = NULL;
}

/* Puts a finished transfer's connection back in its pool, or closes it. */
static void conn_release(sfl_engine *e, hconn *c, bool keep) {
  busy_unlink(e, c);
  c->a = NULL;
  if (!keep || c->pool->n_idle >= MAX_IDLE_PER_POOL ||
      (c->want_out && set_events(e, c, false, EPOLL_CTL_MOD) != 0)) {
    conn_close(c);
    return;
  }
  c->phase = PH_IDLE;
  c->reused = true;
  sfb_buf_reset(&c->in);
  if (c->in.cap > READ_ROOM) sfb_buf_free(&c->in);
  c->next = c->pool->idle;
  c->pool->idle = c;
  c->pool->n_idle++;
}

/* ---- a transfer --------------------------------------------------------------------- */

static void queue_done(sfl_engine *e, hconn *c) {
  c->phase = PH_DONE;
  c->next = e->http_done;
  e->http_done = c;
}

static void queue_send(sfl_engine *e, hconn *c) {
  c->next = e->http_tosend;
  e->http_tosend = c;
}

/* (lock held) Starts the built request of `a` (a->body): an idle
 * connection of its pool or a new one; the loop writes it. `deadline` is
 * the call's (mono ms). -1 with a->last_error when it cannot start. */
int eng_http_start(sfl_engine *e, addr *a, int64_t deadline) {
  fn_type *f = a->fn;
  if (!f->req_head && parse_url(e, f, a->last_error, sizeof a->last_error) != 0) return -1;
  hpool *p = f->pool;
  hconn *c = p->idle;
  if (c) {
    p->idle = c->next;
    p->n_idle--;
    c->phase = PH_SENDING;
  } else {
    if (!p->n_sa && resolve(p, a->last_error, sizeof a->last_error) != 0) return -1;
    c = calloc(1, sizeof *c);
    if (!c) return snprintf(a->last_error, sizeof a->last_error, "out of memory"), -1;
    c->fd = -1;
    c->pool = p;
    c->sa_idx = p->good;
    if (conn_connect(e, c) != 0) {
      snprintf(a->last_error, sizeof a->last_error, "%s", c->error);
      conn_close(c);
      return -1;
    }
  }
  c->a = a;
  a->conn = c;
  c->error[0] = '\0';
  c->sent = 0;
  c->call_deadline = deadline;
  sfb_buf_reset(&c->head);
  sfb_buf_put(&c->head, f->req_head, f->req_head_len);
  char num[32];
  int nl = snprintf(num, sizeof num, "%zu\r\n\r\n", a->body.len);
  sfb_buf_put(&c->head, num, (size_t)nl);
  sfb_http_resp_init(&c->resp);
  busy_link(e, c);
  set_deadline(e, c, sfl_mono_ms());
  if (c->phase == PH_SENDING) queue_send(e, c);
  return 0;
}

/* A failure of the transfer on c; a reused connection that the server
 * closed before any reply byte gets one fresh connection (the request may
 * have crossed the server's idle close), as libcurl does. */
static void conn_fail(sfl_engine *e, hconn *c, const char *fmt, const char *detail) {
  if (c->reused && c->in.len == 0 && c->phase != PH_CONNECTING) {
    c->reused = false;
    c->sa_idx = c->pool->good;
    c->sa_tries = 0;
    c->error[0] = '\0';
    if (conn_connect(e, c) == 0) {
      c->sent = 0;
      set_deadline(e, c, sfl_mono_ms());
      if (c->phase == PH_SENDING) queue_send(e, c);
      return;
    }
  } else {
    snprintf(c->error, sizeof c->error, fmt, detail);
  }
  if (c->fd >= 0) close(c->fd);
  c->fd = -1;
  queue_done(e, c);
}

static void do_send(sfl_engine *e, hconn *c) {
  addr *a = c->a;
  for (;;) {
    size_t hl = c->head.len, total = hl + a->body.len;
    if (c->sent >= total) break;
    struct iovec iov[2];
    int n = 0;
    if (c->sent < hl)
      iov[n++] = (struct iovec){c->head.p + c->sent, hl - c->sent};
    size_t boff = c->sent > hl ? c->sent - hl : 0;
    if (a->body.len > boff) iov[n++] = (struct iovec){a->body.p + boff, a->body.len - boff};
    struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
    ssize_t w = sendmsg(c->fd, &m, MSG_NOSIGNAL);
    if (w < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        if (!c->want_out) set_events(e, c, true, EPOLL_CTL_MOD);
        set_deadline(e, c, sfl_mono_ms());
        return;
      }
      conn_fail(e, c, "sending the request: %s", strerror(errno));
      return;
    }
    c->sent += (size_t)w;
  }
  if (c->want_out) set_events(e, c, false, EPOLL_CTL_MOD);
  c->phase = PH_READING;
  set_deadline(e, c, sfl_mono_ms());
}

static void on_connected(sfl_engine *e, hconn *c) {
  int err = 0;
  socklen_t len = sizeof err;
  getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
  if (err == 0) {
    c->pool->good = c->sa_idx;
    c->phase = PH_SENDING;
    set_deadline(e, c, sfl_mono_ms());
    do_send(e, c);
    return;
  }
  if (c->sa_tries < c->pool->n_sa) { /* the host's next address */
    c->sa_idx = (c->sa_idx + 1) % c->pool->n_sa;
    if (conn_connect(e, c) == 0) {
      if (c->phase == PH_SENDING) do_send(e, c);
      return;
    }
  } else {
    snprintf(c->error, sizeof c->error, "connect to %s: %s", c->pool->authority, strerror(err));
  }
  close(c->fd);
  c->fd = -1;
  queue_done(e, c);
}

static void do_read(sfl_engine *e, hconn *c) {
  const sfl_endpoint *ep = c->a->fn->ep;
  size_t max = ep->transport == SFL_TRANSPORT_ASYNC ? ep->payload_max_bytes : 0;
  size_t want = READ_ROOM;
  for (;;) {
    if (c->in.cap - c->in.len < want) {
      size_t cap = c->in.len + want > c->in.cap * 2 ? c->in.len + want : c->in.cap * 2;
      uint8_t *p = realloc(c->in.p, cap);
      if (!p) {
        conn_fail(e, c, "%s", "out of memory reading the reply");
        return;
      }
      c->in.p = p;
      c->in.cap = cap;
    }
    size_t room = c->in.cap - c->in.len;
    ssize_t r = recv(c->fd, c->in.p + c->in.len, room, 0);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (r < 0) {
      conn_fail(e, c, "reading the reply: %s", strerror(errno));
      return;
    }
    c->in.len += (size_t)r;
    int rc = sfb_http_resp_parse(&c->resp, c->in.p, c->in.len, r == 0, max);
    if (rc == SFB_HTTP_MORE && r > 0) {
      if (ep->read_timeout_ms > 0 && c->phase == PH_READING) set_deadline(e, c, sfl_mono_ms());
      if ((size_t)r < room) return; /* drained: epoll says when more comes */
      want = room * 2;              /* a large reply: larger reads */
      continue;
    }
    if (rc == SFB_HTTP_ERROR) {
      if (r == 0 && c->in.len == 0) {
        conn_fail(e, c, "%s", "the server closed the connection before replying");
        return;
      }
      if (c->resp.too_large)
        snprintf(c->error, sizeof c->error, "reply over payload_max_bytes (%zu bytes)", max);
      else
        snprintf(c->error, sizeof c->error, "bad HTTP reply: %s", c->resp.error);
    }
    queue_done(e, c);
    return;
  }
}

/* ---- the loop's side -------------------------------------------------------------------- */

long eng_http_timeout(sfl_engine *e, long t) {
  if (!e->http_busy) return t;
  int64_t d = e->http_check_ms - sfl_mono_ms();
  return d < 0 ? 0 : d < t ? (long)d : t;
}

static void check_deadlines(sfl_engine *e) {
  int64_t now = sfl_mono_ms();
  if (now < e->http_check_ms) return;
  e->http_check_ms = INT64_MAX;
  for (hconn *c = e->http_busy; c; c = c->bnext) {
    if (c->phase == PH_DONE) continue;
    if (now < c->deadline) {
      if (c->deadline < e->http_check_ms) e->http_check_ms = c->deadline;
      continue;
    }
    const sfl_endpoint *ep = c->a->fn->ep;
    bool call = c->deadline >= c->call_deadline;
    int64_t ms = call                       ? ep->call_timeout_ms
                 : c->phase == PH_CONNECTING ? (ep->connect_timeout_ms > 0 ? ep->connect_timeout_ms : 20000)
                 : c->phase == PH_SENDING    ? ep->write_timeout_ms
                                             : ep->read_timeout_ms;
    const char *what = call                        ? "call"
                       : c->phase == PH_CONNECTING ? "connect"
                       : c->phase == PH_SENDING    ? "write"
                                                   : "read";
    snprintf(c->error, sizeof c->error, "%s timeout (%lld ms) reached%s", what, (long long)ms,
             c->phase == PH_CONNECTING ? " connecting" : "");
    close(c->fd);
    c->fd = -1;
    queue_done(e, c);
  }
}

/* (lock not held) Writes what dispatch queued, waits for the sockets (and
 * libcurl's, when it has transfers) up to timeout ms, reads and checks the
 * deadlines. Finished transfers wait in e->http_done for
 * eng_http_complete. */
void eng_http_io(sfl_engine *e, long timeout) {
  hconn *s = e->http_tosend;
  e->http_tosend = NULL;
  for (hconn *n; s; s = n) {
    n = s->next;
    do_send(e, s);
  }
  if (e->http_done) timeout = 0;
  struct epoll_event ev[256];
  int n;
  if (e->curl_transfers) {
    struct curl_waitfd w = {.fd = e->epfd, .events = CURL_WAIT_POLLIN};
    if (timeout > 0) curl_multi_poll(e->multi, &w, 1, (int)timeout, NULL);
    n = epoll_wait(e->epfd, ev, 256, 0);
  } else {
    n = epoll_wait(e->epfd, ev, 256, (int)timeout);
  }
  for (int i = 0; i < n; i++) {
    hconn *c = ev[i].data.ptr;
    if (!c) {
      eng_wake_consume(e);
      continue;
    }
    if (c->phase == PH_IDLE) { /* closed by the server, or junk: forget it */
      hconn **pp = &c->pool->idle;
      while (*pp != c) pp = &(*pp)->next;
      *pp = c->next;
      c->pool->n_idle--;
      conn_close(c);
      continue;
    }
    if (c->phase == PH_CONNECTING) {
      if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) on_connected(e, c);
      continue;
    }
    if (c->phase == PH_SENDING && (ev[i].events & EPOLLOUT)) do_send(e, c);
    if ((c->phase == PH_SENDING || c->phase == PH_READING) &&
        (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
      do_read(e, c);
  }
  check_deadlines(e);
}

/* (lock held) Hands every finished transfer to eng_finish_transfer. */
void eng_http_complete(sfl_engine *e) {
  hconn *d = e->http_done;
  e->http_done = NULL;
  for (hconn *n; d; d = n) {
    n = d->next;
    addr *a = d->a;
    eng_result res = {.error = d->error[0] ? d->error : NULL};
    const char *ct[SFB_HTTP_MAX_CTYPE];
    if (!res.error) {
      res.status = d->resp.status;
      for (size_t i = 0; i < d->resp.n_ctype; i++)
        ct[i] = (const char *)d->in.p + d->resp.ctype_off[i];
      res.ctype = ct;
      res.n_ctype = d->resp.n_ctype;
      sfb_buf_reset(&a->reply);
      sfb_buf_put(&a->reply, d->in.p + d->resp.body_off, d->resp.body_len);
      if (a->reply.oom) res.error = "out of memory keeping the reply";
    }
    /* a response with bytes after it, or Connection: close, ends the connection */
    bool keep = !res.error && d->fd >= 0 && !d->resp.close && d->in.len == d->resp.used &&
                d->sent == d->head.len + a->body.len;
    a->conn = NULL;
    eng_finish_transfer(e, a, &res);
    conn_release(e, d, keep);
    eng_shrink_buffers(a);
  }
}
