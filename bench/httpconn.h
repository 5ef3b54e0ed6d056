/*
 * httpconn.h - the load generators' HTTP/1.1 client connection: one
 * non-blocking keep-alive socket on the caller's epoll set, one request in
 * flight, the reply read with sfbase's response parser (sfb/httpresp.h).
 * bench/openloop.c and bench/sflocal_load.c drive their load with it.
 *
 * Why not libcurl: a load generator shares the 2 cores with what it
 * measures, and a libcurl multi transfer cost the sf-local benchmark's
 * driver about 20 µs of CPU per message, more than sf-local itself; a
 * request here is a write and a read or two.
 *
 * Use: hc_open, then hc_send per request; on EPOLLOUT call hc_on_writable,
 * on EPOLLIN/ERR/HUP hc_on_readable until it reports HC_DONE (c->resp and
 * c->in hold the reply until the next hc_send) or HC_BROKEN (reconnect
 * with hc_reopen). The epoll data pointer of the socket is the hc_conn.
 * Single-threaded; errors other than a broken connection exit (die).
 */
#ifndef BENCH_HTTPCONN_H
#define BENCH_HTTPCONN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfb/httpresp.h"

typedef struct hc_conn {
  int fd, ep;
  bool busy;          /* a request is in flight */
  bool want_out;      /* EPOLLOUT registered */
  const char *req;    /* the request in flight (the caller's, until done) */
  size_t req_len, woff;
  uint8_t *in;        /* reply bytes read so far */
  size_t n, cap;
  sfb_http_resp resp; /* the reply being read */
  long id;            /* the caller's */
} hc_conn;

enum { HC_MORE = 0, HC_DONE = 1, HC_BROKEN = -1 };

/* The server of an http://HOST:PORT[/PATH] URL (HOST an IPv4 address):
 * its address, "HOST:PORT" for the Host header (hostport, cap bytes) and
 * the path ("/" when none; malloc'd). Exits with a message when the URL is
 * not of that form. */
void hc_parse_url(const char *url, struct sockaddr_in *sa, char *hostport, size_t cap,
                  char **path);

/* Connects c to sa (TCP_NODELAY) and adds it to the epoll set ep. -1 when
 * the connect fails at once. */
int hc_open(hc_conn *c, const struct sockaddr_in *sa, int ep);

/* Closes c's socket and connects again; exits when it cannot. */
void hc_reopen(hc_conn *c, const struct sockaddr_in *sa);

/* Starts sending req[0, len) (kept by the caller until the reply is done).
 * HC_BROKEN when the connection broke. */
int hc_send(hc_conn *c, const char *req, size_t len);

/* Writes more of the request (EPOLLOUT). HC_BROKEN when it broke. */
int hc_on_writable(hc_conn *c);

/* Reads what came (EPOLLIN): HC_MORE, HC_DONE (the reply is complete:
 * c->resp, body at c->in + c->resp.body_off; the connection is idle again
 * and, when c->resp.close, must be reopened) or HC_BROKEN (closed, reset or
 * a malformed reply; a request in flight is lost). Bytes that come while
 * nothing is in flight are dropped. */
int hc_on_readable(hc_conn *c);

#endif /* BENCH_HTTPCONN_H */
