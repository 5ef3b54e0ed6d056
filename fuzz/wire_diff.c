/*
 * wire_diff.c - see wire_diff.h. Content is compared as a protobuf-c user
 * sees it: strings up to their first NUL, bytes by length and content, a
 * submessage by presence, repeated fields element by element.
 */
#include "wire_diff.h"

#include <string.h>

#include "wire.h"

typedef Io__Statefun__Sdk__Reqreply__ToFunction old_to;

static bool same_str(const char *old, sf_wstr s) {
  return strcmp(old ? old : "", sf_wstr_c(s)) == 0;
}

static bool same_address(const pb_address *o, bool has, const sf_waddress *n) {
  if ((o != NULL) != has) return false;
  if (!o) return true;
  return same_str(o->namespace_, n->ns) && same_str(o->type, n->type) &&
         same_str(o->id, n->id);
}

static bool same_value(const pb_typed_value *o, bool has, const sf_wvalue *n) {
  if ((o != NULL) != has) return false;
  if (!o) return true;
  if (!same_str(o->typename_, n->type_name)) return false;
  if ((o->has_value != 0) != n->has_value) return false;
  if ((o->value.data != NULL) != (n->data != NULL)) return false;
  if (o->value.len != n->len) return false;
  return n->len == 0 || memcmp(o->value.data, n->data, n->len) == 0;
}

static bool same_to(const old_to *o, const sf_wto_function *n) {
  bool has = o->request_case == IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__REQUEST_INVOCATION &&
             o->invocation;
  if (has != n->has_batch) return false;
  if (!has) return true;
  const pb_batch *ob = o->invocation;
  const sf_wbatch *nb = &n->batch;
  if (!same_address(ob->target, nb->has_target, &nb->target)) return false;
  if (ob->n_state != nb->n_state || ob->n_invocations != nb->n_invocations)
    return false;
  for (size_t i = 0; i < ob->n_state; i++) {
    if (!same_str(ob->state[i]->state_name, nb->state[i].name)) return false;
    if (!same_value(ob->state[i]->state_value, nb->state[i].has_value_msg,
                    &nb->state[i].value))
      return false;
  }
  for (size_t i = 0; i < ob->n_invocations; i++) {
    const pb_invocation *oi = ob->invocations[i];
    const sf_winvocation *ni = &nb->invocations[i];
    if (!same_address(oi->caller, ni->has_caller, &ni->caller)) return false;
    if (!same_value(oi->argument, ni->has_argument, &ni->argument)) return false;
  }
  return true;
}

/* Whether every string that survived decoding is UTF-8. */
static bool all_utf8(const sf_wto_function *n) {
#define U(s) ((s).p == NULL || sf_utf8_valid((s).p, (s).len))
  if (!n->has_batch) return true;
  const sf_wbatch *b = &n->batch;
  if (!U(b->target.ns) || !U(b->target.type) || !U(b->target.id)) return false;
  for (size_t i = 0; i < b->n_state; i++)
    if (!U(b->state[i].name) || !U(b->state[i].value.type_name)) return false;
  for (size_t i = 0; i < b->n_invocations; i++) {
    const sf_winvocation *v = &b->invocations[i];
    if (!U(v->caller.ns) || !U(v->caller.type) || !U(v->caller.id) ||
        !U(v->argument.type_name))
      return false;
  }
  return true;
#undef U
}

static const char *compare(const old_to *o, const uint8_t *data, size_t len,
                           sf_arena *arena) {
  sf_wto_function n;
  sf_status st = sf_wire_decode_to_function(arena, data, len, false, &n);
  if (st != SF_OK && st != SF_ERR_DECODE) return "unexpected status";
  if ((o != NULL) != (st == SF_OK))
    return o ? "protobuf-c accepts, wire_decode rejects"
             : "protobuf-c rejects, wire_decode accepts";
  if (!o) return NULL;
  if (!same_to(o, &n)) return "decoded content differs";
  /* A surviving non-UTF-8 string must have been noticed; any noticed one
   * (also in a field a later one overrides) makes the checked decode
   * refuse, and only that. */
  if (!all_utf8(&n) && !n.bad_utf8) return "a non-UTF-8 string went unnoticed";
  bool valid = !n.bad_utf8;
  sf_arena_reset(arena);
  st = sf_wire_decode_to_function(arena, data, len, true, &n);
  if ((st == SF_OK) != valid)
    return valid ? "UTF-8 check refused valid strings"
                 : "UTF-8 check accepted a non-UTF-8 string";
  if (st == SF_OK && !same_to(o, &n)) return "content differs with the UTF-8 check";
  return NULL;
}

const char *wire_diff(const uint8_t *data, size_t len, bool *accepted) {
  old_to *o = (old_to *)protobuf_c_message_unpack(
      &io__statefun__sdk__reqreply__to_function__descriptor, NULL, len, data);
  if (accepted) *accepted = o != NULL;
  sf_arena *arena = sf_arena_new(0);
  const char *why = arena ? compare(o, data, len, arena) : "no memory";
  sf_arena_free(arena);
  if (o) protobuf_c_message_free_unpacked(&o->base, NULL);
  return why;
}
