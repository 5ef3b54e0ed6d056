/*
 * ir_call.h - the HTTP contract of an entity call, shared by the two
 * programs that offer it: sf-local --ir and sf-gateway (gateway/).
 * `POST /<ns>/<Entity>/<key>/<method>` with JSON arguments answers JSON
 * (docs/sf-local-http.md, "Calling entities"); a client must not be able
 * to tell which runtime is behind the URL, so the lookups, the request id
 * rules, the argument checks and every answer body are made here, once.
 *
 * Bodies are JSON objects: {"ok":true,"result":R,"request_id":ID} or
 * {"ok":false,"error":"...","request_id":ID} (request_id once the call is
 * sent). Transport (how the Call travels, how its Reply comes back) is the
 * caller's business.
 */
#ifndef SFC_IR_CALL_H
#define SFC_IR_CALL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ir.h"

/* The longest X-Request-Id (it may name a Kafka topic, so it keeps to
 * [A-Za-z0-9._-]). */
#define SFC_CALL_MAX_REQUEST_ID 200
/* The default wait for a Reply, and the typename of the Call envelope. */
#define SFC_CALL_DEFAULT_WAIT_MS 30000
#define SFC_CALL_TYPENAME "statefun.entities/Call"

/* Where a POST path leads (sfc_call_route_of). */
typedef enum sfc_call_route_kind {
  SFC_ROUTE_NONE,  /* no entity of the IRs: the caller's own answer */
  SFC_ROUTE_ERROR, /* an entity path gone wrong: answer status + body */
  SFC_ROUTE_CALL   /* a method of an entity, with its key */
} sfc_call_route_kind;

typedef struct sfc_call_route {
  sfc_call_route_kind kind;
  char *fn_typename;        /* CALL, and NONE when the path is an address */
  char *key;                /* CALL: the entity key (decoded) */
  const sfc_entity *entity; /* CALL */
  const sfc_method *method; /* CALL */
  unsigned status;          /* ERROR: 400 or 404 */
  json_t *body;             /* ERROR: {"ok":false,"error":...}; yours */
  char why[512];            /* NONE: why the path is no address ("" when
                               it is one, of a namespace of no IR) */
} sfc_call_route;

/* Routes POST `path` (still percent-encoded, no query) against the IRs:
 * "/<ns>/<Entity>/<key>/<method>" (the method is the last part, the key
 * everything between, "%2F" or '/' alike). Unknown entities of an IR's
 * namespace, unknown methods, a path without a method or with an empty
 * key, bad escapes in the method: ERROR with sf-local's answer. */
void sfc_call_route_of(const sfc_ir *irs, size_t n_irs, const char *path,
                       sfc_call_route *out);
void sfc_call_route_free(sfc_call_route *r);

/* The entity `name` of namespace `ns` in the IRs (NULL if none);
 * *ns_known says whether some IR has that namespace at all. */
const sfc_entity *sfc_call_entity(const sfc_ir *irs, size_t n_irs,
                                  const char *ns, const char *name,
                                  bool *ns_known);

/* "a, b, c": the entity names of namespace ns, or the method names of an
 * entity; truncated to fit `n`. */
void sfc_call_entity_names(const sfc_ir *irs, size_t n_irs, const char *ns,
                           char *out, size_t n);
void sfc_call_method_names(const sfc_entity *e, char *out, size_t n);

/* A client's X-Request-Id: 1 to SFC_CALL_MAX_REQUEST_ID of [A-Za-z0-9._-]. */
bool sfc_call_request_id_ok(const char *s);
/* A fresh unique request id "<prefix>-<time>-<mix>-<counter>". */
void sfc_call_request_id_new(const char *prefix, char *out, size_t n);

/* W3C trace context (docs/tracing.md). A trace id is 32 and a span id 16
 * lower-case hex digits, neither all zeros. */
#define SFC_TRACE_ID_LEN 32
#define SFC_SPAN_ID_LEN 16
/* The trace id and parent span id of a `traceparent` header
 * ("00-<trace>-<span>-<flags>"); a missing or malformed header (which
 * W3C says to ignore) gets a fresh trace id and span id instead. */
void sfc_trace_from_header(const char *traceparent,
                           char trace_id[SFC_TRACE_ID_LEN + 1],
                           char span_id[SFC_SPAN_ID_LEN + 1]);
/* "00-<trace>-<span>-01" into out (at least 56 bytes). */
void sfc_traceparent(const char *trace_id, const char *span_id, char *out,
                     size_t n);
/* `n` fresh random hex digits (n even). */
void sfc_trace_random_hex(char *out, size_t n);

/* A front's own span of an entity call, while it writes spans
 * (docs/tracing.md): the trace, the client's span when its traceparent
 * was taken ("" when it was absent or malformed: the span is a root), a
 * fresh span id (the Call's parent_span_id) and the start (ns since the
 * epoch). span[0] == '\0': no span. */
typedef struct sfc_call_span {
  char trace_id[SFC_TRACE_ID_LEN + 1];
  char parent[SFC_SPAN_ID_LEN + 1];
  char span[SFC_SPAN_ID_LEN + 1];
  uint64_t start_ns;
} sfc_call_span;
/* Begins *s for a request whose `traceparent` header (NULL if none)
 * sfc_trace_from_header turned into trace_id and client_span. */
void sfc_call_span_begin(sfc_call_span *s, const char *traceparent,
                         const char *trace_id, const char *client_span);

/* The method's Args record from the request body, a JSON object of its
 * parameters (a blank body = no arguments). -1 with the whole 400 message
 * in err ("the body is not JSON ...", "User.deposit: missing argument ...").
 * *argb is malloc'd (may be NULL when *argn is 0). */
int sfc_call_args(const sfc_entity *e, const sfc_method *m, const uint8_t *body,
                  size_t len, uint8_t **argb, size_t *argn, char *err,
                  size_t err_len);

/* {"ok":false,"error":<message>[,"request_id":rid]}; rid may be NULL. A
 * message that is not valid UTF-8 gets '?' for its non-ASCII bytes. */
json_t *sfc_call_error(const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The answer to a decoded Reply {ok, error, result}: 200 with the result
 * as JSON, 422 with the method's error, or 502 when the result does not
 * decode as the method's type. *status gets the HTTP status. */
json_t *sfc_call_answer(const sfc_method *m, const char *rid, bool ok,
                        const char *error, const uint8_t *result, size_t n,
                        unsigned *status);

/* The 200 answer of sfc_call_answer (ok, the result decoding) as text,
 * json_dumps(..., JSON_COMPACT) of it, appended to out without building
 * the tree (sfc_json_write_result). 0 when written; -1 (out unchanged)
 * when the result is not in the form that path takes: the caller then
 * answers with sfc_call_answer. */
struct sfb_buf;
int sfc_call_answer_write(const sfc_method *m, const char *rid,
                          const uint8_t *result, size_t n,
                          struct sfb_buf *out);

/* The 504 message: no Reply within wait_ms; the call may still complete.
 * `where` says how the client gets the answer later. */
json_t *sfc_call_timeout(const char *rid, int64_t wait_ms, const char *where);

#endif
