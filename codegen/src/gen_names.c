/*
 * gen_names.c - the generator's small helpers and its names: the string
 * pool (S), diagnostics (fail_at), C comments; the C type and name of
 * every IR type (container typedef names are "<ns>_<mangled>", e.g.
 * shop_Item_ref_list) and the check that no two generated C names clash;
 * the frame layout string whose hash the generated code records.
 */
#define _GNU_SOURCE /* vasprintf */
#include "gen_impl.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Generator state and small helpers                                    */
/* ------------------------------------------------------------------ */


/* printf into a string owned by the generator (freed with it). */
const char *S(gen *g, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  int n = vasprintf(&s, fmt, ap);
  va_end(ap);
  if (n < 0 || !s) {
    g->oom = true;
    return "";
  }
  if (g->n_pool == g->cap_pool) {
    size_t cap = g->cap_pool ? g->cap_pool * 2 : 64;
    char **p = realloc(g->pool, cap * sizeof *p);
    if (!p) {
      free(s);
      g->oom = true;
      return "";
    }
    g->pool = p;
    g->cap_pool = cap;
  }
  g->pool[g->n_pool++] = s;
  return s;
}

static bool push_type(gen *g, const sfc_type ***arr, size_t *n, size_t *cap,
                      const sfc_type *t) {
  if (*n == *cap) {
    size_t nc = *cap ? *cap * 2 : 16;
    const sfc_type **p = realloc(*arr, nc * sizeof *p);
    if (!p) {
      g->oom = true;
      return false;
    }
    *arr = p;
    *cap = nc;
  }
  (*arr)[(*n)++] = t;
  return true;
}

void fail_at(gen *g, sfc_pos pos, const char *fmt, ...) {
  if (g->failed) return;
  g->failed = true;
  if (!g->err || !g->err_len) return;
  int n = snprintf(g->err, g->err_len, "%s:%d:%d: ", g->ir->path, pos.line,
                   pos.col);
  va_list ap;
  va_start(ap, fmt);
  if (n >= 0 && (size_t)n < g->err_len)
    vsnprintf(g->err + n, g->err_len - (size_t)n, fmt, ap);
  va_end(ap);
}

char *c_ident(const char *s) {
  size_t n = strlen(s);
  char *out = malloc(n + 2);
  if (!out) return NULL;
  size_t j = 0;
  if (s[0] >= '0' && s[0] <= '9') out[j++] = '_';
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
              (ch >= '0' && ch <= '9') || ch == '_';
    out[j++] = ok ? ch : '_';
  }
  out[j] = '\0';
  return out;
}

void sfc_gen_base(const char *path, char *out, size_t out_len) {
  const char *slash = strrchr(path, '/');
  const char *name = slash ? slash + 1 : path;
  size_t n = strlen(name);
  if (n > 8 && !strcmp(name + n - 8, ".ir.json"))
    n -= 8;
  else if (n > 5 && !strcmp(name + n - 5, ".json"))
    n -= 5;
  char buf[512];
  snprintf(buf, sizeof buf, "%.*s", (int)(n < 500 ? n : 500), name);
  if (!buf[0]) snprintf(buf, sizeof buf, "entities");
  char *id = c_ident(buf);
  snprintf(out, out_len, "%s", id ? id : "entities");
  free(id);
}

/* Text for a C comment: no comment delimiters inside. */
const char *comment_text(gen *g, const char *s) {
  size_t n = strlen(s);
  char *o = malloc(2 * n + 1);
  if (!o) {
    g->oom = true;
    return "";
  }
  size_t j = 0;
  for (size_t i = 0; i < n; i++) {
    char ch = s[i];
    if (ch == '\n' || ch == '\r' || ch == '\t') ch = ' ';
    o[j++] = ch;
    if ((ch == '*' && s[i + 1] == '/') || (ch == '/' && s[i + 1] == '*'))
      o[j++] = ' ';
  }
  o[j] = '\0';
  const char *r = S(g, "%s", o);
  free(o);
  return r;
}

/* A doc comment, wrapped at 78 columns, each line starting with `ind`. */
void emit_doc(gen *g, FILE *o, const char *ind, const char *doc) {
  if (!doc || !doc[0]) return;
  const char *t = comment_text(g, doc);
  size_t width = 78 - strlen(ind);
  if (strlen(t) + 6 <= width) {
    fprintf(o, "%s/* %s */\n", ind, t);
    return;
  }
  fprintf(o, "%s/*\n", ind);
  while (*t) {
    while (*t == ' ') t++;
    size_t n = strlen(t);
    if (n + 3 > width) {
      n = width - 3;
      while (n > 0 && t[n] != ' ') n--;
      if (n == 0) n = strcspn(t, " ");
    }
    if (n) fprintf(o, "%s * %.*s\n", ind, (int)n, t);
    t += n;
  }
  fprintf(o, "%s */\n", ind);
}

/* ------------------------------------------------------------------ */
/* Names and C types                                                    */
/* ------------------------------------------------------------------ */

bool is_container(const sfc_type *t) {
  return t->kind == SFC_LIST || t->kind == SFC_MAP;
}

/* The type in a name: int64, Item_ref, Line, int64_list, Line_map. */
const char *mangle(gen *g, const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL: return "bool";
    case SFC_INT32: return "int32";
    case SFC_INT64: return "int64";
    case SFC_FLOAT: return "float";
    case SFC_DOUBLE: return "double";
    case SFC_STRING: return "string";
    case SFC_BYTES: return "bytes";
    case SFC_REF: return S(g, "%s_ref", t->ref_entity->name);
    case SFC_RECORD: return t->record->name;
    case SFC_LIST: return S(g, "%s_list", mangle(g, t->elem));
    case SFC_MAP: return S(g, "%s_map", mangle(g, t->elem));
    case SFC_VOID: return "void";
  }
  return "?";
}

/* The type's canonical text (independent of how the IR spelled it). */
const char *type_text(gen *g, const sfc_type *t) {
  switch (t->kind) {
    case SFC_REF: return S(g, "ref<%s>", t->ref_entity->name);
    case SFC_LIST: return S(g, "list<%s>", type_text(g, t->elem));
    case SFC_MAP: return S(g, "map<%s>", type_text(g, t->elem));
    case SFC_RECORD: return t->record->name;
    default: return mangle(g, t);
  }
}

const char *ctype(gen *g, const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL: return "bool";
    case SFC_INT32: return "int32_t";
    case SFC_INT64: return "int64_t";
    case SFC_FLOAT: return "float";
    case SFC_DOUBLE: return "double";
    case SFC_STRING: return "sf_str";
    case SFC_BYTES: return "sf_bytes";
    case SFC_REF: return "sf_ref";
    case SFC_RECORD: return t->record->name;
    case SFC_LIST:
    case SFC_MAP: return S(g, "%s_%s", g->ns, mangle(g, t));
    case SFC_VOID: return "void";
  }
  return "?";
}

/* lvalue helpers: "*v" -> "v" / "v->m"; "x.y" -> "&x.y" / "x.y.m". */
const char *addr(gen *g, const char *lv) {
  return lv[0] == '*' ? lv + 1 : S(g, "&%s", lv);
}
const char *mem(gen *g, const char *lv, const char *m) {
  return lv[0] == '*' ? S(g, "%s->%s", lv + 1, m) : S(g, "%s.%s", lv, m);
}

/* Records every container type (elements first), once per mangled name. */
static void collect_type(gen *g, const sfc_type *t) {
  if (!is_container(t)) return;
  collect_type(g, t->elem);
  const char *m = mangle(g, t);
  for (size_t i = 0; i < g->n_conts; i++)
    if (!strcmp(mangle(g, g->conts[i]), m)) {
      if (strcmp(type_text(g, g->conts[i]), type_text(g, t)))
        fail_at(g, t->pos,
                "type '%s' and type '%s' would both be the C type %s_%s",
                type_text(g, t), type_text(g, g->conts[i]), g->ns, m);
      return;
    }
  push_type(g, &g->conts, &g->n_conts, &g->cap_conts, t);
}

static void collect_fields(gen *g, const sfc_field *f, size_t n) {
  for (size_t i = 0; i < n; i++) collect_type(g, f[i].type);
}

void collect_all(gen *g) {
  const sfc_ir *ir = g->ir;
  for (size_t i = 0; i < ir->n_records; i++)
    collect_fields(g, ir->records[i].fields, ir->records[i].n_fields);
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    collect_fields(g, e->state, e->n_state);
    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      collect_fields(g, m->params, m->n_params);
      collect_fields(g, m->locals, m->n_locals);
      collect_type(g, m->result);
      for (size_t k = 0; k < m->n_awaits; k++)
        if (m->awaits[k].results) collect_type(g, m->awaits[k].results);
    }
  }
}

/* The C names this generator declares beyond those the IR checker checks
 * (records, entities, <E>_state, <E>_<m>, _frame, _step): no two may be
 * equal, or the output would not compile. */
typedef struct cname {
  const char *name, *what;
  sfc_pos pos;
} cname;

static void add_name(gen *g, cname *names, size_t *n, const char *name,
                     const char *what, sfc_pos pos) {
  for (size_t i = 0; i < *n; i++)
    if (!strcmp(names[i].name, name)) {
      fail_at(g, pos,
              "%s generates the C name '%s', which %s (at %d:%d) already has",
              what, name, names[i].what, names[i].pos.line, names[i].pos.col);
      return;
    }
  names[*n].name = name;
  names[*n].what = what;
  names[*n].pos = pos;
  (*n)++;
}

void check_names(gen *g) {
  const sfc_ir *ir = g->ir;
  size_t cap = 1 + 3 * ir->n_records + g->n_conts;
  for (size_t i = 0; i < ir->n_entities; i++)
    cap += 3 + 7 * ir->entities[i].n_methods;
  cname *names = calloc(cap, sizeof *names);
  if (!names) {
    g->oom = true;
    return;
  }
  size_t n = 0;
  sfc_pos top = ir->namespace_pos;
  add_name(g, names, &n, S(g, "%s_register", g->base), "the IR file", top);
  for (size_t i = 0; i < g->n_conts; i++)
    add_name(g, names, &n, ctype(g, g->conts[i]),
             S(g, "type %s", type_text(g, g->conts[i])), g->conts[i]->pos);
  for (size_t i = 0; i < ir->n_records; i++) {
    const sfc_record *r = &ir->records[i];
    const char *w = S(g, "record %s", r->name);
    add_name(g, names, &n, r->name, w, r->pos);
    add_name(g, names, &n, S(g, "%s_encode", r->name), w, r->pos);
    add_name(g, names, &n, S(g, "%s_decode", r->name), w, r->pos);
  }
  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    const char *w = S(g, "entity %s", e->name);
    add_name(g, names, &n, e->name, w, e->pos);
    add_name(g, names, &n, S(g, "%s_state", e->name), w, e->pos);
    add_name(g, names, &n, S(g, "%s_entity", e->name), w, e->pos);
    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      const char *mw = S(g, "method %s.%s", e->name, m->name);
      const char *sfx[] = {"", "_args", "_args_encode", "_args_decode",
                           "_frame", "_step", "_call"};
      for (size_t k = 0; k < sizeof sfx / sizeof sfx[0]; k++)
        add_name(g, names, &n, S(g, "%s_%s%s", e->name, m->name, sfx[k]), mw,
                 m->pos);
    }
  }
  free(names);
}

/* ------------------------------------------------------------------ */
/* The frame layout hash                                                */
/* ------------------------------------------------------------------ */

/* Records expand to their fields (so a changed record changes the hash);
 * a record already being expanded (a cycle through a list) is its name. */
static void canon_type(gen *g, FILE *o, const sfc_type *t,
                       const sfc_record **stack, size_t depth) {
  switch (t->kind) {
    case SFC_LIST:
    case SFC_MAP:
      fprintf(o, "%s<", t->kind == SFC_LIST ? "list" : "map");
      canon_type(g, o, t->elem, stack, depth);
      fputc('>', o);
      return;
    case SFC_RECORD: {
      const sfc_record *r = t->record;
      fputs(r->name, o);
      for (size_t i = 0; i < depth; i++)
        if (stack[i] == r) return;
      if (depth >= 64) return;
      stack[depth] = r;
      fputc('{', o);
      for (size_t i = 0; i < r->n_fields; i++) {
        fprintf(o, "%s%s:", i ? "," : "", r->fields[i].name);
        canon_type(g, o, r->fields[i].type, stack, depth + 1);
      }
      fputc('}', o);
      return;
    }
    default: fputs(type_text(g, t), o);
  }
}

static void canon_fields(gen *g, FILE *o, const char *what,
                         const sfc_field *f, size_t n) {
  const sfc_record *stack[64];
  fprintf(o, "%s(", what);
  for (size_t i = 0; i < n; i++) {
    fprintf(o, "%s%s:", i ? "," : "", f[i].name);
    canon_type(g, o, f[i].type, stack, 0);
  }
  fputc(')', o);
}

/* "params(..);locals(..);result(..);awaits(label:type,..)" */
char *layout_string(gen *g, const sfc_method *m) {
  char *buf = NULL;
  size_t len = 0;
  FILE *o = open_memstream(&buf, &len);
  if (!o) {
    g->oom = true;
    return NULL;
  }
  const sfc_record *stack[64];
  canon_fields(g, o, "params", m->params, m->n_params);
  canon_fields(g, o, ";locals", m->locals, m->n_locals);
  fputs(";result(", o);
  canon_type(g, o, m->result, stack, 0);
  fputs(");awaits(", o);
  for (size_t i = 0; i < m->n_awaits; i++) {
    fprintf(o, "%s%s:%s", i ? "," : "", m->awaits[i].label,
            m->awaits[i].fan_out ? "fan_out(" : "");
    canon_type(g, o, m->awaits[i].method->result, stack, 0);
    if (m->awaits[i].fan_out) fputc(')', o);
  }
  fputc(')', o);
  if (fclose(o) != 0) g->oom = true;
  return buf;
}

