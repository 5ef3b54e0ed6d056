/*
 * entity.c - stateful entities on top of the plain SDK (docs/entities.md):
 * the dispatch. An entity type is one StateFun function (entity_fn); its
 * messages are Call and Reply envelopes. A Call starts a method instance
 * (or waits in the entity's queue while another call chain holds the
 * entity, entity_book.c); an instance runs its generated step function
 * until it returns, fails or awaits a call to another entity
 * (entity_await.c). An awaiting instance's frame goes into the entity's
 * own state (value spec __entity) together with the queue, so StateFun
 * persists everything exactly-once; the Reply to its call resumes it
 * (entity_resume.c). A failed method leaves state and output as they were
 * (entity_atomic.c). Also here: read_only methods and registration.
 * What these files share is entity_internal.h.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "entity_internal.h"

/* ---- the method author's context ----------------------------------------------------- */

sf_context *sf_entity_context(sf_entity_ctx *c) { return c->ctx; }
sf_str sf_entity_key(const sf_entity_ctx *c) { return c->key; }
sf_arena *sf_entity_arena(sf_entity_ctx *c) { return c->arena; }

sf_step sf_entity_fail(sf_entity_ctx *c, sf_frame_hdr *hdr, const char *fmt, ...) {
  if (!c) {
    hdr->error = fmt;
    return SF_STEP_FAILED;
  }
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  char *s = sf_arena_strndup(c->arena, buf, strlen(buf));
  hdr->error = s ? s : "method failed (out of memory for the reason)";
  return SF_STEP_FAILED;
}

/* ---- running methods ------------------------------------------------------------------ */

const sf_method_desc *sf_ent_find_method(const sf_entity_desc *d, const char *name) {
  for (size_t i = 0; i < d->n_methods; i++)
    if (strcmp(d->methods[i].name, name) == 0) return &d->methods[i];
  return NULL;
}

/* A failed instance leaves the state and output as they were before it
 * started (docs/entities.md, "Failures and state"). */
static void run_step(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                     const pb_frame *prev) {
  sf_frame_hdr *hdr = frame;
  c->frame = hdr;
  c->n_calls = 0;
  hdr->call_allowed = false;
  c->extra_entity = c->extra_method = NULL;
  c->extra_second = false;
  c->snap = NULL;
  c->changed = NULL;
  c->snapping = !m->read_only;
  sf_ent_begin_output(c, prev);
  if (c->failure != SF_OK) return;
  sf_step s = m->step(c, frame);
  c->snapping = false;
  c->frame = NULL;
  c->n_join = 0;
  sf_ent_note_changes(c);
  if (c->failure != SF_OK) return;
  const char *misuse = sf_ent_call_misuse(c, m, s, hdr);
  if (misuse) {
    hdr->error = misuse;
    s = SF_STEP_FAILED;
  }
  if (s == SF_STEP_AWAIT) {
    sf_ent_suspend(c, m, frame, call, prev);
    sf_ent_keep_changes(c);
    return;
  }
  if (s == SF_STEP_DONE) {
    sf_ent_keep_changes(c);
    sf_wbuf w;
    sf_wbuf_init(&w, c->arena);
    m->encode_result(&w, frame);
    if (w.failed) {
      c->failure = SF_ERR_NOMEM;
      return;
    }
    if (sf_ent_send_reply(c, call, true, w.data, w.len, NULL) != SF_OK) c->failure = SF_ERR_NOMEM;
  } else {
    sf_ent_restore_state(c, prev);
    sf_ent_drop_output(c);
    if (sf_ent_send_reply(c, call, false, NULL, 0, hdr->error) != SF_OK) c->failure = SF_ERR_NOMEM;
  }
  sf_ent_maybe_release(c);
}

void sf_ent_run(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                const pb_frame *prev) {
  if (__builtin_expect(sf_ent_trace_out == NULL, 1)) {
    run_step(c, m, frame, call, prev);
    return;
  }
  uint64_t t0 = sf_ent_trace_now();
  run_step(c, m, frame, call, prev);
  sf_ent_trace_step(c, m, call, prev, t0);
}

/* A read_only method runs at once, even while another chain holds the
 * entity, on the last committed state: a copy of the state with every
 * suspended instance's oldest pre-image put back. Its writes go to the
 * copy and are dropped. */
static void run_read_only(sf_entity_ctx *c, const sf_method_desc *m, void *frame,
                          pb_call *call) {
  c->snapping = false;
  void *state = sf_entity_state(c);
  if (!state) return;
  void *view = sf_ent_committed_view(c, state);
  if (!view) return;
  c->state = view;
  sf_ent_run(c, m, frame, call, NULL);
  c->state = state;
}

/* A fresh frame of `m` with the Call's arguments decoded into it. NULL
 * when out of memory (c->failure set) or when the arguments do not decode
 * (then the Call has been answered with the reason and *replied is true). */
static void *args_frame(sf_entity_ctx *c, const sf_method_desc *m, const pb_call *call,
                        bool *replied) {
  *replied = false;
  void *frame = sf_arena_alloc(c->arena, m->frame_size);
  if (!frame) {
    c->failure = SF_ERR_NOMEM;
    return NULL;
  }
  memset(frame, 0, m->frame_size);
  sf_rbuf r;
  sf_rbuf_init(&r, call->args.data, call->args.len);
  sf_status st = m->decode_args(c->arena, &r, frame);
  if (st != SF_OK) {
    char *why = sf_context_printf(c->ctx, NULL, "%s.%s: arguments do not decode: %s",
                                  c->reg->desc->type_name, m->name, sf_strerror(st));
    sf_ent_fail_call(c, call, why ? why : "bad arguments");
    *replied = true;
    return NULL;
  }
  return frame;
}

void sf_ent_handle_call(sf_entity_ctx *c, pb_call *call) {
  const sf_entity_desc *d = c->reg->desc;
  const sf_method_desc *m = sf_ent_find_method(d, call->method);
  if (!m) {
    char *why = sf_context_printf(c->ctx, NULL, "%s has no method '%s'", d->type_name, call->method);
    sf_ent_fail_call(c, call, why ? why : "no such method");
    return;
  }
  if (!sf_ent_resolve_chain(c, call)) return;
  bool replied;
  if (m->read_only) {
    void *frame = args_frame(c, m, call, &replied);
    if (frame) run_read_only(c, m, frame, call);
    return;
  }
  if (!sf_ent_admit(c, m, call)) return;
  void *frame = args_frame(c, m, call, &replied);
  if (frame) sf_ent_run(c, m, frame, call, NULL);
  else if (replied) sf_ent_maybe_release(c);
}

/* ---- the StateFun function ------------------------------------------------------------ */

/* The StateFun function behind every entity type. */
static sf_status entity_fn(sf_context *ctx, const sf_message *msg, void *user) {
  const entity_reg *reg = user;
  sf_entity_ctx c;
  memset(&c, 0, sizeof(c));
  c.ctx = ctx;
  c.reg = reg;
  c.arena = sf_context_arena(ctx);
  c.key = sf_str_of(sf_self(ctx)->id);
  sf_status st = sf_ent_load_book(&c);
  if (st != SF_OK) return st;

  if (msg->value.type_name && strcmp(msg->value.type_name, SF_TYPENAME_CALL) == 0) {
    pb_call *call = sf_ent_unpack_call(c.arena, &msg->value);
    if (!call)
      return sf_context_fail(ctx, "%s: a malformed statefun.entities.Call", reg->desc->type_name);
    sf_ent_handle_call(&c, call);
  } else if (msg->value.type_name && strcmp(msg->value.type_name, SF_TYPENAME_REPLY) == 0) {
    pb_reply *reply = sf_ent_unpack_reply(c.arena, &msg->value);
    if (!reply)
      return sf_context_fail(ctx, "%s: a malformed statefun.entities.Reply", reg->desc->type_name);
    sf_ent_handle_reply(&c, reply);
  } else {
    return sf_context_fail(ctx, "%s is an entity: it takes %s and %s messages, not %s",
                           reg->desc->type_name, SF_TYPENAME_CALL, SF_TYPENAME_REPLY,
                           msg->value.type_name ? msg->value.type_name : "(none)");
  }
  if (c.failure != SF_OK) return c.failure;
  st = sf_ent_store_state(&c);
  if (st != SF_OK) return st;
  return sf_ent_store_book(&c);
}

/* ---- registration -------------------------------------------------------------------------- */

static void free_reg(void *p) {
  entity_reg *r = p;
  free(r->specs);
  free(r);
}

sf_status sf_entity_register(sf_handler *h, const sf_entity_desc *d) {
  if (!h || !d || !d->type_name || !d->load_state || !d->store_field || !d->encode_field ||
      !d->decode_field ||
      (!d->methods && d->n_methods) || (!d->field_specs && d->n_fields))
    return SF_ERR_INVALID_ARGUMENT;
  for (size_t i = 0; i < d->n_methods; i++) {
    const sf_method_desc *m = &d->methods[i];
    if (!m->name || !m->step || !m->decode_args || !m->encode_result || !m->encode_frame ||
        !m->decode_frame || !m->decode_await_result || m->frame_size < sizeof(sf_frame_hdr))
      return SF_ERR_INVALID_ARGUMENT;
    for (size_t k = 0; k < i; k++)
      if (strcmp(d->methods[k].name, m->name) == 0) return SF_ERR_DUPLICATE;
  }
  sf_ent_trace_env(); /* SF_TRACE_OUT, docs/tracing.md */
  entity_reg *r = calloc(1, sizeof(*r));
  if (!r) return SF_ERR_NOMEM;
  r->desc = d;
  r->state_type.type_name = SF_TYPENAME_ENTITY_STATE;
  r->state_type.kind = SF_KIND_RAW;
  r->state_spec.name = "__entity";
  r->state_spec.type = &r->state_type;
  r->specs = malloc((d->n_fields + 1) * sizeof(*r->specs));
  if (!r->specs) {
    free(r);
    return SF_ERR_NOMEM;
  }
  for (size_t i = 0; i < d->n_fields; i++) r->specs[i] = d->field_specs[i];
  r->specs[d->n_fields] = &r->state_spec;
  /* Owned first: from here on the handler frees it, registered or not. */
  sf_status st = sf_handler_own(h, r, free_reg);
  if (st != SF_OK) {
    free_reg(r);
    return st;
  }
  return sf_handler_register(h, d->type_name, entity_fn, r, r->specs, d->n_fields + 1);
}
