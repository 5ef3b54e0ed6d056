/*
 * usertypes.c - user types beyond raw bytes: JSON through jansson,
 * protobuf messages through protobuf-c, and custom types through the
 * user's own codec. All encode into the request arena.
 * JSON text is written compact with sorted keys, so equal documents give
 * equal bytes.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static bool kind_is(const sf_type *t, sf_type_kind k) { return t && t->kind == k; }

/* ---- JSON ------------------------------------------------------------------ */

sf_value sf_value_json(sf_context *ctx, const sf_type *type,
                       const struct json_t *json) {
  if (!kind_is(type, SF_KIND_JSON) || sf_typename_validate(type->type_name) != SF_OK) {
    sf_why_json_type(ctx, type);
    return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, NULL);
  }
  if (!json) {
    sf_why_json_null(ctx, type);
    return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, NULL);
  }
  char *text = json_dumps(json, JSON_COMPACT | JSON_SORT_KEYS | JSON_ENCODE_ANY);
  if (!text) return sf_context_bad_value(ctx, SF_ERR_NOMEM, "sf_value_json");
  size_t n = strlen(text);
  sf_value v = {type->type_name, true, sf_arena_memdup(ctx->arena, text, n), n};
  free(text);
  if (!v.data) return sf_context_bad_value(ctx, SF_ERR_NOMEM, "sf_value_json");
  return v;
}

static void json_release(void *j) { json_decref(j); }

/* Parses a JSON value into a jansson value the arena owns (released at its
 * reset, like a protobuf message unpacked into it). `detail` (may be NULL)
 * gets jansson's reason for text that is not JSON. */
sf_status sf_json_parse(sf_arena *arena, const sf_value *v, json_t **out,
                        char *detail, size_t cap) {
  json_error_t err;
  json_t *j = json_loadb((const char *)(v->data ? v->data : (const uint8_t *)""),
                         v->len, JSON_DECODE_ANY | JSON_ALLOW_NUL, &err);
  if (!j) {
    snprintf(detail, cap, "(JSON: %.100s at line %d column %d)", err.text, err.line,
             err.column);
    return SF_ERR_VALUE_DECODE;
  }
  if (sf_arena_defer(arena, json_release, j) != SF_OK) {
    json_decref(j);
    return SF_ERR_NOMEM;
  }
  *out = j;
  return SF_OK;
}

sf_status sf_message_as_json(sf_context *ctx, const sf_message *msg,
                             const sf_type *type, struct json_t **out) {
  if (!ctx || !msg || !out || !kind_is(type, SF_KIND_JSON)) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = sf_message_check(msg, type->type_name, out, "sf_message_is(msg, &type)");
  if (st != SF_OK) return st;
  char detail[160];
  st = sf_json_parse(ctx->arena, &msg->value, out, detail, sizeof detail);
  if (st == SF_ERR_VALUE_DECODE) sf_why_message_decode(msg, detail);
  return st;
}

sf_status sf_state_get_json(sf_context *ctx, const sf_value_spec *spec,
                            struct json_t **out) {
  const sf_cell *c;
  sf_status st = sf_context_typed_cell(ctx, spec, SF_KIND_JSON, out, &c);
  if (st != SF_OK) return st;
  char detail[160];
  st = sf_json_parse(ctx->arena, &c->value, out, detail, sizeof detail);
  if (st == SF_ERR_VALUE_DECODE) sf_why_state_decode(ctx, c->spec, c->value.len, detail);
  return st;
}

sf_status sf_state_set_json(sf_context *ctx, const sf_value_spec *spec,
                            const struct json_t *json) {
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (!kind_is(c->spec->type, SF_KIND_JSON)) {
    sf_why_state_kind(ctx, c->spec);
    return SF_ERR_TYPE_MISMATCH;
  }
  sf_value v = sf_value_json(ctx, c->spec->type, json);
  if (!v.type_name) return ctx->sticky;
  return sf_state_set(ctx, spec, v);
}

/* ---- protobuf ----------------------------------------------------------------- */

sf_value sf_value_proto(sf_context *ctx, const sf_type *type,
                        const struct ProtobufCMessage *msg) {
  if (!kind_is(type, SF_KIND_PROTO) || !type->proto ||
      (msg && msg->descriptor != type->proto) ||
      sf_typename_validate(type->type_name) != SF_OK) {
    bool other = msg && kind_is(type, SF_KIND_PROTO) && type->proto && msg->descriptor;
    if (other)
      sf_why_proto_descriptor(ctx, type, msg->descriptor->name,
                              ((const ProtobufCMessageDescriptor *)type->proto)->name);
    return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, other ? NULL : "sf_value_proto");
  }
  /* An absent sub-message is NULL in protobuf-c; like the Java and Go
   * getters, treat it as the empty message, which encodes as no bytes. */
  if (!msg) {
    sf_value empty = {type->type_name, true, (const uint8_t *)"", 0};
    return empty;
  }
  size_t n = protobuf_c_message_get_packed_size(msg);
  uint8_t *buf = sf_arena_alloc(ctx->arena, n ? n : 1);
  if (!buf) return sf_context_bad_value(ctx, SF_ERR_NOMEM, "sf_value_proto");
  protobuf_c_message_pack(msg, buf);
  sf_value v = {type->type_name, true, buf, n};
  return v;
}

static sf_status unpack(sf_arena *arena, const sf_type *type, const sf_value *v,
                        struct ProtobufCMessage **out) {
  ProtobufCAllocator alloc;
  sf_arena_protobuf_allocator(arena, &alloc);
  ProtobufCMessage *m = protobuf_c_message_unpack(
      type->proto, &alloc, v->len, v->data ? v->data : (const uint8_t *)"");
  if (!m) return SF_ERR_VALUE_DECODE;
  *out = m;
  return SF_OK;
}

sf_status sf_message_as_proto(sf_context *ctx, const sf_message *msg,
                              const sf_type *type,
                              struct ProtobufCMessage **out) {
  if (!ctx || !msg || !out || !kind_is(type, SF_KIND_PROTO) || !type->proto)
    return SF_ERR_INVALID_ARGUMENT;
  sf_status st = sf_message_check(msg, type->type_name, out, "sf_message_is(msg, &type)");
  if (st != SF_OK) return st;
  st = unpack(ctx->arena, type, &msg->value, out);
  if (st == SF_ERR_VALUE_DECODE) sf_why_message_decode(msg, NULL);
  return st;
}

sf_status sf_state_get_proto(sf_context *ctx, const sf_value_spec *spec,
                             struct ProtobufCMessage **out) {
  const sf_cell *c;
  sf_status st = sf_context_typed_cell(ctx, spec, SF_KIND_PROTO, out, &c);
  if (st != SF_OK) return st;
  st = unpack(ctx->arena, c->spec->type, &c->value, out);
  if (st == SF_ERR_VALUE_DECODE) sf_why_state_decode(ctx, c->spec, c->value.len, NULL);
  return st;
}

sf_status sf_state_set_proto(sf_context *ctx, const sf_value_spec *spec,
                             const struct ProtobufCMessage *msg) {
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (!kind_is(c->spec->type, SF_KIND_PROTO)) return SF_ERR_TYPE_MISMATCH;
  sf_value v = sf_value_proto(ctx, c->spec->type, msg);
  if (!v.type_name) return ctx->sticky;
  return sf_state_set(ctx, spec, v);
}

/* The typed forms behind SF_MESSAGE_AS_PROTO / SF_STATE_GET_PROTO: `c_size`
 * is sizeof the caller's generated struct, which must be the size the
 * type's descriptor gives, so a struct of another message is refused
 * before anything is written through `out`. */
static sf_status sized(const sf_type *type, size_t c_size) {
  if (!kind_is(type, SF_KIND_PROTO) || !type->proto) return SF_ERR_INVALID_ARGUMENT;
  const ProtobufCMessageDescriptor *d = type->proto;
  return d->sizeof_message == c_size ? SF_OK : SF_ERR_TYPE_MISMATCH;
}

sf_status sf_message_as_proto_sized(sf_context *ctx, const sf_message *msg,
                                    const sf_type *type, size_t c_size,
                                    void *out) {
  sf_status st = sized(type, c_size);
  if (st != SF_OK) return st;
  return sf_message_as_proto(ctx, msg, type, (struct ProtobufCMessage **)out);
}

sf_status sf_state_get_proto_sized(sf_context *ctx, const sf_value_spec *spec,
                                   size_t c_size, void *out) {
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  sf_status st = sized(c->spec->type, c_size);
  if (st != SF_OK) return st == SF_ERR_INVALID_ARGUMENT ? SF_ERR_TYPE_MISMATCH : st;
  return sf_state_get_proto(ctx, spec, (struct ProtobufCMessage **)out);
}

/* ---- custom types (the user's codec) ------------------------------------------ */

static const sf_codec *codec_of(const sf_type *t) {
  const sf_codec *c = kind_is(t, SF_KIND_CUSTOM) ? t->proto : NULL;
  return c && c->encode && c->decode ? c : NULL;
}

sf_value sf_value_custom(sf_context *ctx, const sf_type *type, const void *obj) {
  const sf_codec *c = codec_of(type);
  if (!c || sf_typename_validate(type->type_name) != SF_OK)
    return sf_context_bad_value(ctx, SF_ERR_INVALID_ARGUMENT, "sf_value_custom");
  const uint8_t *data = NULL;
  size_t len = 0;
  sf_status st = c->encode(ctx->arena, obj, &data, &len, c->user_data);
  if (st == SF_OK && !data && len) st = SF_ERR_ENCODE;
  if (st != SF_OK) {
    sf_why_custom_encode(ctx, type, st);
    return sf_context_bad_value(ctx, st, NULL);
  }
  sf_value v = {type->type_name, true, data ? data : (const uint8_t *)"", len};
  return v;
}

static sf_status decode_custom(sf_context *ctx, const sf_type *type,
                               const sf_value *v, void *out) {
  const sf_codec *c = codec_of(type);
  return c->decode(ctx->arena, v->data ? v->data : (const uint8_t *)"", v->len,
                   out, c->user_data);
}

sf_status sf_message_as_custom(sf_context *ctx, const sf_message *msg,
                               const sf_type *type, void *out) {
  if (!ctx || !msg || !out || !codec_of(type)) return SF_ERR_INVALID_ARGUMENT;
  sf_status st = sf_message_check(msg, type->type_name, out, "sf_message_is(msg, &type)");
  if (st != SF_OK) return st;
  st = decode_custom(ctx, type, &msg->value, out);
  if (st == SF_ERR_VALUE_DECODE) sf_why_message_decode(msg, NULL);
  return st;
}

sf_status sf_state_get_custom(sf_context *ctx, const sf_value_spec *spec,
                              void *out) {
  const sf_cell *c;
  sf_status st = sf_context_typed_cell(ctx, spec, SF_KIND_CUSTOM, out, &c);
  if (st != SF_OK) return st;
  st = decode_custom(ctx, c->spec->type, &c->value, out);
  if (st == SF_ERR_VALUE_DECODE) sf_why_state_decode(ctx, c->spec, c->value.len, NULL);
  return st;
}

sf_status sf_state_set_custom(sf_context *ctx, const sf_value_spec *spec,
                              const void *obj) {
  sf_cell *c = sf_context_cell(ctx, spec);
  if (!c) return SF_ERR_UNKNOWN_STATE;
  if (!codec_of(c->spec->type)) return SF_ERR_TYPE_MISMATCH;
  sf_value v = sf_value_custom(ctx, c->spec->type, obj);
  if (!v.type_name) return ctx->sticky;
  return sf_state_set(ctx, spec, v);
}
