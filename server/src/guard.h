/*
 * guard.h - what keeps hostile clients from exhausting the function server
 * (guard.c): a deadline on every connection (its request head, its body,
 * its idle keep-alive time) enforced by a reaper thread, and the strict
 * checks on a request head that a proxy could read differently.
 *
 * libmicrohttpd's own timeout restarts on every byte, so a client trickling
 * a byte a second would hold its connection for ever; the deadlines here
 * are set at fixed points of a request and do not move with the bytes.
 */
#ifndef STATEFUN_SERVER_GUARD_H
#define STATEFUN_SERVER_GUARD_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

typedef struct sf_guard sf_guard;

/* Timeouts in seconds (0: that deadline is off). Starts the reaper thread;
 * NULL when out of memory. */
sf_guard *sf_guard_new(unsigned head_s, unsigned body_s, unsigned idle_s);
/* Stops the reaper; call after MHD_stop_daemon. NULL is fine. */
void sf_guard_free(sf_guard *g);
/* fn(ctx) is called by the reaper thread after each of its sweeps (four
 * times a second), without the guard's lock: the server's idle work. */
void sf_guard_on_sweep(sf_guard *g, void (*fn)(void *ctx), void *ctx);

/* MHD_OPTION_NOTIFY_CONNECTION callback (cls: the guard): a new connection
 * must send its first head within head_s; a closed one is forgotten. */
void sf_guard_notify(void *cls, struct MHD_Connection *c, void **socket_ctx,
                     enum MHD_ConnectionNotificationCode code);
/* The points of a request that set its connection's deadline: its request
 * line came (the rest of the head within head_s), its head is complete
 * (the body within body_s), it is being answered (no deadline: the
 * function may take its time), it is complete (idle for idle_s at most). */
void sf_guard_request_line(sf_guard *g, struct MHD_Connection *c);
/* MHD_OPTION_URI_LOG_CALLBACK (cls: the guard): sf_guard_request_line. */
void *sf_guard_uri(void *cls, const char *uri, struct MHD_Connection *c);
/* MHD_OPTION_UNESCAPE_CALLBACK: MHD's own %-decoding, remembering for
 * sf_guard_head_ok whether the path decoded to a NUL or invalid UTF-8. */
size_t sf_guard_unescape(void *cls, struct MHD_Connection *c, char *s);
void sf_guard_head_done(sf_guard *g, struct MHD_Connection *c);
void sf_guard_answering(struct MHD_Connection *c);
void sf_guard_request_done(sf_guard *g, struct MHD_Connection *c);

/* What sf_guard_head_ok saw of the headers the server reads next. */
typedef struct sf_guard_head {
  const char *content_length; /* the Content-Length value, or NULL */
  bool transfer_encoding;     /* a Transfer-Encoding header was sent */
} sf_guard_head;

/* The strict head checks: true when the request may be served; false with
 * a reason (for a 400, after which the connection is closed) when it has
 * more than one Content-Length, both Content-Length and Transfer-Encoding,
 * no Host on HTTP/1.1, or a path with a NUL (raw or %00) or invalid UTF-8
 * (raw or %-encoded). `url` and `version` are as MHD passes them; `head`
 * gets the headers the server reads after (one pass over all of them). */
bool sf_guard_head_ok(struct MHD_Connection *c, const char *url,
                      const char *version, sf_guard_head *head, char *why,
                      size_t why_len);

#endif /* STATEFUN_SERVER_GUARD_H */
