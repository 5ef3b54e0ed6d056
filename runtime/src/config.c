/*
 * config.c - reads a StateFun 3.x module.yaml into an sfl_config.
 *
 * Two passes. First libfyaml's event parser turns every YAML document of the
 * stream into a small tree of our own (ynode) that remembers the 1-based
 * line/column of each node; libfyaml 0.7 has no public start mark for
 * collection nodes, and events give exact marks for all of them. YAML syntax
 * errors are collected through a fy_diag and reported as the first one.
 * Like Flink (JsonServiceLoader reads all documents before binding any), no
 * document is interpreted until the whole stream has parsed.
 *
 * Then each document is checked against what StateFun's binders accept
 * (HttpEndpointBinderV1/V2, NettyRequestReplySpec,
 * DefaultHttpRequestReplyClientSpec, RoutableKafkaIngressSpec,
 * GenericKafkaEgressSpec, the Kinesis specs, the playground's specs) and the
 * parts sf-local needs are copied into the config. The first problem stops
 * the load with one "path:line:col: message" line.
 *
 * A file whose only document has 'version' is the legacy single-document
 * format (JsonServiceLoader -> LegacyRemoteModuleV30): its endpoints,
 * ingresses and egresses are converted to the same components and bound by
 * the same code.
 *
 * Strictness: Flink ignores unknown keys everywhere. We reject them where a
 * typo would silently change what the functions see: the endpoint spec (e.g.
 * `transports:` for `transport:`, which drops the whole transport block), the
 * transport block and `timeouts`. Elsewhere unknown keys are ignored.
 */
#include "config.h"

#include "sfb/duration.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ------------------------------------------------------------------ */
/* Our YAML tree                                                        */
/* ------------------------------------------------------------------ */

typedef enum { YN_SCALAR, YN_SEQ, YN_MAP } yn_type;

typedef struct ynode {
  yn_type type;
  int line, col;        /* 1-based */
  char *text;           /* scalar value (NUL-terminated); NULL otherwise */
  bool plain;           /* plain (unquoted) scalar */
  struct ynode **kids;  /* seq: items; map: key0, value0, key1, value1, ... */
  size_t n, cap;        /* entries in kids */
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
  int last_line, last_col; /* last good mark, for nodes libfyaml leaves
                              without one (empty scalars) */
  char qbuf[4][96];        /* quoted values for messages */
  int qnext;
} ctx;

#define MAX_DEPTH 64

/* Makes a message one line: control characters become '?'. */
static void one_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

static int fail_at(ctx *c, int line, int col, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static int fail_at(ctx *c, int line, int col, const char *fmt, ...) {
  if (!c->err || c->err_len == 0) return -1;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(c->err, c->err_len, "%s:%d:%d: %s", c->path, line < 1 ? 1 : line,
           col < 1 ? 1 : col, msg);
  one_line(c->err);
  return -1;
}

static int fail(ctx *c, const ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int fail(ctx *c, const ynode *at, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return fail_at(c, at ? at->line : 1, at ? at->col : 1, "%s", msg);
}

/* A scalar's text for messages: truncated, in one of four rotating buffers
 * so a message can quote several values. */
static const char *q(ctx *c, const ynode *n) {
  char *b = c->qbuf[c->qnext++ & 3];
  const char *t = (n && n->type == YN_SCALAR) ? n->text : "";
  size_t len = strlen(t), max = sizeof c->qbuf[0] - 4;
  if (len > max) {
    memcpy(b, t, max);
    memcpy(b + max, "...", 4);
  } else {
    memcpy(b, t, len + 1);
  }
  return b;
}

static ynode *node_new(ctx *c, yn_type type, int line, int col) {
  if (c->pool.n == c->pool.cap) {
    size_t cap = c->pool.cap ? 2 * c->pool.cap : 64;
    ynode **v = realloc(c->pool.v, cap * sizeof *v);
    if (!v) return NULL;
    c->pool.v = v;
    c->pool.cap = cap;
  }
  ynode *n = calloc(1, sizeof *n);
  if (!n) return NULL;
  n->type = type;
  n->line = line;
  n->col = col;
  c->pool.v[c->pool.n++] = n;
  return n;
}

static int node_add(ynode *parent, ynode *kid) {
  if (parent->n == parent->cap) {
    size_t cap = parent->cap ? 2 * parent->cap : 8;
    ynode **k = realloc(parent->kids, cap * sizeof *k);
    if (!k) return -1;
    parent->kids = k;
    parent->cap = cap;
  }
  parent->kids[parent->n++] = kid;
  return 0;
}

static void pool_free(ynode_pool *p) {
  for (size_t i = 0; i < p->n; i++) {
    free(p->v[i]->text);
    free(p->v[i]->kids);
    free(p->v[i]);
  }
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

static void anchors_clear(ctx *c) {
  for (size_t i = 0; i < c->n_anchors; i++) free(c->anchors[i].name);
  c->n_anchors = 0;
}

static int anchor_add(ctx *c, const char *name, size_t len, ynode *n) {
  if (c->n_anchors == c->cap_anchors) {
    size_t cap = c->cap_anchors ? 2 * c->cap_anchors : 8;
    yanchor *a = realloc(c->anchors, cap * sizeof *a);
    if (!a) return -1;
    c->anchors = a;
    c->cap_anchors = cap;
  }
  char *s = strndup(name, len);
  if (!s) return -1;
  c->anchors[c->n_anchors].name = s;
  c->anchors[c->n_anchors].node = n;
  c->n_anchors++;
  return 0;
}

static ynode *anchor_find(ctx *c, const char *name, size_t len) {
  /* The latest definition of a name wins (YAML allows redefinition). */
  for (size_t i = c->n_anchors; i-- > 0;)
    if (strlen(c->anchors[i].name) == len &&
        memcmp(c->anchors[i].name, name, len) == 0)
      return c->anchors[i].node;
  return NULL;
}

static bool is_null(const ynode *n) {
  if (!n) return true;
  if (n->type != YN_SCALAR || !n->plain) return false;
  const char *t = n->text;
  return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
         !strcmp(t, "NULL");
}

static const char *what(const ynode *n) {
  if (is_null(n)) return "empty";
  switch (n->type) {
  case YN_MAP: return "a mapping";
  case YN_SEQ: return "a sequence";
  default: return "a scalar";
  }
}

/* ------------------------------------------------------------------ */
/* Pass 1: libfyaml events -> ynode trees                               */
/* ------------------------------------------------------------------ */

typedef struct {
  struct fy_parser *fyp;
  struct fy_diag *diag;
} yparser;

static void mark_of(ctx *c, struct fy_event *e, int *line, int *col) {
  const struct fy_mark *m = fy_event_start_mark(e);
  if (m && m->line >= 0 && m->column >= 0) {
    c->last_line = m->line + 1;
    c->last_col = m->column + 1;
  }
  *line = c->last_line;
  *col = c->last_col;
}

/* The YAML error libfyaml reported, as our one-line message. */
static int syntax_error(ctx *c, yparser *yp) {
  void *it = NULL;
  struct fy_diag_error *de;
  while ((de = fy_diag_errors_iterate(yp->diag, &it)) != NULL) {
    if (de->type >= FYET_ERROR && de->msg)
      return fail_at(c, de->line, de->column, "invalid YAML: %s", de->msg);
  }
  return fail_at(c, c->last_line, c->last_col, "invalid YAML");
}

static int oom(ctx *c) {
  return fail_at(c, c->last_line, c->last_col, "out of memory");
}

static int build(ctx *c, yparser *yp, struct fy_event *e, int depth,
                 ynode **out);

/* Reads the entries of a collection until its end event. */
static int build_children(ctx *c, yparser *yp, ynode *n, int depth) {
  for (;;) {
    struct fy_event *e = fy_parser_parse(yp->fyp);
    if (!e) return syntax_error(c, yp);
    if (e->type == FYET_SEQUENCE_END || e->type == FYET_MAPPING_END) {
      fy_parser_event_free(yp->fyp, e);
      return 0;
    }
    ynode *kid;
    if (build(c, yp, e, depth + 1, &kid) < 0) return -1;
    if (node_add(n, kid) < 0) return oom(c);
  }
}

/* Builds the node that starts with event `e` (consumed). */
static int build(ctx *c, yparser *yp, struct fy_event *e, int depth,
                 ynode **out) {
  int line, col;
  mark_of(c, e, &line, &col);
  if (depth > MAX_DEPTH) {
    fy_parser_event_free(yp->fyp, e);
    return fail_at(c, line, col, "nesting deeper than %d levels", MAX_DEPTH);
  }
  struct fy_token *anchor = NULL;
  ynode *n = NULL;
  size_t len;
  const char *t;
  /* libfyaml marks an alias and a quoted scalar just after the '*' or the
   * quote; point at the node itself. */
  if (col > 1 &&
      (e->type == FYET_ALIAS ||
       (e->type == FYET_SCALAR &&
        (fy_token_scalar_style(e->scalar.value) == FYSS_SINGLE_QUOTED ||
         fy_token_scalar_style(e->scalar.value) == FYSS_DOUBLE_QUOTED))))
    col--;
  switch (e->type) {
  case FYET_ALIAS:
    t = fy_token_get_text(e->alias.anchor, &len);
    n = t ? anchor_find(c, t, len) : NULL;
    if (!n) {
      int r = fail_at(c, line, col, "unknown alias '*%.*s'", (int)(t ? len : 0),
                      t ? t : "");
      fy_parser_event_free(yp->fyp, e);
      return r;
    }
    fy_parser_event_free(yp->fyp, e);
    *out = n;
    return 0;
  case FYET_SCALAR:
    n = node_new(c, YN_SCALAR, line, col);
    if (!n) break;
    t = fy_token_get_text(e->scalar.value, &len);
    if (!t) len = 0;
    if (t && memchr(t, '\0', len)) {
      fy_parser_event_free(yp->fyp, e);
      return fail_at(c, line, col, "scalar contains a NUL character");
    }
    n->text = strndup(t ? t : "", len);
    if (!n->text) break;
    n->plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
    anchor = e->scalar.anchor;
    break;
  case FYET_SEQUENCE_START:
  case FYET_MAPPING_START:
    n = node_new(c, e->type == FYET_MAPPING_START ? YN_MAP : YN_SEQ, line, col);
    anchor = e->type == FYET_MAPPING_START ? e->mapping_start.anchor
                                           : e->sequence_start.anchor;
    break;
  default:
    fy_parser_event_free(yp->fyp, e);
    return fail_at(c, line, col, "invalid YAML: unexpected event");
  }
  if (!n) {
    fy_parser_event_free(yp->fyp, e);
    return oom(c);
  }
  /* Copy the anchor name before the event (and its tokens) goes away. */
  char *aname = NULL;
  size_t alen = 0;
  if (anchor) {
    t = fy_token_get_text(anchor, &alen);
    if (t && !(aname = strndup(t, alen))) {
      fy_parser_event_free(yp->fyp, e);
      return oom(c);
    }
  }
  fy_parser_event_free(yp->fyp, e);
  if (n->type != YN_SCALAR && build_children(c, yp, n, depth) < 0) {
    free(aname);
    return -1;
  }
  /* Registered when complete, so a node can't contain an alias of itself. */
  if (aname) {
    int r = anchor_add(c, aname, alen, n);
    free(aname);
    if (r < 0) return oom(c);
  }
  *out = n;
  return 0;
}

/*
 * YAML text must be valid UTF-8 without raw control characters (YAML 1.2
 * c-printable). Checked before libfyaml sees the text: libfyaml 0.7.12 loops
 * forever on some invalid UTF-8 (e.g. "%\x8e" at a line start).
 */
static int check_text(ctx *c, const unsigned char *s, size_t len) {
  int line = 1, col = 1;
  for (size_t i = 0; i < len;) {
    unsigned char b = s[i];
    size_t n = 1;
    uint32_t cp = b;
    if (b >= 0x80) {
      if (b >= 0xc2 && b <= 0xdf) n = 2, cp = b & 0x1f;
      else if (b >= 0xe0 && b <= 0xef) n = 3, cp = b & 0x0f;
      else if (b >= 0xf0 && b <= 0xf4) n = 4, cp = b & 0x07;
      else return fail_at(c, line, col, "invalid UTF-8 byte 0x%02x", b);
      if (i + n > len)
        return fail_at(c, line, col, "invalid UTF-8: truncated sequence");
      for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
          return fail_at(c, line, col, "invalid UTF-8 byte 0x%02x", s[i + k]);
        cp = (cp << 6) | (s[i + k] & 0x3f);
      }
      if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
          (cp >= 0xd800 && cp <= 0xdfff))
        return fail_at(c, line, col, "invalid UTF-8 sequence");
    } else if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
      return fail_at(c, line, col,
                     "invalid character 0x%02x (YAML allows only printable "
                     "characters)", b);
    }
    i += n;
    if (b == '\n') {
      line++;
      col = 1;
    } else {
      col++;
    }
  }
  return 0;
}

typedef struct {
  ynode **v;
  size_t n, cap;
} ydocs;

/* Parses the whole stream into document roots (NULL for empty documents). */
static int parse_stream(ctx *c, const char *text, size_t len, ydocs *docs) {
  struct fy_diag_cfg dc;
  fy_diag_cfg_default(&dc);
  dc.fp = NULL;
  dc.colorize = false;
  if (check_text(c, (const unsigned char *)text, len) < 0) return -1;
  yparser yp = {0};
  yp.diag = fy_diag_create(&dc);
  if (!yp.diag) return oom(c);
  fy_diag_set_collect_errors(yp.diag, true);
  struct fy_parse_cfg pc = {0};
  pc.flags = FYPCF_QUIET;
  pc.diag = yp.diag;
  yp.fyp = fy_parser_create(&pc);
  int rc = -1;
  if (!yp.fyp || fy_parser_set_string(yp.fyp, text, len) != 0) {
    rc = oom(c);
    goto out;
  }
  c->last_line = c->last_col = 1;
  for (;;) {
    struct fy_event *e = fy_parser_parse(yp.fyp);
    if (!e) {
      if (fy_parser_get_stream_error(yp.fyp)) {
        rc = syntax_error(c, &yp);
        goto out;
      }
      break; /* end of input */
    }
    enum fy_event_type type = e->type;
    if (type == FYET_STREAM_START || type == FYET_STREAM_END ||
        type == FYET_DOCUMENT_END) {
      fy_parser_event_free(yp.fyp, e);
      if (type == FYET_STREAM_END) break;
      continue;
    }
    if (type == FYET_DOCUMENT_START) {
      fy_parser_event_free(yp.fyp, e);
      anchors_clear(c); /* anchors are per document */
      continue;
    }
    ynode *root;
    if (build(c, &yp, e, 0, &root) < 0) goto out;
    if (docs->n == docs->cap) {
      size_t cap = docs->cap ? 2 * docs->cap : 8;
      ynode **v = realloc(docs->v, cap * sizeof *v);
      if (!v) {
        rc = oom(c);
        goto out;
      }
      docs->v = v;
      docs->cap = cap;
    }
    docs->v[docs->n++] = is_null(root) ? NULL : root;
  }
  rc = 0;
out:
  if (yp.fyp) fy_parser_destroy(yp.fyp);
  fy_diag_destroy(yp.diag);
  anchors_clear(c);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Pass 2 helpers: typed access with errors at the offending node       */
/* ------------------------------------------------------------------ */

static ynode *map_get(const ynode *map, const char *key) {
  if (!map || map->type != YN_MAP) return NULL;
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (map->kids[i]->type == YN_SCALAR && !strcmp(map->kids[i]->text, key))
      return map->kids[i + 1];
  return NULL;
}

/* Duplicate keys: Jackson keeps the last silently; we refuse. Keys must be
 * scalars (module.yaml never needs complex keys). */
static int check_keys(ctx *c, const ynode *map) {
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const ynode *k = map->kids[i];
    if (k->type != YN_SCALAR) return fail(c, k, "mapping keys must be scalars");
    for (size_t j = 0; j < i; j += 2)
      if (!strcmp(map->kids[j]->text, k->text))
        return fail(c, k, "duplicate key '%s' (first at %d:%d)", q(c, k),
                    map->kids[j]->line, map->kids[j]->col);
  }
  return 0;
}

/* The node of `key` in `map` as a mapping; NULL (no error) when absent or
 * null and !required. Returns -1 on error. */
static int get_map(ctx *c, const ynode *map, const char *key, bool required,
                   const char *where, ynode **out) {
  ynode *v = map_get(map, key);
  *out = NULL;
  if (!v || (is_null(v) && !required)) {
    if (required) return fail(c, map, "%s: missing required key '%s'", where, key);
    return 0;
  }
  if (v->type != YN_MAP)
    return fail(c, v, "'%s' must be a mapping, not %s", key, what(v));
  if (check_keys(c, v) < 0) return -1;
  *out = v;
  return 0;
}

static int get_seq(ctx *c, const ynode *map, const char *key, bool required,
                   const char *where, ynode **out) {
  ynode *v = map_get(map, key);
  *out = NULL;
  if (!v || (is_null(v) && !required)) {
    if (required) return fail(c, map, "%s: missing required key '%s'", where, key);
    return 0;
  }
  if (v->type != YN_SEQ)
    return fail(c, v, "'%s' must be a sequence, not %s", key, what(v));
  *out = v;
  return 0;
}

/* A non-empty string. */
static int get_str(ctx *c, const ynode *map, const char *key, bool required,
                   const char *where, ynode **out) {
  ynode *v = map_get(map, key);
  *out = NULL;
  if (!v || (is_null(v) && !required)) {
    if (required) return fail(c, map, "%s: missing required key '%s'", where, key);
    return 0;
  }
  if (v->type != YN_SCALAR || is_null(v))
    return fail(c, v, "'%s' must be a string, not %s", key, what(v));
  *out = v;
  return 0;
}

/* Exactly one '/', both sides non-empty (stricter than Java's split()). */
static bool is_typename(const char *s) {
  const char *slash = strchr(s, '/');
  return slash && slash != s && slash[1] && !strchr(slash + 1, '/');
}

static int check_typename(ctx *c, const ynode *n, const char *what_) {
  if (n->type != YN_SCALAR || is_null(n))
    return fail(c, n, "%s must be a typename <namespace>/<name>, not %s", what_,
                what(n));
  if (!is_typename(n->text))
    return fail(c, n, "invalid %s '%s': expected <namespace>/<name>", what_,
                q(c, n));
  return 0;
}

/* Decimal digits (an optional '+'), plain or quoted: Jackson coerces both. */
static bool parse_u64(const char *s, uint64_t *out) {
  if (*s == '+') s++;
  if (!isdigit((unsigned char)*s)) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s)) return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* An integer in [min, max] (Java int fields: max INT32_MAX). */
static int get_int(ctx *c, const ynode *map, const char *key, int64_t min,
                   int64_t max, const char *kind_of, int64_t *out) {
  ynode *v = map_get(map, key);
  if (!v || is_null(v)) return 0;
  uint64_t x;
  if (v->type != YN_SCALAR || !parse_u64(v->text, &x) || x < (uint64_t)min ||
      x > (uint64_t)max) {
    if (v->type == YN_SCALAR)
      return fail(c, v, "'%s' must be %s, not '%s'", key, kind_of, q(c, v));
    return fail(c, v, "'%s' must be %s, not %s", key, kind_of, what(v));
  }
  *out = (int64_t)x;
  return 0;
}

/* A Java int (an optional sign, plain or quoted) at `key`; leaves *out
 * alone when absent. */
static int get_java_int(ctx *c, const ynode *map, const char *key,
                        int64_t *out) {
  ynode *v = map_get(map, key);
  if (!v || is_null(v)) return 0;
  uint64_t x = 0;
  const char *t = v->type == YN_SCALAR ? v->text : "";
  bool neg = *t == '-';
  bool ok = v->type == YN_SCALAR && parse_u64(neg ? t + 1 : t, &x) &&
            *(neg ? t + 1 : t) != '+' &&
            x <= (neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX);
  if (!ok) {
    if (v->type == YN_SCALAR)
      return fail(c, v, "'%s' must be an integer (a Java int), not '%s'", key,
                  q(c, v));
    return fail(c, v, "'%s' must be an integer, not %s", key, what(v));
  }
  *out = neg ? -(int64_t)x : (int64_t)x;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Durations: Flink's TimeUtils.parseDuration (sfbase's sfb/duration.h;   */
/* a bare number is milliseconds, as in Flink)                            */
/* ------------------------------------------------------------------ */

/* Duration at `key`; leaves *ms alone when absent. `nonzero`: Flink's
 * requireNonZeroDuration (we also apply it to the async call/connect, where
 * a zero timeout can only mean every call fails). */
static int get_duration(ctx *c, const ynode *map, const char *key,
                        bool nonzero, int64_t *ms, const ynode **at) {
  ynode *v = map_get(map, key);
  if (!v || is_null(v)) return 0;
  if (at) *at = v;
  if (v->type != YN_SCALAR)
    return fail(c, v, "'%s' must be a duration like 2min, 20s or 500ms, not %s",
                key, what(v));
  sfb_duration_error why = sfb_duration_parse_ms(v->text, ms);
  if (why != SFB_DURATION_OK)
    return fail(c, v,
                "invalid duration '%s' for '%s' (%s): expected a number with "
                "an optional unit ms, s, min, h or d, e.g. 2min, 20s, 500ms",
                q(c, v), key, sfb_duration_strerror(why));
  if (nonzero && *ms == 0)
    return fail(c, v, "'%s' must be larger than 0", key);
  return 0;
}

/* For messages: 120000 -> "2min", 1500 -> "1500ms". */
static void fmt_ms(char *buf, size_t len, int64_t ms) {
  if (ms && ms % 3600000 == 0)
    snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
  else if (ms && ms % 60000 == 0)
    snprintf(buf, len, "%lldmin", (long long)(ms / 60000));
  else if (ms && ms % 1000 == 0)
    snprintf(buf, len, "%llds", (long long)(ms / 1000));
  else
    snprintf(buf, len, "%lldms", (long long)ms);
}

/* Unknown-key check for the strict places. `hint` maps likely typos. */
static int check_known(ctx *c, const ynode *map, const char *const *known,
                       const char *where) {
  static const struct {
    const char *typo, *meant;
  } hints[] = {
      {"transports", "transport"}, {"function", "functions"},
      {"url", "urlPathTemplate"},  {"urlTemplate", "urlPathTemplate"},
      {"timeout", "timeouts"},     {"maxBatchRequests", "maxNumBatchRequests"},
      {"maxNumBatchRequest", "maxNumBatchRequests"},
  };
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const ynode *k = map->kids[i];
    bool ok = false;
    for (const char *const *p = known; *p; p++)
      if (!strcmp(*p, k->text)) ok = true;
    if (ok) continue;
    char list[256] = "";
    for (const char *const *p = known; *p; p++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, *p, sizeof list - strlen(list) - 1);
    }
    for (size_t h = 0; h < sizeof hints / sizeof *hints; h++)
      if (!strcmp(hints[h].typo, k->text))
        for (const char *const *p = known; *p; p++)
          if (!strcmp(*p, hints[h].meant))
            return fail(c, k, "unknown key '%s' in %s (did you mean '%s'?)",
                        q(c, k), where, hints[h].meant);
    return fail(c, k, "unknown key '%s' in %s; known keys: %s", q(c, k), where,
                list);
  }
  return 0;
}

static char *dup_text(ctx *c, const ynode *n) {
  char *s = strdup(n->text);
  if (!s) oom(c);
  return s;
}

#define GROW(arr, n, cap)                                         \
  ((n) < (cap) ? 0                                                \
               : grow_array((void **)&(arr), &(cap), sizeof *(arr)))

static int grow_array(void **arr, size_t *cap, size_t elem) {
  size_t nc = *cap ? 2 * *cap : 4;
  void *p = realloc(*arr, nc * elem);
  if (!p) return -1;
  memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
  *arr = p;
  *cap = nc;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Pass 2: documents                                                    */
/* ------------------------------------------------------------------ */

typedef struct {
  sfl_config *cfg;
  size_t cap_ep, cap_in, cap_eg;
  /* where each pattern / id was defined, parallel to cfg's arrays */
  int *ep_line, *ep_col, *in_line, *in_col, *eg_line, *eg_col;
  size_t cap_epl, cap_inl, cap_egl;
} build_state;

#define ASYNC_TYPE "io.statefun.transports.v1/async"
#define OKHTTP_TYPE "io.statefun.transports.v1/okhttp"

/* `timeouts: {call, connect[, read, write]}` (both transports' Timeouts
 * classes: a block given replaces all of its defaults, values non-zero). */
static int parse_timeouts(ctx *c, const ynode *t, bool okhttp, sfl_endpoint *ep) {
  static const char *const known_ok[] = {"call", "connect", "read", "write", NULL};
  static const char *const known_async[] = {"call", "connect", NULL};
  if (check_known(c, t, okhttp ? known_ok : known_async, "'timeouts'") < 0)
    return -1;
  /* Defaults of the Timeouts classes: call 1m, connect 10s, read/write 10s. */
  ep->call_timeout_ms = 60000;
  ep->connect_timeout_ms = 10000;
  if (okhttp) ep->read_timeout_ms = ep->write_timeout_ms = 10000;
  if (get_duration(c, t, "call", true, &ep->call_timeout_ms, NULL) < 0 ||
      get_duration(c, t, "connect", true, &ep->connect_timeout_ms, NULL) < 0)
    return -1;
  if (!okhttp) return 0;
  if (get_duration(c, t, "read", true, &ep->read_timeout_ms, NULL) < 0 ||
      get_duration(c, t, "write", true, &ep->write_timeout_ms, NULL) < 0)
    return -1;
  /* DefaultHttpRequestReplyClientSpec.validateTimeouts, defaults included. */
  const char *names[] = {"connect", "read", "write"};
  int64_t vals[] = {ep->connect_timeout_ms, ep->read_timeout_ms,
                    ep->write_timeout_ms};
  for (int i = 0; i < 3; i++)
    if (vals[i] > ep->call_timeout_ms) {
      char a[32], b[32];
      fmt_ms(a, sizeof a, vals[i]);
      fmt_ms(b, sizeof b, ep->call_timeout_ms);
      return fail(c, t, "%s timeout (%s) cannot be larger than call timeout (%s)",
                  names[i], a, b);
    }
  return 0;
}

/* v2 `transport:` block. */
static int parse_transport(ctx *c, const ynode *tr, sfl_endpoint *ep) {
  ynode *type;
  if (get_str(c, tr, "type", false, "transport", &type) < 0) return -1;
  if (type && !strcmp(type->text, OKHTTP_TYPE)) {
    static const char *const known[] = {"type", "timeouts", NULL};
    if (check_known(c, tr, known, "an okhttp 'transport'") < 0) return -1;
    ep->transport = SFL_TRANSPORT_OKHTTP;
    ep->payload_max_bytes = 0;
    ynode *t;
    if (get_map(c, tr, "timeouts", false, "transport", &t) < 0) return -1;
    if (t) return parse_timeouts(c, t, true, ep);
    ep->call_timeout_ms = 60000;
    ep->connect_timeout_ms = 10000;
    ep->read_timeout_ms = ep->write_timeout_ms = 10000;
    return 0;
  }
  if (type && strcmp(type->text, ASYNC_TYPE))
    return fail(c, type, "unknown transport type '%s'; known types: " ASYNC_TYPE
                ", " OKHTTP_TYPE, q(c, type));
  static const char *const known[] = {
      "type", "call", "connect", "pool_ttl", "pool_size", "payload_max_bytes",
      "trust_cacerts", "client_cert", "client_key", "client_key_password",
      "timeouts", NULL};
  if (check_known(c, tr, known, "an async 'transport'") < 0) return -1;
  int64_t ignored = 0, size = 0;
  if (get_duration(c, tr, "call", true, &ep->call_timeout_ms, NULL) < 0 ||
      get_duration(c, tr, "connect", true, &ep->connect_timeout_ms, NULL) < 0 ||
      get_duration(c, tr, "pool_ttl", false, &ignored, NULL) < 0 ||
      get_int(c, tr, "pool_size", 1, INT32_MAX, "a positive integer", &ignored) < 0)
    return -1;
  size = ep->payload_max_bytes;
  if (get_int(c, tr, "payload_max_bytes", 1, INT32_MAX, "a positive integer",
              &size) < 0)
    return -1;
  ep->payload_max_bytes = (uint32_t)size;
  const char *strs[] = {"trust_cacerts", "client_cert", "client_key",
                        "client_key_password"};
  for (int i = 0; i < 4; i++) {
    ynode *s;
    if (get_str(c, tr, strs[i], false, "transport", &s) < 0) return -1;
  }
  /* The legacy `timeouts` block wins over call/connect (NettyRequestReplySpec
   * firstPresentOrDefault), with its own defaults 1m / 10s. */
  ynode *t;
  if (get_map(c, tr, "timeouts", false, "transport", &t) < 0) return -1;
  if (t) return parse_timeouts(c, t, false, ep);
  return 0;
}

static int check_url(ctx *c, const ynode *u, sfl_endpoint *ep) {
  const char *s = u->text;
  size_t skip = 0;
  if (!strncasecmp(s, "http://", 7)) skip = 7;
  else if (!strncasecmp(s, "https://", 8)) skip = 8;
  else if (!strncasecmp(s, "http+unix://", 12)) {
    skip = 12;
    ep->unix_socket = true;
  } else {
    return fail(c, u,
                "urlPathTemplate '%s' must start with http:// or https://",
                q(c, u));
  }
  if (!s[skip] || (s[skip] == '/' && !ep->unix_socket))
    return fail(c, u, "urlPathTemplate '%s' has no host", q(c, u));
  if (ep->unix_socket && ep->transport != SFL_TRANSPORT_OKHTTP)
    return fail(c, u,
                "urlPathTemplate '%s': http+unix:// needs the okhttp transport "
                "(type: " OKHTTP_TYPE ")",
                q(c, u));
  return 0;
}

static int check_pattern(ctx *c, const ynode *f) {
  const char *s = f->text, *slash = strchr(s, '/');
  bool ok = slash && slash != s && slash[1] && !strchr(slash + 1, '/') &&
            !memchr(s, '*', (size_t)(slash - s)) &&
            (!strcmp(slash + 1, "*") || !strchr(slash + 1, '*'));
  if (!ok)
    return fail(c, f,
                "invalid function pattern '%s': expected <namespace>/<name> or "
                "<namespace>/*",
                q(c, f));
  return 0;
}

static int note_id(ctx *c, const ynode *id, const char *what_, char **ids,
                   size_t n, int **lines, int **cols, size_t *cap);

static int parse_endpoint(ctx *c, build_state *bs, const ynode *doc,
                          const ynode *spec, bool v2) {
  const char *where = v2 ? "io.statefun.endpoints.v2/http spec"
                         : "io.statefun.endpoints.v1/http spec";
  static const char *const known_v2[] = {"functions", "urlPathTemplate",
                                         "maxNumBatchRequests", "transport",
                                         NULL};
  static const char *const known_v1[] = {"functions", "urlPathTemplate",
                                         "maxNumBatchRequests", "timeouts",
                                         NULL};
  if (v2 && map_get(spec, "timeouts")) {
    const ynode *k = NULL;
    for (size_t i = 0; i + 1 < spec->n; i += 2)
      if (!strcmp(spec->kids[i]->text, "timeouts")) k = spec->kids[i];
    return fail(c, k,
                "'timeouts' is not read in io.statefun.endpoints.v2/http; put "
                "call/connect under 'transport'");
  }
  if (check_known(c, spec, v2 ? known_v2 : known_v1, where) < 0) return -1;

  ynode *fn, *url, *tr = NULL, *to = NULL;
  if (get_str(c, spec, "functions", true, "endpoint spec", &fn) < 0 ||
      check_pattern(c, fn) < 0 ||
      get_str(c, spec, "urlPathTemplate", true, "endpoint spec", &url) < 0)
    return -1;
  if (v2 && get_map(c, spec, "transport", false, "endpoint spec", &tr) < 0)
    return -1;
  if (!v2 && get_map(c, spec, "timeouts", false, "endpoint spec", &to) < 0)
    return -1;

  sfl_endpoint ep = {0};
  ep.max_batch = 1000;
  ep.line = doc->line;
  if (v2) {
    ep.transport = SFL_TRANSPORT_ASYNC;
    ep.call_timeout_ms = 120000;
    ep.connect_timeout_ms = 20000;
    ep.payload_max_bytes = 32u * 1048576u;
    if (tr && parse_transport(c, tr, &ep) < 0) return -1;
  } else {
    ep.transport = SFL_TRANSPORT_OKHTTP;
    ep.call_timeout_ms = 60000;
    ep.connect_timeout_ms = 10000;
    ep.read_timeout_ms = ep.write_timeout_ms = 10000;
    if (to && parse_timeouts(c, to, true, &ep) < 0) return -1;
  }
  if (check_url(c, url, &ep) < 0) return -1;
  /* A Java int; 0 or less means no limit (RequestReplyFunction checks
   * maxNumBatchRequests > 0). */
  int64_t mb = ep.max_batch;
  if (get_java_int(c, spec, "maxNumBatchRequests", &mb) < 0) return -1;
  ep.max_batch = mb > 0 ? (uint32_t)mb : 0;

  sfl_config *cfg = bs->cfg;
  char **pats = malloc((cfg->n_endpoints + 1) * sizeof *pats);
  if (!pats) return oom(c);
  for (size_t i = 0; i < cfg->n_endpoints; i++) pats[i] = cfg->endpoints[i].functions;
  int r = note_id(c, fn, "endpoint for functions", pats, cfg->n_endpoints,
                  &bs->ep_line, &bs->ep_col, &bs->cap_epl);
  free(pats);
  if (r < 0) return -1;
  if (GROW(cfg->endpoints, cfg->n_endpoints, bs->cap_ep) < 0) return oom(c);
  ep.functions = dup_text(c, fn);
  ep.url_template = dup_text(c, url);
  cfg->endpoints[cfg->n_endpoints++] = ep; /* freed by sfl_config_free */
  if (!ep.functions || !ep.url_template) return -1;
  return 0;
}

/* Remembers where an id (or endpoint pattern) was defined; refuses
 * duplicates. `what_` names it in the message ("ingress id"). */
static int note_id(ctx *c, const ynode *id, const char *what_, char **ids,
                   size_t n, int **lines, int **cols, size_t *cap) {
  for (size_t i = 0; i < n; i++)
    if (!strcmp(ids[i], id->text))
      return fail(c, id, "duplicate %s '%s' (first at %d:%d)", what_,
                  q(c, id), (*lines)[i], (*cols)[i]);
  if (n >= *cap) {
    size_t nc = *cap ? 2 * *cap : 4;
    int *l = realloc(*lines, nc * sizeof *l);
    if (!l) return oom(c);
    *lines = l;
    int *k = realloc(*cols, nc * sizeof *k);
    if (!k) return oom(c);
    *cols = k;
    *cap = nc;
  }
  (*lines)[n] = id->line;
  (*cols)[n] = id->col;
  return 0;
}

static int check_properties(ctx *c, const ynode *spec, const char *key) {
  ynode *p;
  if (get_seq(c, spec, key, false, "spec", &p) < 0) return -1;
  if (!p) return 0;
  for (size_t i = 0; i < p->n; i++)
    if (p->kids[i]->type != YN_MAP || p->kids[i]->n != 2)
      return fail(c, p->kids[i],
                  "each entry of '%s' must be a one-key mapping like "
                  "'- key: value', not %s",
                  key, what(p->kids[i]));
  return 0;
}

/* startupPosition: {type: ..., date/offsets} for Kafka or Kinesis. */
static int check_startup(ctx *c, const ynode *spec, bool kafka) {
  ynode *sp, *type;
  if (get_map(c, spec, "startupPosition", false, "spec", &sp) < 0) return -1;
  if (!sp) return 0;
  if (get_str(c, sp, "type", true, "startupPosition", &type) < 0) return -1;
  const char *t = type->text;
  bool ok = !strcmp(t, "earliest") || !strcmp(t, "latest") || !strcmp(t, "date") ||
            (kafka && (!strcmp(t, "group-offsets") || !strcmp(t, "specific-offsets")));
  if (!ok)
    return fail(c, type, "invalid startupPosition type '%s'; valid types: %s",
                q(c, type),
                kafka ? "group-offsets, earliest, latest, specific-offsets, date"
                      : "earliest, latest, date");
  if (!strcmp(t, "date")) {
    ynode *d;
    if (get_str(c, sp, "date", true, "startupPosition", &d) < 0) return -1;
    /* yyyy-MM-dd HH:mm:ss.SSS Z */
    const char *shape = "dddd-dd-dd dd:dd:dd.ddd sdddd";
    const char *s = d->text;
    bool good = strlen(s) == strlen(shape);
    for (size_t i = 0; good && shape[i]; i++) {
      if (shape[i] == 'd') good = isdigit((unsigned char)s[i]);
      else if (shape[i] == 's') good = s[i] == '+' || s[i] == '-';
      else good = s[i] == shape[i];
    }
    if (!good)
      return fail(c, d,
                  "invalid startupPosition date '%s': expected "
                  "yyyy-MM-dd HH:mm:ss.SSS Z, e.g. 2020-02-01 04:15:00.000 -0700",
                  q(c, d));
  }
  if (!strcmp(t, "specific-offsets")) {
    ynode *o;
    if (get_seq(c, sp, "offsets", true, "startupPosition", &o) < 0) return -1;
    for (size_t i = 0; i < o->n; i++) {
      const ynode *e = o->kids[i];
      uint64_t x;
      if (e->type != YN_MAP || e->n != 2 || e->kids[0]->type != YN_SCALAR ||
          !strchr(e->kids[0]->text, '/') || e->kids[1]->type != YN_SCALAR ||
          !parse_u64(e->kids[1]->text, &x))
        return fail(c, e,
                    "each entry of 'offsets' must look like "
                    "'- topic/partition: offset'");
    }
  }
  return 0;
}

/* topics / streams of a routable ingress. */
static int parse_routes(ctx *c, const ynode *spec, sfl_ingress *in, bool kafka) {
  const char *list = kafka ? "topics" : "streams";
  const char *item = kafka ? "topic" : "stream";
  ynode *seq;
  if (get_seq(c, spec, list, true, "ingress spec", &seq) < 0) return -1;
  if (seq->n == 0)
    return fail(c, seq, "'%s' must list at least one %s", list, item);
  in->routes = calloc(seq->n, sizeof *in->routes);
  if (!in->routes) return oom(c);
  for (size_t i = 0; i < seq->n; i++) {
    const ynode *e = seq->kids[i];
    if (e->type != YN_MAP)
      return fail(c, e, "each entry of '%s' must be a mapping with '%s', "
                  "'valueType' and 'targets', not %s", list, item, what(e));
    if (check_keys(c, e) < 0) return -1;
    ynode *name, *vt, *tg;
    char where[64];
    snprintf(where, sizeof where, "%s entry", item);
    if (get_str(c, e, item, true, where, &name) < 0) return -1;
    for (size_t j = 0; j < in->n_routes; j++)
      if (!strcmp(in->routes[j].topic, name->text))
        return fail(c, name, "duplicate %s '%s' in this ingress", item, q(c, name));
    snprintf(where, sizeof where, "%s '%s'", item, q(c, name));
    if (get_str(c, e, "valueType", true, where, &vt) < 0 ||
        check_typename(c, vt, "valueType") < 0 ||
        get_seq(c, e, "targets", true, where, &tg) < 0)
      return -1;
    if (tg->n == 0)
      return fail(c, tg, "'targets' must list at least one function type");
    for (size_t j = 0; j < tg->n; j++)
      if (check_typename(c, tg->kids[j], "target function type") < 0)
        return -1;
    sfl_route *r = &in->routes[in->n_routes++];
    r->topic = dup_text(c, name);
    r->value_type = dup_text(c, vt);
    r->targets = calloc(tg->n, sizeof *r->targets);
    if (!r->topic || !r->value_type || !r->targets) return oom(c);
    for (size_t j = 0; j < tg->n; j++) {
      r->targets[r->n_targets] = dup_text(c, tg->kids[j]);
      if (!r->targets[r->n_targets]) return -1;
      r->n_targets++;
    }
  }
  return 0;
}

static int check_aws(ctx *c, const ynode *spec) {
  ynode *m, *type, *x;
  if (get_map(c, spec, "awsRegion", false, "spec", &m) < 0) return -1;
  if (m) {
    if (get_str(c, m, "type", true, "awsRegion", &type) < 0) return -1;
    if (!strcmp(type->text, "specific")) {
      if (get_str(c, m, "id", true, "awsRegion", &x) < 0) return -1;
    } else if (!strcmp(type->text, "custom-endpoint")) {
      if (get_str(c, m, "endpoint", true, "awsRegion", &x) < 0 ||
          get_str(c, m, "id", true, "awsRegion", &x) < 0)
        return -1;
    } else if (strcmp(type->text, "default")) {
      return fail(c, type, "invalid awsRegion type '%s'; valid types: default, "
                  "specific, custom-endpoint", q(c, type));
    }
  }
  if (get_map(c, spec, "awsCredentials", false, "spec", &m) < 0) return -1;
  if (m) {
    if (get_str(c, m, "type", true, "awsCredentials", &type) < 0) return -1;
    if (!strcmp(type->text, "basic")) {
      if (get_str(c, m, "accessKeyId", true, "awsCredentials", &x) < 0 ||
          get_str(c, m, "secretAccessKey", true, "awsCredentials", &x) < 0)
        return -1;
    } else if (!strcmp(type->text, "profile")) {
      if (get_str(c, m, "profileName", true, "awsCredentials", &x) < 0 ||
          get_str(c, m, "profilePath", false, "awsCredentials", &x) < 0)
        return -1;
    } else if (strcmp(type->text, "default")) {
      return fail(c, type, "invalid awsCredentials type '%s'; valid types: "
                  "default, basic, profile", q(c, type));
    }
  }
  return 0;
}

static void ingress_free(sfl_ingress *in);

/* Takes ownership of *in (frees it on failure). */
static int add_ingress(ctx *c, build_state *bs, const ynode *id_node,
                       const char *id, sfl_ingress *in) {
  sfl_config *cfg = bs->cfg;
  char **ids = malloc((cfg->n_ingresses + 1) * sizeof *ids);
  int r = ids ? 0 : oom(c);
  for (size_t i = 0; ids && i < cfg->n_ingresses; i++) ids[i] = cfg->ingresses[i].id;
  if (ids)
    r = note_id(c, id_node, "ingress id", ids, cfg->n_ingresses, &bs->in_line,
                &bs->in_col, &bs->cap_inl);
  free(ids);
  if (r == 0 && GROW(cfg->ingresses, cfg->n_ingresses, bs->cap_in) < 0)
    r = oom(c);
  if (r < 0) {
    ingress_free(in);
    return -1;
  }
  in->id = strdup(id);
  cfg->ingresses[cfg->n_ingresses++] = *in; /* owned by cfg from here */
  if (!in->id) return oom(c);
  return 0;
}

static int add_egress(ctx *c, build_state *bs, const ynode *id_node,
                      const char *id, sfl_egress *eg) {
  sfl_config *cfg = bs->cfg;
  char **ids = malloc((cfg->n_egresses + 1) * sizeof *ids);
  if (!ids) return oom(c);
  for (size_t i = 0; i < cfg->n_egresses; i++) ids[i] = cfg->egresses[i].id;
  int r = note_id(c, id_node, "egress id", ids, cfg->n_egresses, &bs->eg_line,
                  &bs->eg_col, &bs->cap_egl);
  free(ids);
  if (r < 0) return -1;
  if (GROW(cfg->egresses, cfg->n_egresses, bs->cap_eg) < 0) return oom(c);
  eg->id = strdup(id);
  cfg->egresses[cfg->n_egresses++] = *eg;
  if (!eg->id) return oom(c);
  return 0;
}

static void ingress_free(sfl_ingress *in) {
  for (size_t i = 0; i < in->n_routes; i++) {
    free(in->routes[i].topic);
    free(in->routes[i].value_type);
    for (size_t j = 0; j < in->routes[i].n_targets; j++)
      free(in->routes[i].targets[j]);
    free(in->routes[i].targets);
  }
  free(in->routes);
  free(in->id);
}

static int parse_ingress(ctx *c, build_state *bs, const ynode *doc,
                         const ynode *spec, sfl_io_kind kind) {
  sfl_ingress in = {0};
  in.kind = kind;
  in.line = doc->line;
  ynode *id;
  if (get_str(c, spec, "id", true, "ingress spec", &id) < 0 ||
      check_typename(c, id, "ingress id") < 0)
    return -1;
  if (kind == SFL_KAFKA) {
    ynode *x;
    if (get_str(c, spec, "address", false, "spec", &x) < 0 ||
        get_str(c, spec, "consumerGroupId", false, "spec", &x) < 0 ||
        get_str(c, spec, "autoOffsetResetPosition", false, "spec", &x) < 0)
      return -1;
    if (x && strcasecmp(x->text, "latest") && strcasecmp(x->text, "earliest"))
      return fail(c, x, "invalid autoOffsetResetPosition '%s'; valid values: "
                  "latest, earliest", q(c, x));
    if (check_startup(c, spec, true) < 0 ||
        check_properties(c, spec, "properties") < 0)
      return -1;
  } else {
    if (check_aws(c, spec) < 0 || check_startup(c, spec, false) < 0 ||
        check_properties(c, spec, "clientConfigProperties") < 0)
      return -1;
  }
  if (parse_routes(c, spec, &in, kind == SFL_KAFKA) < 0) {
    ingress_free(&in);
    return -1;
  }
  return add_ingress(c, bs, id, id->text, &in);
}

static int parse_egress(ctx *c, build_state *bs, const ynode *doc,
                        const ynode *spec, sfl_io_kind kind) {
  sfl_egress eg = {0};
  eg.kind = kind;
  eg.line = doc->line;
  ynode *id;
  if (get_str(c, spec, "id", true, "egress spec", &id) < 0 ||
      check_typename(c, id, "egress id") < 0)
    return -1;
  if (kind == SFL_KAFKA) {
    ynode *x, *ds, *type;
    if (get_str(c, spec, "address", false, "spec", &x) < 0 ||
        check_properties(c, spec, "properties") < 0 ||
        get_map(c, spec, "deliverySemantic", false, "spec", &ds) < 0)
      return -1;
    if (ds) {
      if (get_str(c, ds, "type", true, "deliverySemantic", &type) < 0) return -1;
      if (!strcmp(type->text, "exactly-once")) {
        eg.exactly_once = true;
        /* GenericKafkaEgressSpec: the deprecated transactionTimeoutMillis
         * (read with asLong(), so "15min" would silently become 0) wins,
         * else transactionTimeout is required. */
        ynode *millis = map_get(ds, "transactionTimeoutMillis");
        if (millis) {
          uint64_t v;
          if (millis->type != YN_SCALAR || !parse_u64(millis->text, &v) || !v)
            return fail(c, millis,
                        "'transactionTimeoutMillis' must be a positive number "
                        "of milliseconds (Flink reads '%s' as 0); use "
                        "'transactionTimeout: 15min' instead", q(c, millis));
        } else {
          int64_t ms = -1;
          if (!map_get(ds, "transactionTimeout") ||
              is_null(map_get(ds, "transactionTimeout")))
            return fail(c, ds, "deliverySemantic exactly-once: missing "
                        "required key 'transactionTimeout'");
          if (get_duration(c, ds, "transactionTimeout", true, &ms, NULL) < 0)
            return -1;
        }
      } else if (strcmp(type->text, "at-least-once") &&
                 strcmp(type->text, "none")) {
        return fail(c, type, "invalid deliverySemantic type '%s'; valid types: "
                    "at-least-once, exactly-once, none", q(c, type));
      }
    }
  } else {
    int64_t n = 0;
    if (check_aws(c, spec) < 0 ||
        check_properties(c, spec, "clientConfigProperties") < 0 ||
        get_int(c, spec, "maxOutstandingRecords", 1, INT32_MAX,
                "a positive integer", &n) < 0)
      return -1;
  }
  return add_egress(c, bs, id, id->text, &eg);
}

static int parse_playground(ctx *c, build_state *bs, const ynode *doc,
                            const ynode *spec, bool ingress) {
  int64_t port = ingress ? 8090 : 8091;
  /* 0: any free port (Undertow binds an ephemeral one there too). */
  if (get_int(c, spec, "port", 0, 65535, "a port number (0-65535)", &port) < 0)
    return -1;
  const ynode *at = map_get(spec, "port") ? map_get(spec, "port") : doc;
  if (ingress) {
    sfl_ingress in = {0};
    in.kind = SFL_PLAYGROUND;
    in.port = (int)port;
    in.line = doc->line;
    return add_ingress(c, bs, at, "io.statefun.playground/ingress", &in);
  }
  /* Required: the playground's PlaygroundEgress copies the set at start-up
   * (a missing one fails the job there). */
  ynode *topics;
  if (get_seq(c, spec, "topics", true, "playground egress spec", &topics) < 0)
    return -1;
  sfl_egress eg = {0};
  eg.kind = SFL_PLAYGROUND;
  eg.port = (int)port;
  eg.line = doc->line;
  if (add_egress(c, bs, at, "io.statefun.playground/egress", &eg) < 0) return -1;
  sfl_egress *e = &bs->cfg->egresses[bs->cfg->n_egresses - 1];
  e->topics = calloc(topics->n ? topics->n : 1, sizeof *e->topics);
  if (!e->topics) return oom(c);
  for (size_t i = 0; i < topics->n; i++) {
    const ynode *t = topics->kids[i];
    if (t->type != YN_SCALAR || is_null(t))
      return fail(c, t, "each entry of 'topics' must be a topic name, not %s",
                  what(t));
    for (size_t j = 0; j < e->n_topics; j++)
      if (!strcmp(e->topics[j], t->text))
        return fail(c, t, "duplicate topic '%s'", q(c, t));
    if (!(e->topics[e->n_topics] = dup_text(c, t))) return -1;
    e->n_topics++;
  }
  return 0;
}

static const struct {
  const char *kind;
  enum { K_EP_V2, K_EP_V1, K_INGRESS, K_EGRESS, K_PG_IN, K_PG_EG } what;
  sfl_io_kind io;
} kinds[] = {
    {"io.statefun.endpoints.v2/http", K_EP_V2, SFL_KAFKA},
    {"io.statefun.endpoints.v1/http", K_EP_V1, SFL_KAFKA},
    {"io.statefun.kafka.v1/ingress", K_INGRESS, SFL_KAFKA},
    {"io.statefun.kafka.v1/egress", K_EGRESS, SFL_KAFKA},
    {"io.statefun.kinesis.v1/ingress", K_INGRESS, SFL_KINESIS},
    {"io.statefun.kinesis.v1/egress", K_EGRESS, SFL_KINESIS},
    {"io.statefun.playground.v1/ingress", K_PG_IN, SFL_PLAYGROUND},
    {"io.statefun.playground.v1/egress", K_PG_EG, SFL_PLAYGROUND},
};

/* The kinds only the legacy single-document format knows, and what
 * LegacyRemoteModuleV30 turns them into. No binder is registered under
 * them, so a multi-document file naming one fails at Flink's start-up. */
static const struct {
  const char *legacy, *kind;
} legacy_kinds[] = {
    {"http", "io.statefun.endpoints.v1/http"},
    {"io.statefun.kafka/ingress", "io.statefun.kafka.v1/ingress"},
    {"io.statefun.kafka/egress", "io.statefun.kafka.v1/egress"},
    {"io.statefun.kinesis/ingress", "io.statefun.kinesis.v1/ingress"},
    {"io.statefun.kinesis/egress", "io.statefun.kinesis.v1/egress"},
};

static const char *legacy_kind_of(const char *kind) {
  for (size_t i = 0; i < sizeof legacy_kinds / sizeof *legacy_kinds; i++)
    if (!strcmp(legacy_kinds[i].legacy, kind)) return legacy_kinds[i].kind;
  return NULL;
}

/*
 * Binds one component: `kind` (already converted from a legacy name) with
 * its `spec`; `at` is the node errors about the kind point to, `doc` the
 * node whose line the component records.
 */
static int bind_component(ctx *c, build_state *bs, const ynode *doc,
                          const ynode *at, const char *kind,
                          const ynode *spec) {
  size_t k = 0, nk = sizeof kinds / sizeof *kinds;
  while (k < nk && strcmp(kinds[k].kind, kind)) k++;
  if (k == nk) {
    char list[512] = "";
    for (size_t i = 0; i < nk; i++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, kinds[i].kind, sizeof list - strlen(list) - 1);
    }
    return fail(c, at, "unknown kind '%s'; known kinds: %s", kind, list);
  }
  if (spec->type != YN_MAP)
    return fail(c, spec, "'spec' must be a mapping, not %s", what(spec));
  if (check_keys(c, spec) < 0) return -1;
  switch (kinds[k].what) {
  case K_EP_V2: return parse_endpoint(c, bs, doc, spec, true);
  case K_EP_V1: return parse_endpoint(c, bs, doc, spec, false);
  case K_INGRESS: return parse_ingress(c, bs, doc, spec, kinds[k].io);
  case K_EGRESS: return parse_egress(c, bs, doc, spec, kinds[k].io);
  case K_PG_IN: return parse_playground(c, bs, doc, spec, true);
  case K_PG_EG: return parse_playground(c, bs, doc, spec, false);
  }
  return 0;
}

static int parse_document(ctx *c, build_state *bs, const ynode *doc) {
  if (doc->type != YN_MAP)
    return fail(c, doc,
                "a module.yaml document must be a mapping with 'kind' and "
                "'spec', not %s", what(doc));
  if (check_keys(c, doc) < 0) return -1;
  ynode *kind = map_get(doc, "kind");
  if (!kind) {
    ynode *v = map_get(doc, "version");
    if (v)
      return fail(c, v,
                  "'version' in a file of several documents: Flink reads the "
                  "legacy single-document format (version: \"3.0\", module: "
                  "spec: ...) only when it is the file's one document; here "
                  "each document needs 'kind' and 'spec'");
    return fail(c, doc, "document has no 'kind' (each document needs 'kind' "
                "and 'spec')");
  }
  if (kind->type != YN_SCALAR || is_null(kind))
    return fail(c, kind, "'kind' must be a string, not %s", what(kind));
  const char *v1 = legacy_kind_of(kind->text);
  if (v1 && strcmp(kind->text, "http"))
    return fail(c, kind,
                "kind '%s' exists only in the legacy single-document format "
                "(version: \"3.0\"); in a multi-document module.yaml Flink "
                "fails at start-up (\"An extension with type %s does not "
                "exist\"): use '%s'",
                kind->text, kind->text, v1);
  ynode *spec = map_get(doc, "spec");
  if (!spec)
    return fail(c, doc, "document of kind '%s' has no 'spec'", kind->text);
  return bind_component(c, bs, doc, kind, kind->text, spec);
}

/* ------------------------------------------------------------------ */
/* The legacy single-document format (JsonServiceLoader,               */
/* LegacyRemoteModuleV30)                                               */
/* ------------------------------------------------------------------ */

/* A copy of `spec` with `id` set to `id` (LegacyRemoteModuleV30 puts
 * meta.id into the spec, replacing any id there). */
static ynode *spec_with_id(ctx *c, const ynode *spec, ynode *id_key, ynode *id) {
  ynode *n = node_new(c, YN_MAP, spec->line, spec->col);
  if (!n) return NULL;
  for (size_t i = 0; i + 1 < spec->n; i += 2) {
    if (spec->kids[i]->type == YN_SCALAR && !strcmp(spec->kids[i]->text, "id"))
      continue;
    if (node_add(n, spec->kids[i]) < 0 || node_add(n, spec->kids[i + 1]) < 0)
      return NULL;
  }
  if (node_add(n, id_key) < 0 || node_add(n, id) < 0) return NULL;
  return n;
}

/* A required string at map[key] for the legacy format's meta blocks. */
static int legacy_str(ctx *c, const ynode *map, const char *key,
                      const char *where, ynode **out) {
  if (get_str(c, map, key, true, where, out) < 0) return -1;
  return 0;
}

/*
 * One entry of module.spec.endpoints / ingresses / egresses:
 *   - endpoint: {meta: {kind}, spec}
 *   - ingress: {meta: {type, id}, spec}      (egress alike)
 * The kind / type is converted as LegacyRemoteModuleV30 converts it
 * (http -> io.statefun.endpoints.v1/http, io.statefun.kafka/ingress ->
 * io.statefun.kafka.v1/ingress, ...); any other kind is taken as it is.
 */
static int parse_legacy_item(ctx *c, build_state *bs, const ynode *item,
                             const char *what_) {
  if (item->type != YN_MAP)
    return fail(c, item, "each entry of '%ss' must be a mapping with '%s', "
                "not %s", what_, what_, what(item));
  if (check_keys(c, item) < 0) return -1;
  ynode *body, *meta, *kind, *id = NULL;
  char where[64];
  snprintf(where, sizeof where, "legacy %s", what_);
  if (get_map(c, item, what_, true, where, &body) < 0 ||
      get_map(c, body, "meta", true, where, &meta) < 0)
    return -1;
  bool endpoint = !strcmp(what_, "endpoint");
  if (legacy_str(c, meta, endpoint ? "kind" : "type", "meta", &kind) < 0)
    return -1;
  if (!endpoint && legacy_str(c, meta, "id", "meta", &id) < 0) return -1;
  ynode *spec = map_get(body, "spec");
  if (!spec || is_null(spec))
    return fail(c, body, "%s: missing required key 'spec'", where);
  if (spec->type != YN_MAP)
    return fail(c, spec, "'spec' must be a mapping, not %s", what(spec));
  if (check_keys(c, spec) < 0) return -1;
  const char *k = legacy_kind_of(kind->text);
  if (id) {
    const ynode *id_key = NULL;
    for (size_t i = 0; i + 1 < meta->n; i += 2)
      if (!strcmp(meta->kids[i]->text, "id")) id_key = meta->kids[i];
    spec = spec_with_id(c, spec, (ynode *)id_key, id);
    if (!spec) return oom(c);
  }
  return bind_component(c, bs, item, kind, k ? k : kind->text, spec);
}

/*
 * The legacy format: the file's one document is
 *   version: "3.0"
 *   module: {meta: {type: remote}, spec: {endpoints, ingresses, egresses}}
 * checked as JsonServiceLoader checks it, then endpoints, ingresses and
 * egresses are bound in that order.
 */
static int parse_legacy(ctx *c, build_state *bs, const ynode *doc) {
  ynode *v = map_get(doc, "version");
  if (v->type != YN_SCALAR || is_null(v))
    return fail(c, v, "'version' must be a string, not %s", what(v));
  if (v->plain && isdigit((unsigned char)v->text[0]))
    return fail(c, v, "version %s must be quoted (version: \"%s\"): Flink "
                "reads an unquoted %s as a number and fails (\"not a "
                "string\")", q(c, v), q(c, v), q(c, v));
  ynode *module, *meta, *type, *spec;
  if (get_map(c, doc, "module", true, "legacy module", &module) < 0 ||
      get_map(c, module, "meta", true, "module", &meta) < 0 ||
      get_str(c, meta, "type", true, "module meta", &type) < 0)
    return -1;
  if (strcasecmp(type->text, "remote"))
    return fail(c, type, "unknown module type '%s', currently supported: "
                "remote", q(c, type));
  if (!strcmp(v->text, "1.0") || !strcmp(v->text, "2.0"))
    return fail(c, v, "only format versions 3.0 and later are supported, "
                "not %s", q(c, v));
  if (strcmp(v->text, "3.0"))
    return fail(c, v, "unrecognized format version '%s'; the legacy format "
                "Flink 3.x reads is version: \"3.0\"", q(c, v));
  if (get_map(c, module, "spec", true, "module", &spec) < 0) return -1;
  static const char *const lists[] = {"endpoints", "ingresses", "egresses"};
  static const char *const items[] = {"endpoint", "ingress", "egress"};
  for (int l = 0; l < 3; l++) {
    ynode *seq;
    if (get_seq(c, spec, lists[l], false, "module spec", &seq) < 0) return -1;
    for (size_t i = 0; seq && i < seq->n; i++)
      if (parse_legacy_item(c, bs, seq->kids[i], items[l]) < 0) return -1;
  }
  return 0;
}

/* Flink's JsonServiceLoader: a file whose only document has a 'version'
 * is in the legacy format. */
static bool is_legacy(const ydocs *docs) {
  return docs->n == 1 && docs->v[0] && docs->v[0]->type == YN_MAP &&
         map_get(docs->v[0], "version") && !map_get(docs->v[0], "kind");
}

/* ------------------------------------------------------------------ */
/* Public API                                                           */
/* ------------------------------------------------------------------ */

int sfl_config_parse(const char *name, const char *text, size_t len,
                     sfl_config *out, char *err, size_t err_len) {
  ctx c = {0};
  c.path = name ? name : "<module.yaml>";
  c.err = err;
  c.err_len = err_len;
  if (err && err_len) err[0] = 0;
  memset(out, 0, sizeof *out);
  out->path = strdup(c.path);
  if (!out->path) return fail_at(&c, 1, 1, "out of memory");

  ydocs docs = {0};
  int rc = parse_stream(&c, text, len, &docs);
  build_state bs = {0};
  bs.cfg = out;
  if (rc == 0 && is_legacy(&docs)) {
    rc = check_keys(&c, docs.v[0]);
    if (rc == 0) rc = parse_legacy(&c, &bs, docs.v[0]);
  } else {
    for (size_t i = 0; rc == 0 && i < docs.n; i++)
      if (docs.v[i]) rc = parse_document(&c, &bs, docs.v[i]);
  }

  free(docs.v);
  pool_free(&c.pool);
  free(c.anchors);
  free(bs.ep_line);
  free(bs.ep_col);
  free(bs.in_line);
  free(bs.in_col);
  free(bs.eg_line);
  free(bs.eg_col);
  if (rc < 0) {
    sfl_config_free(out);
    return -1;
  }
  return 0;
}

int sfl_config_load(const char *path, sfl_config *out, char *err,
                    size_t err_len) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  if (!f) {
    if (err && err_len)
      snprintf(err, err_len, "%s:1:1: cannot open: %s", path, strerror(errno));
    return -1;
  }
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      cap = cap ? 2 * cap : 8192;
      char *b = realloc(buf, cap);
      if (!b) {
        free(buf);
        fclose(f);
        if (err && err_len) snprintf(err, err_len, "%s:1:1: out of memory", path);
        return -1;
      }
      buf = b;
    }
    size_t r = fread(buf + len, 1, cap - len - 1, f);
    len += r;
    if (r == 0) break;
  }
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    if (err && err_len) snprintf(err, err_len, "%s:1:1: read error", path);
    return -1;
  }
  buf[len] = 0;
  int rc = sfl_config_parse(path, buf, len, out, err, err_len);
  free(buf);
  return rc;
}

void sfl_config_free(sfl_config *cfg) {
  if (!cfg) return;
  for (size_t i = 0; i < cfg->n_endpoints; i++) {
    free(cfg->endpoints[i].functions);
    free(cfg->endpoints[i].url_template);
  }
  free(cfg->endpoints);
  for (size_t i = 0; i < cfg->n_ingresses; i++) ingress_free(&cfg->ingresses[i]);
  free(cfg->ingresses);
  for (size_t i = 0; i < cfg->n_egresses; i++) {
    free(cfg->egresses[i].id);
    for (size_t j = 0; j < cfg->egresses[i].n_topics; j++)
      free(cfg->egresses[i].topics[j]);
    free(cfg->egresses[i].topics);
  }
  free(cfg->egresses);
  free(cfg->path);
  memset(cfg, 0, sizeof *cfg);
}

const sfl_endpoint *sfl_config_endpoint_for(const sfl_config *cfg,
                                            const char *typename) {
  if (!cfg || !typename) return NULL;
  const char *slash = strchr(typename, '/');
  if (!slash) return NULL;
  size_t nslen = (size_t)(slash - typename);
  const sfl_endpoint *wild = NULL;
  for (size_t i = 0; i < cfg->n_endpoints; i++) {
    const char *p = cfg->endpoints[i].functions;
    if (!strcmp(p, typename)) return &cfg->endpoints[i];
    if (!wild && strlen(p) == nslen + 2 && !strncmp(p, typename, nslen) &&
        !strcmp(p + nslen, "/*"))
      wild = &cfg->endpoints[i];
  }
  return wild;
}

char *sfl_endpoint_url(const sfl_endpoint *ep, const char *typename) {
  static const char hole[] = "{function.name}";
  const size_t hlen = sizeof hole - 1;
  if (!ep || !typename) return NULL;
  const char *slash = strchr(typename, '/');
  const char *name = slash ? slash + 1 : typename;
  size_t nlen = strlen(name), holes = 0;
  for (const char *p = ep->url_template; (p = strstr(p, hole)); p += hlen) holes++;
  size_t len = strlen(ep->url_template) + holes * nlen - holes * hlen;
  char *out = malloc(len + 1), *w = out;
  if (!out) return NULL;
  const char *p = ep->url_template, *h;
  while ((h = strstr(p, hole))) {
    memcpy(w, p, (size_t)(h - p));
    w += h - p;
    memcpy(w, name, nlen);
    w += nlen;
    p = h + hlen;
  }
  strcpy(w, p);
  return out;
}
