/*
 * status.c - every text the SDK gives a person about a failure, in one
 * place: the status table (sf_strerror() and sf_status_name() expand
 * SF_STATUS_LIST of statefun.h), and the reasons a batch fails at run
 * time, each naming what failed and the fix. handler.c prefixes a reason
 * with the function type and the address; the server sends the result as
 * its HTTP 500 body and logs it. tests/unit/test_reasons.c asserts each
 * text exactly, so a change here is a change a user sees.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

const char *sf_strerror(sf_status status) {
  switch (status) {
#define SF_STATUS_MESSAGE_(name, code, message) \
  case name: return message;
    SF_STATUS_LIST(SF_STATUS_MESSAGE_)
#undef SF_STATUS_MESSAGE_
  }
  return "unknown status";
}

const char *sf_status_name(sf_status status) {
  switch (status) {
#define SF_STATUS_NAME_(name, code, message) \
  case name: return #name;
    SF_STATUS_LIST(SF_STATUS_NAME_)
#undef SF_STATUS_NAME_
  }
  return NULL;
}

const char *sf_version(void) { return SF_VERSION_STRING; }

/* ---- the reasons a batch fails ------------------------------------------ */

/* The invocation running on this thread (set by sf_handler_handle), so that
 * the calls that take no context (sf_message_as_int, ...) can say why they
 * failed. NULL outside a function. */
_Thread_local sf_context *sf_current_ctx;

static const char *or_none(const char *s) { return s && *s ? s : "(no type)"; }

void sf_why_message_type(const sf_message *msg, const char *want,
                         const char *test) {
  if (!sf_current_ctx || !msg) return;
  sf_context_set_error(sf_current_ctx,
                       "the message is %s, read as %s: test %s first, or "
                       "send it %s",
                       or_none(msg->value.type_name), want, test, want);
}

void sf_why_message_empty(const sf_message *msg) {
  if (!sf_current_ctx || !msg) return;
  sf_context_set_error(sf_current_ctx,
                       "the message (%s) carries no value: test "
                       "msg->value.has_value first, or send it with a value",
                       or_none(msg->value.type_name));
}

void sf_why_message_decode(const sf_message *msg, const char *detail) {
  if (!sf_current_ctx || !msg) return;
  sf_context_set_error(sf_current_ctx,
                       "the message's %zu bytes are not a valid %s%s%s: fix "
                       "the sender's encoding",
                       msg->value.len, or_none(msg->value.type_name),
                       detail ? " " : "", detail ? detail : "");
}

void sf_why_state_undeclared(sf_context *ctx, const sf_value_spec *spec) {
  sf_context_set_error(ctx,
                       "state '%s' is not declared by %s: add its spec to the "
                       "specs given to sf_handler_register",
                       spec->name ? spec->name : "(null)",
                       ctx->function->type_name);
}

void sf_why_state_kind(sf_context *ctx, const sf_value_spec *spec) {
  sf_context_set_error(ctx,
                       "state '%s' is %s, read as another type: read it with "
                       "the sf_state_get_* of its type",
                       spec->name, spec->type->type_name);
}

void sf_why_state_stored(sf_context *ctx, const sf_value_spec *spec,
                         const char *stored) {
  sf_context_set_error(ctx,
                       "state '%s' is declared %s but Flink holds a %s: "
                       "clear it, or declare the spec with the stored type",
                       spec->name, spec->type->type_name, stored);
}

void sf_why_state_decode(sf_context *ctx, const sf_value_spec *spec,
                         size_t len, const char *detail) {
  sf_context_set_error(ctx,
                       "state '%s' holds %zu bytes that are not a valid %s%s%s: "
                       "clear it, or fix the code that wrote it",
                       spec->name, len, spec->type->type_name,
                       detail ? " " : "", detail ? detail : "");
}

void sf_why_state_set_type(sf_context *ctx, const sf_value_spec *spec,
                           const char *given) {
  sf_context_set_error(ctx,
                       "state '%s' is %s, not %s: set a value of the spec's "
                       "type",
                       spec->name, spec->type->type_name, given);
}

void sf_why_bad_value(sf_context *ctx, const char *what, sf_status status) {
  sf_context_set_error(ctx, "%s: %s", what, sf_strerror(status));
}

void sf_why_string_utf8(sf_context *ctx, size_t len) {
  sf_context_set_error(ctx,
                       "sf_value_string: the %zu bytes given are not UTF-8, "
                       "which %s must be: convert the text, or send bytes as "
                       "a raw type (SF_TYPE_RAW with sf_value_bytes)",
                       len, SF_TYPENAME_STRING);
}

void sf_why_json_type(sf_context *ctx, const sf_type *type) {
  sf_context_set_error(ctx,
                       "sf_value_json: %s is not a JSON type: declare it with "
                       "SF_TYPE_JSON(\"%s\")",
                       type && type->type_name ? type->type_name : "(null)",
                       type && type->type_name ? type->type_name : "ns/name");
}

void sf_why_json_null(sf_context *ctx, const sf_type *type) {
  sf_context_set_error(ctx,
                       "sf_value_json: no JSON value (NULL) for %s: pass a "
                       "json_t, e.g. json_null() for JSON null",
                       type->type_name);
}

void sf_why_proto_descriptor(sf_context *ctx, const sf_type *type,
                             const char *given, const char *want) {
  sf_context_set_error(ctx,
                       "sf_value_proto: type %s is a %s, given a %s: pass a "
                       "%s, or declare a type with the descriptor of %s",
                       type->type_name ? type->type_name : "(null)", want,
                       given, want, given);
}

void sf_why_custom_encode(sf_context *ctx, const sf_type *type,
                          sf_status st) {
  sf_context_set_error(ctx,
                       "sf_value_custom: the encoder of %s failed (%s): fix "
                       "the encoder of its sf_codec, or the object given to it",
                       type->type_name, sf_status_name(st) ? sf_status_name(st) : "?");
}

void sf_why_value_untyped(sf_context *ctx, const char *what) {
  sf_context_set_error(ctx,
                       "%s: the value has no typename: make it with an "
                       "sf_value_* call (a zeroed sf_value is no value)",
                       what);
}

void sf_why_value_typename(sf_context *ctx, const char *what, const char *tn) {
  sf_context_set_error(ctx,
                       "%s: the value's typename '%s' is not namespace/name: "
                       "declare its type with one, e.g. \"example.types/Visit\"",
                       what, tn);
}

void sf_why_target_missing(sf_context *ctx, const char *what, const char *part) {
  sf_context_set_error(ctx, "%s: no target %s (NULL): pass the function type "
                       "(\"namespace/name\") and the id",
                       what, part);
}

void sf_why_target(sf_context *ctx, const char *what, const char *tn,
                   sf_status st) {
  sf_context_set_error(ctx, "%s: target '%s': %s: pass a function type as "
                       "\"namespace/name\"",
                       what, tn, sf_strerror(st));
}

void sf_why_negative_delay(sf_context *ctx, long long delay_ms) {
  sf_context_set_error(ctx, "sf_send_after: negative delay %lld ms: pass 0 or "
                       "more",
                       delay_ms);
}

void sf_why_empty_token(sf_context *ctx) {
  sf_context_set_error(ctx, "sf_cancel_delayed: empty cancellation token: "
                       "pass the token the message was sent with "
                       "(sf_send_after)");
}

void sf_why_egress_id(sf_context *ctx, const char *egress, sf_status st) {
  sf_context_set_error(ctx, "sf_egress: egress '%s': %s: pass the egress id as "
                       "module.yaml declares it (\"namespace/name\")",
                       egress ? egress : "(null)", sf_strerror(st));
}

void sf_why_egress_missing(sf_context *ctx, const char *what, const char *part) {
  sf_context_set_error(ctx, "%s: no %s: pass a non-empty one", what, part);
}

void sf_why_kafka_key(sf_context *ctx, const char *topic) {
  sf_context_set_error(ctx,
                       "sf_egress_kafka: the key to topic '%s' is not UTF-8 "
                       "(StateFun's Kafka egress carries keys as strings): "
                       "encode a binary key, e.g. as hex",
                       topic);
}

/* Text of a function's failure with no reason recorded. */
static void no_reason(char *out, size_t cap, sf_status st) {
  const char *name = sf_status_name(st) ? sf_status_name(st) : "an unknown status";
  if (st == SF_ERR_NO_VALUE)
    snprintf(out, cap,
             "returned %s (%s) with no reason: a state or message it read "
             "held no value; read state with sf_state_get_*_or(ctx, &spec, "
             "default), or test sf_state_has first",
             name, sf_strerror(st));
  else
    snprintf(out, cap,
             "returned %s (%s) with no reason: return sf_context_fail(ctx, "
             "\"...\") to say why",
             name, sf_strerror(st));
}

void sf_why_batch(char *out, size_t cap, const char *function, const char *id,
                  size_t i, size_t n, sf_status st, const char *reason) {
  char own[sizeof(((sf_handle_info *)0)->error)];
  if (!reason || !*reason) {
    no_reason(own, sizeof own, st);
    reason = own;
  } else {
    snprintf(own, sizeof own, "%s", reason); /* `reason` may be `out` */
    reason = own;
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-truncation" /* truncating is fine */
#endif
  snprintf(out, cap, "function %s (id %s) failed at invocation %zu of %zu: %s",
           function, id, i, n, reason);
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
}

void sf_why_memory(char *out, size_t cap, const char *function, const char *id,
                   const sf_arena *arena, size_t request_len) {
  char where[160] = "";
  if (function)
    snprintf(where, sizeof where, "function %s (id %s): ", function, id);
  if (sf_arena_over_limit(arena))
    snprintf(out, cap,
             "%sthe request needs more than its memory limit of %zu bytes: "
             "raise the limit (sf_server_main: --max-body; the limit is 8 x "
             "it, at least 64 MiB), or keep the batch's state and messages "
             "smaller",
             where, sf_arena_limit(arena));
  else
    snprintf(out, cap,
             "%sout of memory handling a request of %zu bytes: the machine "
             "refused more memory; free some, or lower --threads",
             where, request_len);
}

void sf_why_unknown_function(char *out, size_t cap, const sf_handler *h,
                             const char *ns, const char *type, const char *id) {
  char served[192] = "";
  size_t at = 0;
  for (size_t i = 0; i < h->n_functions; i++) {
    const char *tn = h->functions[i].type_name;
    int n = snprintf(served + at, sizeof served - at, "%s%s", i ? ", " : "", tn);
    if (n < 0 || (size_t)n >= sizeof served - at) {
      snprintf(served + at, sizeof served - at, "%s...", i ? ", " : "");
      break;
    }
    at += (size_t)n;
  }
  snprintf(out, cap,
           "unknown function type %s/%s (address %s/%s/%s): this server "
           "serves %s: register it with sf_handler_register, or fix the "
           "functions pattern of the module.yaml endpoint that sends it here",
           ns, type, ns, type, id, h->n_functions ? served : "no function");
}
