/*
 * client.h - what the server tests use to talk to a server: libcurl
 * requests over loopback, and ToFunction/FromFunction built and read with
 * the protobuf-c generated code (not with the SDK under test).
 */
#ifndef STATEFUN_TESTS_SERVER_CLIENT_H
#define STATEFUN_TESTS_SERVER_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <curl/curl.h>

#include "kafka_egress.pb-c.h"
#include "request_reply.pb-c.h"
#include "types.pb-c.h"

typedef Io__Statefun__Sdk__Reqreply__FromFunction FromFunction;
typedef Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse Result;
typedef Io__Statefun__Sdk__Reqreply__TypedValue TypedValue;

/* ---- HTTP ---------------------------------------------------------------- */

typedef struct http_reply {
  long code;             /* HTTP status, 0 when the request failed */
  CURLcode curl;         /* transport result */
  char content_type[128];
  char allow[128];       /* the Allow header, "" if none */
  char *body;            /* NUL-terminated (the NUL is not counted) */
  size_t len;
  long num_connects;     /* new connections this request made */
} http_reply;

/*
 * Sends one request. `curl` may be NULL (a fresh handle is used) or a
 * handle to reuse (keep-alive). `body` may be NULL for no body; `chunked`
 * sends it with Transfer-Encoding: chunked instead of Content-Length.
 * Returns false only when the transport failed (see out->curl).
 */
bool http_request(CURL *curl, const char *method, const char *url,
                  const void *body, size_t len, bool chunked, http_reply *out);
void http_reply_free(http_reply *reply);

/* ---- the wire ------------------------------------------------------------ */

/* One state attached to a request: absent from the request, present without
 * a value (how Flink sends empty state), or an int value. */
typedef enum { STATE_ABSENT, STATE_EMPTY, STATE_INT } state_kind;

/*
 * A serialized ToFunction for `typename_` ("ns/name") with address `id`:
 * `n_invocations` invocations, each with argument `id` as an
 * io.statefun.types/string, and the state `seen` attached as `kind` says.
 * malloc'd; the caller frees.
 */
uint8_t *wire_request(const char *typename_, const char *id,
                      size_t n_invocations, state_kind kind, int32_t seen,
                      size_t *len);

/* Unpacks a reply body; NULL if it is not a FromFunction. */
FromFunction *wire_reply(const http_reply *reply);
void wire_reply_free(FromFunction *from);

/* The int in an io.statefun.types/int TypedValue; false if it is not one. */
bool wire_int(const TypedValue *value, int32_t *out);

/*
 * Plays the runtime for one address over `curl`: sends `n_invocations`
 * messages with the state in *seen (*has_seen false = registered but
 * empty), and on success updates *seen from the reply's mutation.
 * Returns the HTTP status (200 on success).
 */
long wire_visit(CURL *curl, const char *url, const char *id,
                size_t n_invocations, bool *has_seen, int32_t *seen);

#endif /* STATEFUN_TESTS_SERVER_CLIENT_H */
