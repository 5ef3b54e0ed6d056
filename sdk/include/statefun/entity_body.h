/*
 * entity_body.h - the macros a method body is written with (SF_METHOD,
 * SF_BEGIN, SF_AWAIT, SF_RETURN, SF_FAIL, ...). Included by
 * <statefun/entity.h>; see there and docs/entities.md.
 *
 * The header is marked as a system header for one reason: GCC then reports
 * an error raised inside these macros (a compile-time check of a misuse) at
 * the user's line that expanded the macro, not at the macro's definition
 * here. The checks' messages name the method, the label and the IR.
 */
#ifndef STATEFUN_ENTITY_BODY_H
#define STATEFUN_ENTITY_BODY_H

#if defined(__GNUC__)
#pragma GCC system_header
#endif

#include <stddef.h>
#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* Writing method bodies                                                    */
/* ------------------------------------------------------------------------ */

/* The step function of Entity.method; sf-codegen declares the frame type
 * Entity_method_frame. */
#define SF_METHOD(Entity, method)                                            \
  sf_step Entity##_##method##_step(sf_entity_ctx *ctx,                       \
                                   Entity##_##method##_frame *F)

#define SF_BEGIN(F) switch ((F)->hdr.label) { case 0:
#define SF_END(F)                                                            \
  }                                                                          \
  return sf_entity_fail(ctx, &(F)->hdr, "method ended without SF_RETURN")

/* The case value of an await label: the offset of its result member. */
#define SF__LABEL(F, lbl) \
  ((uint32_t)offsetof(__typeof__(*(F)), r.lbl) + 1u)

/*
 * Compile-time checks of the method macros, so that a misuse is an error
 * at the user's line that names the label, the method and the IR (the
 * generated frame's types carry those names):
 * - an undeclared label: "no member named 'x' in struct
 *   <Entity>_<method>__awaits_declared_in_<ir file>";
 * - a call other than the label's declared one: the static assertion
 *   below, and "incompatible types when assigning to
 *   <Entity>_<method>__await_<label>_calls_<Callee>_<m> from <X>_<y>_call";
 * - a label awaited twice in one method: "duplicate label
 *   sf_await_<label>_used_twice_in_this_method";
 * - SF_RETURN in a void method, SF_RETURN_VOID in a method with a result:
 *   a static assertion saying which to use.
 */
#define SF__CHECK_CALL(F, lbl, call)                                        \
  _Static_assert(                                                           \
      __builtin_types_compatible_p(__typeof__((F)->sf_calls.lbl),           \
                                   __typeof__(call)),                       \
      "SF_AWAIT(F, " #lbl ", call): the call is not the one await label '"  \
      #lbl "' is declared with in the IR (the method's \"awaits\")");
#define SF__ONCE(lbl)                                                      \
  sf_await_##lbl##_used_twice_in_this_method: __attribute__((unused));

/* Calls and waits; a failed callee fails this method too (its reason
 * travels on to our caller). The call is the typed call of the method the
 * IR declares for `lbl`; exactly one call per await. */
#define SF_AWAIT(F, lbl, call)                                             \
  do {                                                                       \
    SF__CHECK_CALL(F, lbl, call)                                             \
    SF__ONCE(lbl)                                                            \
    (F)->hdr.label = (F)->hdr.call_label = SF__LABEL(F, lbl);              \
    (F)->hdr.call_index = 0;                                                 \
    (F)->hdr.call_allowed = true;                                            \
    if (((F)->sf_calls.lbl = (call)).status != SF_OK)                        \
      return sf_entity_fail(ctx, &(F)->hdr, "call at '%s' failed", #lbl);  \
    return SF_STEP_AWAIT;                                                    \
    case SF__LABEL(F, lbl):;                                               \
    if ((F)->hdr.error) return SF_STEP_FAILED;                               \
  } while (0)

/* Calls and waits; on a failed callee carries on with SF_FAILED(F) true
 * and SF_ERROR(F) the reason (for compensation, e.g. rollbacks). The
 * reason lives in the request arena: it does not survive the next await,
 * so copy what you need into a frame member (a string local) first. */
#define SF_AWAIT_CATCH(F, lbl, call)                                       \
  do {                                                                       \
    SF__CHECK_CALL(F, lbl, call)                                             \
    SF__ONCE(lbl)                                                            \
    (F)->hdr.label = (F)->hdr.call_label = SF__LABEL(F, lbl);              \
    (F)->hdr.call_index = 0;                                                 \
    (F)->hdr.call_allowed = true;                                            \
    if (((F)->sf_calls.lbl = (call)).status != SF_OK)                        \
      return sf_entity_fail(ctx, &(F)->hdr, "call at '%s' failed", #lbl);  \
    return SF_STEP_AWAIT;                                                    \
    case SF__LABEL(F, lbl):;                                               \
  } while (0)

/*
 * Parallel awaits (fan-out/fan-in): make several calls, then wait until
 * all have answered.
 *
 *   SF_CALL(F, price, Item_get_price(ctx, item));      // one call per label
 *   SF_CALL(F, stock, Item_get_stock(ctx, item));
 *   SF_AWAIT_CALLS(F, price);                          // the join point
 *   ... F->r.price, F->r.stock ...
 *
 *   for (F->i = 0; F->i < n; F->i++)                    // a fan_out label:
 *     SF_CALL_AT(F, avail, F->i, Hotel_check(ctx, ...)); // one per index
 *   SF_AWAIT_CALLS_CATCH(F, avail);
 *   ... F->r.avail.items[i], SF_ERROR_AT_I(F, avail, i) ...
 *
 * SF_CALL and SF_CALL_AT make the call and carry on (no suspension). The
 * join, SF_AWAIT_CALLS(F, label), names its resume point with one of the
 * group's labels (that label is then used up, like an SF_AWAIT's) and
 * waits for every call made since the last await; with no call made it
 * carries on at once. A failed call fails the method (SF_AWAIT_CALLS) or
 * leaves SF_FAILED(F) true with the first error in SF_ERROR(F) and each
 * call's own in SF_ERROR_AT / SF_ERROR_AT_I (SF_AWAIT_CALLS_CATCH).
 */
#define SF_CALL(F, lbl, call)                                                \
  do {                                                                       \
    SF__CHECK_CALL(F, lbl, call)                                             \
    (F)->hdr.call_label = SF__LABEL(F, lbl);                                 \
    (F)->hdr.call_index = 0;                                                 \
    (F)->hdr.call_allowed = true;                                            \
    if (((F)->sf_calls.lbl = (call)).status != SF_OK)                        \
      return sf_entity_fail(ctx, &(F)->hdr, "call at '%s' failed", #lbl);    \
  } while (0)
#define SF_CALL_AT(F, lbl, i, call)                                          \
  do {                                                                       \
    SF__CHECK_CALL(F, lbl, call)                                             \
    (F)->hdr.call_label = SF__LABEL(F, lbl);                                 \
    (F)->hdr.call_index = (uint32_t)(i);                                     \
    (F)->hdr.call_allowed = true;                                            \
    if (((F)->sf_calls.lbl = (call)).status != SF_OK)                        \
      return sf_entity_fail(ctx, &(F)->hdr, "call at '%s'[%u] failed", #lbl, \
                            (unsigned)(i));                                  \
  } while (0)
#define SF_AWAIT_CALLS(F, lbl)                                               \
  do {                                                                       \
    SF__ONCE(lbl)                                                            \
    (F)->hdr.label = SF__LABEL(F, lbl);                                      \
    if (sf_entity_calls_made(ctx)) return SF_STEP_AWAIT;                     \
    case SF__LABEL(F, lbl):;                                                 \
    if ((F)->hdr.error) return SF_STEP_FAILED;                               \
  } while (0)
#define SF_AWAIT_CALLS_CATCH(F, lbl)                                         \
  do {                                                                       \
    SF__ONCE(lbl)                                                            \
    (F)->hdr.label = SF__LABEL(F, lbl);                                      \
    if (sf_entity_calls_made(ctx)) return SF_STEP_AWAIT;                     \
    case SF__LABEL(F, lbl):;                                                 \
  } while (0)
/* After a parallel await: the error of the call at `lbl` (index i for a
 * fan_out label), NULL when it answered ok. */
#define SF_ERROR_AT(F, lbl) sf_entity_error_at(ctx, SF__LABEL(F, lbl), 0)
#define SF_ERROR_AT_I(F, lbl, i) \
  sf_entity_error_at(ctx, SF__LABEL(F, lbl), (size_t)(i))
#define SF_FAILED_AT(F, lbl) (SF_ERROR_AT(F, lbl) != NULL)
#define SF_FAILED_AT_I(F, lbl, i) (SF_ERROR_AT_I(F, lbl, i) != NULL)

#define SF_FAILED(F) ((F)->hdr.error != NULL)
#define SF_ERROR(F) ((F)->hdr.error)
#define SF_CLEAR_ERROR(F) ((F)->hdr.error = NULL)

/* Returns a value (methods with a result) or nothing (void methods). */
#define SF_RETURN(F, value)                                                  \
  do {                                                                       \
    _Static_assert(                                                          \
        !__builtin_types_compatible_p(__typeof__((F)->result), sf_void),     \
        "SF_RETURN(F, value) in a method whose IR result is void: use "      \
        "SF_RETURN_VOID(F)");                                                \
    (F)->result = (value);                                                   \
    return SF_STEP_DONE;                                                     \
  } while (0)
#define SF_RETURN_VOID(F)                                                    \
  do {                                                                       \
    _Static_assert(                                                          \
        __builtin_types_compatible_p(__typeof__((F)->result), sf_void),      \
        "SF_RETURN_VOID(F) in a method whose IR result is not void: use "    \
        "SF_RETURN(F, value)");                                              \
    return SF_STEP_DONE;                                                     \
  } while (0)

/* Fails the method; the reason reaches the caller's await. */
#define SF_FAIL(F, ...) return sf_entity_fail(ctx, &(F)->hdr, __VA_ARGS__)

/* This entity's state (the generated <Entity>_state struct). */
#define SF_STATE(Entity) ((Entity##_state *)sf_entity_state(ctx))

#endif /* STATEFUN_ENTITY_BODY_H */
