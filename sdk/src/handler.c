/*
 * handler.c - the request-reply handler: registered functions, and one
 * ToFunction turned into one FromFunction.
 *
 * The algorithm is StateFun's (see PROTOCOL.md, "SDK behaviour"):
 *   1. decode the ToFunction in place (wire_decode.c: one copy of the
 *      request in the arena, strings and values pointing into it);
 *   2. find the function by the batch's target namespace/type;
 *   3. match every declared value spec to a state of the request by name;
 *      if any is missing, reply IncompleteInvocationContext with all the
 *      missing specs, in declaration order, and run nothing;
 *   4. run the invocations in order against one set of state cells;
 *   5. reply InvocationResponse: mutations for the cells that were written
 *      or cleared (declaration order), then messages, delayed messages and
 *      egress records in the order the function produced them.
 * A failing invocation fails the batch: nothing of it is sent back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "wire.h"

/* ---- registration ------------------------------------------------------------ */

sf_handler *sf_handler_new(void) { return calloc(1, sizeof(sf_handler)); }

void sf_handler_free(sf_handler *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n_functions; i++) {
    free(h->functions[i].type_name);
    free(h->functions[i].ns);
    free(h->functions[i].name);
    free(h->functions[i].specs);
  }
  free(h->functions);
  for (size_t i = 0; i < h->n_owned; i++) h->owned[i].free_fn(h->owned[i].ptr);
  free(h->owned);
  free(h);
}

sf_status sf_handler_own(sf_handler *h, void *ptr, void (*free_fn)(void *)) {
  sf_owned *o = realloc(h->owned, (h->n_owned + 1) * sizeof(*o));
  if (!o) return SF_ERR_NOMEM;
  h->owned = o;
  h->owned[h->n_owned].ptr = ptr;
  h->owned[h->n_owned].free_fn = free_fn;
  h->n_owned++;
  return SF_OK;
}

static sf_status validate_spec(const sf_value_spec *s) {
  if (!s || !s->type) return SF_ERR_INVALID_ARGUMENT;
  if (sf_state_name_validate(s->name) != SF_OK) return SF_ERR_BAD_STATE_NAME;
  if (sf_typename_validate(s->type->type_name) != SF_OK) return SF_ERR_BAD_TYPENAME;
  if (s->type->kind == SF_KIND_PROTO && !s->type->proto) return SF_ERR_INVALID_ARGUMENT;
  if (s->type->kind == SF_KIND_CUSTOM) {
    const sf_codec *c = s->type->proto;
    if (!c || !c->encode || !c->decode) return SF_ERR_INVALID_ARGUMENT;
  }
  switch (s->expire_mode) {
    case SF_EXPIRE_NONE:
      if (s->expire_after_ms != 0) return SF_ERR_INVALID_ARGUMENT;
      break;
    case SF_EXPIRE_AFTER_WRITE:
    case SF_EXPIRE_AFTER_CALL:
      if (s->expire_after_ms <= 0) return SF_ERR_INVALID_ARGUMENT;
      break;
    default: return SF_ERR_INVALID_ARGUMENT;
  }
  return SF_OK;
}

sf_status sf_handler_register(sf_handler *h, const char *typename,
                              sf_function_fn fn, void *user_data,
                              const sf_value_spec *const *specs,
                              size_t n_specs) {
  if (!h || !fn || (!specs && n_specs)) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = sf_typename_validate(typename);
  if (st != SF_OK) return st;
  for (size_t i = 0; i < h->n_functions; i++)
    if (strcmp(h->functions[i].type_name, typename) == 0) return SF_ERR_DUPLICATE;
  for (size_t i = 0; i < n_specs; i++) {
    st = validate_spec(specs[i]);
    if (st != SF_OK) return st;
    for (size_t j = 0; j < i; j++)
      if (strcmp(specs[i]->name, specs[j]->name) == 0) return SF_ERR_DUPLICATE;
  }
  if (h->n_functions == h->cap_functions) {
    size_t cap = h->cap_functions ? h->cap_functions * 2 : 4;
    sf_function *fns = realloc(h->functions, cap * sizeof(*fns));
    if (!fns) return SF_ERR_NOMEM;
    h->functions = fns;
    h->cap_functions = cap;
  }
  sf_function f = {0};
  const char *slash = strchr(typename, '/');
  f.type_name = strdup(typename);
  f.ns = strndup(typename, (size_t)(slash - typename));
  f.name = strdup(slash + 1);
  f.specs = n_specs ? malloc(n_specs * sizeof(*f.specs)) : NULL;
  if (!f.type_name || !f.ns || !f.name || (n_specs && !f.specs)) {
    free(f.type_name);
    free(f.ns);
    free(f.name);
    free(f.specs);
    return SF_ERR_NOMEM;
  }
  for (size_t i = 0; i < n_specs; i++) f.specs[i] = specs[i];
  f.n_specs = n_specs;
  f.fn = fn;
  f.user_data = user_data;
  h->functions[h->n_functions++] = f;
  return SF_OK;
}

size_t sf_handler_function_count(const sf_handler *h) {
  return h ? h->n_functions : 0;
}

const char *sf_handler_function_typename(const sf_handler *h, size_t i) {
  return (h && i < h->n_functions) ? h->functions[i].type_name : NULL;
}

/* ---- handling ---------------------------------------------------------------- */

static int find_function(const sf_handler *h, const sf_waddress *target) {
  const char *ns = sf_wstr_c(target->ns), *type = sf_wstr_c(target->type);
  for (size_t i = 0; i < h->n_functions; i++)
    if (strcmp(h->functions[i].ns, ns) == 0 &&
        strcmp(h->functions[i].name, type) == 0)
      return (int)i;
  return -1;
}

/* Packs `msg` into the arena as the reply (wire_encode.c: the bytes
 * protobuf-c would write). */
static sf_status pack_reply(sf_arena *arena, const pb_from_function *msg,
                            uint8_t **reply, size_t *reply_len) {
  return sf_wire_encode_from_function(arena, msg, reply, reply_len);
}

static pb_expiration *expiration_to_pb(sf_arena *arena, const sf_value_spec *s) {
  pb_expiration *e = sf_arena_alloc(arena, sizeof(*e));
  if (!e) return NULL;
  io__statefun__sdk__reqreply__from_function__expiration_spec__init(e);
  switch (s->expire_mode) {
    case SF_EXPIRE_AFTER_WRITE:
      e->mode = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__AFTER_WRITE;
      e->expire_after_millis = s->expire_after_ms;
      break;
    case SF_EXPIRE_AFTER_CALL:
      e->mode = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__AFTER_INVOKE;
      e->expire_after_millis = s->expire_after_ms;
      break;
    default:
      e->mode = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__NONE;
      break;
  }
  return e;
}

/* Replies IncompleteInvocationContext for the specs without a cell value
 * source (found[i] == NULL). */
static sf_status reply_missing(sf_arena *arena, const sf_function *f,
                               const sf_wstate *const *found, size_t n_missing,
                               uint8_t **reply, size_t *reply_len) {
  pb_incomplete *inc = sf_arena_alloc(arena, sizeof(*inc));
  pb_value_spec **specs = sf_arena_alloc(arena, n_missing * sizeof(*specs));
  if (!inc || !specs) return SF_ERR_NOMEM;
  io__statefun__sdk__reqreply__from_function__incomplete_invocation_context__init(inc);
  size_t k = 0;
  for (size_t i = 0; i < f->n_specs; i++) {
    if (found[i]) continue;
    const sf_value_spec *s = f->specs[i];
    pb_value_spec *ps = sf_arena_alloc(arena, sizeof(*ps));
    if (!ps) return SF_ERR_NOMEM;
    io__statefun__sdk__reqreply__from_function__persisted_value_spec__init(ps);
    ps->state_name = (char *)s->name;
    ps->type_typename = (char *)s->type->type_name;
    ps->expiration_spec = expiration_to_pb(arena, s);
    if (!ps->expiration_spec) return SF_ERR_NOMEM;
    specs[k++] = ps;
  }
  inc->n_missing_values = k;
  inc->missing_values = specs;
  pb_from_function from = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__INIT;
  from.response_case = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT;
  from.incomplete_invocation_context = inc;
  return pack_reply(arena, &from, reply, reply_len);
}

static sf_status collect_reply(sf_context *ctx, uint8_t **reply,
                               size_t *reply_len) {
  sf_arena *arena = ctx->arena;
  const sf_function *f = ctx->function;
  pb_response *resp = sf_arena_alloc(arena, sizeof(*resp));
  if (!resp) return SF_ERR_NOMEM;
  io__statefun__sdk__reqreply__from_function__invocation_response__init(resp);

  size_t dirty = 0;
  for (size_t i = 0; i < f->n_specs; i++) dirty += ctx->cells[i].dirty;
  if (dirty) {
    pb_mutation **muts = sf_arena_alloc(arena, dirty * sizeof(*muts));
    if (!muts) return SF_ERR_NOMEM;
    size_t k = 0;
    for (size_t i = 0; i < f->n_specs; i++) {
      const sf_cell *c = &ctx->cells[i];
      if (!c->dirty) continue;
      pb_mutation *m = sf_arena_alloc(arena, sizeof(*m));
      if (!m) return SF_ERR_NOMEM;
      io__statefun__sdk__reqreply__from_function__persisted_value_mutation__init(m);
      m->state_name = (char *)c->spec->name;
      if (c->value.has_value) {
        m->mutation_type = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__MODIFY;
        m->state_value = sf_typed_value_to_pb(arena, &c->value);
        if (!m->state_value) return SF_ERR_NOMEM;
      } else {
        m->mutation_type = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__DELETE;
      }
      muts[k++] = m;
    }
    resp->n_state_mutations = k;
    resp->state_mutations = muts;
  }
  resp->n_outgoing_messages = ctx->messages.n;
  resp->outgoing_messages = (pb_out_invocation **)ctx->messages.items;
  resp->n_delayed_invocations = ctx->delayed.n;
  resp->delayed_invocations = (pb_delayed **)ctx->delayed.items;
  resp->n_outgoing_egresses = ctx->egresses.n;
  resp->outgoing_egresses = (pb_egress **)ctx->egresses.items;

  pb_from_function from = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__INIT;
  /* An invocation with no effect at all is answered with an empty
   * FromFunction, as the official Python SDK does; the runtime reads it as
   * a result without side effects. */
  if (dirty || ctx->messages.n || ctx->delayed.n || ctx->egresses.n) {
    from.response_case = IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT;
    from.invocation_result = resp;
  }
  return pack_reply(arena, &from, reply, reply_len);
}

static void fill_address(sf_address *out, const sf_waddress *a) {
  out->namespace_ = sf_wstr_c(a->ns);
  out->type = sf_wstr_c(a->type);
  out->id = sf_wstr_c(a->id);
}

static void set_info(sf_handle_info *info, const char *fmt, const char *a,
                     const char *b) {
  if (info && !info->error[0]) snprintf(info->error, sizeof(info->error), fmt, a, b);
}

sf_status sf_handler_handle(const sf_handler *h, const uint8_t *request,
                            size_t request_len, sf_arena *arena,
                            uint8_t **reply, size_t *reply_len,
                            sf_handle_info *info) {
  return sf_handler_handle_limited(h, NULL, request, request_len, arena, reply,
                                   reply_len, info);
}

/* The reason for a batch over a cap of sf_request_limits. */
static void too_many(sf_handle_info *info, const sf_wbatch *b, size_t max_inv,
                     size_t max_state) {
  if (b->n_invocations > max_inv)
    snprintf(info->error, sizeof(info->error),
             "a batch of %zu invocations is over the limit of %zu "
             "(sf_request_limits.max_invocations)",
             b->n_invocations, max_inv);
  else
    snprintf(info->error, sizeof(info->error),
             "a request with %zu state values is over the limit of %zu "
             "(sf_request_limits.max_state_values)",
             b->n_state, max_state);
}

sf_status sf_handler_handle_limited(const sf_handler *h,
                                    const sf_request_limits *limits,
                                    const uint8_t *request, size_t request_len,
                                    sf_arena *arena, uint8_t **reply,
                                    size_t *reply_len, sf_handle_info *info) {
  sf_handle_info scratch;
  if (!info) info = &scratch;
  info->function_index = -1;
  info->invocations = 0;
  info->incomplete = false;
  info->error[0] = '\0';
  if (!h || !arena || !reply || !reply_len || (!request && request_len)) {
    set_info(info, "%s%s", "invalid argument to sf_handler_handle", "");
    return SF_ERR_INVALID_ARGUMENT;
  }

  size_t max_inv = limits && limits->max_invocations
                       ? limits->max_invocations
                       : SF_DEFAULT_MAX_INVOCATIONS;
  size_t max_state = limits && limits->max_state_values
                         ? limits->max_state_values
                         : SF_DEFAULT_MAX_STATE_VALUES;
  sf_wto_function to;
  sf_status dst = sf_wire_decode_to_function_capped(
      arena, request ? request : (const uint8_t *)"", request_len, true,
      max_inv, max_state, &to);
  if (dst == SF_ERR_NOMEM) goto nomem;
  if (dst == SF_ERR_TOO_LARGE) {
    too_many(info, &to.batch, max_inv, max_state);
    return SF_ERR_TOO_LARGE;
  }
  if (dst != SF_OK) {
    snprintf(info->error, sizeof(info->error),
             "malformed request: not a valid ToFunction protobuf (%zu bytes)",
             request_len);
    return SF_ERR_DECODE;
  }
  if (!to.has_batch) {
    set_info(info, "%s%s", "request carries no invocation batch (ToFunction.invocation unset)", "");
    return SF_ERR_NO_INVOCATION;
  }
  const sf_wbatch *batch = &to.batch;
  if (!batch->has_target) {
    set_info(info, "%s%s", "invocation batch has no target address", "");
    return SF_ERR_NO_INVOCATION;
  }
  int fi = find_function(h, &batch->target);
  if (fi < 0) {
    sf_why_unknown_function(info->error, sizeof info->error, h,
                            sf_wstr_c(batch->target.ns),
                            sf_wstr_c(batch->target.type),
                            sf_wstr_c(batch->target.id));
    return SF_ERR_UNKNOWN_FUNCTION;
  }
  info->function_index = fi;
  const sf_function *f = &h->functions[fi];

  /* Match declared specs to the request's states (last one of a name wins,
   * like a dict built from the list). */
  const sf_wstate **found = NULL;
  size_t n_missing = 0;
  if (f->n_specs) {
    found = sf_arena_alloc(arena, f->n_specs * sizeof(*found));
    if (!found) goto nomem;
    for (size_t i = 0; i < f->n_specs; i++) {
      found[i] = NULL;
      for (size_t j = batch->n_state; j-- > 0;) {
        if (strcmp(sf_wstr_c(batch->state[j].name), f->specs[i]->name) == 0) {
          found[i] = &batch->state[j];
          break;
        }
      }
      n_missing += found[i] == NULL;
    }
  }
  if (n_missing) {
    info->incomplete = true;
    sf_status st = reply_missing(arena, f, found, n_missing, reply, reply_len);
    if (st != SF_OK) goto nomem;
    return SF_OK;
  }

  sf_context ctx;
  memset(&ctx, 0, sizeof(ctx));
  ctx.arena = arena;
  ctx.function = f;
  ctx.error = info->error;
  ctx.error_len = sizeof(info->error);
  fill_address(&ctx.self, &batch->target);
  if (f->n_specs) {
    ctx.cells = sf_arena_alloc(arena, f->n_specs * sizeof(*ctx.cells));
    if (!ctx.cells) goto nomem;
  }
  for (size_t i = 0; i < f->n_specs; i++) {
    sf_cell *c = &ctx.cells[i];
    const sf_wvalue *tv = found[i]->has_value_msg ? &found[i]->value : NULL;
    c->spec = f->specs[i];
    c->dirty = false;
    c->value.type_name = tv ? sf_wstr_c(tv->type_name) : f->specs[i]->type->type_name;
    c->value.has_value = tv && tv->has_value;
    c->value.data = c->value.has_value ? tv->data : NULL;
    c->value.len = c->value.has_value ? tv->len : 0;
    c->writable = c->value.has_value; /* in the arena's copy of the request */
  }

  /* The message accessors report through the running invocation; a
   * handler run inside a function (a test harness) puts the outer back. */
  sf_context *outer = sf_current_ctx;
  sf_current_ctx = &ctx;
  for (size_t i = 0; i < batch->n_invocations; i++) {
    const sf_winvocation *inv = &batch->invocations[i];
    sf_message msg;
    msg.target = ctx.self;
    if (inv->has_argument) {
      msg.value.type_name = sf_wstr_c(inv->argument.type_name);
      msg.value.has_value = inv->argument.has_value;
      msg.value.data = inv->argument.data;
      msg.value.len = inv->argument.len;
    } else {
      msg.value.type_name = "";
      msg.value.has_value = false;
      msg.value.data = NULL;
      msg.value.len = 0;
    }
    const sf_waddress *caller = &inv->caller;
    ctx.has_caller = inv->has_caller &&
                     (sf_wstr_c(caller->ns)[0] || sf_wstr_c(caller->type)[0] ||
                      sf_wstr_c(caller->id)[0]);
    if (ctx.has_caller) fill_address(&ctx.caller, caller);

    sf_status st = f->fn(&ctx, &msg, f->user_data);
    if (st == SF_OK && ctx.sticky != SF_OK) st = ctx.sticky;
    if (st != SF_OK) {
      sf_current_ctx = outer;
      info->invocations = i + 1;
      if (st == SF_ERR_NOMEM) {
        sf_why_memory(info->error, sizeof info->error, f->type_name, ctx.self.id,
                      arena, request_len);
        return SF_ERR_NOMEM;
      }
      sf_why_batch(info->error, sizeof info->error, f->type_name, ctx.self.id, i + 1,
                   batch->n_invocations, st, info->error);
      return SF_ERR_FUNCTION_FAILED;
    }
  }
  sf_current_ctx = outer;
  info->invocations = batch->n_invocations;
  if (collect_reply(&ctx, reply, reply_len) != SF_OK) goto nomem;
  /* A function may have handled a failed call itself; the reason it left
   * in the buffer is not the batch's: on success there is no error. */
  info->error[0] = '\0';
  return SF_OK;

nomem:
  /* A function was found only when the request decoded. */
  if (info->function_index >= 0)
    sf_why_memory(info->error, sizeof info->error,
                  h->functions[info->function_index].type_name,
                  sf_wstr_c(to.batch.target.id), arena, request_len);
  else
    sf_why_memory(info->error, sizeof info->error, NULL, NULL, arena, request_len);
  return SF_ERR_NOMEM;
}
