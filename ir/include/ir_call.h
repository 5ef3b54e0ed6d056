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

/* The 504 message: no Reply within wait_ms; the call may still complete.
 * `where` says how the client gets the answer later. */
json_t *sfc_call_timeout(const char *rid, int64_t wait_ms, const char *where);

#endif
