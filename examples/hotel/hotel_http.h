/*
 * hotel_http.h - JSON POSTs over one libcurl multi handle, one thread, a
 * fixed number of keep-alive connections: the HTTP client shared by
 * hotel-init (loading the data) and the benchmark's load driver
 * (bench/hotel_load.c), both of which make entity calls
 * (POST <url>/hotel/<Entity>/<key>/<method>) to sf-local or sf-gateway.
 */
#ifndef HOTEL_HTTP_H
#define HOTEL_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>
#include <sfb/buf.h>

/* One connection: its handle and the body of its last answer (kept
 * NUL-terminated past its length). */
typedef struct hotel_http_conn {
  CURL *h;
  sfb_buf resp;
} hotel_http_conn;

typedef struct hotel_http {
  CURLM *multi;
  struct curl_slist *hdr;
  hotel_http_conn *conns;
  size_t n;
} hotel_http;

/* Called for each finished transfer on connection `i`: curl's result,
 * the HTTP status (0 when there was none) and the answer's body ("" when
 * empty). The connection is free again when it is called. */
typedef void hotel_http_done_fn(void *ud, size_t i, CURLcode rc, long status, const char *body);

/* Initialises libcurl and `n` connections whose transfers give up after
 * `timeout_ms`. False when out of memory. */
bool hotel_http_open(hotel_http *p, size_t n, long timeout_ms);

/* Starts POSTing `body` (JSON) to `url` on the free connection `i`; both
 * strings must live until the transfer finishes. */
void hotel_http_post(hotel_http *p, size_t i, const char *url, const char *body);

/* Moves every transfer on without waiting and reports each finished one
 * to `done`. */
void hotel_http_run(hotel_http *p, hotel_http_done_fn *done, void *ud);

/* Waits up to `ms` milliseconds for network activity. */
void hotel_http_wait(hotel_http *p, int ms);

/* Frees the connections and libcurl. */
void hotel_http_close(hotel_http *p);

#endif /* HOTEL_HTTP_H */
