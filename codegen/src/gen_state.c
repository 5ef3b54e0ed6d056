/*
 * gen_state.c - an entity's state in the generated source: value specs,
 * defaults (scalars as C literals; composite defaults as bytes encoded by
 * the IR's JSON codec, ir_json.h, so a default is decoded at load time like
 * any stored value), and the load and store functions.
 */
#define _GNU_SOURCE /* open_memstream */
#include "gen_impl.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "ir_json.h"

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

/* A composite field's default as a byte array (and its length), encoded
 * by the IR's JSON codec. */
static void emit_default_bytes(gen *g, FILE *o, const char *E,
                               const sfc_field *f) {
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

/* Per field its value spec (a composite one with its own type name and
 * default bytes), then the entity's table of specs. */
static void emit_specs(gen *g, FILE *o, const sfc_entity *e) {
  const char *E = e->name;
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
    emit_default_bytes(g, o, E, f);
  }
  if (e->n_state) {
    fprintf(o, "static const sf_value_spec *const sf__specs_%s[] = {\n", E);
    for (size_t k = 0; k < e->n_state; k++)
      fprintf(o, "    &sf__spec_%s_%s,\n", E, e->state[k].name);
    fprintf(o, "};\n");
  }
  fputc('\n', o);
}

/* Loading one field: a string (copied into the arena), another scalar,
 * or a composite value decoded from its bytes. */
static void emit_load_field(gen *g, FILE *o, const char *E,
                            const sfc_field *f) {
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

static void emit_load(gen *g, FILE *o, const sfc_entity *e, bool composite,
                      bool string) {
  const char *E = e->name;
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
  for (size_t k = 0; k < e->n_state; k++)
    emit_load_field(g, o, E, &e->state[k]);
  fprintf(o, "  return st;\n}\n\n");
}

/* Storing one field (the runtime calls it only for a field a method
 * changed, docs/entities.md "Writing back"): a scalar through the
 * built-in type's setter, a composite value encoded. */
static void emit_store_field(gen *g, FILE *o, const char *E, size_t k,
                             const sfc_field *f) {
  const char *spec = S(g, "sf__spec_%s_%s", E, f->name);
  fprintf(o, "    case %zu: /* %s */\n", k, f->name);
  if (f->type->kind == SFC_STRING) {
    fprintf(o,
            "      return sf_state_set_string(ctx, &%s, s->%s.ptr ? s->%s.ptr "
            ": \"\", s->%s.len);\n",
            spec, f->name, f->name, f->name);
    return;
  }
  if (is_scalar_state(f->type)) {
    fprintf(o, "      return sf_state_set_%s(ctx, &%s, s->%s);\n",
            state_kind(f->type), spec, f->name);
    return;
  }
  fprintf(o, "      sf_wbuf_init(&w, sf_context_arena(ctx));\n");
  if (f->type->kind == SFC_RECORD)
    fprintf(o, "      %s_encode(&w, &s->%s);\n", f->type->record->name,
            f->name);
  else
    fprintf(o, "      sf__encw_%s(&w, &s->%s);\n", mangle(g, f->type),
            f->name);
  fprintf(o,
          "      if (w.failed) return SF_ERR_NOMEM;\n"
          "      v.type_name = sf__type_%s_%s.type_name;\n"
          "      v.has_value = true;\n"
          "      v.data = w.len ? w.data : sf__default_%s_%s;\n"
          "      v.len = w.len;\n"
          "      return sf_state_set(ctx, &%s, v);\n",
          E, f->name, E, f->name, spec);
}

static void emit_store(gen *g, FILE *o, const sfc_entity *e, bool composite) {
  const char *E = e->name;
  fprintf(o,
          "/* Writes back state field `i`, one a method changed (the runtime "
          "compares\n * each field's encoding before and after a step): "
          "only changed fields\n * become mutations. */\n"
          "static sf_status sf__store_field_%s(sf_context *ctx, size_t i, "
          "const void *state) {\n  const %s_state *s = state;\n",
          E, E);
  if (composite) fprintf(o, "  sf_wbuf w;\n  sf_value v;\n");
  fprintf(o, "  (void)ctx;\n  (void)s;\n  switch (i) {\n");
  for (size_t k = 0; k < e->n_state; k++)
    emit_store_field(g, o, E, k, &e->state[k]);
  fprintf(o, "    default: return SF_ERR_INVALID_ARGUMENT;\n  }\n}\n\n");
}

/* One field by index as a message {1: value}, and back: the runtime keeps
 * the pre-image of each field a suspended method changed (atomic methods,
 * docs/entities.md "Failures and state"). */
static void emit_field_codec(gen *g, FILE *o, const sfc_entity *e) {
  const char *E = e->name;
  fprintf(o,
          "/* State field `i` as a message {1: value} (pre-images). */\n"
          "static void sf__field_enc_%s(sf_wbuf *w, size_t i, const void "
          "*state) {\n  const %s_state *s = state;\n  (void)w;\n  (void)s;\n"
          "  switch (i) {\n",
          E, E);
  for (size_t k = 0; k < e->n_state; k++) {
    const sfc_field *f = &e->state[k];
    need(g, f->type, H_ENCW);
    fprintf(o, "    case %zu: sf__encw_%s(w, &s->%s); break;\n", k,
            mangle(g, f->type), f->name);
  }
  fprintf(o, "    default: break;\n  }\n}\n\n");
  fprintf(o,
          "static sf_status sf__field_dec_%s(sf_arena *a, size_t i, sf_rbuf "
          "*r, void *state) {\n  %s_state *s = state;\n  (void)a;\n"
          "  (void)r;\n  (void)s;\n  switch (i) {\n",
          E, E);
  for (size_t k = 0; k < e->n_state; k++) {
    const sfc_field *f = &e->state[k];
    need(g, f->type, H_READW);
    fprintf(o,
            "    case %zu:\n      memset(&s->%s, 0, sizeof s->%s);\n"
            "      return sf__readw_%s(a, r, &s->%s);\n",
            k, f->name, f->name, mangle(g, f->type), f->name);
  }
  fprintf(o, "    default: return SF_ERR_INVALID_ARGUMENT;\n  }\n}\n\n");
}

/* An entity's state: value specs and defaults, then sf__load_<E>,
 * sf__store_field_<E> and the per-field codec. */
void emit_state(gen *g, FILE *o, const sfc_entity *e) {
  fprintf(o, "/* ---- %s: state ---- */\n\n", e->name);
  emit_specs(g, o, e);
  bool composite = false, string = false;
  for (size_t k = 0; k < e->n_state; k++) {
    if (!is_scalar_state(e->state[k].type)) composite = true;
    if (e->state[k].type->kind == SFC_STRING) string = true;
  }
  emit_load(g, o, e, composite, string);
  emit_store(g, o, e, composite);
  emit_field_codec(g, o, e);
}
