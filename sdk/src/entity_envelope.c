/*
 * entity_envelope.c - the envelopes entities exchange (Call and Reply of
 * proto/entities.proto, with protobuf-c's generated codec): a Call a step
 * makes, the Reply that answers a Call (to the calling entity, to an
 * egress for an external caller, or to nobody), and decoding the ones
 * that arrive. Everything allocates from the request arena. Both carry
 * the trace context (docs/tracing.md): the incoming Call's trace id goes
 * into every Call an instance makes and into its Reply.
 */
#include <string.h>

#include "entity_internal.h"

char *sf_ent_span_id(sf_context *ctx, const char *call_id) {
  /* FNV-1a 64 of the call id (sfb_span_id_of): the same id in every step
   * of the instance (a resumed step needs nothing more in its frame), in
   * the Reply, and in sf-local's spans of the hops. */
  if (call_id == NULL) return NULL;
  char *id = sf_arena_alloc(sf_context_arena(ctx), 17);
  if (id != NULL) sfb_span_id_of(call_id, id);
  return id;
}

sf_status sf_ent_send_reply(sf_entity_ctx *c, const pb_call *call, bool ok,
                            const uint8_t *result, size_t result_len, const char *error) {
  pb_reply r = STATEFUN__ENTITIES__REPLY__INIT;
  r.call_id = call->call_id;
  r.ok = ok;
  r.result.data = (uint8_t *)result;
  r.result.len = ok ? result_len : 0;
  r.error = (char *)(ok ? "" : (error ? error : "failed"));
  r.request_id = call->request_id;
  if (call->trace_id[0]) {
    r.trace_id = call->trace_id;
    r.span_id = sf_ent_span_id(c->ctx, call->call_id);
    if (!r.span_id) return SF_ERR_NOMEM;
  }
  if (__builtin_expect(sf_ent_trace_out != NULL, 0) && r.span_id[0]) {
    uint64_t now = sf_ent_trace_now();
    sf_ent_span sp = {r.trace_id, sf_ent_span_id(c->ctx, sf_context_printf(c->ctx, NULL, "reply:%s", call->call_id)),
                      r.span_id, "reply", SF_SPAN_PRODUCER, now, now, !ok,
                      {"statefun.call_id", "statefun.ok", ok ? NULL : "statefun.error"},
                      {call->call_id, ok ? "true" : "false", r.error}};
    if (sp.span_id) sf_ent_trace_span(&sp);
  }
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

void sf_ent_fail_call(sf_entity_ctx *c, const pb_call *call, const char *why) {
  if (sf_ent_send_reply(c, call, false, NULL, 0, why) != SF_OK) c->failure = SF_ERR_NOMEM;
}

char *sf_ent_send_call(sf_entity_ctx *c, const pending_call *p, const pb_call *call) {
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
  /* docs/tracing.md: the callee's span hangs under this call's await
   * span, itself a child of the calling instance's span */
  char *await_span = NULL;
  if (call->trace_id[0] && out.call_id) {
    out.trace_id = call->trace_id;
    out.parent_span_id = await_span =
        sf_ent_span_id(c->ctx, sf_context_printf(c->ctx, NULL, "await:%s", out.call_id));
  }
  size_t n = protobuf_c_message_get_packed_size(&out.base);
  uint8_t *buf = sf_arena_alloc(c->arena, n ? n : 1);
  if (!out.call_id || !buf || !out.parent_span_id) {
    c->failure = SF_ERR_NOMEM;
    return NULL;
  }
  protobuf_c_message_pack(&out.base, buf);
  if (__builtin_expect(sf_ent_trace_out != NULL, 0) && await_span) {
    uint64_t now = sf_ent_trace_now();
    sf_ent_span sp = {out.trace_id, await_span, sf_ent_span_id(c->ctx, call->call_id),
                      sf_context_printf(c->ctx, NULL, "await %s.%s", p->entity_type, p->method),
                      SF_SPAN_CLIENT, now, now, false,
                      {"statefun.call_id", "statefun.key"}, {out.call_id, p->key}};
    if (sp.name && sp.parent_span_id) sf_ent_trace_span(&sp);
  }
  sf_value v = {SF_TYPENAME_CALL, true, buf, n};
  sf_status st = sf_send(c->ctx, p->entity_type, p->key, v);
  if (st != SF_OK) {
    c->failure = st;
    return NULL;
  }
  return out.call_id;
}

/* A message's value decoded with `desc` into the arena (an absent value
 * is the empty message). */
static ProtobufCMessage *unpack(sf_arena *arena, const ProtobufCMessageDescriptor *desc,
                                const sf_value *v) {
  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(arena, &alloc);
  const uint8_t *data = v->data ? v->data : (const uint8_t *)"";
  return protobuf_c_message_unpack(desc, &alloc, v->len, data);
}

pb_call *sf_ent_unpack_call(sf_arena *arena, const sf_value *v) {
  return (pb_call *)unpack(arena, &statefun__entities__call__descriptor, v);
}

pb_reply *sf_ent_unpack_reply(sf_arena *arena, const sf_value *v) {
  return (pb_reply *)unpack(arena, &statefun__entities__reply__descriptor, v);
}
