/*
 * entity_resume.c - a Reply resumes the suspended instance that waits for
 * it. The instance's frame is found by call id (the call of a plain
 * await, or one PendingCall of a parallel await), checked against this
 * build (the method, its frame layout and its labels still exist) and
 * decoded; the result goes into the frame. In a parallel await each
 * answer is kept in the frame until the last one arrives, then the
 * instance resumes with the calls' errors for SF_ERROR_AT. An instance
 * that cannot resume fails: its pre-images go back, its held output is
 * dropped and its caller gets the reason.
 */
#include <stdio.h>
#include <string.h>

#include "entity_internal.h"

/* The frame waiting for `call_id` (*pd: its PendingCall, for a parallel
 * await); the frame's index, or n_frames when none waits for it. */
static size_t find_waiting(sf_entity_ctx *c, const char *call_id, pb_pending **pd) {
  *pd = NULL;
  for (size_t i = 0; i < c->n_frames; i++) {
    pb_frame *f = c->frames[i];
    if (f->awaiting[0] && strcmp(f->awaiting, call_id) == 0) return i;
    for (size_t k = 0; k < f->n_calls; k++)
      if (!f->calls[k]->answered && strcmp(f->calls[k]->call_id, call_id) == 0) {
        *pd = f->calls[k];
        return i;
      }
  }
  return c->n_frames;
}

/* Why a suspended frame cannot resume in this build (NULL: it can); on
 * success *frame is the decoded frame. */
static const char *cannot_resume(sf_entity_ctx *c, const sf_method_desc *m, const pb_frame *f,
                                 void **frame) {
  const sf_entity_desc *d = c->reg->desc;
  if (!m)
    return sf_context_printf(c->ctx, NULL, "%s.%s no longer exists in this build; its "
                             "suspended instance cannot resume", d->type_name, f->method);
  if (f->layout_hash != m->layout_hash)
    return sf_context_printf(c->ctx, NULL, "the frame of %s.%s was persisted by an "
                             "incompatible build (layout %016llx, this build %016llx)",
                             d->type_name, m->name, (unsigned long long)f->layout_hash,
                             (unsigned long long)m->layout_hash);
  if (!sf_ent_case_of(m, f->label))
    return sf_context_printf(c->ctx, NULL, "%s.%s has no await label '%s' in this build",
                             d->type_name, m->name, f->label);
  for (size_t k = 0; k < f->n_calls; k++)
    if (!sf_ent_case_of(m, f->calls[k]->label))
      return sf_context_printf(c->ctx, NULL, "%s.%s has no await label '%s' in this build",
                               d->type_name, m->name, f->calls[k]->label);
  *frame = sf_arena_alloc(c->arena, m->frame_size);
  if (!*frame) {
    c->failure = SF_ERR_NOMEM;
    return "out of memory";
  }
  memset(*frame, 0, m->frame_size);
  sf_rbuf r;
  sf_rbuf_init(&r, f->frame.data, f->frame.len);
  if (m->decode_frame(c->arena, &r, *frame) != SF_OK)
    return sf_context_printf(c->ctx, NULL, "the frame of %s.%s does not decode", d->type_name,
                             m->name);
  return NULL;
}

/* A reply's result into the frame at (label, index); its error, or NULL. */
static const char *take_result(sf_entity_ctx *c, const sf_method_desc *m, void *frame,
                               const char *label, uint32_t index, const pb_reply *reply) {
  if (!reply->ok) return reply->error[0] ? reply->error : "the called method failed";
  uint32_t cv = sf_ent_case_of(m, label);
  const sf_label_desc *l = sf_ent_label_desc(m, cv);
  sf_rbuf r;
  sf_rbuf_init(&r, reply->result.data, reply->result.len);
  sf_status st = l && l->fan_out
                     ? (m->decode_await_item ? m->decode_await_item(c->arena, cv, index, &r, frame)
                                             : SF_ERR_INVALID_ARGUMENT)
                     : m->decode_await_result(c->arena, cv, &r, frame);
  if (st == SF_OK) return NULL;
  const char *why = sf_context_printf(c->ctx, NULL, "the result at '%s' does not decode", label);
  return why ? why : "a result does not decode";
}

/* One answer of a parallel await. Until the last, it is kept (the result
 * in the frame, the error in its PendingCall) and the instance stays
 * suspended; returns true when every call has answered. */
static bool take_parallel(sf_entity_ctx *c, const sf_method_desc *m, pb_frame *f,
                          void *frame, pb_pending *pd, const pb_reply *reply) {
  const char *err = take_result(c, m, frame, pd->label, pd->index, reply);
  pd->answered = true;
  pd->failed = err != NULL;
  pd->error = (char *)(err ? err : "");
  c->book_dirty = true;
  for (size_t k = 0; k < f->n_calls; k++)
    if (!f->calls[k]->answered) {
      sf_wbuf w;
      sf_wbuf_init(&w, c->arena);
      m->encode_frame(&w, frame);
      if (w.failed) c->failure = SF_ERR_NOMEM;
      f->frame.data = w.data;
      f->frame.len = w.len;
      return false;
    }
  return true;
}

/* The errors of a finished parallel await, for SF_ERROR_AT; the first
 * one (in call order) becomes F->hdr.error. */
static const char *join_errors(sf_entity_ctx *c, const sf_method_desc *m, const pb_frame *f) {
  const char *first = NULL;
  c->n_join = 0;
  c->join = sf_arena_alloc(c->arena, (f->n_calls ? f->n_calls : 1) * sizeof(*c->join));
  if (!c->join) {
    c->failure = SF_ERR_NOMEM;
    return "out of memory";
  }
  for (size_t k = 0; k < f->n_calls; k++) {
    if (!f->calls[k]->failed) continue;
    join_error *j = &c->join[c->n_join++];
    j->label = sf_ent_case_of(m, f->calls[k]->label);
    j->index = f->calls[k]->index;
    j->error = f->calls[k]->error;
    if (!first) first = j->error;
  }
  return first;
}

/* A plain await's reply into the frame at its label. Its error is kept
 * for SF_ERROR_AT too, which works after a plain await as after a
 * parallel one. False when out of memory. */
static bool take_single(sf_entity_ctx *c, const sf_method_desc *m, sf_frame_hdr *hdr,
                        const pb_frame *f, const pb_reply *reply) {
  hdr->error = take_result(c, m, hdr, f->label, 0, reply);
  c->n_join = 0;
  if (!hdr->error) return true;
  c->join = sf_arena_alloc(c->arena, sizeof(*c->join));
  if (!c->join) {
    c->failure = SF_ERR_NOMEM;
    return false;
  }
  c->join[0] = (join_error){hdr->label, 0, hdr->error};
  c->n_join = 1;
  return true;
}

const char *sf_entity_error_at(const sf_entity_ctx *c, uint32_t case_value, size_t index) {
  for (size_t i = 0; c && i < c->n_join; i++)
    if (c->join[i].label == case_value && c->join[i].index == index) return c->join[i].error;
  return NULL;
}

void sf_ent_handle_reply(sf_entity_ctx *c, const pb_reply *reply) {
  const sf_entity_desc *d = c->reg->desc;
  pb_pending *pd;
  size_t i = find_waiting(c, reply->call_id, &pd);
  if (i == c->n_frames) {
    /* Nobody waits for it (a duplicate, or a reply to a call this entity
     * never made): nothing to resume, and nothing to retry. */
    fprintf(stderr, "statefun: %s/%s: ignoring a reply to unknown call '%s'\n", d->type_name,
            c->key.ptr, reply->call_id);
    return;
  }
  pb_frame *f = c->frames[i];
  pb_call *call = f->call;
  const sf_method_desc *m = sf_ent_find_method(d, f->method);
  void *frame = NULL;
  const char *why = cannot_resume(c, m, f, &frame);
  if (c->failure != SF_OK) return;
  if (!why && call && pd && !take_parallel(c, m, f, frame, pd, reply)) return;
  memmove(c->frames + i, c->frames + i + 1, (c->n_frames - i - 1) * sizeof(*c->frames));
  c->n_frames--;
  c->book_dirty = true;
  if (why || !call) {
    /* The instance fails without running: its pre-images go back and its
     * held output is dropped (never put into the context). */
    c->snap = NULL;
    c->changed = NULL;
    sf_ent_restore_state(c, f);
    if (call) sf_ent_fail_call(c, call, why ? why : "cannot resume");
    sf_ent_maybe_release(c);
    return;
  }
  sf_frame_hdr *hdr = frame;
  hdr->label = sf_ent_case_of(m, f->label);
  if (pd) hdr->error = join_errors(c, m, f);
  else if (!take_single(c, m, hdr, f, reply)) return;
  sf_ent_run(c, m, frame, call, f);
}
