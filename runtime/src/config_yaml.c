/*
 * config_yaml.c - pass 1 of sf-local's module.yaml reader: libfyaml's
 * event parser turns every document of the stream into a ynode tree that
 * remembers the 1-based line:column of each node (libfyaml 0.7 has no
 * public start mark for collection nodes; events have exact marks), with
 * anchors and aliases resolved and YAML syntax errors reported as the
 * first one. Also the error helpers every part uses.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <libfyaml.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* Makes a message one line: control characters become '?'. */
static void one_line(char *s) {
  for (; *s; s++)
    if ((unsigned char)*s < 0x20 || *s == 0x7f) *s = '?';
}

int cfg_fail_at(ctx *c, int line, int col, const char *fmt, ...) {
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

int cfg_fail(ctx *c, const ynode *at, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return cfg_fail_at(c, at ? at->line : 1, at ? at->col : 1, "%s", msg);
}

/* A scalar's text for messages: truncated, in one of four rotating buffers
 * so a message can quote several values. */
const char *cfg_q(ctx *c, const ynode *n) {
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

ynode *cfg_node_new(ctx *c, yn_type type, int line, int col) {
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

int cfg_node_add(ynode *parent, ynode *kid) {
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

void cfg_pool_free(ynode_pool *p) {
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

bool cfg_is_null(const ynode *n) {
  if (!n) return true;
  if (n->type != YN_SCALAR || !n->plain) return false;
  const char *t = n->text;
  return !*t || !strcmp(t, "~") || !strcmp(t, "null") || !strcmp(t, "Null") ||
         !strcmp(t, "NULL");
}

const char *cfg_what(const ynode *n) {
  if (cfg_is_null(n)) return "empty";
  switch (n->type) {
    case YN_MAP: return "a mapping";
    case YN_SEQ: return "a sequence";
    default: return "a scalar";
  }
}

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
      return cfg_fail_at(c, de->line, de->column, "invalid YAML: %s", de->msg);
  }
  return cfg_fail_at(c, c->last_line, c->last_col, "invalid YAML");
}

int cfg_oom(ctx *c) {
  return cfg_fail_at(c, c->last_line, c->last_col, "out of memory");
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
    if (cfg_node_add(n, kid) < 0) return cfg_oom(c);
  }
}

/* Builds the node that starts with event `e` (consumed). */
static int build(ctx *c, yparser *yp, struct fy_event *e, int depth,
                 ynode **out) {
  int line, col;
  mark_of(c, e, &line, &col);
  if (depth > MAX_DEPTH) {
    fy_parser_event_free(yp->fyp, e);
    return cfg_fail_at(c, line, col, "nesting deeper than %d levels",
                       MAX_DEPTH);
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
        int r = cfg_fail_at(c, line, col, "unknown alias '*%.*s'",
                            (int)(t ? len : 0), t ? t : "");
        fy_parser_event_free(yp->fyp, e);
        return r;
      }
      fy_parser_event_free(yp->fyp, e);
      *out = n;
      return 0;
    case FYET_SCALAR:
      n = cfg_node_new(c, YN_SCALAR, line, col);
      if (!n) break;
      t = fy_token_get_text(e->scalar.value, &len);
      if (!t) len = 0;
      if (t && memchr(t, '\0', len)) {
        fy_parser_event_free(yp->fyp, e);
        return cfg_fail_at(c, line, col, "scalar contains a NUL character");
      }
      n->text = strndup(t ? t : "", len);
      if (!n->text) break;
      n->plain = fy_token_scalar_style(e->scalar.value) == FYSS_PLAIN;
      anchor = e->scalar.anchor;
      break;
    case FYET_SEQUENCE_START:
    case FYET_MAPPING_START:
      n = cfg_node_new(c, e->type == FYET_MAPPING_START ? YN_MAP : YN_SEQ, line,
                       col);
      anchor = e->type == FYET_MAPPING_START ? e->mapping_start.anchor
                                             : e->sequence_start.anchor;
      break;
    default:
      fy_parser_event_free(yp->fyp, e);
      return cfg_fail_at(c, line, col, "invalid YAML: unexpected event");
  }
  if (!n) {
    fy_parser_event_free(yp->fyp, e);
    return cfg_oom(c);
  }
  /* Copy the anchor name before the event (and its tokens) goes away. */
  char *aname = NULL;
  size_t alen = 0;
  if (anchor) {
    t = fy_token_get_text(anchor, &alen);
    if (t && !(aname = strndup(t, alen))) {
      fy_parser_event_free(yp->fyp, e);
      return cfg_oom(c);
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
    if (r < 0) return cfg_oom(c);
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
      else return cfg_fail_at(c, line, col, "invalid UTF-8 byte 0x%02x", b);
      if (i + n > len)
        return cfg_fail_at(c, line, col, "invalid UTF-8: truncated sequence");
      for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80)
          return cfg_fail_at(c, line, col, "invalid UTF-8 byte 0x%02x",
                             s[i + k]);
        cp = (cp << 6) | (s[i + k] & 0x3f);
      }
      if ((n == 3 && cp < 0x800) ||
          (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
          (cp >= 0xd800 && cp <= 0xdfff))
        return cfg_fail_at(c, line, col, "invalid UTF-8 sequence");
    } else if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
      return cfg_fail_at(c, line, col,
                         "invalid character 0x%02x (YAML allows only printable "
                         "characters)",
                         b);
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

/* Parses the whole stream into document roots (NULL for empty documents). */
int cfg_parse_stream(ctx *c, const char *text, size_t len, ydocs *docs) {
  struct fy_diag_cfg dc;
  fy_diag_cfg_default(&dc);
  dc.fp = NULL;
  dc.colorize = false;
  if (check_text(c, (const unsigned char *)text, len) < 0) return -1;
  if (cfg_check_tabs(c, text, len) < 0) return -1;
  yparser yp = {0};
  yp.diag = fy_diag_create(&dc);
  if (!yp.diag) return cfg_oom(c);
  fy_diag_set_collect_errors(yp.diag, true);
  struct fy_parse_cfg pc = {0};
  pc.flags = FYPCF_QUIET;
  pc.diag = yp.diag;
  yp.fyp = fy_parser_create(&pc);
  int rc = -1;
  if (!yp.fyp || fy_parser_set_string(yp.fyp, text, len) != 0) {
    rc = cfg_oom(c);
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
        rc = cfg_oom(c);
        goto out;
      }
      docs->v = v;
      docs->cap = cap;
    }
    docs->v[docs->n++] = cfg_is_null(root) ? NULL : root;
  }
  rc = 0;
out:
  if (yp.fyp) fy_parser_destroy(yp.fyp);
  fy_diag_destroy(yp.diag);
  anchors_clear(c);
  return rc;
}
