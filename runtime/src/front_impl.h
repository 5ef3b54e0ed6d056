/*
 * front_impl.h - what the files of sf-local's HTTP front share (private to
 * runtime/src/front_*.c and http_front.c; the API is http_front.h): the
 * front's state, a request and its exchange, the limits, and the helpers
 * each part uses: parsing path parts, answering, reading query arguments
 * and headers, waiting on the egress, and the two routers.
 *
 *   front_parse.c     pure request-parsing helpers (paths, Content-Type,
 *                     the JSON convenience, ?wait=)
 *   front_exchange.c  answering (JSON, text, errors) and reading a request
 *   front_ingress.c   the ingress server: sends, topics, views, the summary
 *   front_entity.c    entity calls and views for --ir
 *   front_egress.c    the egress server: playground pops and JSON lines
 *   http_front.c      libmicrohttpd glue, start and stop
 */
#ifndef SF_LOCAL_FRONT_IMPL_H
#define SF_LOCAL_FRONT_IMPL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>
#include <microhttpd.h>

#include "http_front.h"
#include "ir.h"

#define DEFAULT_SEND_WAIT_MS 2000
#define DEFAULT_MAX_POLL_MS 60000
#define POLL_SLICE_MS 200
#define DEFAULT_EGRESS_MAX 100
#define MAX_EGRESS_MAX 10000
#define MAX_IDEMPOTENCY_KEY 256
#define CONNECTION_LIMIT 512
#define CONNECTION_TIMEOUT_S 300
#define HTTP_TOO_LARGE 413 /* MHD renamed the constant across versions */

struct sfl_front {
  sfl_engine *engine;
  const sfl_config *config;
  size_t max_body;
  int64_t send_wait_ms;
  int64_t max_poll_ms;
  int verbose;
  const sfc_ir *irs; /* --ir files */
  size_t n_irs;
  atomic_bool stopping;
  struct MHD_Daemon *ingress;
  struct MHD_Daemon *egress;
  uint16_t ingress_port;
  uint16_t egress_port;
  char bind[256];
};

/* Per-request state: the body as it arrives. */
typedef struct request {
  uint8_t *body;
  size_t len;
  size_t cap;
  bool too_large;
} request;

/* What a handler needs to answer. */
typedef struct exchange {
  sfl_front *f;
  struct MHD_Connection *conn;
  const char *server; /* "ingress" / "egress" for the log */
  const char *method;
  const char *url;
} exchange;

/* ---- parsing (front_parse.c) --------------------------------------------- */

/* printf into err[0..err_len) (err may be NULL). */
void front_err(char *err, size_t err_len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether s has a control character (below 0x20, or DEL). */
bool front_has_control(const char *s);
/* Decodes one path part into a fresh string; NULL on a bad escape. */
char *front_decode_part(const char *in, size_t len);
/* Checks a decoded name part (namespace, type, topic, egress parts). */
int front_check_name(const char *what, const char *s, bool allow_empty,
                     char *err, size_t err_len);

/* ---- answering and reading a request (front_exchange.c) ------------------ */

/* Header values must be printable ASCII (MHD refuses CR/LF anyway). */
bool front_header_safe(const char *s);
enum MHD_Result front_send(exchange *x, unsigned code, const char *ctype,
                           const void *data, size_t len,
                           const char *const *headers);
/* Answers a JSON object (taking the reference) followed by a newline. */
enum MHD_Result front_send_json(exchange *x, unsigned code, json_t *obj,
                                const char *const *headers);
/* A one-line error with extra headers (NULL-terminated name, value
 * pairs, or NULL). */
enum MHD_Result front_send_error_h(exchange *x, unsigned code,
                                   const char *const *headers, const char *fmt,
                                   ...) __attribute__((format(printf, 4, 5)));
#define front_send_error(x, code, ...) \
  front_send_error_h((x), (code), NULL, __VA_ARGS__)
enum MHD_Result front_send_text(exchange *x, unsigned code, const char *ctype,
                                const char *text);
/* A query argument, percent-decoded (malloc'd); *bad on a bad escape. */
char *front_query_arg(exchange *x, const char *key, bool *bad);
/* A request header, NULL if absent. */
const char *front_header(exchange *x, const char *name);
/* Maps an engine outcome of a send to its HTTP answer. */
enum MHD_Result front_answer_send(exchange *x, sfl_result res, const char *err,
                                  const char *to_key, const char *to);
/* X-Idempotency-Key: optional, printable ASCII, bounded. */
int front_idempotency_key(exchange *x, const char **key, char *err,
                          size_t err_len);

/* ---- the parts ----------------------------------------------------------- */

/* The ingress and egress routers (front_ingress.c, front_egress.c). */
enum MHD_Result front_ingress_route(exchange *x, request *r);
enum MHD_Result front_egress_route(exchange *x, request *r);
/* Pops with a wait cut into slices, so that a stop is seen quickly
 * (front_egress.c). */
sfl_result front_pop_wait(sfl_front *f, const char *egress_id,
                          const char *topic, int64_t wait_ms, sfl_record *out);
/* Routes a POST whose address may name an IR entity (front_entity.c):
 * true when it answered, false to fall through to the plain send. */
bool front_entity_post(exchange *x, request *r, enum MHD_Result *ret);
/* Adds "fields" (the IR's state fields, decoded) to an address view. */
char *front_entity_fields(sfl_front *f, const char *fn_typename, char *view);

#endif
