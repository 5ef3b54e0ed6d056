/*
 * config_yaml.c - pass 1 of sf-local's module.yaml reader: libyaml's event
 * parser turns every document of the stream into a ynode tree that
 * remembers the 1-based line:column of each node, with anchors and aliases
 * resolved and the first YAML syntax error reported at its mark. Also the
 * error helpers every part uses.
 *
 * Why libyaml: Flink reads module.yaml with Jackson's YAML module, which is
 * SnakeYAML, a YAML 1.1 parser of the same design and lineage as libyaml,
 * so the two accept and refuse the same texts (tabs, indentation, implicit
 * keys) where a YAML 1.2 parser differs. And it is the parser that fuzzing
 * (OSS-Fuzz's libyaml targets, our fuzz_config) has not crashed; libfyaml
 * 0.7.12, used before, segfaulted on tabs in explicit keys.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <yaml.h>
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

/* The event source: libyaml's parser over the whole text. */
typedef struct {
  yaml_parser_t p;
} yparser;

/* Scalar text, anchor and alias names as libyaml hands them over. */
static const char *utext(const yaml_char_t *s) { return (const char *)s; }

static void mark_of(ctx *c, const yaml_event_t *e, int *line, int *col) {
  c->last_line = (int)e->start_mark.line + 1;
  c->last_col = (int)e->start_mark.column + 1;
  *line = c->last_line;
  *col = c->last_col;
}

/* The YAML error libyaml reported, as our one-line message: the problem at
 * its mark, and what was being parsed where it started (as SnakeYAML, the
 * parser behind Flink's module loader, words it). */
static int syntax_error(ctx *c, yparser *yp) {
  const yaml_parser_t *p = &yp->p;
  if (p->error == YAML_MEMORY_ERROR) return cfg_oom(c);
  const char *problem = p->problem ? p->problem : "syntax error";
  int line = c->last_line, col = c->last_col;
  if (p->error == YAML_SCANNER_ERROR || p->error == YAML_PARSER_ERROR) {
    line = (int)p->problem_mark.line + 1;
    col = (int)p->problem_mark.column + 1;
  }
  if (p->context)
    return cfg_fail_at(c, line, col, "invalid YAML: %s (%s at %d:%d)", problem,
                       p->context, (int)p->context_mark.line + 1,
                       (int)p->context_mark.column + 1);
  return cfg_fail_at(c, line, col, "invalid YAML: %s", problem);
}

int cfg_oom(ctx *c) {
  return cfg_fail_at(c, c->last_line, c->last_col, "out of memory");
}

static int build(ctx *c, yparser *yp, yaml_event_t *e, int depth,
                 ynode **out);

/* Reads the entries of a collection until its end event. */
static int build_children(ctx *c, yparser *yp, ynode *n, int depth) {
  for (;;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&yp->p, &e)) return syntax_error(c, yp);
    if (e.type == YAML_SEQUENCE_END_EVENT || e.type == YAML_MAPPING_END_EVENT) {
      yaml_event_delete(&e);
      return 0;
    }
    ynode *kid;
    if (build(c, yp, &e, depth + 1, &kid) < 0) return -1;
    if (cfg_node_add(n, kid) < 0) return cfg_oom(c);
  }
}

/* Builds the node that starts with event `e` (consumed: deleted here). */
static int build(ctx *c, yparser *yp, yaml_event_t *e, int depth,
                 ynode **out) {
  int line, col;
  mark_of(c, e, &line, &col);
  if (depth > MAX_DEPTH) {
    yaml_event_delete(e);
    return cfg_fail_at(c, line, col, "nesting deeper than %d levels",
                       MAX_DEPTH);
  }
  const yaml_char_t *anchor = NULL;
  ynode *n = NULL;
  switch (e->type) {
    case YAML_ALIAS_EVENT: {
      const char *t = utext(e->data.alias.anchor);
      n = anchor_find(c, t, strlen(t));
      if (!n) {
        int r = cfg_fail_at(c, line, col, "unknown alias '*%s'", t);
        yaml_event_delete(e);
        return r;
      }
      yaml_event_delete(e);
      *out = n;
      return 0;
    }
    case YAML_SCALAR_EVENT: {
      const char *t = utext(e->data.scalar.value);
      size_t len = e->data.scalar.length;
      if (memchr(t, '\0', len)) {
        yaml_event_delete(e);
        return cfg_fail_at(c, line, col, "scalar contains a NUL character");
      }
      n = cfg_node_new(c, YN_SCALAR, line, col);
      if (!n) break;
      n->text = strndup(t, len);
      if (!n->text) break;
      n->plain = e->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
      anchor = e->data.scalar.anchor;
      break;
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
      bool map = e->type == YAML_MAPPING_START_EVENT;
      n = cfg_node_new(c, map ? YN_MAP : YN_SEQ, line, col);
      anchor = map ? e->data.mapping_start.anchor
                   : e->data.sequence_start.anchor;
      break;
    }
    default:
      yaml_event_delete(e);
      return cfg_fail_at(c, line, col, "invalid YAML: unexpected event");
  }
  /* Copy the anchor name before the event goes away. */
  char *aname = NULL;
  if (n && anchor && !(aname = strdup(utext(anchor)))) n = NULL;
  yaml_event_delete(e);
  if (!n) return cfg_oom(c);
  if (n->type != YN_SCALAR && build_children(c, yp, n, depth) < 0) {
    free(aname);
    return -1;
  }
  /* Registered when complete, so a node can't contain an alias of itself. */
  if (aname) {
    int r = anchor_add(c, aname, strlen(aname), n);
    free(aname);
    if (r < 0) return cfg_oom(c);
  }
  *out = n;
  return 0;
}

/*
 * YAML text must be valid UTF-8 without raw control characters (YAML 1.2
 * c-printable), checked before the parser sees it so that the message
 * names the byte and its line:column.
 */
enum text_fault { TEXT_BYTE = 1, TEXT_TRUNCATED, TEXT_SEQUENCE, TEXT_CONTROL };

/* The first fault of s[0, len) (0 when none): its kind, the offset of its
 * character and the byte to name. */
static int text_fault(const unsigned char *s, size_t len, size_t *at, unsigned char *bad) {
  for (size_t i = 0; i < len;) {
    unsigned char b = s[i];
    size_t n = 1;
    uint32_t cp = b;
    *at = i;
    *bad = b;
    if (b >= 0x80) {
      if (b >= 0xc2 && b <= 0xdf) n = 2, cp = b & 0x1f;
      else if (b >= 0xe0 && b <= 0xef) n = 3, cp = b & 0x0f;
      else if (b >= 0xf0 && b <= 0xf4) n = 4, cp = b & 0x07;
      else return TEXT_BYTE;
      if (i + n > len) return TEXT_TRUNCATED;
      for (size_t k = 1; k < n; k++) {
        if ((s[i + k] & 0xc0) != 0x80) {
          *bad = s[i + k];
          return TEXT_BYTE;
        }
        cp = (cp << 6) | (s[i + k] & 0x3f);
      }
      if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
          (cp >= 0xd800 && cp <= 0xdfff))
        return TEXT_SEQUENCE;
    } else if ((b < 0x20 && b != '\t' && b != '\n' && b != '\r') || b == 0x7f) {
      return TEXT_CONTROL;
    }
    i += n;
  }
  return 0;
}

static int check_text(ctx *c, const unsigned char *s, size_t len) {
  size_t at;
  unsigned char bad;
  int fault = text_fault(s, len, &at, &bad);
  if (!fault) return 0;
  int line, col;
  cfg_text_position((const char *)s, len, at, &line, &col);
  switch (fault) {
  case TEXT_BYTE: return cfg_fail_at(c, line, col, "invalid UTF-8 byte 0x%02x", bad);
  case TEXT_TRUNCATED: return cfg_fail_at(c, line, col, "invalid UTF-8: truncated sequence");
  case TEXT_SEQUENCE: return cfg_fail_at(c, line, col, "invalid UTF-8 sequence");
  default:
    return cfg_fail_at(c, line, col,
                       "invalid character 0x%02x (YAML allows only printable characters)", bad);
  }
}

/* Parses the whole stream into document roots (NULL for empty documents). */
int cfg_parse_stream(ctx *c, const char *text, size_t len, ydocs *docs) {
  if (check_text(c, (const unsigned char *)text, len) < 0) return -1;
  if (cfg_check_tabs(c, text, len) < 0) return -1;
  yparser yp;
  if (!yaml_parser_initialize(&yp.p)) return cfg_oom(c);
  yaml_parser_set_input_string(&yp.p, (const unsigned char *)text, len);
  c->last_line = c->last_col = 1;
  int rc = -1;
  for (;;) {
    yaml_event_t e;
    if (!yaml_parser_parse(&yp.p, &e)) {
      rc = syntax_error(c, &yp);
      goto out;
    }
    yaml_event_type_t type = e.type;
    if (type == YAML_STREAM_START_EVENT || type == YAML_STREAM_END_EVENT ||
        type == YAML_DOCUMENT_END_EVENT || type == YAML_NO_EVENT) {
      yaml_event_delete(&e);
      if (type == YAML_STREAM_END_EVENT || type == YAML_NO_EVENT) break;
      continue;
    }
    if (type == YAML_DOCUMENT_START_EVENT) {
      yaml_event_delete(&e);
      anchors_clear(c); /* anchors are per document */
      continue;
    }
    ynode *root;
    if (build(c, &yp, &e, 0, &root) < 0) goto out;
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
  yaml_parser_delete(&yp.p);
  anchors_clear(c);
  return rc;
}
