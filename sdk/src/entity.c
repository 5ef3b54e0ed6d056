/*
 * entity.c - stateful entities on top of the plain SDK (docs/entities.md).
 *
 * An entity type is one StateFun function. Its messages are Call and Reply
 * envelopes. A Call starts a method instance (or waits in the entity's
 * queue while another call chain holds the entity); an instance runs its
 * generated step function until it returns, fails or awaits a call to
 * another entity. An awaiting instance's frame goes into the entity's own
 * state (value spec __entity) together with the queue, so StateFun
 * persists everything exactly-once; the Reply to its call resumes it.
 *
 * Also here: the protobuf wire writer/reader the generated record codecs
 * use. Everything allocates from the request arena.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "statefun/entity.h"

#include "entities.pb-c.h"
#include "internal.h"
#include "sfb/pbwire.h"

typedef Statefun__Entities__Call pb_call;
typedef Statefun__Entities__Reply pb_reply;
typedef Statefun__Entities__Frame pb_frame;
typedef Statefun__Entities__State pb_state;
typedef Statefun__Entities__FieldImage pb_image;
typedef Statefun__Entities__PendingCall pb_pending;

/* ---- strings ------------------------------------------------------------------- */

sf_str sf_str_of(const char *cstr) {
  sf_str s = {cstr ? cstr : "", cstr ? strlen(cstr) : 0};
  return s;
}

bool sf_str_eq(sf_str a, sf_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

/* ---- wire writer ------------------------------------------------------------------ */

void sf_wbuf_init(sf_wbuf *w, sf_arena *arena) {
  memset(w, 0, sizeof(*w));
  w->arena = arena;
}

static bool w_reserve(sf_wbuf *w, size_t n) {
  if (w->failed) return false;
  if (w->len + n <= w->cap) return true;
  size_t cap = w->cap ? w->cap * 2 : 64;
  while (cap < w->len + n) cap *= 2;
  uint8_t *p = sf_arena_alloc(w->arena, cap);
  if (!p) {
    w->failed = true;
    return false;
  }
  if (w->len) memcpy(p, w->data, w->len);
  w->data = p;
  w->cap = cap;
  return true;
}

static void w_raw(sf_wbuf *w, const void *p, size_t n) {
  if (n && w_reserve(w, n)) {
    memcpy(w->data + w->len, p, n);
    w->len += n;
  }
}

/* The wire encoding itself is sfbase's (sfb/pbwire.h); this writer only
 * adds arena growth and the proto3 "default is not written" rule. */
static void w_varint(sf_wbuf *w, uint64_t v) {
  uint8_t b[SFB_VARINT_MAX];
  w_raw(w, b, sfb_varint_put(b, v));
}

static void w_tag(sf_wbuf *w, uint32_t field, int wt) {
  uint8_t b[SFB_VARINT_MAX];
  w_raw(w, b, sfb_tag_put(b, field, (unsigned)wt));
}

void sf_w_uint64(sf_wbuf *w, uint32_t field, uint64_t v, bool always) {
  if (!v && !always) return;
  w_tag(w, field, SFB_WT_VARINT);
  w_varint(w, v);
}

void sf_w_bool(sf_wbuf *w, uint32_t field, bool v, bool always) {
  sf_w_uint64(w, field, v ? 1 : 0, always);
}

void sf_w_int32(sf_wbuf *w, uint32_t field, int32_t v, bool always) {
  sf_w_uint64(w, field, sfb_zigzag32(v), always);
}

void sf_w_int64(sf_wbuf *w, uint32_t field, int64_t v, bool always) {
  sf_w_uint64(w, field, sfb_zigzag64(v), always);
}

void sf_w_float(sf_wbuf *w, uint32_t field, float v, bool always) {
  uint32_t bits;
  memcpy(&bits, &v, 4);
  if (!bits && !always) return;
  uint8_t b[4];
  sfb_fixed32_put(b, bits);
  w_tag(w, field, SFB_WT_I32);
  w_raw(w, b, 4);
}

void sf_w_double(sf_wbuf *w, uint32_t field, double v, bool always) {
  uint64_t bits;
  memcpy(&bits, &v, 8);
  if (!bits && !always) return;
  uint8_t b[8];
  sfb_fixed64_put(b, bits);
  w_tag(w, field, SFB_WT_I64);
  w_raw(w, b, 8);
}

void sf_w_bytes(sf_wbuf *w, uint32_t field, const void *p, size_t n, bool always) {
  if (!n && !always) return;
  w_tag(w, field, SFB_WT_LEN);
  w_varint(w, n);
  w_raw(w, p, n);
}

void sf_w_str(sf_wbuf *w, uint32_t field, sf_str s, bool always) {
  sf_w_bytes(w, field, s.ptr, s.len, always);
}

/* A nested message: 5 bytes are reserved for its length, then compacted
 * to the varint's real size, so the output is canonical. */
size_t sf_w_begin(sf_wbuf *w, uint32_t field) {
  w_tag(w, field, SFB_WT_LEN);
  size_t mark = w->len;
  if (w_reserve(w, 5)) w->len += 5;
  return mark;
}

void sf_w_end(sf_wbuf *w, size_t mark) {
  if (w->failed) return;
  size_t body = w->len - (mark + 5);
  uint8_t b[SFB_VARINT_MAX];
  size_t n = sfb_varint_put(b, body);
  memmove(w->data + mark + n, w->data + mark + 5, body);
  memcpy(w->data + mark, b, n);
  w->len = mark + n + body;
}

/* ---- wire reader ------------------------------------------------------------------ */

/* sf_rbuf is the public face of an sfb_reader (the same two pointers);
 * these run one sfbase read and carry the position back. */
static sfb_reader reader_of(const sf_rbuf *r) {
  sfb_reader x = {r->p, r->end};
  return x;
}

static bool r_varint(sf_rbuf *r, uint64_t *out) {
  sfb_reader x = reader_of(r);
  bool ok = sfb_read_varint(&x, out);
  r->p = x.p;
  return ok;
}

void sf_rbuf_init(sf_rbuf *r, const uint8_t *p, size_t n) {
  r->p = p;
  r->end = p ? p + n : p;
}

int sf_r_next(sf_rbuf *r, uint32_t *field, int *wire_type) {
  sfb_reader x = reader_of(r);
  unsigned wt;
  int rc = sfb_read_tag(&x, field, &wt);
  r->p = x.p;
  if (rc == 1) *wire_type = (int)wt;
  return rc;
}

sf_status sf_r_uint64(sf_rbuf *r, int wt, uint64_t *out) {
  if (wt != SFB_WT_VARINT || !r_varint(r, out)) return SF_ERR_VALUE_DECODE;
  return SF_OK;
}

sf_status sf_r_bool(sf_rbuf *r, int wt, bool *out) {
  uint64_t v;
  sf_status st = sf_r_uint64(r, wt, &v);
  if (st == SF_OK) *out = v != 0;
  return st;
}

sf_status sf_r_int32(sf_rbuf *r, int wt, int32_t *out) {
  uint64_t v;
  sf_status st = sf_r_uint64(r, wt, &v);
  if (st == SF_OK) *out = sfb_unzigzag32((uint32_t)v);
  return st;
}

sf_status sf_r_int64(sf_rbuf *r, int wt, int64_t *out) {
  uint64_t v;
  sf_status st = sf_r_uint64(r, wt, &v);
  if (st == SF_OK) *out = sfb_unzigzag64(v);
  return st;
}

sf_status sf_r_float(sf_rbuf *r, int wt, float *out) {
  sfb_reader x = reader_of(r);
  uint32_t bits;
  if (wt != SFB_WT_I32 || !sfb_read_fixed32(&x, &bits)) return SF_ERR_VALUE_DECODE;
  r->p = x.p;
  memcpy(out, &bits, 4);
  return SF_OK;
}

sf_status sf_r_double(sf_rbuf *r, int wt, double *out) {
  sfb_reader x = reader_of(r);
  uint64_t bits;
  if (wt != SFB_WT_I64 || !sfb_read_fixed64(&x, &bits)) return SF_ERR_VALUE_DECODE;
  r->p = x.p;
  memcpy(out, &bits, 8);
  return SF_OK;
}

static sf_status r_len(sf_rbuf *r, int wt, const uint8_t **p, size_t *n) {
  sfb_reader x = reader_of(r);
  if (wt != SFB_WT_LEN || !sfb_read_len(&x, p, n)) return SF_ERR_VALUE_DECODE;
  r->p = x.p;
  return SF_OK;
}

sf_status sf_r_bytes(sf_rbuf *r, int wt, sf_arena *arena, sf_bytes *out) {
  const uint8_t *p;
  size_t n;
  sf_status st = r_len(r, wt, &p, &n);
  if (st != SF_OK) return st;
  uint8_t *copy = sf_arena_memdup(arena, p, n);
  if (!copy) return SF_ERR_NOMEM;
  out->ptr = copy;
  out->len = n;
  return SF_OK;
}

sf_status sf_r_str(sf_rbuf *r, int wt, sf_arena *arena, sf_str *out) {
  const uint8_t *p;
  size_t n;
  sf_status st = r_len(r, wt, &p, &n);
  if (st != SF_OK) return st;
  if (!sf_utf8_valid(p, n)) return SF_ERR_VALUE_DECODE;
  char *copy = sf_arena_strndup(arena, (const char *)p, n);
  if (!copy) return SF_ERR_NOMEM;
  out->ptr = copy;
  out->len = n;
  return SF_OK;
}

sf_status sf_r_message(sf_rbuf *r, int wt, sf_rbuf *sub) {
  const uint8_t *p;
  size_t n;
  sf_status st = r_len(r, wt, &p, &n);
  if (st == SF_OK) sf_rbuf_init(sub, p, n);
  return st;
}

sf_status sf_r_skip(sf_rbuf *r, int wt) {
  /* Records never use groups, so a group here is malformed input. The
   * field number does not matter for the other wire types. */
  if (wt == SFB_WT_SGROUP || wt == SFB_WT_EGROUP) return SF_ERR_VALUE_DECODE;
  sfb_reader x = reader_of(r);
  if (!sfb_skip_field(&x, 1, (unsigned)wt)) return SF_ERR_VALUE_DECODE;
  r->p = x.p;
  return SF_OK;
}

void *sf_arena_push(sf_arena *arena, void **items, size_t *len, size_t *cap,
                    size_t elem_size) {
  if (*len == *cap) {
    size_t ncap = *cap ? *cap * 2 : 4;
    if (ncap > SIZE_MAX / elem_size) return NULL;
    void *p = sf_arena_alloc(arena, ncap * elem_size);
    if (!p) return NULL;
    if (*len) memcpy(p, *items, *len * elem_size);
    *items = p;
    *cap = ncap;
  }
  void *slot = (uint8_t *)*items + *len * elem_size;
  memset(slot, 0, elem_size);
  (*len)++;
  return slot;
}

/* ---- the entity context ------------------------------------------------------------- */

/* What sf_entity_register keeps per entity type. */
typedef struct entity_reg {
  const sf_entity_desc *desc;
  sf_type state_type;            /* statefun.entities/State */
  sf_value_spec state_spec;      /* __entity */
  const sf_value_spec **specs;   /* fields + __entity */
} entity_reg;

/* A call the current step made (SF_AWAIT, SF_CALL, SF_CALL_AT). */
typedef struct pending_call {
  const char *entity_type;
  char *key;
  const char *method;
  const uint8_t *args;
  size_t args_len;
  uint32_t label; /* case value */
  uint32_t index;
} pending_call;

/* After a parallel await: one call's error, for sf_entity_error_at. */
typedef struct join_error {
  uint32_t label;
  uint32_t index;
  const char *error;
} join_error;

struct sf_entity_ctx {
  sf_context *ctx;
  const entity_reg *reg;
  sf_arena *arena;
  sf_str key;
  void *state; /* loaded on first use */
  bool state_loaded;
  sf_status state_status;
  /* bookkeeping, decoded from __entity */
  char *active_chain;
  pb_frame **frames;
  size_t n_frames, cap_frames;
  pb_call **queue;
  size_t n_queue, cap_queue;
  uint64_t next_call;
  bool book_dirty;
  sf_value book_loaded; /* the bookkeeping as it arrived (has_value false: none) */
  /* the running step: its frame, the calls it made, and the first call
   * no method macro let through (a misuse; fails the method clearly) */
  sf_frame_hdr *frame;
  pending_call *calls;
  size_t n_calls, cap_calls;
  const char *extra_entity, *extra_method;
  bool extra_second; /* it came after another call of the step */
  /* the errors of the parallel await the step resumed from */
  join_error *join;
  size_t n_join;
  /* Atomicity of the running step (docs/entities.md, "Failures and
   * state"): `snap` is every state field's encoding when the step first
   * used the state (taken only while `snapping`); `marks` the lengths of
   * the context's messages, delayed messages and egresses when the
   * method's output for this step began. */
  bool snapping;
  sf_bytes *snap;
  size_t marks[3];
  sf_status failure; /* a runtime failure that fails the invocation */
  int depth;         /* queue pumping recursion guard */
};

sf_context *sf_entity_context(sf_entity_ctx *c) { return c->ctx; }
sf_str sf_entity_key(const sf_entity_ctx *c) { return c->key; }
sf_arena *sf_entity_arena(sf_entity_ctx *c) { return c->arena; }

/* ---- atomic methods: pre-images and held output ------------------------------------ */

static sf_status push_ptr(sf_arena *a, void ***items, size_t *n, size_t *cap, void *item) {
  void **slot = sf_arena_push(a, (void **)items, n, cap, sizeof(void *));
  if (!slot) return SF_ERR_NOMEM;
  *slot = item;
  return SF_OK;
}

static void take_snapshot(sf_entity_ctx *c);

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

/* A failed method: every field it changed gets back the value it had
 * before the method started (this step's changes from the snapshot, the
 * earlier steps' from the frame's pre-images, which are older). */
static void restore_state(sf_entity_ctx *c, const pb_frame *prev) {
  if (!c->snap && (!prev || !prev->n_pre_images)) return;
  c->snapping = false;
  void *state = sf_entity_state(c);
  if (!state) return;
  for (size_t i = 0; c->snap && i < c->reg->desc->n_fields; i++)
    apply_image(c, state, i, c->snap[i].ptr, c->snap[i].len);
  for (size_t k = 0; prev && k < prev->n_pre_images; k++)
    apply_image(c, state, field_index(c->reg->desc, prev->pre_images[k]->field),
                prev->pre_images[k]->value.data, prev->pre_images[k]->value.len);
}

static bool has_image(const pb_frame *f, const char *field) {
  for (size_t k = 0; k < f->n_pre_images; k++)
    if (strcmp(f->pre_images[k]->field, field) == 0) return true;
  return false;
}

/* A suspending method: the frame keeps the earlier steps' pre-images and
 * adds one for each field this step changed first. */
static sf_status keep_images(sf_entity_ctx *c, pb_frame *f, const pb_frame *prev) {
  size_t cap = 0;
  for (size_t k = 0; prev && k < prev->n_pre_images; k++)
    if (push_ptr(c->arena, (void ***)&f->pre_images, &f->n_pre_images, &cap,
                 prev->pre_images[k]) != SF_OK)
      return SF_ERR_NOMEM;
  for (size_t i = 0; c->snap && i < c->reg->desc->n_fields; i++) {
    const char *name = c->reg->desc->field_specs[i]->name;
    sf_bytes now = encode_field(c, c->state, i);
    if (same_bytes(now.ptr, now.len, c->snap[i].ptr, c->snap[i].len) || has_image(f, name))
      continue;
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
static void begin_output(sf_entity_ctx *c, const pb_frame *prev) {
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
static void drop_output(sf_entity_ctx *c) {
  for (int k = 0; k < 3; k++) out_vec(c, k)->n = c->marks[k];
}

/* A suspending method's output moves into its frame, held until it
 * returns. */
static sf_status hold_output(sf_entity_ctx *c, pb_frame *f) {
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

sf_status sf_entity_call(sf_entity_ctx *c, const char *entity_type, sf_str key,
                         const char *method, const uint8_t *args, size_t args_len) {
  if (!c || !entity_type || !method || (!args && args_len)) return SF_ERR_INVALID_ARGUMENT;
  if (!c->frame || !c->frame->call_allowed) {
    /* Not let through by SF_AWAIT/SF_CALL (a second call in one, or a
     * call outside them): run() fails the method, naming it. */
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

const char *sf_entity_error_at(const sf_entity_ctx *c, uint32_t case_value, size_t index) {
  for (size_t i = 0; c && i < c->n_join; i++)
    if (c->join[i].label == case_value && c->join[i].index == index) return c->join[i].error;
  return NULL;
}

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

/* ---- bookkeeping ------------------------------------------------------------------------ */

static sf_status load_book(sf_entity_ctx *c) {
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
static sf_status store_book(sf_entity_ctx *c) {
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


/* ---- replies ----------------------------------------------------------------------------- */

static const sf_method_desc *find_method(const sf_entity_desc *d, const char *name) {
  for (size_t i = 0; i < d->n_methods; i++)
    if (strcmp(d->methods[i].name, name) == 0) return &d->methods[i];
  return NULL;
}

/* Sends the Reply to a Call: to the calling entity, to the egress of an
 * external call, or nowhere (a call nobody waits for). */
static sf_status send_reply(sf_entity_ctx *c, const pb_call *call, bool ok,
                            const uint8_t *result, size_t result_len, const char *error) {
  pb_reply r = STATEFUN__ENTITIES__REPLY__INIT;
  r.call_id = call->call_id;
  r.ok = ok;
  r.result.data = (uint8_t *)result;
  r.result.len = ok ? result_len : 0;
  r.error = (char *)(ok ? "" : (error ? error : "failed"));
  r.request_id = call->request_id;
  size_t n = protobuf_c_message_get_packed_size(&r.base);
  uint8_t *buf = sf_arena_alloc(c->arena, n ? n : 1);
  if (!buf) return SF_ERR_NOMEM;
  protobuf_c_message_pack(&r.base, buf);
  const Io__Statefun__Sdk__Reqreply__Address *to = call->reply_to;
  if (to && (to->namespace_[0] || to->type[0] || to->id[0])) {
    char *tn = sf_context_printf(c->ctx, NULL, "%s/%s", to->namespace_, to->type);
    if (!tn) return SF_ERR_NOMEM;
    sf_value v = {SF_TYPENAME_REPLY, true, buf, n};
    return sf_send(c->ctx, tn, to->id, v);
  }
  if (call->reply_egress[0]) {
    if (!call->reply_topic[0]) {
      /* A generic egress: the Reply as it is. */
      sf_value v = {SF_TYPENAME_REPLY, true, buf, n};
      return sf_egress(c->ctx, call->reply_egress, v);
    }
    return sf_egress_kafka(c->ctx, call->reply_egress, call->reply_topic, call->request_id,
                           buf, n);
  }
  return SF_OK;
}

/* ---- running methods ---------------------------------------------------------------------- */

static void pump_queue(sf_entity_ctx *c);
static void handle_call(sf_entity_ctx *c, pb_call *call);

/* The chain holding the entity is done when none of its instances is
 * suspended: the entity becomes idle and the next queued call starts. */
static void maybe_release(sf_entity_ctx *c) {
  if (!c->active_chain[0]) return;
  for (size_t i = 0; i < c->n_frames; i++)
    if (c->frames[i]->call && strcmp(c->frames[i]->call->chain, c->active_chain) == 0) return;
  c->active_chain = "";
  c->book_dirty = true;
  pump_queue(c);
}

static const char *label_name(const sf_method_desc *m, uint32_t case_value) {
  for (size_t i = 0; i < m->n_labels; i++)
    if (m->labels[i].case_value == case_value) return m->labels[i].name;
  return NULL;
}

static const sf_label_desc *label_desc(const sf_method_desc *m, uint32_t case_value) {
  for (size_t i = 0; i < m->n_labels; i++)
    if (m->labels[i].case_value == case_value) return &m->labels[i];
  return NULL;
}

/* Sends one call of the step as a Call envelope; its call id. */
static char *send_call(sf_entity_ctx *c, const pending_call *p, const pb_call *call) {
  pb_call out = STATEFUN__ENTITIES__CALL__INIT;
  Io__Statefun__Sdk__Reqreply__Address self = IO__STATEFUN__SDK__REQREPLY__ADDRESS__INIT;
  const sf_address *me = sf_self(c->ctx);
  self.namespace_ = (char *)me->namespace_;
  self.type = (char *)me->type;
  self.id = (char *)me->id;
  out.method = (char *)p->method;
  out.args.data = (uint8_t *)p->args;
  out.args.len = p->args_len;
  out.call_id = sf_context_printf(c->ctx, NULL, "%s/%s/%s#%llu", me->namespace_, me->type,
                                  me->id, (unsigned long long)++c->next_call);
  out.reply_to = &self;
  out.chain = call->chain;
  size_t n = protobuf_c_message_get_packed_size(&out.base);
  uint8_t *buf = sf_arena_alloc(c->arena, n ? n : 1);
  if (!out.call_id || !buf) {
    c->failure = SF_ERR_NOMEM;
    return NULL;
  }
  protobuf_c_message_pack(&out.base, buf);
  sf_value v = {SF_TYPENAME_CALL, true, buf, n};
  sf_status st = sf_send(c->ctx, p->entity_type, p->key, v);
  if (st != SF_OK) {
    c->failure = st;
    return NULL;
  }
  return out.call_id;
}

/* A parallel await: one PendingCall per call made. */
static sf_status add_pending(sf_entity_ctx *c, const sf_method_desc *m, pb_frame *f,
                             const pending_call *p, char *call_id) {
  pb_pending *pd = sf_arena_alloc(c->arena, sizeof(*pd));
  if (!pd) return SF_ERR_NOMEM;
  statefun__entities__pending_call__init(pd);
  pd->call_id = call_id;
  pd->label = (char *)label_desc(m, p->label)->name;
  pd->index = p->index;
  size_t cap = f->n_calls;
  return push_ptr(c->arena, (void ***)&f->calls, &f->n_calls, &cap, pd);
}

/* Suspends an instance at its await: the outgoing Calls, and the frame
 * with its pre-images and held output in the bookkeeping. One call awaited
 * by SF_AWAIT is the plain case (`awaiting`); anything else is a parallel
 * await (`calls`). */
static void suspend(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                    const pb_frame *prev, const char *label) {
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
  f->label = (char *)label;
  f->layout_hash = m->layout_hash;
  f->frame.data = w.data;
  f->frame.len = w.len;
  f->call = call;
  sf_status st = keep_images(c, f, prev);
  if (st == SF_OK) st = hold_output(c, f);
  const sf_frame_hdr *hdr = frame;
  bool single = c->n_calls == 1 && c->calls[0].label == hdr->label &&
                !label_desc(m, hdr->label)->fan_out;
  for (size_t i = 0; st == SF_OK && i < c->n_calls; i++) {
    char *id = send_call(c, &c->calls[i], call);
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
static const char *call_misuse(sf_entity_ctx *c, const sf_method_desc *m, sf_step s,
                               const sf_frame_hdr *hdr) {
  const char *E = c->reg->desc->type_name;
  const sf_label_desc *at = label_desc(m, hdr->call_label);
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
  if (!label_desc(m, hdr->label))
    return sf_context_printf(c->ctx, NULL, "%s.%s awaited at an unknown label", E, m->name);
  if (m->read_only)
    return sf_context_printf(c->ctx, NULL, "%s.%s is read_only and may not await", E, m->name);
  for (size_t i = 0; i < c->n_calls; i++) {
    const sf_label_desc *l = label_desc(m, c->calls[i].label);
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

/* Runs one step of an instance until it returns, fails or awaits; `call`
 * started it (its chain is resolved), `prev` is the frame it resumes from
 * (NULL: a new instance). A failed instance leaves the state and output
 * as they were before it started (docs/entities.md, "Failures and
 * state"). */
static void run(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                const pb_frame *prev) {
  sf_frame_hdr *hdr = frame;
  c->frame = hdr;
  c->n_calls = 0;
  hdr->call_allowed = false;
  c->extra_entity = c->extra_method = NULL;
  c->extra_second = false;
  c->snap = NULL;
  c->snapping = !m->read_only;
  begin_output(c, prev);
  if (c->failure != SF_OK) return;
  sf_step s = m->step(c, frame);
  c->snapping = false;
  c->frame = NULL;
  c->n_join = 0;
  if (c->failure != SF_OK) return;
  const char *misuse = call_misuse(c, m, s, hdr);
  if (misuse) {
    hdr->error = misuse;
    s = SF_STEP_FAILED;
  }
  if (s == SF_STEP_AWAIT) {
    suspend(c, m, frame, call, prev, label_name(m, hdr->label));
    return;
  }
  if (s == SF_STEP_DONE) {
    sf_wbuf w;
    sf_wbuf_init(&w, c->arena);
    m->encode_result(&w, frame);
    if (w.failed) {
      c->failure = SF_ERR_NOMEM;
      return;
    }
    if (send_reply(c, call, true, w.data, w.len, NULL) != SF_OK) c->failure = SF_ERR_NOMEM;
  } else {
    restore_state(c, prev);
    drop_output(c);
    if (send_reply(c, call, false, NULL, 0, hdr->error) != SF_OK) c->failure = SF_ERR_NOMEM;
  }
  maybe_release(c);
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
  size_t size = c->reg->desc->state_size ? c->reg->desc->state_size : 1;
  void *view = sf_arena_alloc(c->arena, size);
  if (!view) {
    c->failure = SF_ERR_NOMEM;
    return;
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
  c->state = view;
  run(c, m, frame, call, NULL);
  c->state = state;
}

static void fail_call(sf_entity_ctx *c, const pb_call *call, const char *why) {
  if (send_reply(c, call, false, NULL, 0, why) != SF_OK) c->failure = SF_ERR_NOMEM;
}

static void handle_call(sf_entity_ctx *c, pb_call *call) {
  const sf_entity_desc *d = c->reg->desc;
  const sf_method_desc *m = find_method(d, call->method);
  if (!m) {
    char *why = sf_context_printf(c->ctx, NULL, "%s has no method '%s'", d->type_name, call->method);
    fail_call(c, call, why ? why : "no such method");
    return;
  }
  if (!call->chain[0]) {
    /* A root call: its own chain. A call without an id gets a fresh one,
     * so two anonymous callers never count as one chain. */
    call->chain = call->call_id[0]
                      ? call->call_id
                      : sf_context_printf(c->ctx, NULL, "%s/%s#anon%llu", d->type_name, c->key.ptr,
                                          (unsigned long long)++c->next_call);
    if (!call->chain) {
      c->failure = SF_ERR_NOMEM;
      return;
    }
    c->book_dirty = true;
  }
  if (m->read_only) {
    void *frame = sf_arena_alloc(c->arena, m->frame_size);
    sf_rbuf r;
    sf_rbuf_init(&r, call->args.data, call->args.len);
    if (!frame) {
      c->failure = SF_ERR_NOMEM;
      return;
    }
    memset(frame, 0, m->frame_size);
    sf_status st = m->decode_args(c->arena, &r, frame);
    if (st != SF_OK) {
      char *why = sf_context_printf(c->ctx, NULL, "%s.%s: arguments do not decode: %s",
                                    d->type_name, m->name, sf_strerror(st));
      fail_call(c, call, why ? why : "bad arguments");
      return;
    }
    run_read_only(c, m, frame, call);
    return;
  }
  if (c->active_chain[0] && strcmp(c->active_chain, call->chain) != 0 && !m->reentrant) {
    /* Isolation: another chain holds the entity; wait in the queue. */
    if (push_ptr(c->arena, (void ***)&c->queue, &c->n_queue, &c->cap_queue, call) != SF_OK)
      c->failure = SF_ERR_NOMEM;
    c->book_dirty = true;
    return;
  }
  if (!c->active_chain[0] && !m->reentrant) {
    c->active_chain = call->chain;
    c->book_dirty = true;
  }
  void *frame = sf_arena_alloc(c->arena, m->frame_size);
  if (!frame) {
    c->failure = SF_ERR_NOMEM;
    return;
  }
  memset(frame, 0, m->frame_size);
  sf_rbuf r;
  sf_rbuf_init(&r, call->args.data, call->args.len);
  sf_status st = m->decode_args(c->arena, &r, frame);
  if (st != SF_OK) {
    char *why = sf_context_printf(c->ctx, NULL, "%s.%s: arguments do not decode: %s",
                                  d->type_name, m->name, sf_strerror(st));
    fail_call(c, call, why ? why : "bad arguments");
    maybe_release(c);
    return;
  }
  run(c, m, frame, call, NULL);
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
    handle_call(c, next);
  }
  c->depth--;
}

/* The case value of a label by name in this build; 0 when it has none. */
static uint32_t case_of(const sf_method_desc *m, const char *name) {
  for (size_t k = 0; m && k < m->n_labels; k++)
    if (strcmp(m->labels[k].name, name) == 0) return m->labels[k].case_value;
  return 0;
}

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
  if (!case_of(m, f->label))
    return sf_context_printf(c->ctx, NULL, "%s.%s has no await label '%s' in this build",
                             d->type_name, m->name, f->label);
  for (size_t k = 0; k < f->n_calls; k++)
    if (!case_of(m, f->calls[k]->label))
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
  uint32_t cv = case_of(m, label);
  const sf_label_desc *l = label_desc(m, cv);
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
    j->label = case_of(m, f->calls[k]->label);
    j->index = f->calls[k]->index;
    j->error = f->calls[k]->error;
    if (!first) first = j->error;
  }
  return first;
}

static void handle_reply(sf_entity_ctx *c, const pb_reply *reply) {
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
  const sf_method_desc *m = find_method(d, f->method);
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
    restore_state(c, f);
    if (call) fail_call(c, call, why ? why : "cannot resume");
    maybe_release(c);
    return;
  }
  sf_frame_hdr *hdr = frame;
  hdr->label = case_of(m, f->label);
  if (pd) {
    hdr->error = join_errors(c, m, f);
  } else {
    hdr->error = take_result(c, m, frame, f->label, 0, reply);
    c->n_join = 0;
    if (hdr->error) { /* SF_ERROR_AT works after a plain await too */
      c->join = sf_arena_alloc(c->arena, sizeof(*c->join));
      if (!c->join) {
        c->failure = SF_ERR_NOMEM;
        return;
      }
      c->join[0] = (join_error){hdr->label, 0, hdr->error};
      c->n_join = 1;
    }
  }
  run(c, m, frame, call, f);
}

/* The StateFun function behind every entity type. */
static sf_status entity_fn(sf_context *ctx, const sf_message *msg, void *user) {
  const entity_reg *reg = user;
  sf_entity_ctx c;
  memset(&c, 0, sizeof(c));
  c.ctx = ctx;
  c.reg = reg;
  c.arena = sf_context_arena(ctx);
  c.key = sf_str_of(sf_self(ctx)->id);
  sf_status st = load_book(&c);
  if (st != SF_OK) return st;

  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(c.arena, &alloc);
  const uint8_t *data = msg->value.data ? msg->value.data : (const uint8_t *)"";
  if (msg->value.type_name && strcmp(msg->value.type_name, SF_TYPENAME_CALL) == 0) {
    pb_call *call = (pb_call *)protobuf_c_message_unpack(&statefun__entities__call__descriptor,
                                                         &alloc, msg->value.len, data);
    if (!call)
      return sf_context_fail(ctx, "%s: a malformed statefun.entities.Call", reg->desc->type_name);
    handle_call(&c, call);
  } else if (msg->value.type_name && strcmp(msg->value.type_name, SF_TYPENAME_REPLY) == 0) {
    pb_reply *reply = (pb_reply *)protobuf_c_message_unpack(
        &statefun__entities__reply__descriptor, &alloc, msg->value.len, data);
    if (!reply)
      return sf_context_fail(ctx, "%s: a malformed statefun.entities.Reply", reg->desc->type_name);
    handle_reply(&c, reply);
  } else {
    return sf_context_fail(ctx, "%s is an entity: it takes %s and %s messages, not %s",
                           reg->desc->type_name, SF_TYPENAME_CALL, SF_TYPENAME_REPLY,
                           msg->value.type_name ? msg->value.type_name : "(none)");
  }
  if (c.failure != SF_OK) return c.failure;
  if (c.state_loaded && c.state) {
    st = reg->desc->store_state(ctx, c.state);
    if (st != SF_OK) return st;
  }
  return store_book(&c);
}

/* ---- registration -------------------------------------------------------------------------- */

static void free_reg(void *p) {
  entity_reg *r = p;
  free(r->specs);
  free(r);
}

sf_status sf_entity_register(sf_handler *h, const sf_entity_desc *d) {
  if (!h || !d || !d->type_name || !d->load_state || !d->store_state || !d->encode_field ||
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
