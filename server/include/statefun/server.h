/*
 * server.h - serve a sf_handler over HTTP with libmicrohttpd.
 *
 * One server serves every function registered in one handler. Like the
 * official StateFun SDKs it dispatches on the target address inside the
 * request, not on the URL. By default a POST to any path but /health and
 * /metrics is a function call, so module.yaml may use any URL
 * (http://host:8000, http://host:8000/statefun, a urlPathTemplate with
 * {function.name}). With a path prefix set, only "<prefix>" and
 * "<prefix>/<anything>" are, and other paths get 404.
 *
 * Endpoints:
 *   POST <prefix>[/...]  ToFunction in, FromFunction out
 *                        (200 application/octet-stream; 400 malformed
 *                        request, 404 unknown function type, 413 body,
 *                        invocations, state values or memory over their
 *                        limit, 500 function failed, with a text reason)
 *   GET  /health         200 "ok"
 *   (with tls_client_ca: 403 and a reason for a client whose certificate
 *   does not verify)
 *   GET  /metrics        Prometheus text format
 *   anything else        404, or 405 for a wrong method on a known path
 *
 * Typical use (see examples/greeter):
 *
 *   int main(int argc, char **argv) {
 *     sf_handler *h = sf_handler_new();
 *     sf_handler_register(h, "greeter.fns/greet", greet, NULL, specs, 1);
 *     return sf_server_main(h, argc, argv);  // --listen, --threads, ...
 *   }
 */
#ifndef STATEFUN_SERVER_H
#define STATEFUN_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include <statefun/statefun.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Server settings. Zero/NULL fields take the defaults shown, except the
 * port: 0 picks a free port. Passing NULL options means all defaults,
 * port 8000 included. */
typedef struct sf_server_options {
  const char *host;        /* "127.0.0.1" (use "0.0.0.0" explicitly) */
  uint16_t port;           /* 0 picks a free port (see sf_server_port) */
  unsigned threads;        /* worker threads; 0 = one per online core */
  size_t max_body;         /* request body limit, bytes; 0 = 16 MiB */
  const char *path_prefix; /* "/": every path (see above) */
  int quiet;               /* non-zero: no start-up/shutdown lines on stderr */
  /* HTTPS (libmicrohttpd with GnuTLS). All three are PEM file paths, read
   * once by sf_server_start; NULL/"" for plain HTTP.
   *   tls_cert       the server's certificate, optionally followed by its
   *                  intermediate CAs (the chain the client is sent)
   *   tls_key        its private key, unencrypted PEM (PKCS#1 or PKCS#8)
   *   tls_client_ca  mutual TLS: every client must present a certificate
   *                  that chains to one of the CA certificates in this file
   *                  (Flink's transport client_cert/client_key); a client
   *                  without one fails the TLS handshake, and any request
   *                  on a connection whose certificate does not verify is
   *                  answered 403. Needs tls_cert and tls_key.
   * An unreadable file, a file without PEM, or a key that does not belong
   * to the certificate makes sf_server_start fail with
   * SF_ERR_INVALID_ARGUMENT and a reason naming the file. */
  const char *tls_cert;
  const char *tls_key;
  const char *tls_client_ca;
  /* Limits against hostile clients (SECURITY.md). 0 takes the default.
   *   head_timeout_s   10   a request head must be complete this long after
   *                         its connection opened or its request line came,
   *                         however it trickles: else the connection is
   *                         closed
   *   body_timeout_s   30   its body, this long after the head
   *   idle_timeout_s   30   a keep-alive connection idle this long is
   *                         closed. Keep it above Flink's pooled connection
   *                         lifetime (pool_ttl, 15 s, plus up to 3 s of
   *                         jitter), so that Flink closes its idle
   *                         connections first and never sends a request
   *                         on one the server is closing
   *   max_connections  4096 open connections; more are closed at once
   *   max_connections_per_client  1024  per client IP address (Flink's
   *                         pool holds up to 1024 per endpoint and task
   *                         manager); more are closed at once
   *   max_inflight_bytes  256 MiB  request bodies being buffered, all
   *                         connections together; a request that would
   *                         go over it gets 503 with Retry-After: 1 (bodies
   *                         over 64 KiB may take 3/4 of it, so small
   *                         requests still pass while large ones stall)
   * Bodies are buffered as they arrive, never reserved from the declared
   * Content-Length. */
  unsigned head_timeout_s;
  unsigned body_timeout_s;
  unsigned idle_timeout_s;
  unsigned max_connections;
  unsigned max_connections_per_client;
  size_t max_inflight_bytes;
  /* Caps on one request's content (sf_request_limits in statefun.h; 0
   * takes the default, 10000 each): a batch with more invocations, or a
   * request with more state values, is answered 413 with a reason naming
   * the cap and its option, before any function runs. */
  size_t max_invocations;
  size_t max_state_values;
} sf_server_options;

typedef struct sf_server sf_server;

/*
 * Starts serving `handler` (which must outlive the server) in background
 * threads. On failure returns NULL and sets `*status` (may be NULL) and,
 * when `err` is non-NULL, writes a reason of at most `err_len` bytes.
 */
sf_server *sf_server_start(const sf_handler *handler,
                           const sf_server_options *options, sf_status *status,
                           char *err, size_t err_len);

/* The port actually bound (useful with port 0). */
uint16_t sf_server_port(const sf_server *server);

/*
 * Stops accepting connections, lets requests in flight finish (up to a
 * few seconds), stops the threads and frees the server. NULL is fine.
 */
void sf_server_stop(sf_server *server);

/*
 * Blocks until SIGINT or SIGTERM, then drains and stops the server.
 * Returns SF_OK on a clean shutdown.
 */
sf_status sf_server_wait_for_signal(sf_server *server);

/*
 * A complete main(): parses the command line, starts, waits for a signal,
 * stops. Options: --listen HOST:PORT (default 127.0.0.1:8000), --threads N,
 * --max-body BYTES (suffixes k, m), --path-prefix P, --tls-cert FILE,
 * --tls-key FILE, --tls-client-ca FILE (the tls_* fields above),
 * --head-timeout S, --body-timeout S, --idle-timeout S, --max-connections N,
 * --max-connections-per-client N, --max-inflight-bytes BYTES,
 * --max-invocations N, --max-state-values N (the limits above), --quiet,
 * --help.
 * Returns the process exit status (0 clean, 2 bad usage, 1 other failure).
 */
int sf_server_main(const sf_handler *handler, int argc, char **argv);

#ifdef __cplusplus
}
#endif

#endif /* STATEFUN_SERVER_H */
