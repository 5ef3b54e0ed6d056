/*
 * gen.c - sf-codegen's C generator: an sfc_ir in, <base>.h and <base>.c
 * out. docs/codegen.md describes what is generated and why; this file is
 * organised in the order of the output:
 *
 *   names      C types and names of IR types (container typedef names are
 *              "<ns>_<mangled>", e.g. shop_Item_ref_list), clash checks
 *   header     records, containers, per entity the state struct and per
 *              method its Args, frame, step prototype and typed call
 *   source     wire codecs (protobuf via sf_w_* / sf_r_* of entity.h),
 *              state load/store, method and entity descriptors, register
 *
 * Every codec is written from one description of a message, a "group" of
 * numbered members, so records, Args, frames, Results (a one-member group)
 * and state values all encode the same way. A composite state default is
 * embedded as bytes encoded by the IR's JSON codec (ir_json.h, the same
 * wire rules as the emitted encoders), so it is decoded at load time like
 * any stored value.
 */
#define _GNU_SOURCE /* vasprintf, open_memstream */
#include "gen.h"
#include "ir_json.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ------------------------------------------------------------------ */
/* Generator state and small helpers                                    */
/* ------------------------------------------------------------------ */

/* The static codec functions of one type, emitted only when used:
 * sf__enc_/sf__dec_ (a list or map field), sf__encw_/sf__readw_ (the value
 * as a message {1: value}). */
enum { H_ENC, H_DEC, H_ENCW, H_READW, H_N };
typedef struct helper {
  const sfc_type *type;
  bool need[H_N], done[H_N];
} helper;

typedef struct gen {
  const sfc_ir *ir;
  const char *source; /* the IR path, for comments */
  const char *base;   /* file base name (a C identifier) */
  char *ns;           /* the namespace as a C identifier */
  FILE *h;            /* the header */
  FILE *c;            /* the source body */
  FILE *wr;           /* the source: Result/state wrapper codecs */
  char **pool;        /* strings made by S(), freed at the end */
  size_t n_pool, cap_pool;
  const sfc_type **conts; /* list/map types, elements before containers */
  size_t n_conts, cap_conts;
  struct helper *helpers; /* codec functions the output uses */
  size_t n_helpers, cap_helpers;
  bool any_composite_state;
  bool oom;
  char *err;
  size_t err_len;
  bool failed;
} gen;

/* printf into a string owned by the generator (freed with it). */
__attribute__((format(printf, 2, 3))) static const char *S(gen *g,
                                                           const char *fmt,
                                                           ...) {
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

__attribute__((format(printf, 3, 4))) static void fail_at(gen *g, sfc_pos pos,
                                                          const char *fmt,
                                                          ...) {
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

static char *c_ident(const char *s) {
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
static const char *comment_text(gen *g, const char *s) {
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
static void emit_doc(gen *g, FILE *o, const char *ind, const char *doc) {
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

static bool is_container(const sfc_type *t) {
  return t->kind == SFC_LIST || t->kind == SFC_MAP;
}

/* The type in a name: int64, Item_ref, Line, int64_list, Line_map. */
static const char *mangle(gen *g, const sfc_type *t) {
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
static const char *type_text(gen *g, const sfc_type *t) {
  switch (t->kind) {
    case SFC_REF: return S(g, "ref<%s>", t->ref_entity->name);
    case SFC_LIST: return S(g, "list<%s>", type_text(g, t->elem));
    case SFC_MAP: return S(g, "map<%s>", type_text(g, t->elem));
    case SFC_RECORD: return t->record->name;
    default: return mangle(g, t);
  }
}

static const char *ctype(gen *g, const sfc_type *t) {
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
static const char *addr(gen *g, const char *lv) {
  return lv[0] == '*' ? lv + 1 : S(g, "&%s", lv);
}
static const char *mem(gen *g, const char *lv, const char *m) {
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

static void collect_all(gen *g) {
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
    }
  }
}

/* The C names this generator declares beyond those ir.c already checks
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

static void check_names(gen *g) {
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
                           "_frame", "_step"};
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
static char *layout_string(gen *g, const sfc_method *m) {
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
    fprintf(o, "%s%s:", i ? "," : "", m->awaits[i].label);
    canon_type(g, o, m->awaits[i].method->result, stack, 0);
  }
  fputc(')', o);
  if (fclose(o) != 0) g->oom = true;
  return buf;
}

static uint64_t fnv1a64(const char *s) {
  uint64_t h = UINT64_C(0xcbf29ce484222325);
  for (; *s; s++) {
    h ^= (uint8_t)*s;
    h *= UINT64_C(0x100000001b3);
  }
  return h;
}

/* ------------------------------------------------------------------ */
/* Header                                                               */
/* ------------------------------------------------------------------ */

static void emit_banner(gen *g, FILE *o, const char *file, const char *what) {
  fprintf(o,
          "/*\n"
          " * %s - %s\n"
          " *\n"
          " * From %s (namespace \"%s\"):\n"
          " * generated by sf-codegen \xe2\x80\x94 do not edit.\n"
          " */\n",
          file, what, comment_text(g, g->source),
          comment_text(g, g->ir->namespace_));
}

static void emit_struct_fields(gen *g, FILE *o, const char *ind,
                               const sfc_field *f, size_t n) {
  if (!n) fprintf(o, "%schar sf__none; /* no fields */\n", ind);
  for (size_t i = 0; i < n; i++) {
    emit_doc(g, o, ind, f[i].doc);
    fprintf(o, "%s%s %s;\n", ind, ctype(g, f[i].type), f[i].name);
  }
}

/* Records in an order where a record used by value comes first. */
static void order_record(gen *g, const sfc_record *r, const sfc_record **out,
                         size_t *n, bool *done) {
  size_t idx = (size_t)(r - g->ir->records);
  if (done[idx]) return;
  done[idx] = true;
  for (size_t i = 0; i < r->n_fields; i++)
    if (r->fields[i].type->kind == SFC_RECORD)
      order_record(g, r->fields[i].type->record, out, n, done);
  out[(*n)++] = r;
}

/* The params of a typed call ("int64_t price, sf_str title"). */
static const char *param_list(gen *g, const sfc_method *m) {
  const char *s = "";
  for (size_t i = 0; i < m->n_params; i++)
    s = S(g, "%s, %s %s", s, ctype(g, m->params[i].type), m->params[i].name);
  return s;
}

static bool has_param(const sfc_method *m, const char *name) {
  for (size_t i = 0; i < m->n_params; i++)
    if (!strcmp(m->params[i].name, name)) return true;
  return false;
}

/* A name for a generated local or parameter that no IR param uses. */
static const char *free_name(gen *g, const sfc_method *m, const char *name) {
  return has_param(m, name) ? S(g, "sf__%s", name) : name;
}

static void emit_header(gen *g) {
  FILE *o = g->h;
  const sfc_ir *ir = g->ir;
  const char *file = S(g, "%s.h", g->base);
  emit_banner(g, o, file,
              "the C API of the entities (records, state, frames, calls)");
  const char *guard = S(g, "SF_GEN_%s_H", g->base);
  char *up = (char *)guard;
  for (; *up; up++)
    if (*up >= 'a' && *up <= 'z') *up = (char)(*up - 'a' + 'A');
  fprintf(o,
          "#ifndef %s\n#define %s\n\n#include <statefun/entity.h>\n\n"
          "#ifdef __cplusplus\nextern \"C\" {\n#endif\n\n",
          guard, guard);
  emit_doc(g, o, "", ir->doc);
  if (ir->doc) fputc('\n', o);

  if (ir->n_records) {
    fprintf(o, "/* ---- records ---- */\n\n");
    for (size_t i = 0; i < ir->n_records; i++)
      fprintf(o, "typedef struct %s %s;\n", ir->records[i].name,
              ir->records[i].name);
    fputc('\n', o);
  }
  if (g->n_conts) {
    fprintf(o,
            "/* ---- lists and maps (%s_<element>_list, %s_<element>_map; "
            "decoded\n * from an sf_arena, which owns the arrays) ---- */\n\n",
            g->ns, g->ns);
    for (size_t i = 0; i < g->n_conts; i++) {
      const sfc_type *t = g->conts[i];
      const char *ct = ctype(g, t);
      fprintf(o, "/* %s */\n", type_text(g, t));
      if (t->kind == SFC_LIST)
        fprintf(o,
                "typedef struct %s {\n  %s *items;\n  size_t len;\n} %s;\n\n",
                ct, ctype(g, t->elem), ct);
      else
        fprintf(o,
                "typedef struct %s {\n  sf_str *keys;\n  %s *values;\n"
                "  size_t len;\n} %s;\n\n",
                ct, ctype(g, t->elem), ct);
    }
  }
  if (ir->n_records) {
    const sfc_record **order = calloc(ir->n_records, sizeof *order);
    bool *done = calloc(ir->n_records, sizeof *done);
    size_t n = 0;
    if (!order || !done) {
      g->oom = true;
    } else {
      for (size_t i = 0; i < ir->n_records; i++)
        order_record(g, &ir->records[i], order, &n, done);
      for (size_t i = 0; i < n; i++) {
        const sfc_record *r = order[i];
        emit_doc(g, o, "", r->doc);
        fprintf(o, "struct %s {\n", r->name);
        emit_struct_fields(g, o, "  ", r->fields, r->n_fields);
        fprintf(o,
                "};\n/* The record's fields as protobuf (field numbers 1..n "
                "by declaration). */\n"
                "void %s_encode(sf_wbuf *w, const %s *v);\n"
                "/* Zeroes *v, then reads a record's bytes; strings, bytes "
                "and arrays are\n * allocated from `a`. */\n"
                "sf_status %s_decode(sf_arena *a, sf_rbuf *r, %s *v);\n\n",
                r->name, r->name, r->name, r->name);
      }
    }
    free(order);
    free(done);
  }

  for (size_t i = 0; i < ir->n_entities; i++) {
    const sfc_entity *e = &ir->entities[i];
    fprintf(o, "/* ==== entity %s/%s ==== */\n", ir->namespace_, e->name);
    emit_doc(g, o, "", e->doc);
    fprintf(o,
            "\n/* The state (SF_STATE(%s)): one value spec per field, "
            "loaded before a\n * method runs; changed fields are written "
            "back. */\ntypedef struct %s_state {\n",
            e->name, e->name);
    if (!e->n_state) fprintf(o, "  char sf__none; /* no state */\n");
    for (size_t k = 0; k < e->n_state; k++) {
      const sfc_field *f = &e->state[k];
      emit_doc(g, o, "  ", f->doc);
      fprintf(o, "  %s %s;", ctype(g, f->type), f->name);
      if (f->default_json)
        fprintf(o, " /* default %s */", comment_text(g, f->default_json));
      fputc('\n', o);
    }
    fprintf(o, "} %s_state;\n\n", e->name);

    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      const char *q = S(g, "%s_%s", e->name, m->name);
      fprintf(o, "/* ---- %s.%s(", e->name, m->name);
      for (size_t k = 0; k < m->n_params; k++)
        fprintf(o, "%s%s %s", k ? ", " : "", m->params[k].name,
                type_text(g, m->params[k].type));
      fprintf(o, ") -> %s%s%s ---- */\n", type_text(g, m->result),
              m->read_only ? ", read_only" : "",
              m->reentrant ? ", reentrant" : "");
      emit_doc(g, o, "", m->doc);
      fprintf(o, "typedef struct %s_args {\n", q);
      emit_struct_fields(g, o, "  ", m->params, m->n_params);
      fprintf(o,
              "} %s_args;\nvoid %s_args_encode(sf_wbuf *w, const %s_args "
              "*v);\nsf_status %s_args_decode(sf_arena *a, sf_rbuf *r, "
              "%s_args *v);\n",
              q, q, q, q, q);
      fprintf(o,
              "/* The frame F: parameters in F->p, locals, the result and "
              "each await's\n * result in F->r.<label>. */\n"
              "typedef struct %s_frame {\n  sf_frame_hdr hdr;\n  %s_args p;\n",
              q, q);
      for (size_t k = 0; k < m->n_locals; k++) {
        emit_doc(g, o, "  ", m->locals[k].doc);
        fprintf(o, "  %s %s;\n", ctype(g, m->locals[k].type),
                m->locals[k].name);
      }
      if (m->result->kind != SFC_VOID)
        fprintf(o, "  %s result;\n", ctype(g, m->result));
      fprintf(o, "  struct {\n");
      if (!m->n_awaits) fprintf(o, "    char sf__none; /* no awaits */\n");
      for (size_t k = 0; k < m->n_awaits; k++) {
        const sfc_await *a = &m->awaits[k];
        emit_doc(g, o, "    ", a->doc);
        if (a->method->result->kind == SFC_VOID)
          fprintf(o, "    char %s; /* %s.%s returns nothing */\n", a->label,
                  a->entity->name, a->method->name);
        else
          fprintf(o, "    %s %s; /* %s.%s */\n",
                  ctype(g, a->method->result), a->label, a->entity->name,
                  a->method->name);
      }
      fprintf(o, "  } r;\n} %s_frame;\n", q);
      fprintf(o,
              "/* The body: SF_METHOD(%s, %s) { SF_BEGIN(F); ... SF_END(F); "
              "} */\n"
              "sf_step %s_step(sf_entity_ctx *ctx, %s_frame *F);\n",
              e->name, m->name, q, q);
      fprintf(o,
              "/* Calls %s.%s on `target`; in a method body:\n"
              " * SF_AWAIT(F, label, %s(ctx, target, ...)); */\n"
              "sf_status %s(sf_entity_ctx *%s, sf_ref %s%s);\n\n",
              e->name, m->name, q, q, free_name(g, m, "ctx"),
              free_name(g, m, "target"), param_list(g, m));
    }
    fprintf(o,
            "/* The descriptor of %s/%s (registered by %s_register). */\n"
            "extern const sf_entity_desc %s_entity;\n\n",
            ir->namespace_, e->name, g->base, e->name);
  }
  fprintf(o,
          "/* Registers every entity of %s with the handler. */\n"
          "sf_status %s_register(sf_handler *h);\n\n"
          "#ifdef __cplusplus\n}\n#endif\n\n#endif /* %s */\n",
          comment_text(g, g->source), g->base, guard);
}

/* ------------------------------------------------------------------ */
/* Codecs                                                               */
/* ------------------------------------------------------------------ */

/* A numbered member of a message: lvalue `lv` of IR type `type`. */
typedef struct member {
  uint32_t num;
  const sfc_type *type;
  const char *lv;
} member;

static void need(gen *g, const sfc_type *t, int kind) {
  const char *m = mangle(g, t);
  for (size_t i = 0; i < g->n_helpers; i++)
    if (!strcmp(mangle(g, g->helpers[i].type), m)) {
      g->helpers[i].need[kind] = true;
      return;
    }
  if (g->n_helpers == g->cap_helpers) {
    size_t nc = g->cap_helpers ? g->cap_helpers * 2 : 16;
    helper *p = realloc(g->helpers, nc * sizeof *p);
    if (!p) {
      g->oom = true;
      return;
    }
    g->helpers = p;
    g->cap_helpers = nc;
  }
  helper *h = &g->helpers[g->n_helpers++];
  memset(h, 0, sizeof *h);
  h->type = t;
  h->need[kind] = true;
}

/* Writes one value as field `num` of w. In an element (`elem`: a list
 * item, a map entry's value) defaults are written too, and a list or map
 * is wrapped in a message whose field 1 holds it. */
static void emit_write(gen *g, FILE *o, const char *ind, const sfc_type *t,
                       const char *num, const char *lv, bool elem) {
  const char *al = elem ? "true" : "false";
  const char *fn = NULL;
  switch (t->kind) {
    case SFC_BOOL: fn = "sf_w_bool"; break;
    case SFC_INT32: fn = "sf_w_int32"; break;
    case SFC_INT64: fn = "sf_w_int64"; break;
    case SFC_FLOAT: fn = "sf_w_float"; break;
    case SFC_DOUBLE: fn = "sf_w_double"; break;
    case SFC_STRING: fn = "sf_w_str"; break;
    case SFC_BYTES:
      fprintf(o, "%ssf_w_bytes(w, %s, %s, %s, %s);\n", ind, num,
              mem(g, lv, "ptr"), mem(g, lv, "len"), al);
      return;
    case SFC_REF:
      fprintf(o, "%ssf_w_str(w, %s, %s, %s);\n", ind, num, mem(g, lv, "key"),
              al);
      return;
    case SFC_RECORD:
      fprintf(o,
              "%s{\n%s  size_t m = sf_w_begin(w, %s);\n%s  %s_encode(w, %s);\n"
              "%s  sf_w_end(w, m);\n%s}\n",
              ind, ind, num, ind, t->record->name, addr(g, lv), ind, ind);
      return;
    case SFC_LIST:
    case SFC_MAP:
      if (elem) {
        need(g, t, H_ENCW);
        fprintf(o,
                "%s{\n%s  size_t m = sf_w_begin(w, %s);\n"
                "%s  sf__encw_%s(w, %s);\n%s  sf_w_end(w, m);\n%s}\n",
                ind, ind, num, ind, mangle(g, t), addr(g, lv), ind, ind);
      } else {
        need(g, t, H_ENC);
        fprintf(o, "%ssf__enc_%s(w, %s, %s);\n", ind, mangle(g, t), num,
                addr(g, lv));
      }
      return;
    case SFC_VOID: return;
  }
  fprintf(o, "%s%s(w, %s, %s, %s);\n", ind, fn, num, lv, al);
}

/* Reads one occurrence of a field (announced with wire type `wt` on the
 * reader `rd`) into `lv`, setting `st`. Lists and maps append (their
 * capacity in `cap`, a size_t[2]). */
static void emit_read(gen *g, FILE *o, const char *ind, const sfc_type *t,
                      const char *rd, const char *wt, const char *lv,
                      bool elem, const char *cap) {
  const char *fn = NULL;
  switch (t->kind) {
    case SFC_BOOL: fn = "sf_r_bool"; break;
    case SFC_INT32: fn = "sf_r_int32"; break;
    case SFC_INT64: fn = "sf_r_int64"; break;
    case SFC_FLOAT: fn = "sf_r_float"; break;
    case SFC_DOUBLE: fn = "sf_r_double"; break;
    case SFC_STRING:
      fprintf(o, "%sst = sf_r_str(%s, %s, a, %s);\n", ind, rd, wt,
              addr(g, lv));
      return;
    case SFC_BYTES:
      fprintf(o, "%sst = sf_r_bytes(%s, %s, a, %s);\n", ind, rd, wt,
              addr(g, lv));
      return;
    case SFC_REF:
      fprintf(o, "%sst = sf_r_str(%s, %s, a, &%s);\n", ind, rd, wt,
              mem(g, lv, "key"));
      return;
    case SFC_RECORD:
      fprintf(o,
              "%s{\n%s  sf_rbuf msg;\n%s  st = sf_r_message(%s, %s, &msg);\n"
              "%s  if (st == SF_OK) st = sf__read_%s(a, &msg, %s);\n%s}\n",
              ind, ind, ind, rd, wt, ind, t->record->name, addr(g, lv), ind);
      return;
    case SFC_LIST:
    case SFC_MAP:
      if (elem) {
        need(g, t, H_READW);
        fprintf(o,
                "%s{\n%s  sf_rbuf msg;\n%s  st = sf_r_message(%s, %s, &msg);\n"
                "%s  if (st == SF_OK) st = sf__readw_%s(a, &msg, %s);\n%s}\n",
                ind, ind, ind, rd, wt, ind, mangle(g, t), addr(g, lv), ind);
      } else {
        need(g, t, H_DEC);
        fprintf(o, "%sst = sf__dec_%s(a, %s, %s, %s, %s);\n", ind,
                mangle(g, t), rd, wt, addr(g, lv), cap);
      }
      return;
    case SFC_VOID: return;
  }
  fprintf(o, "%sst = %s(%s, %s, %s);\n", ind, fn, rd, wt, addr(g, lv));
}

/* The body of an encoder of a group (after `sig {`). */
static void emit_group_write(gen *g, FILE *o, const char *sig,
                             const char *prologue, const member *ms,
                             size_t n) {
  fprintf(o, "%s {\n%s", sig, prologue);
  if (!n) fprintf(o, "  (void)w;\n  (void)v;\n");
  for (size_t i = 0; i < n; i++)
    emit_write(g, o, "  ", ms[i].type, S(g, "%u", ms[i].num), ms[i].lv,
               false);
  fprintf(o, "}\n\n");
}

/* A decoder of a group: reads fields until the end of `r`; unknown fields
 * are skipped; merges into *v (callers zero it first). */
static void emit_group_read(gen *g, FILE *o, const char *sig,
                            const char *prologue, const char *epilogue,
                            const member *ms, size_t n) {
  fprintf(o, "%s {\n%s", sig, prologue);
  fprintf(o,
          "  uint32_t field;\n  int wt, more = 0;\n  sf_status st = SF_OK;\n");
  for (size_t i = 0; i < n; i++)
    if (is_container(ms[i].type)) {
      const char *len = mem(g, ms[i].lv, "len");
      fprintf(o, "  size_t cap%u[2] = {%s, %s};\n", ms[i].num, len, len);
    }
  fprintf(o, "  (void)a;\n");
  if (!n) fprintf(o, "  (void)v;\n");
  fprintf(o,
          "  while (st == SF_OK && (more = sf_r_next(r, &field, &wt)) > 0) {\n"
          "    switch (field) {\n");
  for (size_t i = 0; i < n; i++) {
    fprintf(o, "      case %u:\n", ms[i].num);
    emit_read(g, o, "        ", ms[i].type, "r", "wt", ms[i].lv, false,
              S(g, "cap%u", ms[i].num));
    fprintf(o, "        break;\n");
  }
  fprintf(o,
          "      default:\n        st = sf_r_skip(r, wt);\n        break;\n"
          "    }\n  }\n"
          "  if (st == SF_OK && more < 0) st = SF_ERR_VALUE_DECODE;\n%s"
          "  return st;\n}\n\n",
          epilogue);
}

/* Which wire type a packed list element of this scalar type has (-1: none). */
static int packed_wt(const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL:
    case SFC_INT32:
    case SFC_INT64: return 0;
    case SFC_FLOAT: return 5;
    case SFC_DOUBLE: return 1;
    default: return -1;
  }
}

/* sf__enc_<T>: writes every element of a list or map as field `field`. */
static void emit_enc(gen *g, FILE *o, const sfc_type *t) {
  const char *m = mangle(g, t), *ct = ctype(g, t);
  fprintf(o, "/* %s */\n", type_text(g, t));
  if (t->kind == SFC_LIST) {
    fprintf(o,
            "static void sf__enc_%s(sf_wbuf *w, uint32_t field, const %s *v) "
            "{\n  for (size_t i = 0; i < v->len; i++) {\n",
            m, ct);
    emit_write(g, o, "    ", t->elem, "field", "v->items[i]", true);
    fprintf(o, "  }\n}\n\n");
  } else {
    fprintf(o,
            "static void sf__enc_%s(sf_wbuf *w, uint32_t field, const %s *v) "
            "{\n  for (size_t i = 0; i < v->len; i++) {\n"
            "    size_t entry = sf_w_begin(w, field);\n"
            "    sf_w_str(w, 1, v->keys[i], true);\n",
            m, ct);
    emit_write(g, o, "    ", t->elem, "2", "v->values[i]", true);
    fprintf(o, "    sf_w_end(w, entry);\n  }\n}\n\n");
  }
}

/* sf__dec_<T>: reads one occurrence of a list or map field, appending. */
static void emit_dec(gen *g, FILE *o, const sfc_type *t) {
  const char *m = mangle(g, t), *ct = ctype(g, t), *et = ctype(g, t->elem);
  fprintf(o, "/* %s */\n", type_text(g, t));
  if (t->kind == SFC_LIST) {
    fprintf(o,
            "/* One element (or, for numbers, a packed run of them). */\n"
            "static sf_status sf__dec_%s(sf_arena *a, sf_rbuf *r, int wt, %s "
            "*v, size_t *cap) {\n  void *items = v->items;\n  %s *e;\n"
            "  sf_status st;\n",
            m, ct, et);
    int pw = packed_wt(t->elem);
    if (pw >= 0) {
      fprintf(o,
              "  if (wt == 2) {\n    sf_rbuf run;\n"
              "    st = sf_r_message(r, wt, &run);\n"
              "    while (st == SF_OK && run.p < run.end) {\n"
              "      e = sf_arena_push(a, &items, &v->len, cap, sizeof *e);\n"
              "      if (!e) return SF_ERR_NOMEM;\n      v->items = items;\n");
      emit_read(g, o, "      ", t->elem, "&run", S(g, "%d", pw), "*e", true,
                NULL);
      fprintf(o, "    }\n    return st;\n  }\n");
    }
    fprintf(o,
            "  e = sf_arena_push(a, &items, &v->len, cap, sizeof *e);\n"
            "  if (!e) return SF_ERR_NOMEM;\n  v->items = items;\n");
    emit_read(g, o, "  ", t->elem, "r", "wt", "*e", true, NULL);
    fprintf(o, "  return st;\n}\n\n");
  } else {
    fprintf(o,
            "/* One entry {1: key, 2: value}; cap[0], cap[1]: of keys, "
            "values. */\n"
            "static sf_status sf__dec_%s(sf_arena *a, sf_rbuf *r, int wt, %s "
            "*v, size_t *cap) {\n"
            "  void *keys = v->keys, *values = v->values;\n"
            "  size_t nk = v->len, nv = v->len;\n  sf_str *k;\n  %s *e;\n"
            "  sf_rbuf sub;\n  uint32_t field;\n  int ewt, more = 0;\n"
            "  sf_status st = sf_r_message(r, wt, &sub);\n"
            "  if (st != SF_OK) return st;\n"
            "  k = sf_arena_push(a, &keys, &nk, &cap[0], sizeof *k);\n"
            "  e = sf_arena_push(a, &values, &nv, &cap[1], sizeof *e);\n"
            "  if (!k || !e) return SF_ERR_NOMEM;\n"
            "  v->keys = keys;\n  v->values = values;\n  v->len = nk;\n"
            "  while (st == SF_OK && (more = sf_r_next(&sub, &field, &ewt)) > "
            "0) {\n"
            "    if (field == 1) {\n"
            "      st = sf_r_str(&sub, ewt, a, k);\n"
            "    } else if (field == 2) {\n",
            m, ct, et);
    emit_read(g, o, "      ", t->elem, "&sub", "ewt", "*e", true, NULL);
    fprintf(o,
            "    } else {\n      st = sf_r_skip(&sub, ewt);\n    }\n  }\n"
            "  if (st == SF_OK && more < 0) st = SF_ERR_VALUE_DECODE;\n"
            "  return st;\n}\n\n");
  }
}

/* A value as a message {1: value}: a method's Result, a list inside a
 * list, a composite state field. */
static void emit_wrapper(gen *g, FILE *o, const sfc_type *t, int kind) {
  const char *m = mangle(g, t), *ct = ctype(g, t);
  member one = {1, t, "*v"};
  fprintf(o, "/* %s as a message {1: value} */\n", type_text(g, t));
  if (kind == H_ENCW) {
    emit_group_write(
        g, o, S(g, "static void sf__encw_%s(sf_wbuf *w, const %s *v)", m, ct),
        "", &one, 1);
    return;
  }
  emit_group_read(
      g, o,
      S(g, "static sf_status sf__readw_%s(sf_arena *a, sf_rbuf *r, %s *v)", m,
        ct),
      "", "", &one, 1);
}

/* The prototype of a helper (they call each other in any order). */
static void emit_helper_proto(gen *g, FILE *o, const sfc_type *t, int kind) {
  const char *m = mangle(g, t), *ct = ctype(g, t);
  switch (kind) {
    case H_ENC:
      fprintf(o, "static void sf__enc_%s(sf_wbuf *w, uint32_t field, const %s *v);\n",
              m, ct);
      break;
    case H_DEC:
      fprintf(o,
              "static sf_status sf__dec_%s(sf_arena *a, sf_rbuf *r, int wt, %s "
              "*v, size_t *cap);\n",
              m, ct);
      break;
    case H_ENCW:
      fprintf(o, "static void sf__encw_%s(sf_wbuf *w, const %s *v);\n", m, ct);
      break;
    default:
      fprintf(o,
              "static sf_status sf__readw_%s(sf_arena *a, sf_rbuf *r, %s *v);\n",
              m, ct);
  }
}

/* Emits every helper that is used, including those the helpers use. */
static void emit_helpers(gen *g, FILE *o) {
  bool more = true;
  while (more && !g->oom) {
    more = false;
    for (size_t i = 0; i < g->n_helpers; i++)
      for (int k = 0; k < H_N; k++) {
        helper *h = &g->helpers[i];
        if (!h->need[k] || h->done[k]) continue;
        h->done[k] = more = true;
        const sfc_type *t = h->type; /* h may move: need() reallocates */
        if (k == H_ENC) emit_enc(g, o, t);
        else if (k == H_DEC) emit_dec(g, o, t);
        else emit_wrapper(g, o, t, k);
      }
  }
}

static member *field_members(gen *g, const sfc_field *f, size_t n,
                             const char *prefix) {
  member *ms = calloc(n ? n : 1, sizeof *ms);
  if (!ms) {
    g->oom = true;
    return NULL;
  }
  for (size_t i = 0; i < n; i++) {
    ms[i].num = f[i].number ? f[i].number : (uint32_t)(i + 1);
    ms[i].type = f[i].type;
    ms[i].lv = S(g, "%s%s", prefix, f[i].name);
  }
  return ms;
}

static void emit_record(gen *g, FILE *o, const sfc_record *r) {
  member *ms = field_members(g, r->fields, r->n_fields, "v->");
  if (!ms) return;
  fprintf(o, "/* ---- record %s ---- */\n\n", r->name);
  emit_group_write(
      g, o, S(g, "void %s_encode(sf_wbuf *w, const %s *v)", r->name, r->name),
      "", ms, r->n_fields);
  emit_group_read(
      g, o,
      S(g, "static sf_status sf__read_%s(sf_arena *a, sf_rbuf *r, %s *v)",
        r->name, r->name),
      "  if (++sf__depth > SF__MAX_DEPTH) {\n    sf__depth--;\n"
      "    return SF_ERR_VALUE_DECODE;\n  }\n",
      "  sf__depth--;\n", ms, r->n_fields);
  fprintf(o,
          "sf_status %s_decode(sf_arena *a, sf_rbuf *r, %s *v) {\n"
          "  memset(v, 0, sizeof *v);\n  return sf__read_%s(a, r, v);\n}\n\n",
          r->name, r->name, r->name);
  free(ms);
}

/* ------------------------------------------------------------------ */
/* Defaults: C literals (composite defaults: sfc_json_encode_default)  */
/* ------------------------------------------------------------------ */

static const char *c_string(gen *g, const char *s, size_t n) {
  char *buf = NULL;
  size_t len = 0;
  FILE *o = open_memstream(&buf, &len);
  if (!o) {
    g->oom = true;
    return "\"\"";
  }
  fputc('"', o);
  for (size_t i = 0; i < n; i++) {
    unsigned char ch = (unsigned char)s[i];
    if (ch == '"' || ch == '\\' || ch == '?')
      fprintf(o, "\\%c", ch);
    else if (ch < 0x20 || ch == 0x7f)
      fprintf(o, "\\%03o", ch);
    else
      fputc(ch, o);
  }
  fputc('"', o);
  fclose(o);
  const char *r = S(g, "%s", buf ? buf : "\"\"");
  free(buf);
  return r;
}

static const char *c_real(gen *g, double v, bool is_float) {
  char buf[64];
  snprintf(buf, sizeof buf, is_float ? "%.9g" : "%.17g", v);
  bool dot = strpbrk(buf, ".eEn") != NULL; /* n: inf, nan */
  return S(g, "%s%s%s", buf, dot ? "" : ".0", is_float ? "f" : "");
}

/* A scalar state field's default as a C expression. */
static const char *scalar_default(gen *g, const sfc_field *f, size_t *slen) {
  json_t *j = NULL;
  if (f->default_json) j = json_loads(f->default_json, JSON_DECODE_ANY, NULL);
  const char *r = "0";
  switch (f->type->kind) {
    case SFC_BOOL: r = json_is_true(j) ? "true" : "false"; break;
    case SFC_INT32: {
      long long v = json_is_integer(j) ? json_integer_value(j) : 0;
      r = v == INT32_MIN ? "INT32_MIN" : S(g, "%lld", v);
      break;
    }
    case SFC_INT64: {
      long long v = json_is_integer(j) ? json_integer_value(j) : 0;
      r = v == INT64_MIN ? "INT64_MIN" : S(g, "INT64_C(%lld)", v);
      break;
    }
    case SFC_FLOAT:
      r = c_real(g, json_is_number(j) ? json_number_value(j) : 0, true);
      break;
    case SFC_DOUBLE:
      r = c_real(g, json_is_number(j) ? json_number_value(j) : 0, false);
      break;
    case SFC_STRING:
      *slen = json_is_string(j) ? json_string_length(j) : 0;
      r = c_string(g, json_is_string(j) ? json_string_value(j) : "", *slen);
      break;
    default: break;
  }
  json_decref(j);
  return r;
}

static bool is_scalar_state(const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL:
    case SFC_INT32:
    case SFC_INT64:
    case SFC_FLOAT:
    case SFC_DOUBLE:
    case SFC_STRING: return true;
    default: return false;
  }
}

/* sf_state_get_<kind> / sf_state_set_<kind> and the built-in type. */
static const char *state_kind(const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL: return "bool";
    case SFC_INT32: return "int";
    case SFC_INT64: return "long";
    case SFC_FLOAT: return "float";
    case SFC_DOUBLE: return "double";
    case SFC_STRING: return "string";
    default: return NULL;
  }
}

/* ------------------------------------------------------------------ */
/* Source: state                                                        */
/* ------------------------------------------------------------------ */

static void emit_state(gen *g, FILE *o, const sfc_entity *e) {
  const char *E = e->name;
  fprintf(o, "/* ---- %s: state ---- */\n\n", E);
  for (size_t k = 0; k < e->n_state; k++) {
    const sfc_field *f = &e->state[k];
    const char *spec = S(g, "sf__spec_%s_%s", E, f->name);
    if (is_scalar_state(f->type)) {
      fprintf(o, "static const sf_value_spec %s = SF_VALUE_SPEC(\"%s\", &sf_type_%s);\n",
              spec, f->name, state_kind(f->type));
      continue;
    }
    fprintf(o,
            "/* %s: %s, the %s */\n"
            "static const sf_type sf__type_%s_%s = SF_TYPE_RAW(\"%s.types/%s.%s\");\n"
            "static const sf_value_spec %s = SF_VALUE_SPEC(\"%s\", &sf__type_%s_%s);\n",
            f->name, type_text(g, f->type),
            f->type->kind == SFC_RECORD ? "record's encoding"
                                        : "message {1: value}",
            E, f->name, g->ir->namespace_, E, f->name, spec, f->name, E,
            f->name);
    /* the default's encoding, by the IR's JSON codec */
    uint8_t *p = NULL;
    size_t n = 0;
    char err[512];
    if (sfc_json_encode_default(f, &p, &n, err, sizeof err) != 0)
      fail_at(g, f->default_pos, "%s", err);
    fprintf(o, "static const uint8_t sf__default_%s_%s[%zu] = {", E, f->name,
            n ? n : 1);
    for (size_t i = 0; i < n; i++)
      fprintf(o, "%s0x%02x", i ? (i % 12 ? ", " : ",\n    ") : "", p[i]);
    if (!n) fprintf(o, "0");
    fprintf(o, "};\nstatic const size_t sf__default_len_%s_%s = %zu;\n", E,
            f->name, n);
    free(p);
  }
  if (e->n_state) {
    fprintf(o, "static const sf_value_spec *const sf__specs_%s[] = {\n", E);
    for (size_t k = 0; k < e->n_state; k++)
      fprintf(o, "    &sf__spec_%s_%s,\n", E, e->state[k].name);
    fprintf(o, "};\n");
  }
  fputc('\n', o);

  bool composite = false, string = false;
  for (size_t k = 0; k < e->n_state; k++) {
    if (!is_scalar_state(e->state[k].type)) composite = true;
    if (e->state[k].type->kind == SFC_STRING) string = true;
  }
  if (composite) g->any_composite_state = true;

  /* load */
  fprintf(o,
          "/* Fills the state from its value specs; an absent field gets its "
          "default. */\n"
          "static sf_status sf__load_%s(sf_context *ctx, void *state) {\n"
          "  %s_state *s = state;\n  sf_status st = SF_OK;\n",
          E, E);
  if (composite || string)
    fprintf(o, "  sf_arena *a = sf_context_arena(ctx);\n");
  if (composite) fprintf(o, "  sf_value val;\n  sf_rbuf r;\n");
  if (!e->n_state) fprintf(o, "  (void)ctx;\n  (void)s;\n");
  fprintf(o, "  memset(s, 0, sizeof *s);\n");
  for (size_t k = 0; k < e->n_state; k++) {
    const sfc_field *f = &e->state[k];
    const char *spec = S(g, "sf__spec_%s_%s", E, f->name);
    fprintf(o, "  /* %s */\n", f->name);
    size_t slen = 0;
    if (f->type->kind == SFC_STRING) {
      const char *d = scalar_default(g, f, &slen);
      fprintf(o,
              "  {\n    const char *p;\n    size_t n;\n"
              "    st = sf_state_get_string(ctx, &%s, &p, &n);\n"
              "    if (st == SF_OK) {\n"
              "      s->%s.ptr = sf_arena_strndup(a, p, n);\n"
              "      s->%s.len = n;\n"
              "      if (!s->%s.ptr) st = SF_ERR_NOMEM;\n"
              "    } else if (st == SF_ERR_NO_VALUE) {\n"
              "      s->%s.ptr = %s;\n      s->%s.len = %zu;\n"
              "      st = SF_OK;\n    }\n  }\n",
              spec, f->name, f->name, f->name, f->name, d, f->name, slen);
    } else if (is_scalar_state(f->type)) {
      fprintf(o,
              "  st = sf_state_get_%s(ctx, &%s, &s->%s);\n"
              "  if (st == SF_ERR_NO_VALUE) {\n    s->%s = %s;\n"
              "    st = SF_OK;\n  }\n",
              state_kind(f->type), spec, f->name, f->name,
              scalar_default(g, f, &slen));
    } else {
      fprintf(o,
              "  st = sf_state_get(ctx, &%s, &val);\n"
              "  if (st == SF_ERR_NO_VALUE) {\n"
              "    val.data = sf__default_%s_%s;\n"
              "    val.len = sf__default_len_%s_%s;\n    st = SF_OK;\n  }\n"
              "  if (st == SF_OK) {\n    sf_rbuf_init(&r, val.data, val.len);\n",
              spec, E, f->name, E, f->name);
      if (f->type->kind == SFC_RECORD) {
        fprintf(o, "    st = sf__read_%s(a, &r, &s->%s);\n",
                f->type->record->name, f->name);
      } else {
        need(g, f->type, H_READW);
        need(g, f->type, H_ENCW);
        fprintf(o, "    st = sf__readw_%s(a, &r, &s->%s);\n",
                mangle(g, f->type), f->name);
      }
      fprintf(o, "  }\n");
    }
    fprintf(o, "  if (st != SF_OK) return st;\n");
  }
  fprintf(o, "  return st;\n}\n\n");

  /* store */
  fprintf(o,
          "/* Writes back the fields whose value differs from the stored one "
          "(or, when\n * absent, from the default): only changed fields "
          "become mutations. */\n"
          "static sf_status sf__store_%s(sf_context *ctx, const void *state) "
          "{\n  const %s_state *s = state;\n  sf_status st = SF_OK;\n",
          E, E);
  if (composite)
    fprintf(o,
            "  sf_arena *a = sf_context_arena(ctx);\n  sf_value stored;\n"
            "  sf_wbuf w;\n");
  if (!e->n_state) fprintf(o, "  (void)ctx;\n  (void)s;\n");
  for (size_t k = 0; k < e->n_state; k++) {
    const sfc_field *f = &e->state[k];
    const char *spec = S(g, "sf__spec_%s_%s", E, f->name);
    fprintf(o, "  /* %s */\n", f->name);
    size_t slen = 0;
    const char *kind = state_kind(f->type);
    if (f->type->kind == SFC_STRING) {
      const char *d = scalar_default(g, f, &slen);
      fprintf(o,
              "  {\n    const char *p;\n    size_t n;\n"
              "    st = sf_state_get_string(ctx, &%s, &p, &n);\n"
              "    if (st == SF_ERR_NO_VALUE) {\n      p = %s;\n"
              "      n = %zu;\n      st = SF_OK;\n    }\n"
              "    if (st != SF_OK) return st;\n"
              "    if (!sf_str_eq(s->%s, (sf_str){p, n}))\n"
              "      st = sf_state_set_string(ctx, &%s, s->%s.ptr ? s->%s.ptr "
              ": \"\", s->%s.len);\n  }\n",
              spec, d, slen, f->name, spec, f->name, f->name, f->name);
    } else if (is_scalar_state(f->type)) {
      bool real = f->type->kind == SFC_FLOAT || f->type->kind == SFC_DOUBLE;
      fprintf(o,
              "  {\n    %s old;\n    st = sf_state_get_%s(ctx, &%s, &old);\n"
              "    if (st == SF_ERR_NO_VALUE) {\n      old = %s;\n"
              "      st = SF_OK;\n    }\n    if (st != SF_OK) return st;\n",
              ctype(g, f->type), kind, spec, scalar_default(g, f, &slen));
      if (real)
        fprintf(o,
                "    if (memcmp(&old, &s->%s, sizeof old) != 0) /* bits: "
                "-0.0, NaN */\n",
                f->name);
      else
        fprintf(o, "    if (old != s->%s)\n", f->name);
      fprintf(o, "      st = sf_state_set_%s(ctx, &%s, s->%s);\n  }\n", kind,
              spec, f->name);
    } else {
      fprintf(o, "  sf_wbuf_init(&w, a);\n");
      if (f->type->kind == SFC_RECORD)
        fprintf(o, "  %s_encode(&w, &s->%s);\n", f->type->record->name,
                f->name);
      else
        fprintf(o, "  sf__encw_%s(&w, &s->%s);\n", mangle(g, f->type),
                f->name);
      fprintf(o,
              "  if (w.failed) return SF_ERR_NOMEM;\n"
              "  st = sf_state_get(ctx, &%s, &stored);\n"
              "  if (st == SF_ERR_NO_VALUE) {\n"
              "    stored.data = sf__default_%s_%s;\n"
              "    stored.len = sf__default_len_%s_%s;\n    st = SF_OK;\n  }\n"
              "  if (st != SF_OK) return st;\n"
              "  if (!sf__same(stored.data, stored.len, w.data, w.len)) {\n"
              "    sf_value v = {sf__type_%s_%s.type_name, true,\n"
              "                  w.len ? w.data : sf__default_%s_%s, w.len};\n"
              "    st = sf_state_set(ctx, &%s, v);\n  }\n",
              spec, E, f->name, E, f->name, E, f->name, E, f->name, spec);
    }
    fprintf(o, "  if (st != SF_OK) return st;\n");
  }
  fprintf(o, "  return st;\n}\n\n");
}

/* ------------------------------------------------------------------ */
/* Source: methods                                                      */
/* ------------------------------------------------------------------ */

static void emit_method(gen *g, FILE *o, const sfc_entity *e,
                        const sfc_method *m) {
  const char *q = S(g, "%s_%s", e->name, m->name);
  const char *fr = S(g, "%s_frame", q);
  fprintf(o, "/* ---- %s.%s ---- */\n\n", e->name, m->name);

  /* Args */
  member *ms = field_members(g, m->params, m->n_params, "v->");
  if (!ms) return;
  emit_group_write(
      g, o, S(g, "void %s_args_encode(sf_wbuf *w, const %s_args *v)", q, q),
      "", ms, m->n_params);
  emit_group_read(
      g, o,
      S(g, "static sf_status sf__read_%s_args(sf_arena *a, sf_rbuf *r, "
           "%s_args *v)",
        q, q),
      "", "", ms, m->n_params);
  fprintf(o,
          "sf_status %s_args_decode(sf_arena *a, sf_rbuf *r, %s_args *v) {\n"
          "  memset(v, 0, sizeof *v);\n  return sf__read_%s_args(a, r, v);\n}"
          "\n\n",
          q, q, q);
  free(ms);

  /* the typed call */
  const char *ctx = free_name(g, m, "ctx"), *tgt = free_name(g, m, "target");
  const char *args = free_name(g, m, "args"), *w = free_name(g, m, "w");
  fprintf(o,
          "sf_status %s(sf_entity_ctx *%s, sf_ref %s%s) {\n"
          "  %s_args %s;\n  sf_wbuf %s;\n"
          "  memset(&%s, 0, sizeof %s);\n",
          q, ctx, tgt, param_list(g, m), q, args, w, args, args);
  for (size_t i = 0; i < m->n_params; i++)
    fprintf(o, "  %s.%s = %s;\n", args, m->params[i].name, m->params[i].name);
  fprintf(o,
          "  sf_wbuf_init(&%s, sf_entity_arena(%s));\n"
          "  %s_args_encode(&%s, &%s);\n"
          "  if (%s.failed) return SF_ERR_NOMEM;\n"
          "  return sf_entity_call(%s, \"%s/%s\", %s.key, \"%s\", %s.data, "
          "%s.len);\n}\n\n",
          w, ctx, q, w, args, w, ctx, g->ir->namespace_, e->name, tgt,
          m->name, w, w);

  /* the frame: params, locals, result, await results, numbered in order */
  size_t n = m->n_params + m->n_locals + 1 + m->n_awaits, k = 0;
  ms = calloc(n, sizeof *ms);
  if (!ms) {
    g->oom = true;
    return;
  }
  for (size_t i = 0; i < m->n_params; i++, k++)
    ms[k] = (member){(uint32_t)k + 1, m->params[i].type,
                     S(g, "v->p.%s", m->params[i].name)};
  for (size_t i = 0; i < m->n_locals; i++, k++)
    ms[k] = (member){(uint32_t)k + 1, m->locals[i].type,
                     S(g, "v->%s", m->locals[i].name)};
  if (m->result->kind != SFC_VOID) {
    ms[k] = (member){(uint32_t)k + 1, m->result, "v->result"};
    k++;
  }
  for (size_t i = 0; i < m->n_awaits; i++) {
    const sfc_type *rt = m->awaits[i].method->result;
    if (rt->kind == SFC_VOID) continue;
    ms[k] = (member){(uint32_t)k + 1, rt, S(g, "v->r.%s", m->awaits[i].label)};
    k++;
  }
  fprintf(o,
          "/* The frame as a message: parameters, locals, result, await "
          "results. */\n");
  emit_group_write(
      g, o,
      S(g, "static void sf__encode_frame_%s(sf_wbuf *w, const void *frame)", q),
      S(g, "  const %s *v = frame;\n", fr), ms, k);
  emit_group_read(
      g, o,
      S(g, "static sf_status sf__decode_frame_%s(sf_arena *a, sf_rbuf *r, "
           "void *frame)",
        q),
      S(g, "  %s *v = frame;\n", fr), "", ms, k);
  free(ms);

  /* adapters for the descriptor */
  fprintf(o,
          "static sf_status sf__decode_args_%s(sf_arena *a, sf_rbuf *r, void "
          "*frame) {\n  %s *F = frame;\n  return %s_args_decode(a, r, "
          "&F->p);\n}\n\n"
          "static sf_step sf__step_%s(sf_entity_ctx *ctx, void *frame) {\n"
          "  return %s_step(ctx, frame);\n}\n\n",
          q, fr, q, q, q);
  fprintf(o,
          "/* The Result record {1: value}. */\n"
          "static void sf__encode_result_%s(sf_wbuf *w, const void *frame) "
          "{\n",
          q);
  if (m->result->kind == SFC_VOID) {
    fprintf(o, "  (void)w;\n  (void)frame;\n}\n\n");
  } else {
    need(g, m->result, H_ENCW);
    fprintf(o, "  const %s *F = frame;\n  sf__encw_%s(w, &F->result);\n}\n\n",
            fr, mangle(g, m->result));
  }
  fprintf(o,
          "/* A callee's Result record into F->r.<label>. */\n"
          "static sf_status sf__await_result_%s(sf_arena *a, uint32_t label, "
          "sf_rbuf *r, void *frame) {\n  %s *F = frame;\n"
          "  (void)a;\n  (void)r;\n  (void)F;\n  switch (label) {\n",
          q, fr);
  for (size_t i = 0; i < m->n_awaits; i++) {
    const sfc_await *aw = &m->awaits[i];
    const sfc_type *rt = aw->method->result;
    fprintf(o, "    case (uint32_t)offsetof(%s, r.%s) + 1u:\n", fr, aw->label);
    if (rt->kind == SFC_VOID) {
      fprintf(o, "      return SF_OK;\n");
    } else {
      need(g, rt, H_READW);
      fprintf(o,
              "      memset(&F->r.%s, 0, sizeof F->r.%s);\n"
              "      return sf__readw_%s(a, r, &F->r.%s);\n",
              aw->label, aw->label, mangle(g, rt), aw->label);
    }
  }
  fprintf(o, "    default:\n      return SF_ERR_INVALID_ARGUMENT;\n  }\n}\n\n");

  if (m->n_awaits) {
    fprintf(o, "static const sf_label_desc sf__labels_%s[] = {\n", q);
    for (size_t i = 0; i < m->n_awaits; i++)
      fprintf(o, "    {\"%s\", (uint32_t)offsetof(%s, r.%s) + 1u},\n",
              m->awaits[i].label, fr, m->awaits[i].label);
    fprintf(o, "};\n\n");
  }
}

static void emit_entity(gen *g, FILE *o, const sfc_entity *e) {
  emit_state(g, o, e);
  for (size_t j = 0; j < e->n_methods; j++) emit_method(g, o, e, &e->methods[j]);
  const char *E = e->name;
  if (e->n_methods) {
    fprintf(o, "static const sf_method_desc sf__methods_%s[] = {\n", E);
    for (size_t j = 0; j < e->n_methods; j++) {
      const sfc_method *m = &e->methods[j];
      const char *q = S(g, "%s_%s", E, m->name);
      char *layout = layout_string(g, m);
      fprintf(o,
              "    {\n      \"%s\", %s, %s, sizeof(%s_frame),\n"
              "      /* FNV-1a 64 of %s */\n"
              "      UINT64_C(0x%016llx),\n",
              m->name, m->read_only ? "true" : "false",
              m->reentrant ? "true" : "false", q,
              layout ? comment_text(g, layout) : "",
              (unsigned long long)(layout ? fnv1a64(layout) : 0));
      free(layout);
      if (m->n_awaits)
        fprintf(o, "      sf__labels_%s, %zu,\n", q, m->n_awaits);
      else
        fprintf(o, "      NULL, 0,\n");
      fprintf(o,
              "      sf__decode_args_%s, sf__step_%s, sf__encode_result_%s,\n"
              "      sf__encode_frame_%s, sf__decode_frame_%s, "
              "sf__await_result_%s,\n    },\n",
              q, q, q, q, q, q);
    }
    fprintf(o, "};\n\n");
  }
  fprintf(o,
          "const sf_entity_desc %s_entity = {\n    \"%s/%s\", sizeof(%s_state),\n",
          E, g->ir->namespace_, E, E);
  if (e->n_state)
    fprintf(o, "    sf__specs_%s, %zu,\n", E, e->n_state);
  else
    fprintf(o, "    NULL, 0,\n");
  fprintf(o, "    sf__load_%s, sf__store_%s,\n", E, E);
  if (e->n_methods)
    fprintf(o, "    sf__methods_%s, %zu,\n};\n\n", E, e->n_methods);
  else
    fprintf(o, "    NULL, 0,\n};\n\n");
}

/* ------------------------------------------------------------------ */
/* Putting it together                                                  */
/* ------------------------------------------------------------------ */

static int close_mem(gen *g, FILE *f) {
  if (f && fclose(f) != 0) g->oom = true;
  return 0;
}

int sfc_gen_text(const sfc_ir *ir, const char *source, const char *base,
                 char **header, size_t *header_len, char **source_text,
                 size_t *source_len, char *err, size_t err_len) {
  gen g;
  memset(&g, 0, sizeof g);
  g.ir = ir;
  g.source = source;
  g.base = base;
  g.err = err;
  g.err_len = err_len;
  *header = *source_text = NULL;
  *header_len = *source_len = 0;
  g.ns = c_ident(ir->namespace_);
  char *hb = NULL, *cb = NULL, *wb = NULL, *top = NULL;
  size_t hl = 0, cl = 0, wl = 0, tl = 0;
  int rc = SFC_GEN_OK;
  if (!g.ns) {
    g.oom = true;
    goto done;
  }
  collect_all(&g);
  if (!g.failed) check_names(&g);
  if (g.failed || g.oom) goto done;

  g.h = open_memstream(&hb, &hl);
  g.c = open_memstream(&cb, &cl);
  g.wr = open_memstream(&wb, &wl);
  if (!g.h || !g.c || !g.wr) {
    g.oom = true;
    goto done;
  }
  emit_header(&g);

  /* the body first: it tells which helpers are used */
  for (size_t i = 0; i < ir->n_records; i++)
    emit_record(&g, g.c, &ir->records[i]);
  for (size_t i = 0; i < ir->n_entities; i++)
    emit_entity(&g, g.c, &ir->entities[i]);
  fprintf(g.c,
          "sf_status %s_register(sf_handler *h) {\n  sf_status st = SF_OK;\n",
          base);
  for (size_t i = 0; i < ir->n_entities; i++)
    fprintf(g.c,
            "  if (st == SF_OK) st = sf_entity_register(h, &%s_entity);\n",
            ir->entities[i].name);
  fprintf(g.c, "  return st;\n}\n");
  fprintf(g.wr, "\n/* ---- list, map and {1: value} codecs ---- */\n\n");
  emit_helpers(&g, g.wr);

  /* the top of the source: includes, static prototypes, shared statics */
  FILE *t = open_memstream(&top, &tl);
  if (!t) {
    g.oom = true;
    goto done;
  }
  emit_banner(&g, t, S(&g, "%s.c", base),
              "wire codecs, state, descriptors of the entities");
  fprintf(t,
          "#include \"%s.h\"\n\n#include <stddef.h>\n#include <stdint.h>\n"
          "#include <string.h>\n\n",
          base);
  if (g.n_helpers || ir->n_records)
    fprintf(t, "/* Codecs used before their definition. */\n");
  for (size_t i = 0; i < ir->n_records; i++)
    fprintf(t,
            "static sf_status sf__read_%s(sf_arena *a, sf_rbuf *r, %s *v);\n",
            ir->records[i].name, ir->records[i].name);
  for (size_t i = 0; i < g.n_helpers; i++)
    for (int k = 0; k < H_N; k++)
      if (g.helpers[i].need[k]) emit_helper_proto(&g, t, g.helpers[i].type, k);
  fputc('\n', t);
  if (ir->n_records)
    fprintf(t,
            "/* Records nest at most this deep in decoded input (a record "
            "may contain\n * itself through a list or map). */\n"
            "#define SF__MAX_DEPTH 100\nstatic _Thread_local unsigned "
            "sf__depth;\n\n");
  if (g.any_composite_state)
    fprintf(t,
            "static bool sf__same(const uint8_t *a, size_t an, const uint8_t "
            "*b, size_t bn) {\n"
            "  return an == bn && (an == 0 || memcmp(a, b, an) == 0);\n}\n\n");
  close_mem(&g, t);
  t = NULL;

done:
  if (g.h) close_mem(&g, g.h);
  if (g.c) close_mem(&g, g.c);
  if (g.wr) close_mem(&g, g.wr);
  if (g.failed) {
    rc = SFC_GEN_INVALID;
  } else if (g.oom) {
    snprintf(err, err_len, "sf-codegen: out of memory");
    rc = SFC_GEN_IO;
  } else {
    size_t n = tl + cl + wl;
    char *all = malloc(n + 1);
    if (!all) {
      snprintf(err, err_len, "sf-codegen: out of memory");
      rc = SFC_GEN_IO;
    } else {
      memcpy(all, top, tl);
      memcpy(all + tl, cb, cl);
      memcpy(all + tl + cl, wb, wl);
      all[n] = '\0';
      /* the wrappers follow the register function: one blank line */
      *header = hb;
      *header_len = hl;
      hb = NULL;
      *source_text = all;
      *source_len = n;
    }
  }
  free(hb);
  free(cb);
  free(wb);
  free(top);
  for (size_t i = 0; i < g.n_pool; i++) free(g.pool[i]);
  free(g.pool);
  free(g.conts);
  free(g.helpers);
  free(g.ns);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Files                                                                */
/* ------------------------------------------------------------------ */

/* True when `path` holds exactly these bytes. */
static bool same_content(const char *path, const char *data, size_t len) {
  FILE *f = fopen(path, "rb");
  if (!f) return false;
  bool same = true;
  char buf[8192];
  size_t off = 0, n;
  while (same && (n = fread(buf, 1, sizeof buf, f)) > 0) {
    if (off + n > len || memcmp(buf, data + off, n) != 0) same = false;
    off += n;
  }
  if (ferror(f)) same = false;
  fclose(f);
  return same && off == len;
}

static int write_tmp(const char *tmp, const char *data, size_t len) {
  FILE *f = fopen(tmp, "wb");
  bool ok = f && fwrite(data, 1, len, f) == len;
  if (f) ok = (fclose(f) == 0) && ok;
  if (!ok) {
    fprintf(stderr, "sf-codegen: cannot write %s: %s\n", tmp, strerror(errno));
    remove(tmp);
    return SFC_GEN_IO;
  }
  return SFC_GEN_OK;
}

int sfc_gen_write(const sfc_ir *ir, const char *dir) {
  char base[512], err[2048];
  sfc_gen_base(ir->path, base, sizeof base);
  char *h = NULL, *c = NULL;
  size_t hl = 0, cl = 0;
  int rc = sfc_gen_text(ir, ir->path, base, &h, &hl, &c, &cl, err, sizeof err);
  if (rc != SFC_GEN_OK) {
    fprintf(stderr, "%s\n", err);
    return rc;
  }
  if (mkdir(dir, 0777) != 0 && errno != EEXIST) {
    fprintf(stderr, "sf-codegen: cannot create %s: %s\n", dir,
            strerror(errno));
    free(h);
    free(c);
    return SFC_GEN_IO;
  }
  const char *data[2] = {h, c};
  size_t lens[2] = {hl, cl};
  char path[2][4096], tmp[2][4200];
  bool write[2];
  for (int i = 0; i < 2; i++) {
    snprintf(path[i], sizeof path[i], "%s/%s.%s", dir, base, i ? "c" : "h");
    snprintf(tmp[i], sizeof tmp[i], "%s.tmp", path[i]);
    write[i] = !same_content(path[i], data[i], lens[i]);
  }
  for (int i = 0; i < 2 && rc == SFC_GEN_OK; i++)
    if (write[i]) rc = write_tmp(tmp[i], data[i], lens[i]);
  for (int i = 0; i < 2 && rc == SFC_GEN_OK; i++)
    if (write[i] && rename(tmp[i], path[i]) != 0) {
      fprintf(stderr, "sf-codegen: cannot write %s: %s\n", path[i],
              strerror(errno));
      rc = SFC_GEN_IO;
    }
  if (rc != SFC_GEN_OK)
    for (int i = 0; i < 2; i++) remove(tmp[i]);
  free(h);
  free(c);
  return rc;
}
