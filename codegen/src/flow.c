/*
 * flow.c - the control flow of SF_METHOD bodies, from their C source
 * (flow.h says what and why).
 *
 * Three stages: a tokenizer that keeps each token's place in the text
 * (conditions are shown as written); a recursive statement reader that
 * builds the graph as it goes, carrying the "pending" edges that leave the
 * statement read so far (the classic way to build a control-flow graph
 * without an AST); and a simplification that drops conditions which decide
 * nothing. Anything the reader does not know is straight-line code, so an
 * unusual body gives a coarser picture, never an error.
 */
#include "flow.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- tokens ---------------------------------------------------------------- */

typedef enum { T_IDENT, T_PUNCT, T_STRING, T_OTHER, T_EOF } tok_kind;

typedef struct tok {
  tok_kind kind;
  size_t start, end; /* in the text */
  int line, col;
} tok;

typedef struct lexer {
  const char *s;
  size_t n, i;
  int line, col;
  bool bol; /* only blanks since the start of the line */
} lexer;

static void lx_adv(lexer *l) {
  if (l->s[l->i] == '\n') {
    l->line++;
    l->col = 1;
    l->bol = true;
  } else {
    l->col++;
    if (!isspace((unsigned char)l->s[l->i])) l->bol = false;
  }
  l->i++;
}

/* Skips blanks, comments and preprocessor lines (with continuations). */
static void lx_skip(lexer *l) {
  while (l->i < l->n) {
    char c = l->s[l->i], d = l->i + 1 < l->n ? l->s[l->i + 1] : '\0';
    if (isspace((unsigned char)c)) {
      lx_adv(l);
    } else if (c == '/' && d == '/') {
      while (l->i < l->n && l->s[l->i] != '\n') lx_adv(l);
    } else if (c == '/' && d == '*') {
      lx_adv(l), lx_adv(l);
      while (l->i < l->n &&
             !(l->s[l->i] == '*' && l->i + 1 < l->n && l->s[l->i + 1] == '/'))
        lx_adv(l);
      if (l->i < l->n) lx_adv(l), lx_adv(l);
    } else if (c == '#' && l->bol) {
      while (l->i < l->n && l->s[l->i] != '\n') {
        if (l->s[l->i] == '\\' && l->i + 1 < l->n) lx_adv(l);
        lx_adv(l);
      }
    } else {
      return;
    }
  }
}

static tok lx_next(lexer *l) {
  lx_skip(l);
  tok t = {T_EOF, l->i, l->i, l->line, l->col};
  if (l->i >= l->n) return t;
  char c = l->s[l->i];
  if (isalpha((unsigned char)c) || c == '_') {
    t.kind = T_IDENT;
    while (l->i < l->n &&
           (isalnum((unsigned char)l->s[l->i]) || l->s[l->i] == '_'))
      lx_adv(l);
  } else if (c == '"' || c == '\'') {
    t.kind = c == '"' ? T_STRING : T_OTHER;
    lx_adv(l);
    while (l->i < l->n && l->s[l->i] != c && l->s[l->i] != '\n') {
      if (l->s[l->i] == '\\' && l->i + 1 < l->n) lx_adv(l);
      lx_adv(l);
    }
    if (l->i < l->n && l->s[l->i] == c) lx_adv(l);
  } else if (isdigit((unsigned char)c)) {
    t.kind = T_OTHER;
    while (l->i < l->n &&
           (isalnum((unsigned char)l->s[l->i]) || l->s[l->i] == '.'))
      lx_adv(l);
  } else {
    t.kind = T_PUNCT;
    lx_adv(l);
  }
  t.end = l->i;
  return t;
}

/* ---- the reader's state ------------------------------------------------------- */

/* An edge whose target is not known yet: it leaves the code read so far. */
typedef struct pend {
  size_t from;
  const char *label; /* a string literal or NULL */
  char *owned;       /* or a malloc'd label */
  bool dashed;
} pend;

typedef struct pends {
  pend *v;
  size_t n, cap;
} pends;

/* An enclosing loop or switch: where break and continue go. */
typedef struct scope {
  bool is_switch, has_default;
  size_t node; /* the switch's condition (for its case labels) */
  pends breaks, conts;
  struct scope *up;
} scope;

typedef struct reader {
  const char *s;
  tok *toks;
  size_t n_toks, i;
  sfc_flow_method *m;
  scope *scope;
  int depth; /* of nested statements: deeper is read as straight-line code */
  bool oom;
} reader;

static const tok *cur(reader *r) {
  return &r->toks[r->i < r->n_toks ? r->i : r->n_toks - 1];
}
static const tok *peek(reader *r, size_t k) {
  size_t j = r->i + k;
  return &r->toks[j < r->n_toks ? j : r->n_toks - 1];
}
static bool is_punct(const tok *t, const char *s, char c) {
  return t->kind == T_PUNCT && s[t->start] == c;
}
static bool is_ident(const reader *r, const tok *t, const char *word) {
  size_t n = strlen(word);
  return t->kind == T_IDENT && t->end - t->start == n &&
         !memcmp(r->s + t->start, word, n);
}
static bool ident_prefix(const reader *r, const tok *t, const char *prefix) {
  size_t n = strlen(prefix);
  return t->kind == T_IDENT && t->end - t->start >= n &&
         !memcmp(r->s + t->start, prefix, n);
}

/* ---- graph building ----------------------------------------------------------- */

static size_t add_node(reader *r, sfc_flow_kind kind, char *text,
                       const tok *at) {
  sfc_flow_method *m = r->m;
  if (m->n_nodes == m->cap_nodes) {
    size_t cap = m->cap_nodes ? 2 * m->cap_nodes : 16;
    sfc_flow_node *v = realloc(m->nodes, cap * sizeof *v);
    if (v == NULL) {
      r->oom = true;
      free(text);
      return 0;
    }
    m->nodes = v, m->cap_nodes = cap;
  }
  m->nodes[m->n_nodes] = (sfc_flow_node){.kind = kind,
                                         .text = text,
                                         .line = at ? at->line : 0,
                                         .col = at ? at->col : 0};
  return m->n_nodes++;
}

static void add_edge(reader *r, size_t from, size_t to, const char *label,
                     char *owned, bool dashed) {
  sfc_flow_method *m = r->m;
  char *l = owned ? owned : label ? strdup(label) : NULL;
  if (m->n_edges == m->cap_edges) {
    size_t cap = m->cap_edges ? 2 * m->cap_edges : 32;
    sfc_flow_edge *v = realloc(m->edges, cap * sizeof *v);
    if (v == NULL) {
      r->oom = true;
      free(l);
      return;
    }
    m->edges = v, m->cap_edges = cap;
  }
  m->edges[m->n_edges++] = (sfc_flow_edge){from, to, l, dashed, false};
}

static void pend_add(reader *r, pends *p, size_t from, const char *label,
                     char *owned) {
  if (p->n == p->cap) {
    size_t cap = p->cap ? 2 * p->cap : 8;
    pend *v = realloc(p->v, cap * sizeof *v);
    if (v == NULL) {
      r->oom = true;
      free(owned);
      return;
    }
    p->v = v, p->cap = cap;
  }
  p->v[p->n++] = (pend){from, label, owned, false};
}

/* Moves every pending edge of src into dst. */
static void pend_move(reader *r, pends *dst, pends *src) {
  for (size_t k = 0; k < src->n; k++)
    pend_add(r, dst, src->v[k].from, src->v[k].label, src->v[k].owned);
  src->n = 0;
}

/* The pending edges all arrive at `to`. */
static void connect(reader *r, pends *p, size_t to) {
  for (size_t k = 0; k < p->n; k++)
    add_edge(r, p->v[k].from, to, p->v[k].label, p->v[k].owned, p->v[k].dashed);
  p->n = 0;
}

static void pend_drop(pends *p) {
  for (size_t k = 0; k < p->n; k++) free(p->v[k].owned);
  free(p->v);
  p->v = NULL;
  p->n = p->cap = 0;
}

/* ---- text of tokens --------------------------------------------------------------- */

/* The source text from token a to token b (exclusive), blanks collapsed
 * to one space; malloc'd. */
static char *text_between(reader *r, size_t a, size_t b) {
  if (b <= a) return strdup("");
  size_t from = r->toks[a].start, to = r->toks[b - 1].end;
  char *out = malloc(to - from + 1);
  if (out == NULL) {
    r->oom = true;
    return NULL;
  }
  size_t n = 0;
  bool space = false;
  for (size_t k = from; k < to; k++) {
    if (isspace((unsigned char)r->s[k])) {
      space = true;
      continue;
    }
    if (space && n) out[n++] = ' ';
    space = false;
    out[n++] = r->s[k];
  }
  out[n] = '\0';
  return out;
}

static char *prefixed(reader *r, const char *prefix, char *text) {
  size_t n = strlen(prefix) + (text ? strlen(text) : 0) + 2;
  char *out = malloc(n);
  if (out == NULL) {
    r->oom = true;
  } else {
    snprintf(out, n, "%s%s%s", prefix, text && *text ? " " : "",
             text ? text : "");
  }
  free(text);
  return out;
}

/* At '(' : skips to after the matching ')'; returns the index of that ')'. */
static size_t skip_parens(reader *r) {
  int depth = 0;
  while (cur(r)->kind != T_EOF) {
    if (is_punct(cur(r), r->s, '(')) depth++;
    if (is_punct(cur(r), r->s, ')') && --depth == 0) return r->i++;
    r->i++;
  }
  return r->i;
}

/* "(cond)": returns the condition's text and moves past ')'. */
static char *paren_text(reader *r) {
  if (!is_punct(cur(r), r->s, '(')) return strdup("");
  size_t open = r->i;
  size_t close = skip_parens(r);
  return text_between(r, open + 1, close);
}

/* Skips a statement to after its ';' (at nesting depth 0), or to a '}'
 * that closes the enclosing block (not consumed). */
static void skip_statement(reader *r) {
  int depth = 0;
  while (cur(r)->kind != T_EOF) {
    const tok *t = cur(r);
    if (t->kind == T_PUNCT) {
      char c = r->s[t->start];
      if (c == '(' || c == '[' || c == '{') depth++;
      if (c == ')' || c == ']' || c == '}') {
        if (depth == 0) return;
        depth--;
      }
      if (c == ';' && depth == 0) {
        r->i++;
        return;
      }
    }
    r->i++;
  }
}

/* The macro arguments of NAME(a, b, c): token ranges split at top-level
 * commas. Leaves r->i after ')'. Returns the number found (at most max). */
static size_t macro_args(reader *r, size_t *from, size_t *to, size_t max) {
  r->i++; /* the name */
  if (!is_punct(cur(r), r->s, '(')) return 0;
  size_t n = 0, start = ++r->i;
  int depth = 0;
  while (cur(r)->kind != T_EOF) {
    const tok *t = cur(r);
    char c = t->kind == T_PUNCT ? r->s[t->start] : '\0';
    if (c == '(' || c == '[' || c == '{') depth++;
    if ((c == ')' || c == ']' || c == '}') && depth-- == 0) {
      if (n < max) from[n] = start, to[n] = r->i;
      n++;
      r->i++;
      break;
    }
    if (c == ',' && depth == 0) {
      if (n < max) from[n] = start, to[n] = r->i;
      n++;
      start = r->i + 1;
    }
    r->i++;
  }
  return n < max ? n : max;
}

/* ---- statements --------------------------------------------------------------------- */

static void statement(reader *r, pends *in);

static void block(reader *r, pends *in) {
  r->i++; /* '{' */
  while (cur(r)->kind != T_EOF && !is_punct(cur(r), r->s, '}')) {
    size_t before = r->i;
    statement(r, in);
    if (r->i == before) r->i++; /* never stall on odd input */
  }
  if (cur(r)->kind != T_EOF) r->i++;
}

static void if_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  r->i++;
  size_t c = add_node(r, SFC_FLOW_COND, prefixed(r, "if", paren_text(r)), at);
  connect(r, in, c);
  pends no = {0};
  pend_add(r, in, c, "yes", NULL);
  pend_add(r, &no, c, "no", NULL);
  statement(r, in);
  if (is_ident(r, cur(r), "else")) {
    r->i++;
    statement(r, &no);
  }
  pend_move(r, in, &no);
  pend_drop(&no);
}

/* The body of a loop whose condition node is `c`; continue goes to
 * `cont`, falling off the end goes back to `c` (for/while). */
static void loop_body(reader *r, pends *in, size_t c, bool has_exit) {
  scope sc = {false, false, c, {0}, {0}, r->scope};
  r->scope = &sc;
  pends body = {0};
  pend_add(r, &body, c, "yes", NULL);
  statement(r, &body);
  r->scope = sc.up;
  for (size_t k = 0; k < body.n; k++)
    if (body.v[k].label == NULL && body.v[k].owned == NULL)
      body.v[k].label = "again";
  connect(r, &body, c);
  connect(r, &sc.conts, c);
  if (has_exit) pend_add(r, in, c, "no", NULL);
  pend_move(r, in, &sc.breaks);
  pend_drop(&body);
  pend_drop(&sc.conts);
  pend_drop(&sc.breaks);
}

static void while_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  r->i++;
  size_t c = add_node(r, SFC_FLOW_COND, prefixed(r, "while", paren_text(r)),
                      at);
  connect(r, in, c);
  loop_body(r, in, c, true);
}

static void for_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  r->i++;
  char *cond = NULL;
  if (is_punct(cur(r), r->s, '(')) {
    size_t open = r->i, close = skip_parens(r), semi1 = 0, semi2 = 0;
    int depth = 0;
    for (size_t k = open + 1; k < close; k++) {
      const tok *t = &r->toks[k];
      char ch = t->kind == T_PUNCT ? r->s[t->start] : '\0';
      if (ch == '(' || ch == '[') depth++;
      if (ch == ')' || ch == ']') depth--;
      if (ch == ';' && depth == 0) {
        if (!semi1) semi1 = k;
        else if (!semi2) semi2 = k;
      }
    }
    cond = semi1 && semi2 ? text_between(r, semi1 + 1, semi2) : strdup("");
  }
  bool forever = cond == NULL || *cond == '\0';
  size_t c = add_node(r, SFC_FLOW_COND,
                      prefixed(r, forever ? "for (;;)" : "for", cond), at);
  connect(r, in, c);
  loop_body(r, in, c, !forever);
}

/* do body while (cond); the body starts at a join node the condition
 * loops back to (the simplification removes the join). */
static void do_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  r->i++;
  size_t j = add_node(r, SFC_FLOW_COND, strdup(""), at);
  connect(r, in, j);
  scope sc = {false, false, j, {0}, {0}, r->scope};
  r->scope = &sc;
  pends body = {0};
  pend_add(r, &body, j, NULL, NULL);
  statement(r, &body);
  r->scope = sc.up;
  char *cond = NULL;
  if (is_ident(r, cur(r), "while")) {
    r->i++;
    cond = paren_text(r);
    if (is_punct(cur(r), r->s, ';')) r->i++;
  }
  size_t c = add_node(r, SFC_FLOW_COND, prefixed(r, "do ... while", cond), at);
  connect(r, &body, c);
  connect(r, &sc.conts, c);
  add_edge(r, c, j, "again", NULL, false);
  pend_add(r, in, c, "no", NULL);
  pend_move(r, in, &sc.breaks);
  pend_drop(&body);
  pend_drop(&sc.conts);
  pend_drop(&sc.breaks);
}

static void switch_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  r->i++;
  size_t c = add_node(r, SFC_FLOW_COND, prefixed(r, "switch", paren_text(r)),
                      at);
  connect(r, in, c);
  scope sc = {true, false, c, {0}, {0}, r->scope};
  r->scope = &sc;
  pends body = {0};
  statement(r, &body); /* the case labels add their entries */
  r->scope = sc.up;
  pend_move(r, in, &body);
  pend_move(r, in, &sc.breaks);
  if (!sc.has_default) pend_add(r, in, c, "no case", NULL);
  if (r->scope) pend_move(r, &r->scope->conts, &sc.conts);
  pend_drop(&body);
  pend_drop(&sc.conts);
  pend_drop(&sc.breaks);
}

/* case X: / default: inside a switch: one more way in. */
static void case_label(reader *r, pends *in) {
  size_t a = r->i;
  while (cur(r)->kind != T_EOF && !is_punct(cur(r), r->s, ':')) r->i++;
  char *text = text_between(r, a, r->i);
  if (cur(r)->kind != T_EOF) r->i++;
  scope *sc = r->scope;
  while (sc && !sc->is_switch) sc = sc->up;
  if (sc) {
    sc->has_default |= text && !strcmp(text, "default");
    pend_add(r, in, sc->node, NULL, text);
  } else {
    free(text);
  }
}

static void jump(reader *r, pends *in, bool is_break) {
  scope *sc = r->scope;
  while (sc && !is_break && sc->is_switch) sc = sc->up;
  r->i++;
  if (is_punct(cur(r), r->s, ';')) r->i++;
  if (sc == NULL) return; /* outside any loop: ignore */
  const char *word = is_break ? "break" : "continue";
  for (size_t k = 0; k < in->n; k++) {
    pend *p = &in->v[k];
    const char *had = p->owned ? p->owned : p->label;
    if (had == NULL) {
      p->label = word;
      continue;
    }
    size_t n = strlen(had) + strlen(word) + 3;
    char *both = malloc(n);
    if (both == NULL) continue; /* keeps the old label */
    snprintf(both, n, "%s, %s", had, word);
    free(p->owned);
    p->owned = both;
    p->label = NULL;
  }
  pend_move(r, is_break ? &sc->breaks : &sc->conts, in);
}

/* SF_AWAIT(F, label, call) and SF_AWAIT_CATCH (any SF_AWAIT* macro whose
 * second argument is the label). */
static void await_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  size_t name = r->i;
  char *macro = text_between(r, name, name + 1);
  bool catches = macro && strstr(macro, "CATCH") != NULL;
  size_t from[3], to[3];
  size_t n = macro_args(r, from, to, 3);
  char *label = n >= 2 ? text_between(r, from[1], to[1]) : strdup("?");
  bool joins = macro && strstr(macro, "CALLS") != NULL;
  free(macro);
  size_t a = add_node(r, SFC_FLOW_AWAIT, label, at);
  if (!r->oom) r->m->nodes[a].catches = catches, r->m->nodes[a].joins = joins;
  connect(r, in, a);
  pend_add(r, in, a, NULL, NULL);
  if (!catches) add_edge(r, a, 2, "callee failed", NULL, true);
  if (is_punct(cur(r), r->s, ';')) r->i++;
}

/* SF_CALL(F, label, call) and SF_CALL_AT(F, label, i, call): a call made
 * without waiting (a parallel await's fan-out); SF_AWAIT_CALLS joins. */
static void call_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  size_t from[2], to[2];
  size_t n = macro_args(r, from, to, 2);
  char *label = n == 2 ? text_between(r, from[1], to[1]) : strdup("?");
  size_t c = add_node(r, SFC_FLOW_CALL, label, at);
  connect(r, in, c);
  pend_add(r, in, c, NULL, NULL);
  if (is_punct(cur(r), r->s, ';')) r->i++;
}

/* The text of a C string literal as a reader sees it: \" and \\ become
 * one character (other escapes stay as written). */
static void unquote(char *s) {
  if (s == NULL) return;
  char *w = s;
  for (const char *q = s; *q; q++) {
    if (q[0] == '\\' && (q[1] == '"' || q[1] == '\\')) q++;
    *w++ = *q;
  }
  *w = '\0';
}

/* SF_FAIL(F, "reason", ...): a node with the reason as written. */
static void fail_statement(reader *r, pends *in) {
  const tok *at = cur(r);
  size_t from[2], to[2];
  size_t n = macro_args(r, from, to, 2);
  char *why = NULL;
  if (n == 2 && r->toks[from[1]].kind == T_STRING) {
    const tok *t = &r->toks[from[1]];
    why = strndup(r->s + t->start + 1,
                  t->end - t->start >= 2 ? t->end - t->start - 2 : 0);
    unquote(why);
  }
  size_t f = add_node(r, SFC_FLOW_FAIL, why ? why : strdup("fail"), at);
  connect(r, in, f);
  if (is_punct(cur(r), r->s, ';')) r->i++;
}

static void return_statement(reader *r, pends *in) {
  connect(r, in, 1);
  skip_statement(r);
}

/* A statement that starts with a keyword or macro flow.c knows; false
 * for anything else. */
static bool known_statement(reader *r, pends *in) {
  const tok *t = cur(r);
  if (is_punct(t, r->s, '{')) block(r, in);
  else if (is_punct(t, r->s, ';')) r->i++;
  else if (is_ident(r, t, "if")) if_statement(r, in);
  else if (is_ident(r, t, "while")) while_statement(r, in);
  else if (is_ident(r, t, "for")) for_statement(r, in);
  else if (is_ident(r, t, "do")) do_statement(r, in);
  else if (is_ident(r, t, "switch")) switch_statement(r, in);
  else if (is_ident(r, t, "case") ||
           (is_ident(r, t, "default") && is_punct(peek(r, 1), r->s, ':')))
    case_label(r, in);
  else if (is_ident(r, t, "break") || is_ident(r, t, "continue"))
    jump(r, in, is_ident(r, t, "break"));
  else if (ident_prefix(r, t, "SF_AWAIT")) await_statement(r, in);
  else if (ident_prefix(r, t, "SF_CALL")) call_statement(r, in);
  else if (is_ident(r, t, "SF_FAIL")) fail_statement(r, in);
  else if (is_ident(r, t, "return") || ident_prefix(r, t, "SF_RETURN"))
    return_statement(r, in);
  else return false;
  return true;
}

static void statement(reader *r, pends *in) {
  const tok *t = cur(r);
  if (t->kind == T_EOF || r->oom) return;
  if (r->depth < 256) {
    r->depth++;
    bool known = known_statement(r, in);
    r->depth--;
    if (known) return;
  }
  if (t->kind == T_IDENT && is_punct(peek(r, 1), r->s, ':') &&
      !is_punct(peek(r, 2), r->s, ':')) {
    r->i += 2; /* a goto label */
    return;
  }
  /* Straight-line code; a '{' after it (a macro loop) is read as a block. */
  skip_statement(r);
  if (r->depth < 256 && is_punct(cur(r), r->s, '{')) {
    r->depth++;
    block(r, in);
    r->depth--;
  }
}

/* ---- simplification ----------------------------------------------------------------- */

/* Drops conditions whose every way out leads to the same node (and joins):
 * their incoming edges go straight there. Repeats until nothing changes. */
static void drop_empty_decisions(sfc_flow_method *m) {
  for (bool changed = true; changed;) {
    changed = false;
    for (size_t c = 0; c < m->n_nodes; c++) {
      if (m->nodes[c].dead || m->nodes[c].kind != SFC_FLOW_COND) continue;
      size_t target = (size_t)-1;
      bool one = true;
      for (size_t k = 0; k < m->n_edges; k++) {
        sfc_flow_edge *e = &m->edges[k];
        if (e->dead || e->from != c) continue;
        if (e->to == c) {
          e->dead = true; /* a loop with nothing in it */
          continue;
        }
        if (target == (size_t)-1) target = e->to;
        else if (target != e->to) one = false;
      }
      if (!one || target == (size_t)-1) continue;
      for (size_t k = 0; k < m->n_edges; k++) {
        sfc_flow_edge *e = &m->edges[k];
        if (e->dead) continue;
        if (e->from == c) e->dead = true;
        else if (e->to == c) e->to = target;
      }
      m->nodes[c].dead = true;
      changed = true;
    }
  }
}

/* Drops nodes no path from the start reaches, and repeated edges. */
static void drop_unreachable(sfc_flow_method *m) {
  bool *seen = calloc(m->n_nodes, 1);
  size_t *stack = malloc(m->n_nodes * sizeof *stack);
  if (seen == NULL || stack == NULL) {
    free(seen);
    free(stack);
    return;
  }
  size_t sp = 0;
  stack[sp++] = 0;
  seen[0] = true;
  while (sp) {
    size_t v = stack[--sp];
    for (size_t k = 0; k < m->n_edges; k++) {
      sfc_flow_edge *e = &m->edges[k];
      if (!e->dead && e->from == v && !seen[e->to])
        seen[e->to] = true, stack[sp++] = e->to;
    }
  }
  for (size_t v = 0; v < m->n_nodes; v++)
    if (!seen[v]) m->nodes[v].dead = true;
  for (size_t k = 0; k < m->n_edges; k++) {
    sfc_flow_edge *e = &m->edges[k];
    if (m->nodes[e->from].dead || m->nodes[e->to].dead) e->dead = true;
    for (size_t j = 0; j < k && !e->dead; j++) {
      const sfc_flow_edge *o = &m->edges[j];
      if (!o->dead && o->from == e->from && o->to == e->to &&
          o->dashed == e->dashed &&
          ((!o->label && !e->label) ||
           (o->label && e->label && !strcmp(o->label, e->label))))
        e->dead = true;
    }
  }
  free(seen);
  free(stack);
}

/* ---- methods and files ------------------------------------------------------------ */

/* At SF_METHOD: reads (Entity, method) { body }; a declaration (';')
 * adds nothing. */
static int method_definition(reader *r, sfc_flow *flow, const char *path) {
  const tok *at = cur(r);
  size_t from[2], to[2];
  if (macro_args(r, from, to, 2) != 2 || !is_punct(cur(r), r->s, '{')) return 0;
  sfc_flow_method *v = realloc(flow->methods,
                               (flow->n_methods + 1) * sizeof *v);
  if (v == NULL) return -1;
  flow->methods = v;
  sfc_flow_method *m = &v[flow->n_methods++];
  memset(m, 0, sizeof *m);
  r->m = m;
  m->entity = text_between(r, from[0], to[0]);
  m->method = text_between(r, from[1], to[1]);
  m->path = strdup(path);
  m->line = at->line;
  add_node(r, SFC_FLOW_START, strdup("start"), at);
  add_node(r, SFC_FLOW_RETURN, strdup("return"), at);
  add_node(r, SFC_FLOW_CALLEE_FAILED, strdup("callee failed"), at);
  pends in = {0};
  pend_add(r, &in, 0, NULL, NULL);
  r->scope = NULL;
  block(r, &in);
  if (in.n) { /* fell off the end: SF_END fails the method */
    size_t f = add_node(r, SFC_FLOW_FAIL, strdup("ended without SF_RETURN"),
                        at);
    connect(r, &in, f);
  }
  pend_drop(&in);
  if (r->oom || !m->entity || !m->method || !m->path) return -1;
  drop_empty_decisions(m);
  drop_unreachable(m);
  return 0;
}

static char *read_all(const char *path, size_t *len) {
  errno = 0;
  FILE *f = fopen(path, "rb");
  if (f == NULL) return NULL;
  size_t cap = 1 << 16, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    char *b = realloc(buf, cap *= 2);
    if (b == NULL) free(buf);
    buf = b;
  }
  bool bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

static tok *tokenize(const char *s, size_t n, size_t *count) {
  lexer l = {s, n, 0, 1, 1, true};
  size_t cap = 1024, k = 0;
  tok *v = malloc(cap * sizeof *v);
  while (v) {
    tok t = lx_next(&l);
    if (k == cap) {
      tok *w = realloc(v, (cap *= 2) * sizeof *v);
      if (w == NULL) free(v);
      v = w;
      if (v == NULL) break;
    }
    v[k++] = t;
    if (t.kind == T_EOF) break;
  }
  *count = k;
  return v;
}

int sfc_flow_scan(const char *path, sfc_flow *flow, char *err, size_t errlen) {
  size_t len = 0;
  char *src = read_all(path, &len);
  if (src == NULL) {
    snprintf(err, errlen, "%s: cannot read: %s", path,
             errno ? strerror(errno) : "read error");
    return -1;
  }
  reader r = {src, NULL, 0, 0, NULL, NULL, 0, false};
  r.toks = tokenize(src, len, &r.n_toks);
  int rc = r.toks ? 0 : -1;
  while (rc == 0 && cur(&r)->kind != T_EOF) {
    if (is_ident(&r, cur(&r), "SF_METHOD") && is_punct(peek(&r, 1), src, '('))
      rc = method_definition(&r, flow, path);
    else r.i++;
  }
  if (rc < 0) snprintf(err, errlen, "%s: out of memory", path);
  free(r.toks);
  free(src);
  return rc;
}

const sfc_flow_method *sfc_flow_find(const sfc_flow *flow, const char *entity,
                                     const char *method) {
  for (size_t k = 0; k < flow->n_methods; k++) {
    const sfc_flow_method *m = &flow->methods[k];
    if (!strcmp(m->entity, entity) && !strcmp(m->method, method)) return m;
  }
  return NULL;
}

void sfc_flow_free(sfc_flow *flow) {
  for (size_t k = 0; k < flow->n_methods; k++) {
    sfc_flow_method *m = &flow->methods[k];
    for (size_t j = 0; j < m->n_nodes; j++) free(m->nodes[j].text);
    for (size_t j = 0; j < m->n_edges; j++) free(m->edges[j].label);
    free(m->nodes);
    free(m->edges);
    free(m->entity);
    free(m->method);
    free(m->path);
  }
  free(flow->methods);
  flow->methods = NULL;
  flow->n_methods = 0;
}
