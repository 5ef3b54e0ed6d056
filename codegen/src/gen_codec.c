/*
 * gen_codec.c - the generated wire codecs (protobuf via sf_w_* / sf_r_* of
 * entity.h). Every codec is written from one description of a message, a
 * "group" of numbered members, so records, Args, frames, Results (a
 * one-member group) and state values all encode the same way; the static
 * helpers of list/map types are emitted only when used (need()).
 */
#include "gen_impl.h"

#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------------ */
/* Codecs                                                               */
/* ------------------------------------------------------------------ */


void need(gen *g, const sfc_type *t, int kind) {
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
void emit_group_write(gen *g, FILE *o, const char *sig,
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
void emit_group_read(gen *g, FILE *o, const char *sig,
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
    /* numbers (not length-delimited) may come packed */
    unsigned pw = sfc_type_wire_type(t->elem);
    if (pw != 2) {
      fprintf(o,
              "  if (wt == 2) {\n    sf_rbuf run;\n"
              "    st = sf_r_message(r, wt, &run);\n"
              "    while (st == SF_OK && run.p < run.end) {\n"
              "      e = sf_arena_push(a, &items, &v->len, cap, sizeof *e);\n"
              "      if (!e) return SF_ERR_NOMEM;\n      v->items = items;\n");
      emit_read(g, o, "      ", t->elem, "&run", S(g, "%u", pw), "*e", true,
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
void emit_helper_proto(gen *g, FILE *o, const sfc_type *t, int kind) {
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
void emit_helpers(gen *g, FILE *o) {
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

member *field_members(gen *g, const sfc_field *f, size_t n,
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

void emit_record(gen *g, FILE *o, const sfc_record *r) {
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
