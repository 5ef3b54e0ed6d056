/*
 * entity_book.c - an entity's bookkeeping and its isolation. The
 * bookkeeping (value spec __entity, a statefun.entities.State) holds the
 * call chain that holds the entity, the frames of suspended instances and
 * the queue of calls waiting for the entity; StateFun persists it with the
 * fields, exactly-once. While one chain holds the entity, a call of
 * another chain waits in the queue (unless its method is reentrant); when
 * the chain has no suspended instance left, the entity is released and
 * the queued calls start in order (docs/entities.md).
 */
#include <string.h>

#include "entity_internal.h"

sf_status sf_ent_load_book(sf_entity_ctx *c) {
  sf_value v;
  sf_status st = sf_state_get(c->ctx, &c->reg->state_spec, &v);
  c->active_chain = "";
  c->book_loaded.has_value = false;
  if (st == SF_ERR_NO_VALUE) return SF_OK;
  if (st != SF_OK) return st;
  c->book_loaded = v;
  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(c->arena, &alloc);
  pb_state *s = (pb_state *)protobuf_c_message_unpack(
      &statefun__entities__state__descriptor, &alloc, v.len, v.data ? v.data : (const uint8_t *)"");
  if (!s) {
    sf_context_fail(c->ctx, "%s/%s: its entity bookkeeping (__entity) is not a valid "
                    "statefun.entities.State", c->reg->desc->type_name, c->key.ptr);
    return SF_ERR_VALUE_DECODE;
  }
  c->active_chain = s->active_chain;
  c->frames = s->frames;
  c->n_frames = c->cap_frames = s->n_frames;
  c->queue = s->queue;
  c->n_queue = c->cap_queue = s->n_queue;
  c->next_call = s->next_call;
  return SF_OK;
}

/* Writes the bookkeeping back only when it differs from what arrived, so a
 * call to an idle entity that leaves it idle costs no state mutation. */
sf_status sf_ent_store_book(sf_entity_ctx *c) {
  if (!c->book_dirty) return SF_OK;
  if (!c->active_chain[0] && !c->n_frames && !c->n_queue && !c->next_call) /* never used */
    return c->book_loaded.has_value ? sf_state_clear(c->ctx, &c->reg->state_spec) : SF_OK;
  pb_state s = STATEFUN__ENTITIES__STATE__INIT;
  s.active_chain = c->active_chain;
  s.frames = c->frames;
  s.n_frames = c->n_frames;
  s.queue = c->queue;
  s.n_queue = c->n_queue;
  s.next_call = c->next_call;
  size_t n = protobuf_c_message_get_packed_size(&s.base);
  uint8_t *buf = sf_arena_alloc(c->arena, n ? n : 1);
  if (!buf) return SF_ERR_NOMEM;
  protobuf_c_message_pack(&s.base, buf);
  if (c->book_loaded.has_value && c->book_loaded.len == n &&
      (n == 0 || memcmp(c->book_loaded.data, buf, n) == 0))
    return SF_OK;
  sf_value v = {SF_TYPENAME_ENTITY_STATE, true, buf, n};
  return sf_state_set(c->ctx, &c->reg->state_spec, v);
}

bool sf_ent_resolve_chain(sf_entity_ctx *c, pb_call *call) {
  if (call->chain[0]) return true;
  /* A root call: its own chain. A call without an id gets a fresh one,
   * so two anonymous callers never count as one chain. */
  const sf_entity_desc *d = c->reg->desc;
  call->chain = call->call_id[0]
                    ? call->call_id
                    : sf_context_printf(c->ctx, NULL, "%s/%s#anon%llu", d->type_name, c->key.ptr,
                                        (unsigned long long)++c->next_call);
  if (!call->chain) {
    c->failure = SF_ERR_NOMEM;
    return false;
  }
  c->book_dirty = true;
  return true;
}

bool sf_ent_admit(sf_entity_ctx *c, const sf_method_desc *m, pb_call *call) {
  if (c->active_chain[0] && strcmp(c->active_chain, call->chain) != 0 && !m->reentrant) {
    /* Isolation: another chain holds the entity; wait in the queue. */
    if (push_ptr(c->arena, (void ***)&c->queue, &c->n_queue, &c->cap_queue, call) != SF_OK)
      c->failure = SF_ERR_NOMEM;
    c->book_dirty = true;
    return false;
  }
  if (!c->active_chain[0] && !m->reentrant) {
    c->active_chain = call->chain;
    c->book_dirty = true;
  }
  return true;
}

static void pump_queue(sf_entity_ctx *c) {
  if (++c->depth > 64) { /* each round starts at most one holder; bound recursion */
    c->depth--;
    return;
  }
  while (!c->active_chain[0] && c->n_queue && c->failure == SF_OK) {
    pb_call *next = c->queue[0];
    memmove(c->queue, c->queue + 1, (c->n_queue - 1) * sizeof(*c->queue));
    c->n_queue--;
    c->book_dirty = true;
    sf_ent_handle_call(c, next);
  }
  c->depth--;
}

/* The chain holding the entity is done when none of its instances is
 * suspended: the entity becomes idle and the next queued call starts. */
void sf_ent_maybe_release(sf_entity_ctx *c) {
  if (!c->active_chain[0]) return;
  for (size_t i = 0; i < c->n_frames; i++)
    if (c->frames[i]->call && strcmp(c->frames[i]->call->chain, c->active_chain) == 0) return;
  c->active_chain = "";
  c->book_dirty = true;
  pump_queue(c);
}
