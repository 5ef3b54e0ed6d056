/*
 * entity_atomic.c - atomic methods (docs/entities.md, "Failures and
 * state"): a method that fails leaves the state and the output as they
 * were before it started, even across awaits. The undo log is per field:
 * the step's first use of the state snapshots every field's encoding, and
 * its end compares each field's encoding with it (the fields it changed);
 * a suspending step keeps the pre-image of each field it changed first in
 * its frame, a failing one puts the snapshot and the frame's pre-images
 * back. Output (messages, delayed messages, egresses) is held in the frame
 * until the method returns. The same pre-images give read_only methods
 * the last committed state. Also here: loading the state on first use,
 * and writing back only the fields a method changed.
 */
#include <string.h>

#include "entity_internal.h"

/* ---- the undo log: snapshot and pre-images ---- */

/* State field i's encoding as a message {1: value}, in the arena. */
static sf_bytes encode_field(sf_entity_ctx *c, const void *state, size_t i) {
  sf_wbuf w;
  sf_wbuf_init(&w, c->arena);
  c->reg->desc->encode_field(&w, i, state);
  if (w.failed) c->failure = SF_ERR_NOMEM;
  sf_bytes b = {w.data, w.len};
  return b;
}

static bool same_bytes(const uint8_t *a, size_t an, const uint8_t *b, size_t bn) {
  return an == bn && (an == 0 || memcmp(a, b, an) == 0);
}

/* Every field's encoding before the step changes anything: taken when the
 * step first asks for the state, so a step that never touches it pays
 * nothing. */
static void take_snapshot(sf_entity_ctx *c) {
  size_t n = c->reg->desc->n_fields;
  c->snap = sf_arena_alloc(c->arena, (n ? n : 1) * sizeof(*c->snap));
  if (!c->snap) {
    c->failure = SF_ERR_NOMEM;
    return;
  }
  for (size_t i = 0; i < n; i++) c->snap[i] = encode_field(c, c->state, i);
}

/* The index of a state field by name; SIZE_MAX when this build has none. */
static size_t field_index(const sf_entity_desc *d, const char *name) {
  for (size_t i = 0; i < d->n_fields; i++)
    if (strcmp(d->field_specs[i]->name, name) == 0) return i;
  return SIZE_MAX;
}

/* Decodes a field's image into `state`. An image of a field this build no
 * longer has is skipped: there is nothing left to restore. */
static void apply_image(sf_entity_ctx *c, void *state, size_t i, const uint8_t *p, size_t n) {
  if (i == SIZE_MAX) return;
  sf_rbuf r;
  sf_rbuf_init(&r, p, n);
  if (c->reg->desc->decode_field(c->arena, i, &r, state) != SF_OK && c->failure == SF_OK) {
    c->failure = SF_ERR_VALUE_DECODE;
    sf_context_fail(c->ctx, "%s/%s: a pre-image of state field '%s' does not decode",
                    c->reg->desc->type_name, c->key.ptr, c->reg->desc->field_specs[i]->name);
  }
}

/* Field i will be written back at the end of the invocation. */
static void mark_dirty(sf_entity_ctx *c, size_t i) {
  size_t n = c->reg->desc->n_fields;
  if (!c->dirty) {
    c->dirty = sf_arena_alloc(c->arena, n ? n : 1);
    if (!c->dirty) {
      c->failure = SF_ERR_NOMEM;
      return;
    }
    memset(c->dirty, 0, n);
  }
  c->dirty[i] = true;
}

void sf_ent_note_changes(sf_entity_ctx *c) {
  c->changed = NULL;
  if (!c->snap || c->failure != SF_OK) return;
  size_t n = c->reg->desc->n_fields;
  c->changed = sf_arena_alloc(c->arena, n ? n : 1);
  if (!c->changed) {
    c->failure = SF_ERR_NOMEM;
    return;
  }
  for (size_t i = 0; i < n; i++) {
    sf_bytes now = encode_field(c, c->state, i);
    c->changed[i] = !same_bytes(now.ptr, now.len, c->snap[i].ptr, c->snap[i].len);
  }
}

void sf_ent_keep_changes(sf_entity_ctx *c) {
  for (size_t i = 0; c->changed && i < c->reg->desc->n_fields; i++)
    if (c->changed[i]) mark_dirty(c, i);
}

/* A failed method: every field it changed gets back the value it had
 * before the method started (this step's changes from the snapshot, the
 * earlier steps' from the frame's pre-images, which are older). The
 * snapshot restores the step's own starting point, so only the
 * pre-images make a field differ from what this invocation began with. */
void sf_ent_restore_state(sf_entity_ctx *c, const pb_frame *prev) {
  if (!c->changed && (!prev || !prev->n_pre_images)) return;
  c->snapping = false;
  void *state = sf_entity_state(c);
  if (!state) return;
  for (size_t i = 0; c->changed && i < c->reg->desc->n_fields; i++)
    if (c->changed[i]) apply_image(c, state, i, c->snap[i].ptr, c->snap[i].len);
  for (size_t k = 0; prev && k < prev->n_pre_images; k++) {
    size_t i = field_index(c->reg->desc, prev->pre_images[k]->field);
    apply_image(c, state, i, prev->pre_images[k]->value.data, prev->pre_images[k]->value.len);
    if (i != SIZE_MAX) mark_dirty(c, i);
  }
}

sf_status sf_ent_store_state(sf_entity_ctx *c) {
  if (!c->dirty || !c->state) return SF_OK;
  for (size_t i = 0; i < c->reg->desc->n_fields; i++) {
    if (!c->dirty[i]) continue;
    sf_status st = c->reg->desc->store_field(c->ctx, i, c->state);
    if (st != SF_OK) return st;
  }
  return SF_OK;
}

static bool has_image(const pb_frame *f, const char *field) {
  for (size_t k = 0; k < f->n_pre_images; k++)
    if (strcmp(f->pre_images[k]->field, field) == 0) return true;
  return false;
}

/* A suspending method: the frame keeps the earlier steps' pre-images and
 * adds one for each field this step changed first. */
sf_status sf_ent_keep_images(sf_entity_ctx *c, pb_frame *f, const pb_frame *prev) {
  size_t cap = 0;
  for (size_t k = 0; prev && k < prev->n_pre_images; k++)
    if (push_ptr(c->arena, (void ***)&f->pre_images, &f->n_pre_images, &cap,
                 prev->pre_images[k]) != SF_OK)
      return SF_ERR_NOMEM;
  for (size_t i = 0; c->changed && i < c->reg->desc->n_fields; i++) {
    const char *name = c->reg->desc->field_specs[i]->name;
    if (!c->changed[i] || has_image(f, name)) continue;
    pb_image *img = sf_arena_alloc(c->arena, sizeof(*img));
    if (!img) return SF_ERR_NOMEM;
    statefun__entities__field_image__init(img);
    img->field = (char *)name;
    img->value.data = (uint8_t *)c->snap[i].ptr;
    img->value.len = c->snap[i].len;
    img->seq = c->next_call;
    if (push_ptr(c->arena, (void ***)&f->pre_images, &f->n_pre_images, &cap, img) != SF_OK)
      return SF_ERR_NOMEM;
  }
  return SF_OK;
}

/* ---- held output ---- */

/* The context's three output lists, in the order of `marks`. */
static sf_ptr_vec *out_vec(sf_entity_ctx *c, int k) {
  return k == 0 ? &c->ctx->messages : k == 1 ? &c->ctx->delayed : &c->ctx->egresses;
}

static const ProtobufCMessageDescriptor *out_desc(int k) {
  return k == 0   ? &io__statefun__sdk__reqreply__from_function__invocation__descriptor
         : k == 1 ? &io__statefun__sdk__reqreply__from_function__delayed_invocation__descriptor
                  : &io__statefun__sdk__reqreply__from_function__egress_message__descriptor;
}

/* A resumed method's earlier output goes back into the context (it is
 * released if this step returns), after marking where its output starts. */
void sf_ent_begin_output(sf_entity_ctx *c, const pb_frame *prev) {
  for (int k = 0; k < 3; k++) c->marks[k] = out_vec(c, k)->n;
  if (!prev) return;
  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(c->arena, &alloc);
  ProtobufCBinaryData *held[3] = {prev->held_messages, prev->held_delayed, prev->held_egresses};
  size_t n_held[3] = {prev->n_held_messages, prev->n_held_delayed, prev->n_held_egresses};
  for (int k = 0; k < 3; k++)
    for (size_t i = 0; i < n_held[k]; i++) {
      ProtobufCMessage *msg =
          protobuf_c_message_unpack(out_desc(k), &alloc, held[k][i].len, held[k][i].data);
      if (!msg || sf_ptr_vec_push(c->arena, out_vec(c, k), msg) != SF_OK) {
        c->failure = msg ? SF_ERR_NOMEM : SF_ERR_VALUE_DECODE;
        return;
      }
    }
}

/* A failed method's output is dropped. */
void sf_ent_drop_output(sf_entity_ctx *c) {
  for (int k = 0; k < 3; k++) out_vec(c, k)->n = c->marks[k];
}

/* A suspending method's output moves into its frame, held until it
 * returns. */
sf_status sf_ent_hold_output(sf_entity_ctx *c, pb_frame *f) {
  ProtobufCBinaryData **held[3] = {&f->held_messages, &f->held_delayed, &f->held_egresses};
  size_t *n_held[3] = {&f->n_held_messages, &f->n_held_delayed, &f->n_held_egresses};
  for (int k = 0; k < 3; k++) {
    sf_ptr_vec *v = out_vec(c, k);
    size_t n = v->n - c->marks[k];
    if (!n) continue;
    *held[k] = sf_arena_alloc(c->arena, n * sizeof(**held[k]));
    if (!*held[k]) return SF_ERR_NOMEM;
    for (size_t i = 0; i < n; i++) {
      const ProtobufCMessage *msg = v->items[c->marks[k] + i];
      size_t len = protobuf_c_message_get_packed_size(msg);
      uint8_t *buf = sf_arena_alloc(c->arena, len ? len : 1);
      if (!buf) return SF_ERR_NOMEM;
      protobuf_c_message_pack(msg, buf);
      (*held[k])[i].data = buf;
      (*held[k])[i].len = len;
    }
    *n_held[k] = n;
    v->n = c->marks[k];
  }
  return SF_OK;
}

/* ---- the state, loaded on first use ---- */

void *sf_entity_state(sf_entity_ctx *c) {
  if (!c->state_loaded) {
    c->state_loaded = true;
    c->state = sf_arena_alloc(c->arena, c->reg->desc->state_size ? c->reg->desc->state_size : 1);
    if (c->state) {
      memset(c->state, 0, c->reg->desc->state_size);
      c->state_status = c->reg->desc->load_state(c->ctx, c->state);
    } else {
      c->state_status = SF_ERR_NOMEM;
    }
    if (c->state_status != SF_OK && c->failure == SF_OK) {
      c->failure = c->state_status;
      sf_context_fail(c->ctx, "%s: cannot load its state: %s", c->reg->desc->type_name,
                      sf_strerror(c->state_status));
    }
  }
  if (c->snapping && !c->snap && c->state && c->state_status == SF_OK) take_snapshot(c);
  return c->state;
}

/* ---- the committed view ---- */

/* A read_only method's state: a copy of the state with every suspended
 * instance's oldest pre-image put back. Its writes go to the copy and are
 * dropped. */
void *sf_ent_committed_view(sf_entity_ctx *c, const void *state) {
  size_t size = c->reg->desc->state_size ? c->reg->desc->state_size : 1;
  void *view = sf_arena_alloc(c->arena, size);
  if (!view) {
    c->failure = SF_ERR_NOMEM;
    return NULL;
  }
  memcpy(view, state, size);
  for (size_t i = 0; i < c->reg->desc->n_fields; i++) {
    const pb_image *oldest = NULL;
    for (size_t k = 0; k < c->n_frames; k++)
      for (size_t j = 0; j < c->frames[k]->n_pre_images; j++) {
        const pb_image *img = c->frames[k]->pre_images[j];
        if (strcmp(img->field, c->reg->desc->field_specs[i]->name) == 0 &&
            (!oldest || img->seq < oldest->seq))
          oldest = img;
      }
    if (oldest) apply_image(c, view, i, oldest->value.data, oldest->value.len);
  }
  return view;
}
