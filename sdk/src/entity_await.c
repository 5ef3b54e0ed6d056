/*
 * entity_await.c - the calls a step makes and what happens when it
 * awaits them. sf_entity_call records a call that SF_AWAIT, SF_CALL or
 * SF_CALL_AT let through; when the step returns, sf_ent_call_misuse names
 * what it did wrong (a call outside those macros, a second call in one
 * await, two calls at one label that is not fan_out), and a step that
 * awaits is suspended: its Calls go out and its frame (the encoded
 * locals, the pre-images, the held output, and the call or calls it waits
 * for) goes into the bookkeeping. One call awaited by SF_AWAIT is the
 * plain case; anything else is a parallel await. Resuming is
 * entity_resume.c.
 */
#include <string.h>

#include "entity_internal.h"

/* ---- labels ---- */

static const char *label_name(const sf_method_desc *m, uint32_t case_value) {
  for (size_t i = 0; i < m->n_labels; i++)
    if (m->labels[i].case_value == case_value) return m->labels[i].name;
  return NULL;
}

const sf_label_desc *sf_ent_label_desc(const sf_method_desc *m, uint32_t case_value) {
  for (size_t i = 0; i < m->n_labels; i++)
    if (m->labels[i].case_value == case_value) return &m->labels[i];
  return NULL;
}

/* The case value of a label by name in this build; 0 when it has none. */
uint32_t sf_ent_case_of(const sf_method_desc *m, const char *name) {
  for (size_t k = 0; m && k < m->n_labels; k++)
    if (strcmp(m->labels[k].name, name) == 0) return m->labels[k].case_value;
  return 0;
}

/* ---- the calls of a step ---- */

sf_status sf_entity_call(sf_entity_ctx *c, const char *entity_type, sf_str key,
                         const char *method, const uint8_t *args, size_t args_len) {
  if (!c || !entity_type || !method || (!args && args_len)) return SF_ERR_INVALID_ARGUMENT;
  if (!c->frame || !c->frame->call_allowed) {
    /* Not let through by SF_AWAIT/SF_CALL (a second call in one, or a
     * call outside them): sf_ent_call_misuse fails the method,
     * naming it. */
    if (!c->extra_method) {
      c->extra_entity = entity_type;
      c->extra_method = method;
      c->extra_second = c->n_calls > 0;
    }
    return SF_ERR_INVALID_ARGUMENT;
  }
  c->frame->call_allowed = false;
  if (sf_typename_validate(entity_type) != SF_OK) return SF_ERR_BAD_TYPENAME;
  if (key.len == 0) return SF_ERR_INVALID_ARGUMENT;
  pending_call *p = sf_arena_push(c->arena, (void **)&c->calls, &c->n_calls, &c->cap_calls,
                                  sizeof(*p));
  if (!p) return SF_ERR_NOMEM;
  p->key = sf_arena_strndup(c->arena, key.ptr, key.len);
  if (!p->key) {
    c->n_calls--;
    return SF_ERR_NOMEM;
  }
  p->entity_type = entity_type;
  p->method = method;
  p->args = args;
  p->args_len = args_len;
  p->label = c->frame->call_label;
  p->index = c->frame->call_index;
  return SF_OK;
}

size_t sf_entity_calls_made(sf_entity_ctx *c) {
  if (!c) return 0;
  if (!c->n_calls) c->n_join = 0; /* a join without calls: no errors to ask for */
  return c->n_calls;
}

/* ---- suspension ---- */

/* A parallel await: one PendingCall per call made. */
static sf_status add_pending(sf_entity_ctx *c, const sf_method_desc *m, pb_frame *f,
                             const pending_call *p, char *call_id) {
  pb_pending *pd = sf_arena_alloc(c->arena, sizeof(*pd));
  if (!pd) return SF_ERR_NOMEM;
  statefun__entities__pending_call__init(pd);
  pd->call_id = call_id;
  pd->label = (char *)sf_ent_label_desc(m, p->label)->name;
  pd->index = p->index;
  size_t cap = f->n_calls;
  return push_ptr(c->arena, (void ***)&f->calls, &f->n_calls, &cap, pd);
}

/* Suspends an instance at its await: the outgoing Calls, and the frame
 * with its pre-images and held output in the bookkeeping. One call awaited
 * by SF_AWAIT is the plain case (`awaiting`); anything else is a parallel
 * await (`calls`). */
void sf_ent_suspend(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                    const pb_frame *prev) {
  const sf_frame_hdr *hdr = frame;
  pb_frame *f = sf_arena_alloc(c->arena, sizeof(*f));
  sf_wbuf w;
  sf_wbuf_init(&w, c->arena);
  m->encode_frame(&w, frame);
  if (!f || w.failed) {
    c->failure = SF_ERR_NOMEM;
    return;
  }
  statefun__entities__frame__init(f);
  f->method = (char *)m->name;
  f->label = (char *)label_name(m, hdr->label);
  f->layout_hash = m->layout_hash;
  f->frame.data = w.data;
  f->frame.len = w.len;
  f->call = call;
  sf_status st = sf_ent_keep_images(c, f, prev);
  if (st == SF_OK) st = sf_ent_hold_output(c, f);
  bool single = c->n_calls == 1 && c->calls[0].label == hdr->label &&
                !sf_ent_label_desc(m, hdr->label)->fan_out;
  for (size_t i = 0; st == SF_OK && i < c->n_calls; i++) {
    char *id = sf_ent_send_call(c, &c->calls[i], call);
    if (!id) return;
    if (single) f->awaiting = id;
    else st = add_pending(c, m, f, &c->calls[i], id);
  }
  if (st == SF_OK) st = push_ptr(c->arena, (void ***)&c->frames, &c->n_frames, &c->cap_frames, f);
  if (st != SF_OK) c->failure = st;
  c->book_dirty = true;
}

/* What a step did wrong with its calls, if anything: a call no method
 * macro let through, calls it did not await, two calls at one label that
 * is not fan_out. NULL when the step is fine. */
const char *sf_ent_call_misuse(sf_entity_ctx *c, const sf_method_desc *m, sf_step s,
                               const sf_frame_hdr *hdr) {
  const char *E = c->reg->desc->type_name;
  const sf_label_desc *at = sf_ent_label_desc(m, hdr->call_label);
  if (c->extra_method && c->extra_second)
    return sf_context_printf(c->ctx, NULL, "%s.%s made a second call (%s.%s) in one step at "
                             "await '%s': each SF_AWAIT makes exactly one call",
                             E, m->name, c->extra_entity, c->extra_method, at ? at->name : "?");
  if (c->extra_method || (s != SF_STEP_AWAIT && c->n_calls))
    return sf_context_printf(c->ctx, NULL, "%s.%s called %s.%s without awaiting it: a typed "
                             "call only runs inside SF_AWAIT, SF_AWAIT_CATCH or SF_CALL "
                             "(then SF_AWAIT_CALLS)", E, m->name,
                             c->extra_method ? c->extra_entity : c->calls[0].entity_type,
                             c->extra_method ? c->extra_method : c->calls[0].method);
  if (s != SF_STEP_AWAIT) return NULL;
  if (!c->n_calls)
    return sf_context_printf(c->ctx, NULL, "%s.%s awaited without making a call", E, m->name);
  if (!sf_ent_label_desc(m, hdr->label))
    return sf_context_printf(c->ctx, NULL, "%s.%s awaited at an unknown label", E, m->name);
  if (m->read_only)
    return sf_context_printf(c->ctx, NULL, "%s.%s is read_only and may not await", E, m->name);
  for (size_t i = 0; i < c->n_calls; i++) {
    const sf_label_desc *l = sf_ent_label_desc(m, c->calls[i].label);
    if (!l)
      return sf_context_printf(c->ctx, NULL, "%s.%s called at an unknown label", E, m->name);
    if (!l->fan_out && c->calls[i].index)
      return sf_context_printf(c->ctx, NULL, "%s.%s: SF_CALL_AT at await '%s', which is not "
                               "fan_out in the IR", E, m->name, l->name);
    for (size_t k = 0; k < i; k++)
      if (c->calls[k].label == c->calls[i].label && c->calls[k].index == c->calls[i].index)
        return sf_context_printf(c->ctx, NULL, "%s.%s made two calls at await '%s'%s in one "
                                 "parallel await%s", E, m->name, l->name,
                                 l->fan_out ? " with the same index" : "",
                                 l->fan_out ? "" : " (declare it fan_out for several)");
  }
  return NULL;
}
