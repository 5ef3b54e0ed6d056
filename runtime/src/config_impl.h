/*
 * config_impl.h - what the files of sf-local's module.yaml reader share
 * (private to runtime/src/config*.c; the API is config.h): the YAML tree
 * with positions (ynode), the parse context that carries the first error,
 * the state of binding documents to the config, and the functions one
 * part calls in another.
 *
 *   config.c           the API, the documents of a stream, binding a kind
 *   config_yaml.c      pass 1: libyaml's events -> ynode trees, errors
 *   config_get.c       typed access (strings, ints, durations, typenames)
 *                      with errors at the offending node
 *   config_endpoint.c  function endpoints and their transports
 *   config_io.c        ingresses and egresses (Kafka, Kinesis, playground)
 *   config_legacy.c    the legacy single-document format
 */
#ifndef SF_LOCAL_CONFIG_IMPL_H
#define SF_LOCAL_CONFIG_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } yn_type;

typedef struct ynode {
  yn_type type;
  int line, col;       /* 1-based */
  char *text;          /* scalar value (NUL-terminated); NULL otherwise */
  bool plain;          /* plain (unquoted) scalar */
  struct ynode **kids; /* seq: items; map: key0, value0, key1, value1, ... */
  size_t n, cap;       /* entries in kids */
} ynode;

/* Every node of the stream is owned by this list; kids[] only borrow (an
 * alias shares its anchored node). */
typedef struct {
  ynode **v;
  size_t n, cap;
} ynode_pool;

typedef struct {
  char *name;
  ynode *node;
} yanchor;

typedef struct ctx {
  const char *path;
  char *err;
  size_t err_len;
  ynode_pool pool;
  yanchor *anchors;
  size_t n_anchors, cap_anchors;
  int last_line, last_col; /* mark of the last event, for errors that
                              have none of their own */
  char qbuf[4][96];        /* quoted values for messages */
  int qnext;
} ctx;

#define MAX_DEPTH 64

typedef struct {
  ynode **v;
  size_t n, cap;
} ydocs;

#define GROW(arr, n, cap) \
  ((n) < (cap) ? 0 : cfg_grow_array((void **)&(arr), &(cap), sizeof *(arr)))

typedef struct {
  sfl_config *cfg;
  size_t cap_ep, cap_in, cap_eg;
  /* where each pattern / id was defined, parallel to cfg's arrays */
  int *ep_line, *ep_col, *in_line, *in_col, *eg_line, *eg_col;
  size_t cap_epl, cap_inl, cap_egl;
} build_state;

#define ASYNC_TYPE "io.statefun.transports.v1/async"
#define OKHTTP_TYPE "io.statefun.transports.v1/okhttp"

/* ---- the YAML tree and pass 1 (config_yaml.c) ---------------------------- */

/* Sets the error "path:line:col: message" (one line); returns -1. */
int cfg_fail_at(ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* cfg_fail_at at the position of node `at`. */
int cfg_fail(ctx *c, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* A scalar's text for messages: truncated, in one of four rotating buffers
 * so a message can quote several values. */
const char *cfg_q(ctx *c, const ynode *n);
ynode *cfg_node_new(ctx *c, yn_type type, int line, int col);
int cfg_node_add(ynode *parent, ynode *kid);
void cfg_pool_free(ynode_pool *p);
bool cfg_is_null(const ynode *n);
const char *cfg_what(const ynode *n);
int cfg_oom(ctx *c);
/* The 1-based line:column of byte `at` of s[0, len), counted as libyaml
 * counts (config_tabs.c): '\n', "\r\n" and a lone '\r' break a line; a
 * column is a character. Every position computed from the text uses it. */
void cfg_text_position(const char *s, size_t len, size_t at, int *line, int *col);
/* Refuses a tab where Flink's YAML parser refuses one (config_tabs.c):
 * 0, or -1 with "path:line:col: message". */
int cfg_check_tabs(ctx *c, const char *text, size_t len);
/* Parses the whole stream into document roots (NULL for empty documents). */
int cfg_parse_stream(ctx *c, const char *text, size_t len, ydocs *docs);

/* ---- typed access with errors at the node (config_get.c) ----------------- */

ynode *cfg_map_get(const ynode *map, const char *key);
/* Duplicate keys: Jackson keeps the last silently; we refuse. Keys must be
 * scalars (module.yaml never needs complex keys). */
int cfg_check_keys(ctx *c, const ynode *map);
/* The node of `key` in `map` as a mapping; NULL (no error) when absent or
 * null and !required. Returns -1 on error. */
int cfg_get_map(ctx *c, const ynode *map, const char *key, bool required,
                const char *where, ynode **out);
int cfg_get_seq(ctx *c, const ynode *map, const char *key, bool required,
                const char *where, ynode **out);
/* A non-empty string. */
int cfg_get_str(ctx *c, const ynode *map, const char *key, bool required,
                const char *where, ynode **out);
int cfg_check_typename(ctx *c, const ynode *n, const char *what_);
/* Decimal digits (an optional '+'), plain or quoted: Jackson coerces both. */
bool cfg_parse_u64(const char *s, uint64_t *out);
/* An integer in [min, max] (Java int fields: max INT32_MAX). */
int cfg_get_int(ctx *c, const ynode *map, const char *key, int64_t min,
                int64_t max, const char *kind_of, int64_t *out);
/* A Java int (an optional sign, plain or quoted) at `key`; leaves *out
 * alone when absent. */
int cfg_get_java_int(ctx *c, const ynode *map, const char *key, int64_t *out);
/* Duration at `key`; leaves *ms alone when absent. `nonzero`: Flink's
 * requireNonZeroDuration (we also apply it to the async call/connect, where
 * a zero timeout can only mean every call fails). */
int cfg_get_duration(ctx *c, const ynode *map, const char *key, bool nonzero,
                     int64_t *ms, const ynode **at);
/* For messages: 120000 -> "2min", 1500 -> "1500ms". */
void cfg_fmt_ms(char *buf, size_t len, int64_t ms);
/* Unknown-key check for the strict places. `hint` maps likely typos. */
int cfg_check_known(ctx *c, const ynode *map, const char *const *known,
                    const char *where);
char *cfg_dup_text(ctx *c, const ynode *n);
/* A whole file (config.c); NULL with errno. */
char *cfg_read_file(const char *path, size_t max, size_t *len_out);
/* Frees an endpoint's TLS files and wipes its key password (config.c). */
void sfl_endpoint_tls_free(sfl_endpoint *ep);
/* Doubles an array of `elem`-byte entries (zeroed); the GROW macro. */
int cfg_grow_array(void **arr, size_t *cap, size_t elem);

/* ---- endpoints and transports (config_endpoint.c) ------------------------ */

/* Remembers where id `text` (or an endpoint pattern) was defined: at
 * node `at` (which need not hold the text: the playground's fixed ids);
 * refuses duplicates. `what_` names it in the message ("ingress id"). */
int cfg_note_id(ctx *c, const ynode *at, const char *text, const char *what_,
                char **ids, size_t n, int **lines, int **cols, size_t *cap);
int cfg_parse_endpoint(ctx *c, build_state *bs, const ynode *doc,
                       const ynode *spec, bool v2);

/* ---- ingresses and egresses (config_io.c) -------------------------------- */

void cfg_ingress_free(sfl_ingress *in);
int cfg_parse_ingress(ctx *c, build_state *bs, const ynode *doc,
                      const ynode *spec, sfl_io_kind kind);
int cfg_parse_egress(ctx *c, build_state *bs, const ynode *doc,
                     const ynode *spec, sfl_io_kind kind);
int cfg_parse_playground(ctx *c, build_state *bs, const ynode *doc,
                         const ynode *spec, bool ingress);

/* ---- the legacy format (config_legacy.c) --------------------------------- */

/*
 * The legacy format: the file's one document is
 *   version: "3.0"
 *   module: {meta: {type: remote}, spec: {endpoints, ingresses, egresses}}
 * checked as JsonServiceLoader checks it, then endpoints, ingresses and
 * egresses are bound in that order.
 */
int cfg_parse_legacy(ctx *c, build_state *bs, const ynode *doc);
/* Flink's JsonServiceLoader: a file whose only document has a 'version'
 * is in the legacy format. */
bool cfg_is_legacy(const ydocs *docs);

/* ---- binding a component (config.c) -------------------------------------- */

const char *cfg_legacy_kind_of(const char *kind);
/*
 * Binds one component: `kind` (already converted from a legacy name) with
 * its `spec`; `at` is the node errors about the kind point to, `doc` the
 * node whose line the component records.
 */
int cfg_bind_component(ctx *c, build_state *bs, const ynode *doc,
                       const ynode *at, const char *kind, const ynode *spec);

#endif
