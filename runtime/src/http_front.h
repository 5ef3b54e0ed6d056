/*
 * http_front.h - sf-local's HTTP faces for people and tests: the ingress
 * (default port 8090, compatible with the StateFun playground's) and the
 * egress (default port 8091). Both are libmicrohttpd servers polling with
 * a small thread pool (poll(2), not epoll); a request that must wait (a
 * long-poll, backpressure, a commit, an entity call's Reply) suspends its
 * connection instead of holding a thread. Every resource a client can
 * take is bounded (sfl_front_limits). They call the thread-safe entry
 * points of engine.h; they own no engine data.
 *
 * The endpoints are documented in docs/sf-local-http.md.
 *
 * The second half of this header is the pure request-parsing helpers the
 * servers use (paths, content types, the JSON convenience encodings,
 * base64, UTF-8). They allocate nothing unless they say so and are unit
 * tested on their own (tests/runtime/test_front.c).
 */
#ifndef SF_LOCAL_HTTP_FRONT_H
#define SF_LOCAL_HTTP_FRONT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "engine.h"

typedef struct sfl_front sfl_front;
struct sfc_ir;

#define SFL_FRONT_DEFAULT_BIND "127.0.0.1"
#define SFL_FRONT_DEFAULT_INGRESS_PORT 8090
#define SFL_FRONT_DEFAULT_EGRESS_PORT 8091
#define SFL_FRONT_DEFAULT_MAX_BODY ((size_t)16 * 1024 * 1024)

/* The limits that keep hostile clients from exhausting the front; 0 takes
 * the default (docs/sf-local.md, "Limits"; SECURITY.md). */
typedef struct sfl_front_limits {
  unsigned threads;          /* polling threads per server (2) */
  unsigned max_connections;  /* per server (1024) */
  unsigned per_client;       /* connections per client IP, per server (256) */
  unsigned head_timeout_s;   /* a request head complete within (10) */
  unsigned body_timeout_s;   /* its body complete within, after the head (30) */
  unsigned idle_timeout_s;   /* an idle keep-alive connection closed after (30) */
  size_t max_inflight;       /* request body bytes buffered at once (256 MiB) */
} sfl_front_limits;

#define SFL_FRONT_DEFAULT_THREADS 2
#define SFL_FRONT_DEFAULT_MAX_CONNECTIONS 1024
#define SFL_FRONT_DEFAULT_PER_CLIENT 256
#define SFL_FRONT_DEFAULT_HEAD_TIMEOUT_S 10
#define SFL_FRONT_DEFAULT_BODY_TIMEOUT_S 30
#define SFL_FRONT_DEFAULT_IDLE_TIMEOUT_S 30
#define SFL_FRONT_DEFAULT_MAX_INFLIGHT ((size_t)256 * 1024 * 1024)

typedef struct sfl_front_options {
  sfl_engine *engine;          /* required; must outlive the front */
  const sfl_config *config;    /* optional: names egress ids in 404s */
  const char *bind;            /* NULL: 127.0.0.1 */
  uint16_t ingress_port;       /* 0: any free port (see sfl_front_*_port) */
  uint16_t egress_port;        /* 0: any free port */
  size_t max_body;             /* 0: 16 MiB; larger bodies get 413 */
  int64_t send_wait_ms;        /* ingress wait on backpressure; 0: 2000 */
  int64_t max_poll_ms;         /* cap of ?wait= on the egress; 0: 60000 */
  int verbose;                 /* one line per request on stderr */
  /* --ir files: POST /<ns>/<Entity>/<key>/<method> calls entity methods
   * with JSON arguments, GET /<ns>/<Entity>/<key> adds the decoded state
   * "fields" (docs/sf-local-http.md, "Calling entities"). Must outlive the
   * front. */
  const struct sfc_ir *irs;    /* array of n_irs */
  size_t n_irs;
  sfl_front_limits limits;
} sfl_front_options;

/* Starts both servers. NULL with a reason in err on failure (port taken,
 * bad --bind, ...). */
sfl_front *sfl_front_start(const sfl_front_options *opts, char *err,
                           size_t err_len);
/* The ports actually bound (useful with port 0). */
uint16_t sfl_front_ingress_port(const sfl_front *f);
uint16_t sfl_front_egress_port(const sfl_front *f);
/* Stops accepting, answers the parked requests (long-polls, waits),
 * joins the polling threads and frees. Call before sfl_engine_free. NULL
 * is ignored. */
void sfl_front_stop(sfl_front *f);

/* ------------------------------------------------------------------------ */
/* Pure helpers (exposed for the unit tests)                                */
/* ------------------------------------------------------------------------ */

/*
 * Percent-decodes in[0..len) into out (which needs len + 1 bytes; the
 * result is NUL-terminated). With `plus_is_space`, '+' decodes to ' ' (query
 * strings). Returns the decoded length, or -1 for a malformed escape ("%",
 * "%4", "%zz") or an encoded NUL ("%00").
 */
long sfl_front_percent_decode(const char *in, size_t len, bool plus_is_space,
                              char *out);

/* A function address taken from a request path. Strings are malloc'd; free
 * with sfl_front_address_free. */
typedef struct sfl_front_address {
  char *fn_typename; /* "namespace/type" */
  char *id;          /* decoded; may contain '/' */
} sfl_front_address;
void sfl_front_address_free(sfl_front_address *a);

/*
 * Parses a raw (not yet percent-decoded) path "/<namespace>/<type>/<id>".
 * Each part is percent-decoded; the id is everything after the second
 * '/', so "/ns/t/a/b" and "/ns/t/a%2Fb" both name id "a/b". Namespace and
 * type must be non-empty and free of '/', the id non-empty; all three valid
 * UTF-8 without control characters in the namespace and type. Returns 0, or
 * -1 with a reason for a 400 in err.
 */
int sfl_front_parse_address(const char *path, sfl_front_address *out,
                            char *err, size_t err_len);

/* How an ingress body is to be turned into a TypedValue. */
typedef enum sfl_body_kind {
  SFL_BODY_RAW,  /* the body bytes as they are, typename as given */
  SFL_BODY_JSON, /* application/json: the JSON convenience */
  SFL_BODY_TEXT, /* text/plain: the body as a StringWrapper */
} sfl_body_kind;

/*
 * Reads a Content-Type header value (NULL when absent):
 *   absent                          -> RAW, io.statefun.types/string
 *   application/vnd.<ns>/<name>     -> RAW, <ns>/<name>
 *   application/json                -> JSON
 *   text/plain                      -> TEXT, io.statefun.types/string
 * Parameters (";charset=...") are ignored; the media type is matched
 * case-insensitively, the typename is kept as written. Writes the typename
 * into `typename` (size tn_len) for RAW and TEXT. Returns 0, or -1 with a
 * reason (unsupported media type, bad typename) in err.
 */
int sfl_front_content_type(const char *content_type, sfl_body_kind *kind,
                           char *typename, size_t tn_len, char *err,
                           size_t err_len);

/*
 * The JSON convenience: encodes the JSON text body[0..len) as a built-in
 * wrapper. `type` is the ?type= query value (NULL: inferred from the JSON:
 * string -> string, true/false -> bool, integer -> long, other number ->
 * double). On success returns 0, sets *typename to the built-in typename (a
 * static string) and *out and *out_len to malloc'd bytes (free them; *out may
 * be NULL when the encoding is empty, e.g. 0 or false). -1 with a reason in
 * err for bad JSON, an unknown type or a value that does not fit.
 */
int sfl_front_json_encode(const char *body, size_t len, const char *type,
                          const char **typename, uint8_t **out,
                          size_t *out_len, char *err, size_t err_len);

/* Whether a Content-Type value (NULL: absent) is the media type `media`
 * (case-insensitive; parameters such as ";charset=..." ignored). */
bool sfl_front_media_is(const char *content_type, const char *media);

/*
 * A batch of topic records in JSON lines (Content-Type
 * application/x-ndjson), one object per line, blank lines skipped:
 *   {"key":"<id>","value":"<UTF-8 text>"}  or
 *   {"key":"<id>","value_base64":"<the value's bytes in base64>"}
 * value_base64 wins when both are there, and other fields are ignored, so
 * the egress's JSON lines can be sent back as they are. At most
 * `max_records` records. On success returns 0 and fills *out (free it with
 * sfl_front_records_free; the records point into it). -1 with
 * "line L, column C: why" in err (*out then holds nothing), -2 when there
 * are more than max_records records, -3 when out of memory.
 */
typedef struct sfl_front_records {
  sfl_topic_record *recs;
  size_t n;
  char *bytes; /* the keys (NUL-terminated) and values the records name */
} sfl_front_records;
int sfl_front_parse_records(const char *body, size_t len, size_t max_records,
                            sfl_front_records *out, char *err, size_t err_len);
void sfl_front_records_free(sfl_front_records *r);

/* The StringWrapper encoding of s[0..len): 0x0A, varint len, bytes; empty
 * for "". malloc'd into *out (NULL when empty). Returns 0, -1 on OOM. */
int sfl_front_string_wrapper(const char *s, size_t len, uint8_t **out,
                             size_t *out_len);

/* Standard base64 with padding. Returns a malloc'd NUL-terminated string,
 * NULL on OOM. */
char *sfl_front_base64(const uint8_t *data, size_t len);

/* Parses ?wait=SECONDS (non-negative, decimals allowed, e.g. "0.5") into
 * milliseconds, capped at max_ms. -1 if malformed. */
int64_t sfl_front_parse_wait(const char *s, int64_t max_ms);

#endif
