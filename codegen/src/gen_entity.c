/*
 * gen_entity.c - per method the generated step glue (Args and frame
 * codecs, the typed call), and per entity its method table and descriptor.
 */
#include "gen_impl.h"

#include <stdlib.h>
#include <string.h>

#include "sfb/fnv.h"

/* ------------------------------------------------------------------ */
/* Source: methods                                                      */
/* ------------------------------------------------------------------ */

/* The Args record's codecs. */
static void emit_args_codec(gen *g, FILE *o, const sfc_method *m,
                            const char *q) {
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
}

/* The typed call: encodes the Args and calls sf_entity_call. */
static void emit_typed_call(gen *g, FILE *o, const sfc_entity *e,
                            const sfc_method *m, const char *q) {
  const char *ctx = free_name(g, m, "ctx"), *tgt = free_name(g, m, "target");
  const char *args = free_name(g, m, "args"), *w = free_name(g, m, "w");
  fprintf(o,
          "%s_call %s(sf_entity_ctx *%s, sf_ref %s%s) {\n"
          "  %s_args %s;\n  sf_wbuf %s;\n  %s_call sf__c;\n"
          "  memset(&%s, 0, sizeof %s);\n",
          q, q, ctx, tgt, param_list(g, m), q, args, w, q, args, args);
  for (size_t i = 0; i < m->n_params; i++)
    fprintf(o, "  %s.%s = %s;\n", args, m->params[i].name, m->params[i].name);
  fprintf(o,
          "  sf_wbuf_init(&%s, sf_entity_arena(%s));\n"
          "  %s_args_encode(&%s, &%s);\n"
          "  sf__c.status = %s.failed ? SF_ERR_NOMEM\n"
          "      : sf_entity_call(%s, \"%s/%s\", %s.key, \"%s\", %s.data, "
          "%s.len);\n  return sf__c;\n}\n\n",
          w, ctx, q, w, args, w, ctx, g->ir->namespace_, e->name, tgt,
          m->name, w, w);
}

/* The frame as a message: params, locals, result, await results,
 * numbered in order. */
static void emit_frame_codec(gen *g, FILE *o, const sfc_method *m,
                             const char *q, const char *fr) {
  size_t n = m->n_params + m->n_locals + 1 + m->n_awaits, k = 0;
  member *ms = calloc(n, sizeof *ms);
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
    if (m->awaits[i].fan_out) rt = m->awaits[i].results;
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
}

static bool has_fan_out(const sfc_method *m) {
  for (size_t i = 0; i < m->n_awaits; i++)
    if (m->awaits[i].fan_out) return true;
  return false;
}

/* A fan_out label's result number `index` into F->r.<label>.items[index]
 * (the list grows to index + 1; elements not answered yet stay zero). */
static void emit_await_item(gen *g, FILE *o, const sfc_method *m,
                            const char *q, const char *fr) {
  if (!has_fan_out(m)) return;
  fprintf(o,
          "/* A fan_out call's Result record into F->r.<label>.items[index]. */\n"
          "static sf_status sf__await_item_%s(sf_arena *a, uint32_t label, "
          "uint32_t index, sf_rbuf *r, void *frame) {\n  %s *F = frame;\n"
          "  (void)a;\n  (void)r;\n  (void)F;\n  (void)index;\n"
          "  switch (label) {\n",
          q, fr);
  for (size_t i = 0; i < m->n_awaits; i++) {
    const sfc_await *aw = &m->awaits[i];
    if (!aw->fan_out) continue;
    fprintf(o, "    case (uint32_t)offsetof(%s, r.%s) + 1u:", fr, aw->label);
    if (!aw->results) {
      fprintf(o, "\n      return SF_OK;\n");
      continue;
    }
    const char *et = ctype(g, aw->results->elem), *l = aw->label;
    need(g, aw->results->elem, H_READW);
    fprintf(o,
            " {\n      if (index >= F->r.%s.len) {\n"
            "        %s *n = sf_arena_alloc(a, ((size_t)index + 1) * sizeof *n);\n"
            "        if (!n) return SF_ERR_NOMEM;\n"
            "        memset(n, 0, ((size_t)index + 1) * sizeof *n);\n"
            "        if (F->r.%s.len) memcpy(n, F->r.%s.items, F->r.%s.len * sizeof *n);\n"
            "        F->r.%s.items = n;\n        F->r.%s.len = (size_t)index + 1;\n"
            "      }\n"
            "      memset(&F->r.%s.items[index], 0, sizeof *F->r.%s.items);\n"
            "      return sf__readw_%s(a, r, &F->r.%s.items[index]);\n    }\n",
            l, et, l, l, l, l, l, l, l, mangle(g, aw->results->elem), l);
  }
  fprintf(o, "    default:\n      return SF_ERR_INVALID_ARGUMENT;\n  }\n}\n\n");
}

/* The descriptor's adapters: Args into the frame, the step, the Result
 * record, a callee's Result into F->r.<label>, and the label table. */
static void emit_adapters(gen *g, FILE *o, const sfc_method *m,
                          const char *q, const char *fr) {
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
    if (rt->kind == SFC_VOID || aw->fan_out) {
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
  emit_await_item(g, o, m, q, fr);

  if (m->n_awaits) {
    fprintf(o, "static const sf_label_desc sf__labels_%s[] = {\n", q);
    for (size_t i = 0; i < m->n_awaits; i++)
      fprintf(o, "    {\"%s\", (uint32_t)offsetof(%s, r.%s) + 1u, %s},\n",
              m->awaits[i].label, fr, m->awaits[i].label,
              m->awaits[i].fan_out ? "true" : "false");
    fprintf(o, "};\n\n");
  }
}

/* One method: its codecs, typed call and descriptor adapters. */
static void emit_method(gen *g, FILE *o, const sfc_entity *e,
                        const sfc_method *m) {
  const char *q = S(g, "%s_%s", e->name, m->name);
  const char *fr = S(g, "%s_frame", q);
  fprintf(o, "/* ---- %s.%s ---- */\n\n", e->name, m->name);
  emit_args_codec(g, o, m, q);
  emit_typed_call(g, o, e, m, q);
  emit_frame_codec(g, o, m, q, fr);
  emit_adapters(g, o, m, q, fr);
}

void emit_entity(gen *g, FILE *o, const sfc_entity *e) {
  emit_state(g, o, e);
  for (size_t j = 0; j < e->n_methods; j++)
    emit_method(g, o, e, &e->methods[j]);
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
              (unsigned long long)(layout ? sfb_fnv1a64(layout) : 0));
      free(layout);
      if (m->n_awaits)
        fprintf(o, "      sf__labels_%s, %zu,\n", q, m->n_awaits);
      else
        fprintf(o, "      NULL, 0,\n");
      fprintf(o,
              "      sf__decode_args_%s, sf__step_%s, sf__encode_result_%s,\n"
              "      sf__encode_frame_%s, sf__decode_frame_%s, "
              "sf__await_result_%s,\n",
              q, q, q, q, q, q);
      if (has_fan_out(m))
        fprintf(o, "      sf__await_item_%s,\n    },\n", q);
      else
        fprintf(o, "      NULL,\n    },\n");
    }
    fprintf(o, "};\n\n");
  }
  fprintf(
      o,
      "const sf_entity_desc %s_entity = {\n    \"%s/%s\", sizeof(%s_state),\n",
      E, g->ir->namespace_, E, E);
  if (e->n_state)
    fprintf(o, "    sf__specs_%s, %zu,\n", E, e->n_state);
  else
    fprintf(o, "    NULL, 0,\n");
  fprintf(o, "    sf__load_%s, sf__store_field_%s,\n", E, E);
  if (e->n_methods)
    fprintf(o, "    sf__methods_%s, %zu,\n", E, e->n_methods);
  else
    fprintf(o, "    NULL, 0,\n");
  fprintf(o, "    sf__field_enc_%s, sf__field_dec_%s,\n};\n\n", E, E);
}
