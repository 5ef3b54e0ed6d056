/*
 * entity_internal.h - what the files of the entity runtime share and
 * nobody else sees: the entity context (struct sf_entity_ctx), the
 * registration record, short names for the generated types of
 * proto/entities.proto, and the sf_ent_ functions one file calls in
 * another. The runtime's design is docs/entities.md; its files:
 *
 *   entity.c          dispatch: a message to an entity, running a step,
 *                     read_only methods, registration
 *   entity_envelope.c the Call and Reply envelopes (packing, sending,
 *                     unpacking)
 *   entity_book.c     the bookkeeping (value spec __entity): loading and
 *                     storing it, call chains, the isolation queue
 *   entity_atomic.c   atomic methods: the state's snapshot and pre-images
 *                     (the undo log), held output, the committed view
 *   entity_await.c    a step's calls and the instance's suspension
 *   entity_resume.c   a Reply resumes a suspended instance (plain and
 *                     parallel awaits)
 *   entity_wire.c     the wire writer and reader generated code calls
 *                     (needs nothing of this header)
 */
#ifndef SF_ENTITY_INTERNAL_H
#define SF_ENTITY_INTERNAL_H

#include <stdio.h>

#include "statefun/entity.h"

#include "entities.pb-c.h"
#include "internal.h"
#include "sfb/otlp.h"

typedef Statefun__Entities__Call pb_call;
typedef Statefun__Entities__Reply pb_reply;
typedef Statefun__Entities__Frame pb_frame;
typedef Statefun__Entities__State pb_state;
typedef Statefun__Entities__FieldImage pb_image;
typedef Statefun__Entities__PendingCall pb_pending;

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

/* One invocation of an entity: lives on entity_fn's stack, allocates from
 * the request arena. */
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
   * used the state (taken only while `snapping`), `changed` the fields
   * whose encoding differs from it when the step ends; `marks` the
   * lengths of the context's messages, delayed messages and egresses when
   * the method's output for this step began. */
  bool snapping;
  sf_bytes *snap;
  bool *changed;
  size_t marks[3];
  /* The fields to write back at the end of the invocation: changed by a
   * step that returned or suspended, or restored from a pre-image. NULL:
   * none (read_only methods never get here: their writes are dropped). */
  bool *dirty;
  sf_status failure; /* a runtime failure that fails the invocation */
  int depth;         /* queue pumping recursion guard */
};

/* Appends a pointer to an arena array (sf_arena_push for pointers). */
static inline sf_status push_ptr(sf_arena *a, void ***items, size_t *n, size_t *cap,
                                 void *item) {
  void **slot = sf_arena_push(a, (void **)items, n, cap, sizeof(void *));
  if (!slot) return SF_ERR_NOMEM;
  *slot = item;
  return SF_OK;
}

/* ---- entity.c: dispatch ---- */

/* The method of this build by name, or NULL. */
const sf_method_desc *sf_ent_find_method(const sf_entity_desc *d, const char *name);

/* A Call arrives (or leaves the queue): it runs, waits, or is answered
 * with an error. */
void sf_ent_handle_call(sf_entity_ctx *c, pb_call *call);

/* Runs one step of an instance until it returns, fails or awaits; `call`
 * started it (its chain is resolved), `prev` is the frame it resumes from
 * (NULL: a new instance). */
void sf_ent_run(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                const pb_frame *prev);

/* ---- entity_envelope.c: Call and Reply envelopes ---- */

/* The span id (16 hex digits, in the arena) of the instance `call_id`
 * started: derived from the call id, so every step and the Reply agree. */
char *sf_ent_span_id(sf_context *ctx, const char *call_id);

/* Sends the Reply to a Call: to the calling entity, to the egress of an
 * external call, or nowhere (a call nobody waits for). */
sf_status sf_ent_send_reply(sf_entity_ctx *c, const pb_call *call, bool ok,
                            const uint8_t *result, size_t result_len, const char *error);

/* Answers a Call with a failure; out of memory fails the invocation. */
void sf_ent_fail_call(sf_entity_ctx *c, const pb_call *call, const char *why);

/* Sends one call of the step as a Call envelope in `call`'s chain; its
 * call id, or NULL with c->failure set. */
char *sf_ent_send_call(sf_entity_ctx *c, const pending_call *p, const pb_call *call);

/* An incoming envelope decoded into the arena; NULL when malformed. */
pb_call *sf_ent_unpack_call(sf_arena *arena, const sf_value *v);
pb_reply *sf_ent_unpack_reply(sf_arena *arena, const sf_value *v);

/* ---- entity_trace.c: spans (docs/tracing.md) ---- */

/* Where spans go; NULL: tracing is off (test it before anything else). */
extern FILE *sf_ent_trace_out;
/* A span (the one OTLP/JSON writer of the tree, sfb/otlp.h). */
#define SF_ENT_SPAN_ATTRS SFB_OTLP_ATTRS
enum { SF_SPAN_INTERNAL = SFB_SPAN_INTERNAL, SF_SPAN_SERVER = SFB_SPAN_SERVER,
       SF_SPAN_CLIENT = SFB_SPAN_CLIENT, SF_SPAN_PRODUCER = SFB_SPAN_PRODUCER };
typedef sfb_otlp_span sf_ent_span;
/* Opens SF_TRACE_OUT once per process. */
void sf_ent_trace_env(void);
uint64_t sf_ent_trace_now(void);
/* Writes one span as an OTLP/JSON line (nothing without a trace id). */
void sf_ent_trace_span(const sf_ent_span *sp);
/* The span of one step of an instance (prev: the frame it resumed from). */
void sf_ent_trace_step(sf_entity_ctx *c, const sf_method_desc *m, const pb_call *call,
                       const pb_frame *prev, uint64_t start_ns);

/* ---- entity_book.c: bookkeeping, chains, the isolation queue ---- */

sf_status sf_ent_load_book(sf_entity_ctx *c);
/* Writes the bookkeeping back only when it changed. */
sf_status sf_ent_store_book(sf_entity_ctx *c);

/* Gives a root call its own chain; false when out of memory. */
bool sf_ent_resolve_chain(sf_entity_ctx *c, pb_call *call);

/* Isolation: false when another chain holds the entity and `call` now
 * waits in the queue; otherwise a non-reentrant call holds the entity. */
bool sf_ent_admit(sf_entity_ctx *c, const sf_method_desc *m, pb_call *call);

/* Releases the entity when its chain has no suspended instance left, and
 * starts the queued calls. */
void sf_ent_maybe_release(sf_entity_ctx *c);

/* ---- entity_atomic.c: the undo log and held output ---- */

/* The end of a step that used the state: which fields it changed
 * (c->changed), by their encoding against the snapshot. */
void sf_ent_note_changes(sf_entity_ctx *c);

/* A step that returned or suspended: the fields it changed will be
 * written back. */
void sf_ent_keep_changes(sf_entity_ctx *c);

/* A failed method: every field it changed gets back the value it had
 * before the method started. */
void sf_ent_restore_state(sf_entity_ctx *c, const pb_frame *prev);

/* The end of the invocation: the changed fields become state mutations
 * (nothing at all when no method changed the state). */
sf_status sf_ent_store_state(sf_entity_ctx *c);

/* A suspending method: the frame keeps the earlier steps' pre-images and
 * adds one for each field this step changed first. */
sf_status sf_ent_keep_images(sf_entity_ctx *c, pb_frame *f, const pb_frame *prev);

/* Marks where this step's output starts; a resumed method's held output
 * goes back into the context first. */
void sf_ent_begin_output(sf_entity_ctx *c, const pb_frame *prev);

/* A failed method's output is dropped. */
void sf_ent_drop_output(sf_entity_ctx *c);

/* A suspending method's output moves into its frame. */
sf_status sf_ent_hold_output(sf_entity_ctx *c, pb_frame *f);

/* A copy of `state` as last committed (every suspended instance's oldest
 * pre-image put back); NULL with c->failure set when out of memory. */
void *sf_ent_committed_view(sf_entity_ctx *c, const void *state);

/* ---- entity_await.c: a step's calls and suspension ---- */

/* The label of a method by case value, or NULL. */
const sf_label_desc *sf_ent_label_desc(const sf_method_desc *m, uint32_t case_value);

/* The case value of a label by name in this build; 0 when it has none. */
uint32_t sf_ent_case_of(const sf_method_desc *m, const char *name);

/* What a step did wrong with its calls, or NULL when it is fine. */
const char *sf_ent_call_misuse(sf_entity_ctx *c, const sf_method_desc *m, sf_step s,
                               const sf_frame_hdr *hdr);

/* Suspends an instance at its await: its Calls go out, its frame into the
 * bookkeeping. */
void sf_ent_suspend(sf_entity_ctx *c, const sf_method_desc *m, void *frame, pb_call *call,
                    const pb_frame *prev);

/* ---- entity_resume.c: resuming ---- */

/* A Reply arrives: the instance waiting for it resumes (or, in a parallel
 * await, keeps waiting for the rest). */
void sf_ent_handle_reply(sf_entity_ctx *c, const pb_reply *reply);

#endif /* SF_ENTITY_INTERNAL_H */
