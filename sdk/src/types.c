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

bool sf_utf8_valid(const void *data, size_t len) {
  const uint8_t *s = data;
  size_t i = 0;
  while (i < len) {
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false; /* continuation byte, overlong lead, or > U+10FFFF */
    }
    if (len - i <= n) return false;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false; /* overlong, out of range, or a surrogate */
    i += n + 1;
  }
  return true;
}

/* ---- encoders ------------------------------------------------------------- */

static void put_le(uint8_t *out, uint64_t v, int n) {
  for (int i = 0; i < n; i++) out[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get_le(const uint8_t *in, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v |= (uint64_t)in[i] << (8 * i);
  return v;
}

size_t sf_encode_bool(bool v, uint8_t out[2]) {
  if (!v) return 0;
  out[0] = 0x08;
  out[1] = 0x01;
  return 2;
}

size_t sf_encode_int(int32_t v, uint8_t out[5]) {
  if (v == 0) return 0;
  out[0] = 0x0D; /* field 1, fixed32 */
  put_le(out + 1, (uint32_t)v, 4);
  return 5;
}

size_t sf_encode_long(int64_t v, uint8_t out[9]) {
  if (v == 0) return 0;
  out[0] = 0x09; /* field 1, fixed64 */
  put_le(out + 1, (uint64_t)v, 8);
  return 9;
}

size_t sf_encode_float(float v, uint8_t out[5]) {
  if (v == 0.0f) return 0; /* +0.0 and -0.0, like the Python SDK */
  uint32_t bits;
  memcpy(&bits, &v, 4);
  out[0] = 0x0D;
  put_le(out + 1, bits, 4);
  return 5;
}

size_t sf_encode_double(double v, uint8_t out[9]) {
  if (v == 0.0) return 0;
  uint64_t bits;
  memcpy(&bits, &v, 8);
  out[0] = 0x09;
  put_le(out + 1, bits, 8);
  return 9;
}

/* ---- decoders ------------------------------------------------------------- */

static bool read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64; shift += 7) {
    if (*p >= end) return false;
    uint8_t b = *(*p)++;
    v |= (uint64_t)(b & 0x7F) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return true;
    }
  }
  return false;
}

static bool skip_group(const uint8_t **p, const uint8_t *end, uint64_t field,
                       int depth);

/* Skips one field of the given wire type (its tag already read). */
static bool skip_field(const uint8_t **p, const uint8_t *end, unsigned wt,
                       uint64_t field, int depth) {
  uint64_t n;
  switch (wt) {
    case 0: return read_varint(p, end, &n);
    case 1:
      if (end - *p < 8) return false;
      *p += 8;
      return true;
    case 2:
      if (!read_varint(p, end, &n) || n > (uint64_t)(end - *p)) return false;
      *p += n;
      return true;
    case 3: return skip_group(p, end, field, depth + 1);
    case 5:
      if (end - *p < 4) return false;
      *p += 4;
      return true;
    default: return false; /* 4 (end group) unmatched, 6 and 7 invalid */
  }
}

/* Skips a (deprecated, but still valid) group up to its matching end tag,
 * as protobuf parsers do for unknown fields. Nesting is bounded. */
static bool skip_group(const uint8_t **p, const uint8_t *end, uint64_t field,
                       int depth) {
  if (depth > 64) return false;
  while (*p < end) {
    uint64_t tag;
    if (!read_varint(p, end, &tag)) return false;
    unsigned wt = (unsigned)(tag & 7);
    if (wt == 4) return (tag >> 3) == field;
    if ((tag >> 3) == 0 || !skip_field(p, end, wt, tag >> 3, depth)) return false;
  }
  return false; /* no end tag */
}

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
  const uint8_t *p = data, *end = data + len;
  while (p < end) {
    uint64_t tag;
    if (!read_varint(&p, end, &tag)) return SF_ERR_VALUE_DECODE;
    unsigned wt = (unsigned)(tag & 7);
    uint64_t field = tag >> 3;
    if (field == 0) return SF_ERR_VALUE_DECODE;
    if (field == 1 && wt == want) {
      const uint8_t *start = p;
      if (wt == 2) {
        uint64_t n;
        if (!read_varint(&p, end, &n) || n > (uint64_t)(end - p))
          return SF_ERR_VALUE_DECODE;
        *val = p;
        *val_len = (size_t)n;
        p += n;
      } else {
        if (!skip_field(&p, end, wt, field, 0)) return SF_ERR_VALUE_DECODE;
        *val = start;
        *val_len = (size_t)(p - start);
      }
      *found = true;
    } else if (!skip_field(&p, end, wt, field, 0)) {
      /* Field 1 with another wire type is an unknown field to protobuf
       * parsers (the official SDKs skip it), so it is skipped here too. */
      return SF_ERR_VALUE_DECODE;
    }
  }
  return SF_OK;
}

sf_status sf_decode_bool(const uint8_t *data, size_t len, bool *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 0, &v, &vl, &found);
  if (st != SF_OK) return st;
  uint64_t n = 0;
  if (found && !read_varint(&v, v + vl, &n)) return SF_ERR_VALUE_DECODE;
  *out = n != 0;
  return SF_OK;
}

sf_status sf_decode_int(const uint8_t *data, size_t len, int32_t *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 5, &v, &vl, &found);
  if (st != SF_OK) return st;
  *out = found ? (int32_t)(uint32_t)get_le(v, 4) : 0;
  return SF_OK;
}

sf_status sf_decode_long(const uint8_t *data, size_t len, int64_t *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 1, &v, &vl, &found);
  if (st != SF_OK) return st;
  *out = found ? (int64_t)get_le(v, 8) : 0;
  return SF_OK;
}

sf_status sf_decode_float(const uint8_t *data, size_t len, float *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 5, &v, &vl, &found);
  if (st != SF_OK) return st;
  uint32_t bits = found ? (uint32_t)get_le(v, 4) : 0;
  memcpy(out, &bits, 4);
  return SF_OK;
}

sf_status sf_decode_double(const uint8_t *data, size_t len, double *out) {
  const uint8_t *v = NULL;
  size_t vl = 0;
  bool found;
  sf_status st = find_field1(data, len, 1, &v, &vl, &found);
  if (st != SF_OK) return st;
  uint64_t bits = found ? get_le(v, 8) : 0;
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

static sf_status check_message(const sf_message *msg, const char *tn,
                               const void *out) {
  if (!msg || !out) return SF_ERR_INVALID_ARGUMENT;
  if (!typename_is(msg, tn)) return SF_ERR_TYPE_MISMATCH;
  if (!msg->value.has_value) return SF_ERR_NO_VALUE;
  return SF_OK;
}

#define MESSAGE_AS(fn, T, TN, dec)                          \
  sf_status fn(const sf_message *msg, T *out) {             \
    sf_status st = check_message(msg, TN, out);             \
    if (st != SF_OK) return st;                             \
    return dec(msg->value.data, msg->value.len, out);       \
  }
MESSAGE_AS(sf_message_as_bool, bool, SF_TYPENAME_BOOL, sf_decode_bool)
MESSAGE_AS(sf_message_as_int, int32_t, SF_TYPENAME_INT, sf_decode_int)
MESSAGE_AS(sf_message_as_long, int64_t, SF_TYPENAME_LONG, sf_decode_long)
MESSAGE_AS(sf_message_as_float, float, SF_TYPENAME_FLOAT, sf_decode_float)
MESSAGE_AS(sf_message_as_double, double, SF_TYPENAME_DOUBLE, sf_decode_double)

sf_status sf_message_as_string(const sf_message *msg, const char **out,
                               size_t *len) {
  sf_status st = check_message(msg, SF_TYPENAME_STRING, out);
  if (st != SF_OK) return st;
  return sf_decode_string(msg->value.data, msg->value.len, out, len);
}
