/*
 * ir_json_enc.c - JSON -> protobuf wire for IR values (ir_json.h): the
 * bytes of the generated encoders (proto3 defaults of singular fields left
 * out, lists repeated, map entries {1: key, 2: value}, a list or map inside
 * a list or as a map value wrapped as {1: value}), written with sfb/buf.h.
 * Every field is required except in state defaults, where the IR lets a
 * record default leave fields out.
 */
#include "ir_json_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/base64.h"
#include "sfb/buf.h"
#include "sfb/pbwire.h"


static int enc_value(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                     const json_t *j, bool elem);

/* Encodes the fields of a group (a record, an Args) from a JSON object.
 * `kind` is "field" or "argument"; `owner` names the group for messages. */
static int enc_fields(ctx *c, sfb_buf *b, const sfc_field *fs, size_t n,
                      const json_t *obj, const char *kind, const char *owner) {
  const char *key;
  size_t klen;
  json_t *val;
  /* With its length: a key may hold a NUL ("v\0x" is not "v"). */
  json_object_keylen_foreach((json_t *)obj, key, klen, val) {
    bool known = false;
    for (size_t i = 0; i < n && !known; i++)
      known = strlen(fs[i].name) == klen && memcmp(fs[i].name, key, klen) == 0;
    if (!known) {
      char names[256] = "";
      size_t o = 0;
      for (size_t i = 0; i < n && o + 1 < sizeof names; i++) {
        int w = snprintf(names + o, sizeof names - o, "%s%s", i ? ", " : "",
                         fs[i].name);
        if (w > 0) o += (size_t)w;
      }
      if (o >= sizeof names) o = sizeof names - 1;
      char shown[80];
      json_t *ks = json_stringn(key, klen);
      if (ks) {
        ij_describe(ks, shown, sizeof shown);
        json_decref(ks);
      } else {
        snprintf(shown, sizeof shown, "?");
      }
      if (n == 0)
        return ij_fail(c, "unknown %s %s: %s has none", kind, shown, owner);
      return ij_fail(c, "unknown %s %s (%s has %s)", kind, shown, owner, names);
    }
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_object_get(obj, fs[i].name);
    json_t *zero = NULL;
    if (!v && c->absent_zero && !(v = zero = sfc_json_zero(fs[i].type)))
      return ij_fail(c, "out of memory");
    if (!v)
      return ij_fail(c, "missing %s '%s' (%s)", kind, fs[i].name,
                     fs[i].type->text);
    uint32_t num = fs[i].number ? fs[i].number : (uint32_t)i + 1;
    size_t old = c->plen ? ij_path_push(c, ".%s", fs[i].name)
                         : ij_path_push(c, "%s '%s'", kind, fs[i].name);
    int rc = enc_value(c, b, num, fs[i].type, v, false);
    json_decref(zero);
    if (rc != 0) return -1;
    ij_path_pop(c, old);
  }
  return 0;
}

static int get_double(ctx *c, const sfc_type *t, const json_t *j, double *out) {
  if (json_is_integer(j)) {
    *out = (double)json_integer_value(j);
    return 0;
  }
  if (json_is_real(j)) {
    *out = json_real_value(j);
    return 0;
  }
  if (json_is_string(j)) {
    const char *s = json_string_value(j);
    if (strcmp(s, "NaN") == 0) {
      *out = NAN;
      return 0;
    }
    if (strcmp(s, "Infinity") == 0) {
      *out = INFINITY;
      return 0;
    }
    if (strcmp(s, "-Infinity") == 0) {
      *out = -INFINITY;
      return 0;
    }
  }
  char what[64];
  snprintf(what, sizeof what, "a number (%s)", t->text);
  return ij_expected(c, what, j);
}

/* An int64: a JSON integer, or a decimal string (JavaScript loses
 * precision above 2^53). */
static int get_int64(ctx *c, const json_t *j, int64_t *out) {
  if (json_is_integer(j)) {
    *out = (int64_t)json_integer_value(j);
    return 0;
  }
  if (!json_is_string(j)) return ij_expected(c, "an integer (int64)", j);
  const char *s = json_string_value(j);
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  bool digits = (s[0] >= '0' && s[0] <= '9') ||
                (s[0] == '-' && s[1] >= '0' && s[1] <= '9');
  if (!digits || *end != '\0' || (size_t)(end - s) != json_string_length(j))
    return ij_expected(c, "an integer (int64) or a decimal string", j);
  if (errno == ERANGE) {
    char d[80];
    ij_describe(j, d, sizeof d);
    return ij_fail(c, "%s is out of range for int64", d);
  }
  *out = v;
  return 0;
}

/* A varint field, left out when zero unless it is an element. */
static void put_varint(sfb_buf *b, uint32_t num, uint64_t v, bool elem) {
  if (v || elem) {
    sfb_buf_tag(b, num, SFB_WT_VARINT);
    sfb_buf_varint(b, v);
  }
}

/* bool, int32, int64, float, double. */
static int enc_number(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                      const json_t *j, bool elem) {
  switch (t->kind) {
    case SFC_BOOL:
      if (!json_is_boolean(j)) return ij_expected(c, "true or false (bool)", j);
      put_varint(b, num, json_is_true(j) ? 1 : 0, elem);
      return 0;
    case SFC_INT32: {
      if (!json_is_integer(j)) return ij_expected(c, "an integer (int32)", j);
      json_int_t v = json_integer_value(j);
      if (v < INT32_MIN || v > INT32_MAX)
        return ij_fail(c,
                       "%" JSON_INTEGER_FORMAT
                       " is out of range for int32 (-2147483648 to 2147483647)",
                       v);
      put_varint(b, num, sfb_zigzag32((int32_t)v), elem);
      return 0;
    }
    case SFC_INT64: {
      int64_t x = 0;
      if (get_int64(c, j, &x) != 0) return -1;
      put_varint(b, num, sfb_zigzag64(x), elem);
      return 0;
    }
    case SFC_FLOAT: {
      double d;
      if (get_double(c, t, j, &d) != 0) return -1;
      float v;
      if (!sfb_float_of_double(d, &v))
        return ij_fail(c, "%g is out of range for float", d);
      uint32_t bits;
      memcpy(&bits, &v, 4);
      if (bits || elem) sfb_buf_fixed32_field(b, num, bits);
      return 0;
    }
    case SFC_DOUBLE: {
      double v;
      if (get_double(c, t, j, &v) != 0) return -1;
      uint64_t bits;
      memcpy(&bits, &v, 8);
      if (bits || elem) sfb_buf_fixed64_field(b, num, bits);
      return 0;
    }
    default: return ij_fail(c, "internal: not a number type");
  }
}

/* string, ref<E> (the key), bytes (base64 in JSON). */
static int enc_text(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                    const json_t *j, bool elem) {
  if (!json_is_string(j)) {
    char what[160];
    if (t->kind == SFC_REF)
      snprintf(what, sizeof what, "a string (%s key)", t->text);
    else
      snprintf(what, sizeof what, "%s",
               t->kind == SFC_BYTES ? "a base64 string (bytes)" : "a string");
    return ij_expected(c, what, j);
  }
  if (t->kind != SFC_BYTES) {
    if (json_string_length(j) || elem)
      sfb_buf_len_field(b, num, json_string_value(j), json_string_length(j));
    return 0;
  }
  sfb_buf raw = {0};
  sfb_base64_error e;
  int rc = 0;
  if (sfb_base64_decode(json_string_value(j), json_string_length(j), 0, &raw,
                        &e) != 0)
    rc = ij_fail(c, "bad base64 (bytes): %s at character %zu", e.why, e.at);
  else if (raw.len || elem)
    sfb_buf_len_field(b, num, raw.p, raw.len);
  if (raw.oom) b->oom = true;
  sfb_buf_free(&raw);
  return rc;
}

/* A message written into its own buffer, then as field `num` of b. */
static int enc_nested(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                      const json_t *j) {
  sfb_buf sub = {0};
  int rc;
  if (t->kind == SFC_RECORD) {
    char what[160];
    snprintf(what, sizeof what, "record %s", t->record->name);
    rc = enc_fields(c, &sub, t->record->fields, t->record->n_fields, j,
                    "field", what);
  } else {
    rc = enc_value(c, &sub, 1, t, j, false); /* a list/map as {1: value} */
  }
  if (rc == 0) sfb_buf_len_field(b, num, sub.p, sub.len);
  if (sub.oom) b->oom = true;
  sfb_buf_free(&sub);
  return rc;
}

/* A list item or map value: a list or map is wrapped in {1: value}, any
 * other value is written as an element (defaults included). */
static int enc_elem(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *et,
                    const json_t *j) {
  return ij_is_container(et) ? enc_nested(c, b, num, et, j)
                             : enc_value(c, b, num, et, j, true);
}

static int enc_list(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                    const json_t *j) {
  for (size_t i = 0; i < json_array_size(j); i++) {
    size_t old = ij_path_push(c, "[%zu]", i);
    if (enc_elem(c, b, num, t->elem, json_array_get(j, i)) != 0) return -1;
    ij_path_pop(c, old);
  }
  return 0;
}

/* Each entry a message {1: key, 2: value}. */
static int enc_map(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                   const json_t *j) {
  const char *key;
  size_t klen;
  json_t *val;
  /* The key's whole length: a string key may hold a NUL, as the decoder
   * (and protobuf) reads one. */
  json_object_keylen_foreach((json_t *)j, key, klen, val) {
    sfb_buf entry = {0};
    sfb_buf_len_field(&entry, 1, key, klen);
    json_t *ks = json_stringn(key, klen);
    char shown[80] = "?";
    if (ks) ij_describe(ks, shown, sizeof shown);
    json_decref(ks);
    size_t old = ij_path_push(c, "[%s]", shown);
    int rc = enc_elem(c, &entry, 2, t->elem, val);
    if (rc == 0) sfb_buf_len_field(b, num, entry.p, entry.len);
    if (entry.oom) b->oom = true;
    sfb_buf_free(&entry);
    if (rc != 0) return -1;
    ij_path_pop(c, old);
  }
  return 0;
}

/* The JSON container a record, list or map needs; 0 when j is one. */
static int check_container(ctx *c, const sfc_type *t, const json_t *j) {
  char what[160];
  if (t->kind == SFC_LIST ? json_is_array(j) : json_is_object(j)) return 0;
  if (t->kind == SFC_RECORD)
    snprintf(what, sizeof what, "an object (record %s)", t->record->name);
  else
    snprintf(what, sizeof what, "%s (%s)",
             t->kind == SFC_LIST ? "an array" : "an object", t->text);
  return ij_expected(c, what, j);
}

/* Field `num` of type t from j. `elem`: a list item or map value, written
 * even when it is the default. */
static int enc_value(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                     const json_t *j, bool elem) {
  if (++c->depth > MAX_DEPTH) return ij_fail(c, "nested too deeply");
  int rc = 0;
  switch (t->kind) {
    case SFC_BOOL:
    case SFC_INT32:
    case SFC_INT64:
    case SFC_FLOAT:
    case SFC_DOUBLE: rc = enc_number(c, b, num, t, j, elem); break;
    case SFC_STRING:
    case SFC_REF:
    case SFC_BYTES: rc = enc_text(c, b, num, t, j, elem); break;
    case SFC_RECORD:
      if ((rc = check_container(c, t, j)) == 0)
        rc = enc_nested(c, b, num, t, j);
      break;
    case SFC_LIST:
      if ((rc = check_container(c, t, j)) == 0) rc = enc_list(c, b, num, t, j);
      break;
    case SFC_MAP:
      if ((rc = check_container(c, t, j)) == 0) rc = enc_map(c, b, num, t, j);
      break;
    case SFC_VOID:
      if (!json_is_null(j)) rc = ij_expected(c, "null (void)", j);
      break;
  }
  c->depth--;
  return rc;
}

static int finish(ctx *c, sfb_buf *b, int rc, uint8_t **out, size_t *len) {
  if (rc == 0 && b->oom) rc = ij_fail(c, "out of memory");
  if (rc != 0) {
    free(b->p);
    *out = NULL;
    *len = 0;
    return -1;
  }
  *out = b->p;
  *len = b->len;
  return 0;
}

int sfc_json_encode_args(const sfc_method *m, const json_t *args,
                         uint8_t **out, size_t *len, char *err,
                         size_t err_len) {
  ctx c;
  ij_ctx_init(&c, err, err_len);
  sfb_buf b = {0};
  json_t *empty = NULL;
  if (args == NULL || json_is_null(args)) args = empty = json_object();
  int rc;
  if (!args) {
    rc = ij_fail(&c, "out of memory");
  } else if (!json_is_object(args)) {
    char d[80];
    ij_describe(args, d, sizeof d);
    rc = ij_fail(&c,
                 "the arguments must be a JSON object of the parameters "
                 "(%s%s%s), got %s",
                 m->n_params ? "{\"" : "{}",
                 m->n_params ? m->params[0].name : "",
                 m->n_params ? "\": ...}" : "", d);
  } else {
    char owner[256];
    snprintf(owner, sizeof owner, "method %s", m->name);
    rc = enc_fields(&c, &b, m->params, m->n_params, args, "argument", owner);
  }
  json_decref(empty);
  return finish(&c, &b, rc, out, len);
}

/* A value's context: messages start with `what` ("value" when NULL). */
static void enc_begin(ctx *c, const char *what, char *err, size_t err_len) {
  ij_ctx_init(c, err, err_len);
  ij_path_push(c, "%s", what ? what : "value");
}

int sfc_json_encode_record(const sfc_record *r, const json_t *obj,
                           const char *what, uint8_t **out, size_t *len,
                           char *err, size_t err_len) {
  ctx c;
  enc_begin(&c, what, err, err_len);
  sfb_buf b = {0};
  int rc;
  char owner[160];
  snprintf(owner, sizeof owner, "record %s", r->name);
  if (!json_is_object(obj)) {
    char w[200];
    snprintf(w, sizeof w, "an object (record %s)", r->name);
    rc = ij_expected(&c, w, obj);
  } else {
    rc = enc_fields(&c, &b, r->fields, r->n_fields, obj, "field", owner);
  }
  return finish(&c, &b, rc, out, len);
}

int sfc_json_encode_wrapped(const sfc_type *t, const json_t *v,
                            const char *what, uint8_t **out, size_t *len,
                            char *err, size_t err_len) {
  ctx c;
  enc_begin(&c, what, err, err_len);
  sfb_buf b = {0};
  int rc = t->kind == SFC_VOID ? 0 : enc_value(&c, &b, 1, t, v, false);
  return finish(&c, &b, rc, out, len);
}

int sfc_json_encode_default(const sfc_field *f, uint8_t **out, size_t *len,
                            char *err, size_t err_len) {
  ctx c;
  ij_ctx_init(&c, err, err_len);
  c.absent_zero = true;
  ij_path_push(&c, "default of '%s'", f->name);
  sfb_buf b = {0};
  json_t *v = f->default_json
                  ? json_loads(f->default_json, JSON_DECODE_ANY, NULL)
                  : sfc_json_zero(f->type);
  int rc;
  if (!v)
    rc = ij_fail(&c, "cannot read it back");
  else if (f->type->kind == SFC_RECORD)
    rc = enc_fields(&c, &b, f->type->record->fields, f->type->record->n_fields,
                    v, "field", f->type->record->name);
  else
    rc = enc_value(&c, &b, 1, f->type, v, false);
  json_decref(v);
  return finish(&c, &b, rc, out, len);
}
