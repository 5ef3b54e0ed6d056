/*
 * types.c - the built-in StateFun types and their wire encodings.
 *
 * Each built-in type is a one-field proto3 wrapper message
 * (io.statefun.sdk.types.*Wrapper). The encoders write exactly the bytes the
 * official SDKs write: nothing for the proto3 default (0, false, "", and
 * -0.0 as the Python SDK treats it), else one tag and the value. The
 * decoders accept any valid encoding of the wrapper (unknown fields are
 * skipped, the last occurrence of field 1 wins).
 */
#include <string.h>

#include "internal.h"
#include "sfb/pbwire.h"
#include "sfb/utf8.h"

const sf_type sf_type_bool = {SF_TYPENAME_BOOL, SF_KIND_BOOL, NULL};
const sf_type sf_type_int = {SF_TYPENAME_INT, SF_KIND_INT, NULL};
const sf_type sf_type_long = {SF_TYPENAME_LONG, SF_KIND_LONG, NULL};
const sf_type sf_type_float = {SF_TYPENAME_FLOAT, SF_KIND_FLOAT, NULL};
const sf_type sf_type_double = {SF_TYPENAME_DOUBLE, SF_KIND_DOUBLE, NULL};
const sf_type sf_type_string = {SF_TYPENAME_STRING, SF_KIND_STRING, NULL};

/* ---- names ---------------------------------------------------------------- */

sf_status sf_typename_validate(const char *typename) {
  if (!typename) return SF_ERR_BAD_TYPENAME;
  const char *slash = strchr(typename, '/');
  if (!slash || slash == typename || slash[1] == '\0' || strchr(slash + 1, '/'))
    return SF_ERR_BAD_TYPENAME;
  return SF_OK;
}

sf_status sf_typename_split(const char *type_name, size_t *ns_len,
                            const char **name) {
  const char *slash = type_name ? strrchr(type_name, '/') : NULL;
  if (!slash || slash == type_name || slash[1] == '\0') return SF_ERR_BAD_TYPENAME;
  if (ns_len) *ns_len = (size_t)(slash - type_name);
  if (name) *name = slash + 1;
  return SF_OK;
}

bool sf_address_is(const sf_address *a, const char *type_name, const char *id) {
  size_t ns_len;
  const char *name;
  if (!a || !a->namespace_ || !a->type ||
      sf_typename_split(type_name, &ns_len, &name) != SF_OK)
    return false;
  return strlen(a->namespace_) == ns_len &&
         memcmp(a->namespace_, type_name, ns_len) == 0 &&
         strcmp(a->type, name) == 0 &&
         (!id || (a->id && strcmp(a->id, id) == 0));
}

sf_status sf_state_name_validate(const char *name) {
  if (!name || !*name) return SF_ERR_BAD_STATE_NAME;
  for (const char *p = name; *p; p++) {
    char c = *p;
    bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    bool digit = c >= '0' && c <= '9';
    if (!(alpha || (digit && p != name))) return SF_ERR_BAD_STATE_NAME;
  }
  return SF_OK;
}

sf_status sf_split_typename(sf_arena *arena, const char *typename, char **ns,
                            char **name) {
  sf_status st = sf_typename_validate(typename);
  if (st != SF_OK) return st;
  const char *slash = strchr(typename, '/');
  *ns = sf_arena_strndup(arena, typename, (size_t)(slash - typename));
  *name = sf_arena_strndup(arena, slash + 1, strlen(slash + 1));
  return (*ns && *name) ? SF_OK : SF_ERR_NOMEM;
}

/* The tree's one validator is sfbase's (sfb/utf8.h). */
bool sf_utf8_valid(const void *data, size_t len) {
  return sfb_utf8_valid(data, len);
}

/* ---- encoders ------------------------------------------------------------- */

/* The wire bytes come from sfbase (sfb/pbwire.h): a tag byte per wrapper
 * and little-endian fixed-width payloads. */

size_t sf_encode_bool(bool v, uint8_t out[2]) {
  if (!v) return 0;
  sfb_tag_put(out, 1, SFB_WT_VARINT);
  out[1] = 0x01;
  return 2;
}

size_t sf_encode_int(int32_t v, uint8_t out[5]) {
  if (v == 0) return 0;
  sfb_tag_put(out, 1, SFB_WT_I32);
  sfb_fixed32_put(out + 1, (uint32_t)v);
  return 5;
}

size_t sf_encode_long(int64_t v, uint8_t out[9]) {
  if (v == 0) return 0;
  sfb_tag_put(out, 1, SFB_WT_I64);
  sfb_fixed64_put(out + 1, (uint64_t)v);
  return 9;
}

size_t sf_encode_float(float v, uint8_t out[5]) {
  if (v == 0.0f) return 0; /* +0.0 and -0.0, like the Python SDK */
  uint32_t bits;
  memcpy(&bits, &v, 4);
  sfb_tag_put(out, 1, SFB_WT_I32);
  sfb_fixed32_put(out + 1, bits);
  return 5;
}

size_t sf_encode_double(double v, uint8_t out[9]) {
  if (v == 0.0) return 0;
  uint64_t bits;
  memcpy(&bits, &v, 8);
  sfb_tag_put(out, 1, SFB_WT_I64);
  sfb_fixed64_put(out + 1, bits);
  return 9;
}

/* ---- decoders ------------------------------------------------------------- */

/*
 * Finds the last occurrence of field 1 with wire type `want`. On success
 * *val points at the field's payload (after the tag; for LEN after the
 * length, with *val_len set). Absent field: *found = false.
 */
static sf_status find_field1(const uint8_t *data, size_t len, unsigned want,
                             const uint8_t **val, size_t *val_len,
                             bool *found) {
  *found = false;
  if (!data) return len ? SF_ERR_VALUE_DECODE : SF_OK; /* no NULL + 0 */
  /* What every SDK writes: field 1 alone, canonically encoded. */
  if (len >= 2 && data[0] == (uint8_t)(8 | want)) {
    size_t fixed = want == SFB_WT_I32 ? 4 : want == SFB_WT_I64 ? 8 : 0;
    bool whole = want == SFB_WT_LEN ? data[1] < 0x80 && (size_t)data[1] + 2 == len
                 : want == SFB_WT_VARINT ? len == 2 && data[1] < 0x80
                                         : len == fixed + 1;
    if (whole) {
      *val = data + (want == SFB_WT_LEN ? 2 : 1);
      *val_len = want == SFB_WT_LEN ? data[1] : len - 1;
      *found = true;
      return SF_OK;
    }
  }
  sfb_reader r;
  sfb_reader_init(&r, data, len);
  uint32_t field;
  unsigned wt;
  int more;
  while ((more = sfb_read_tag(&r, &field, &wt)) == 1) {
    const uint8_t *start = r.p;
    bool ok = field == 1 && wt == want && wt == SFB_WT_LEN
                  ? sfb_read_len(&r, val, val_len)
                  : sfb_skip_field(&r, field, wt);
    /* Field 1 with another wire type is an unknown field to protobuf
     * parsers (the official SDKs skip it), so it is skipped here too. */
    if (!ok) return SF_ERR_VALUE_DECODE;
    if (field == 1 && wt == want) {
      if (wt != SFB_WT_LEN) {
        *val = start;
        *val_len = (size_t)(r.p - start);
      }
      *found = true;
    }
  }
  return more == 0 ? SF_OK : SF_ERR_VALUE_DECODE;
}

sf_status sf_decode_bool(const uint8_t *data, size_t len, bool *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 0, &v, &vl, &found);
  if (st != SF_OK) return st;
  uint64_t n = 0;
  sfb_reader r;
  sfb_reader_init(&r, v, vl);
  if (found && !sfb_read_varint(&r, &n)) return SF_ERR_VALUE_DECODE;
  *out = n != 0;
  return SF_OK;
}

sf_status sf_decode_int(const uint8_t *data, size_t len, int32_t *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 5, &v, &vl, &found);
  if (st != SF_OK) return st;
  *out = found ? (int32_t)sfb_fixed32_get(v) : 0;
  return SF_OK;
}

sf_status sf_decode_long(const uint8_t *data, size_t len, int64_t *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 1, &v, &vl, &found);
  if (st != SF_OK) return st;
  *out = found ? (int64_t)sfb_fixed64_get(v) : 0;
  return SF_OK;
}

sf_status sf_decode_float(const uint8_t *data, size_t len, float *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 5, &v, &vl, &found);
  if (st != SF_OK) return st;
  uint32_t bits = found ? sfb_fixed32_get(v) : 0;
  memcpy(out, &bits, 4);
  return SF_OK;
}

sf_status sf_decode_double(const uint8_t *data, size_t len, double *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 1, &v, &vl, &found);
  if (st != SF_OK) return st;
  uint64_t bits = found ? sfb_fixed64_get(v) : 0;
  memcpy(out, &bits, 8);
  return SF_OK;
}

sf_status sf_decode_string(const uint8_t *data, size_t len, const char **s,
                           size_t *slen) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 2, &v, &vl, &found);
  if (st != SF_OK) return st;
  /* proto3 strings are UTF-8; the official SDKs refuse anything else. */
  if (found && !sf_utf8_valid(v, vl)) return SF_ERR_VALUE_DECODE;
  *s = found ? (const char *)v : "";
  if (slen) *slen = found ? vl : 0;
  return SF_OK;
}

/* ---- messages ------------------------------------------------------------- */

static bool typename_is(const sf_message *msg, const char *tn) {
  return msg && msg->value.type_name && strcmp(msg->value.type_name, tn) == 0;
}

bool sf_message_is(const sf_message *msg, const sf_type *type) {
  return type && type->type_name && typename_is(msg, type->type_name);
}
bool sf_message_is_bool(const sf_message *m) { return typename_is(m, SF_TYPENAME_BOOL); }
bool sf_message_is_int(const sf_message *m) { return typename_is(m, SF_TYPENAME_INT); }
bool sf_message_is_long(const sf_message *m) { return typename_is(m, SF_TYPENAME_LONG); }
bool sf_message_is_float(const sf_message *m) { return typename_is(m, SF_TYPENAME_FLOAT); }
bool sf_message_is_double(const sf_message *m) { return typename_is(m, SF_TYPENAME_DOUBLE); }
bool sf_message_is_string(const sf_message *m) { return typename_is(m, SF_TYPENAME_STRING); }

sf_status sf_message_check(const sf_message *msg, const char *tn,
                           const void *out, const char *test) {
  if (!msg || !out) return SF_ERR_INVALID_ARGUMENT;
  if (!typename_is(msg, tn)) {
    sf_why_message_type(msg, tn, test);
    return SF_ERR_TYPE_MISMATCH;
  }
  if (!msg->value.has_value) {
    sf_why_message_empty(msg);
    return SF_ERR_NO_VALUE;
  }
  return SF_OK;
}

/* A typed read's decoding status, with a reason when the bytes are bad. */
static sf_status message_decoded(const sf_message *msg, sf_status st) {
  if (st != SF_OK) sf_why_message_decode(msg, NULL);
  return st;
}

#define MESSAGE_AS(fn, T, TN, dec, test)                                  \
  sf_status fn(const sf_message *msg, T *out) {                           \
    sf_status st = sf_message_check(msg, TN, out, test);                     \
    if (st != SF_OK) return st;                                           \
    return message_decoded(msg, dec(msg->value.data, msg->value.len, out)); \
  }
MESSAGE_AS(sf_message_as_bool, bool, SF_TYPENAME_BOOL, sf_decode_bool, "sf_message_is_bool(msg)")
MESSAGE_AS(sf_message_as_int, int32_t, SF_TYPENAME_INT, sf_decode_int, "sf_message_is_int(msg)")
MESSAGE_AS(sf_message_as_long, int64_t, SF_TYPENAME_LONG, sf_decode_long, "sf_message_is_long(msg)")
MESSAGE_AS(sf_message_as_float, float, SF_TYPENAME_FLOAT, sf_decode_float, "sf_message_is_float(msg)")
MESSAGE_AS(sf_message_as_double, double, SF_TYPENAME_DOUBLE, sf_decode_double, "sf_message_is_double(msg)")

sf_status sf_message_as_string(const sf_message *msg, const char **out,
                               size_t *len) {
  sf_status st = sf_message_check(msg, SF_TYPENAME_STRING, out, "sf_message_is_string(msg)");
  if (st != SF_OK) return st;
  return message_decoded(msg, sf_decode_string(msg->value.data, msg->value.len, out, len));
}
