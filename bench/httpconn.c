/*
 * httpconn.c - the load generators' HTTP/1.1 client connection (see
 * httpconn.h).
 */
#define _GNU_SOURCE
#include "httpconn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

static _Noreturn void hc_die(const char *what) {
  fprintf(stderr, "httpconn: %s%s%s\n", what, errno ? ": " : "", errno ? strerror(errno) : "");
  exit(2);
}

void hc_parse_url(const char *url, struct sockaddr_in *sa, char *hostport, size_t cap,
                  char **path) {
  const char *p = url;
  errno = 0;
  if (strncmp(p, "http://", 7) != 0) hc_die("the URL must be http://HOST:PORT[/PATH]");
  p += 7;
  const char *slash = strchr(p, '/');
  size_t hl = slash ? (size_t)(slash - p) : strlen(p);
  if (hl + 1 > cap) hc_die("the URL's host is too long");
  memcpy(hostport, p, hl);
  hostport[hl] = 0;
  char host[64];
  const char *colon = strchr(hostport, ':');
  if (colon == NULL || (size_t)(colon - hostport) >= sizeof host)
    hc_die("the URL needs HOST:PORT (IPv4)");
  memcpy(host, hostport, (size_t)(colon - hostport));
  host[colon - hostport] = 0;
  memset(sa, 0, sizeof *sa);
  sa->sin_family = AF_INET;
  sa->sin_port = htons((uint16_t)atoi(colon + 1));
  if (inet_pton(AF_INET, host, &sa->sin_addr) != 1) hc_die("the URL's host must be an IPv4 address");
  *path = strdup(slash ? slash : "/");
  if (*path == NULL) hc_die("out of memory");
}

int hc_open(hc_conn *c, const struct sockaddr_in *sa, int ep) {
  c->ep = ep;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) hc_die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(c->fd, (const struct sockaddr *)sa, sizeof *sa) < 0 && errno != EINPROGRESS)
    return -1;
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) hc_die("epoll_ctl");
  c->busy = false;
  c->want_out = false;
  c->n = 0;
  return 0;
}

void hc_reopen(hc_conn *c, const struct sockaddr_in *sa) {
  close(c->fd);
  if (hc_open(c, sa, c->ep) < 0) hc_die("connect");
}

static void want_write(hc_conn *c, bool on) {
  if (c->want_out == on) return;
  struct epoll_event ev = {.events = EPOLLIN | (on ? EPOLLOUT : 0), .data.ptr = c};
  epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &ev);
  c->want_out = on;
}

int hc_on_writable(hc_conn *c) {
  while (c->woff < c->req_len) {
    ssize_t w = write(c->fd, c->req + c->woff, c->req_len - c->woff);
    if (w < 0 && (errno == EAGAIN || errno == EINPROGRESS)) {
      want_write(c, true); /* only when the socket did not take it all */
      return HC_MORE;
    }
    if (w <= 0) return HC_BROKEN;
    c->woff += (size_t)w;
  }
  want_write(c, false);
  return HC_MORE;
}

int hc_send(hc_conn *c, const char *req, size_t len) {
  c->busy = true;
  c->req = req;
  c->req_len = len;
  c->woff = 0;
  c->n = 0;
  sfb_http_resp_init(&c->resp);
  return hc_on_writable(c);
}

int hc_on_readable(hc_conn *c) {
  for (;;) {
    if (c->cap - c->n < 4096) {
      size_t cap = c->cap ? c->cap * 2 : 16384;
      uint8_t *in = realloc(c->in, cap);
      if (in == NULL) hc_die("out of memory");
      c->in = in;
      c->cap = cap;
    }
    ssize_t got = read(c->fd, c->in + c->n, c->cap - c->n - 1);
    if (got < 0 && errno == EAGAIN) return HC_MORE;
    if (got <= 0) {
      c->busy = false;
      return HC_BROKEN;
    }
    if (!c->busy) continue; /* nothing expected: drop it */
    c->n += (size_t)got;
    int rc = sfb_http_resp_parse(&c->resp, c->in, c->n, false, 0);
    if (rc == SFB_HTTP_ERROR) {
      c->busy = false;
      return HC_BROKEN;
    }
    if (rc == SFB_HTTP_DONE) {
      c->busy = false;
      c->in[c->resp.body_off + c->resp.body_len] = 0; /* room kept: cap - n - 1 */
      return HC_DONE;
    }
  }
}
