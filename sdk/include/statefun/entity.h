/*
 * entity.h - stateful entities on libstatefun: what a method author uses.
 * Design: docs/entities.md.
 *
 * sf-codegen turns an entity IR into C that declares the frames and state
 * structs, encodes and decodes them, and registers the entities; that
 * machinery is <statefun/entity_impl.h> (included at the end of this
 * header, so generated code needs only this one). You write method bodies:
 *
 *   SF_METHOD(User, add_to_basket) {
 *     SF_BEGIN(F);
 *     for (F->i = 0; F->i < F->p.items.len; F->i++) {
 *       SF_AWAIT(F, price, Item_get_price(ctx, F->p.items.items[F->i]));
 *       F->total += F->r.price;
 *     }
 *     SF_RETURN(F, F->total);
 *     SF_END(F);
 *   }
 *
 * `F` is the method's frame: parameters in F->p, the IR's locals as
 * members, and each await's result in F->r.<label>. Only F survives an
 * await (the frame is stored in the entity's state while it waits); C
 * locals do not. Requires GNU C or Clang (__typeof__).
 *
 * A method is atomic on its entity: when it fails, its state writes are
 * undone and the messages and egress records it sent are dropped
 * (docs/entities.md, "Failures and state"). Several calls can be awaited
 * at once (SF_CALL, SF_CALL_AT, SF_AWAIT_CALLS: "Parallel awaits"). The
 * macros (<statefun/entity_body.h>) check their use at compile time.
 */
#ifndef STATEFUN_ENTITY_H
#define STATEFUN_ENTITY_H

#include <stddef.h>
#include <stdint.h>

#include <statefun/statefun.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ------------------------------------------------------------------------ */
/* Values of the IR's types                                                 */
/* ------------------------------------------------------------------------ */

/* A string (UTF-8) or bytes: pointer + length; ptr is NUL-terminated when
 * it comes from the SDK. */
typedef struct sf_str {
  const char *ptr;
  size_t len;
} sf_str;

typedef struct sf_bytes {
  const uint8_t *ptr;
  size_t len;
} sf_bytes;

/* A reference to an entity instance of a known type: its key. */
typedef struct sf_ref {
  sf_str key;
} sf_ref;

/* An sf_str of a string literal or a C string. */
#define SF_STR(lit) ((sf_str){(lit), sizeof(lit) - 1})
SF_API sf_str sf_str_of(const char *cstr);
SF_API bool sf_str_eq(sf_str a, sf_str b);

struct sf_entity_ctx; /* sf_entity_ctx, below (C99 allows no second typedef) */
/* printf into an sf_str in the request arena (NUL-terminated; store it in
 * a frame member to keep it across an await). {NULL, 0} when out of
 * memory or on a format error. */
SF_API sf_str sf_str_printf(struct sf_entity_ctx *ctx, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* ------------------------------------------------------------------------ */
/* Methods, frames, steps                                                   */
/* ------------------------------------------------------------------------ */

/* What one run of a method's step function ended with. */
typedef enum sf_step {
  SF_STEP_DONE = 0,    /* returned: the result is in the frame */
  SF_STEP_AWAIT = 1,   /* waits for the call it just made */
  SF_STEP_FAILED = 2,  /* failed: the reason is F->hdr.error */
} sf_step;

/* The `result` member of a void method's frame. */
typedef struct sf_void {
  char none;
} sf_void;

/* What a typed call returns when its entity is not generated (hand-written
 * descriptors); generated typed calls return one type per method,
 * <Entity>_<method>_call, with the same member. */
typedef struct sf_call {
  sf_status status;
} sf_call;

/* On typed calls: a call's result must be used, i.e. given to SF_AWAIT
 * (a call made and dropped is a misuse the compiler can see). */
#if defined(__GNUC__)
#define SF_MUST_AWAIT __attribute__((warn_unused_result))
#else
#define SF_MUST_AWAIT
#endif

/* The start of every generated frame. */
typedef struct sf_frame_hdr {
  uint32_t label;    /* where to resume: 0 = the start */
  const char *error; /* the awaited call failed / the method failed: why */
  /* the call the method macros let through next (SF_AWAIT, SF_CALL,
   * SF_CALL_AT): its label's case value, index, and whether one may go */
  uint32_t call_label;
  uint32_t call_index;
  bool call_allowed;
} sf_frame_hdr;

/* The context of an entity invocation (wraps the sf_context). */
typedef struct sf_entity_ctx sf_entity_ctx;

/* The plain SDK context (state, egress, sending raw messages). */
SF_API sf_context *sf_entity_context(sf_entity_ctx *ctx);
/* This entity's key. */
SF_API sf_str sf_entity_key(const sf_entity_ctx *ctx);
/* The entity's loaded state struct (the generated <Entity>_state). */
SF_API void *sf_entity_state(sf_entity_ctx *ctx);
/* The request arena. */
SF_API sf_arena *sf_entity_arena(sf_entity_ctx *ctx);

/* Fails the method with a printf-style reason (copied into the arena). */
SF_API sf_step sf_entity_fail(sf_entity_ctx *ctx, sf_frame_hdr *hdr,
                              const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Parallel awaits (SF_CALL, SF_AWAIT_CALLS): how many calls the current
 * step has made so far. */
SF_API size_t sf_entity_calls_made(sf_entity_ctx *ctx);
/* After a parallel await: the error of the call at label `case_value`
 * (SF__LABEL) and index (0 for SF_CALL), NULL when it answered ok or was
 * not made. Lives in the request arena. */
SF_API const char *sf_entity_error_at(const sf_entity_ctx *ctx,
                                      uint32_t case_value, size_t index);

/* The typenames of the envelopes (proto/entities.proto). */
#define SF_TYPENAME_CALL "statefun.entities/Call"
#define SF_TYPENAME_REPLY "statefun.entities/Reply"
/* The typename of an entity's bookkeeping state (value spec __entity). */
#define SF_TYPENAME_ENTITY_STATE "statefun.entities/State"

/* The macros of method bodies (SF_METHOD, SF_AWAIT, SF_RETURN, ...). */
#include <statefun/entity_body.h>

#ifdef __cplusplus
}
#endif

/* What the generated code calls (wire codecs, descriptors, registration). */
#include <statefun/entity_impl.h>

#endif /* STATEFUN_ENTITY_H */
