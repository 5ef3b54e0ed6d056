/*
 * ir_json.c - the IR-driven JSON <-> record codec (ir_json.h).
 */
#include "ir_json.h"
#include "sfb/base64.h"
#include "sfb/buf.h"
#include "sfb/pbwire.h"

#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deeper than any IR type can nest in practice; a guard, not a rule. */
#define MAX_DEPTH 64

/* ---- error context ------------------------------------------------------ */

typedef struct ctx {
  char path[512]; /* "argument 'items'[2].qty" */
  size_t plen;
  char *err;
  size_t err_len;
  int depth;
  bool absent_zero; /* a record field left out is its zero (IR defaults) */
} ctx;

static void ctx_init(ctx *c, char *err, size_t err_len) {
  memset(c, 0, sizeof *c);
  c->err = err;
  c->err_len = err_len;
  if (err && err_len) err[0] = '\0';
}

/* Appends to the path; returns the previous length to truncate back to. */
static size_t path_push(ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static size_t path_push(ctx *c, const char *fmt, ...) {
  size_t old = c->plen;
  if (c->plen + 1 < sizeof c->path) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(c->path + c->plen, sizeof c->path - c->plen, fmt, ap);
    va_end(ap);
    if (n > 0) c->plen += (size_t)n;
    if (c->plen >= sizeof c->path) c->plen = sizeof c->path - 1;
  }
  return old;
}

static void path_pop(ctx *c, size_t old) {
  c->plen = old;
  c->path[old] = '\0';
}

static int fail(ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static int fail(ctx *c, const char *fmt, ...) {
  if (!c->err || !c->err_len) return -1;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (c->plen)
    snprintf(c->err, c->err_len, "%s: %s", c->path, msg);
  else
    snprintf(c->err, c->err_len, "%s", msg);
  return -1;
}

/* A short description of a JSON value for "got ...". */
static void describe(const json_t *j, char *out, size_t n) {
  switch (json_typeof(j)) {
    case JSON_NULL: snprintf(out, n, "null"); return;
    case JSON_TRUE: snprintf(out, n, "true"); return;
    case JSON_FALSE: snprintf(out, n, "false"); return;
    case JSON_INTEGER:
      snprintf(out, n, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
      return;
    case JSON_REAL: {
      /* keep a real recognisable as one: 1e10 -> 10000000000.0 */
      char tmp[40];
      snprintf(tmp, sizeof tmp, "%.17g", json_real_value(j));
      snprintf(out, n, "%s%s", tmp, strpbrk(tmp, ".eEni") ? "" : ".0");
      return;
    }
    case JSON_ARRAY: snprintf(out, n, "an array"); return;
    case JSON_OBJECT: snprintf(out, n, "an object"); return;
    case JSON_STRING: {
      const char *s = json_string_value(j);
      size_t len = json_string_length(j), k = 0;
      /* at most 40 bytes, cut at a character boundary */
      while (k < len && k < 40) {
        size_t step = 1;
        unsigned char ch = (unsigned char)s[k];
        if (ch >= 0xF0) step = 4;
        else if (ch >= 0xE0) step = 3;
        else if (ch >= 0xC0) step = 2;
        if (k + step > 40) break;
        k += step;
      }
      bool cut = k < len;
      char tmp[64];
      size_t o = 0;
      for (size_t i = 0; i < k && o + 2 < sizeof tmp; i++)
        tmp[o++] = s[i] == '\0' || (unsigned char)s[i] < 0x20 ? '?' : s[i];
      tmp[o] = '\0';
      snprintf(out, n, "\"%s%s\"", tmp, cut ? "..." : "");
      return;
    }
  }
  snprintf(out, n, "?");
}

static int expected(ctx *c, const char *what, const json_t *got) {
  char d[80];
  describe(got, d, sizeof d);
  return fail(c, "expected %s, got %s", what, d);
}

static bool is_container(const sfc_type *t) {
  return t->kind == SFC_LIST || t->kind == SFC_MAP;
}

/* ---- base64 (sfb/base64.h) ---------------------------------------------- */

int sfc_base64_decode(const char *s, size_t n, uint8_t **out, size_t *len) {
  sfb_buf b = {0};
  if (sfb_base64_decode(s, n, 0, &b, NULL) != 0 || b.oom) {
    sfb_buf_free(&b);
    *out = NULL;
    *len = 0;
    return -1;
  }
  *len = b.len;
  *out = b.p;
  return 0;
}

/* ---- encoding ----------------------------------------------------------- */

static int enc_value(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                     const json_t *j, bool elem);

/* Encodes the fields of a group (a record, an Args) from a JSON object.
 * `kind` is "field" or "argument"; `owner` names the group for messages. */
static int enc_fields(ctx *c, sfb_buf *b, const sfc_field *fs, size_t n,
                      const json_t *obj, const char *kind, const char *owner) {
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)obj, key, val) {
    bool known = false;
    for (size_t i = 0; i < n && !known; i++)
      known = strcmp(fs[i].name, key) == 0;
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
      json_t *ks = json_string(key);
      if (ks) {
        describe(ks, shown, sizeof shown);
        json_decref(ks);
      } else {
        snprintf(shown, sizeof shown, "?");
      }
      if (n == 0)
        return fail(c, "unknown %s %s: %s has none", kind, shown, owner);
      return fail(c, "unknown %s %s (%s has %s)", kind, shown, owner, names);
    }
  }
  for (size_t i = 0; i < n; i++) {
    const json_t *v = json_object_get(obj, fs[i].name);
    json_t *zero = NULL;
    if (!v && c->absent_zero && !(v = zero = sfc_json_zero(fs[i].type)))
      return fail(c, "out of memory");
    if (!v)
      return fail(c, "missing %s '%s' (%s)", kind, fs[i].name,
                  fs[i].type->text);
    uint32_t num = fs[i].number ? fs[i].number : (uint32_t)i + 1;
    size_t old = c->plen ? path_push(c, ".%s", fs[i].name)
                         : path_push(c, "%s '%s'", kind, fs[i].name);
    int rc = enc_value(c, b, num, fs[i].type, v, false);
    json_decref(zero);
    if (rc != 0) return -1;
    path_pop(c, old);
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
  return expected(c, what, j);
}

/* An int64: a JSON integer, or a decimal string (JavaScript loses
 * precision above 2^53). */
static int get_int64(ctx *c, const json_t *j, int64_t *out) {
  if (json_is_integer(j)) {
    *out = (int64_t)json_integer_value(j);
    return 0;
  }
  if (!json_is_string(j)) return expected(c, "an integer (int64)", j);
  const char *s = json_string_value(j);
  char *end = NULL;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  bool digits = (s[0] >= '0' && s[0] <= '9') ||
                (s[0] == '-' && s[1] >= '0' && s[1] <= '9');
  if (!digits || *end != '\0' || (size_t)(end - s) != json_string_length(j))
    return expected(c, "an integer (int64) or a decimal string", j);
  if (errno == ERANGE) {
    char d[80];
    describe(j, d, sizeof d);
    return fail(c, "%s is out of range for int64", d);
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
      if (!json_is_boolean(j)) return expected(c, "true or false (bool)", j);
      put_varint(b, num, json_is_true(j) ? 1 : 0, elem);
      return 0;
    case SFC_INT32: {
      if (!json_is_integer(j)) return expected(c, "an integer (int32)", j);
      json_int_t v = json_integer_value(j);
      if (v < INT32_MIN || v > INT32_MAX)
        return fail(c, "%" JSON_INTEGER_FORMAT
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
      if (isfinite(d) && (d > FLT_MAX || d < -FLT_MAX))
        return fail(c, "%g is out of range for float", d);
      float v = (float)d;
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
    default: return fail(c, "internal: not a number type");
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
    return expected(c, what, j);
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
    rc = fail(c, "bad base64 (bytes): %s at character %zu", e.why, e.at);
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
  return is_container(et) ? enc_nested(c, b, num, et, j)
                          : enc_value(c, b, num, et, j, true);
}

static int enc_list(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                    const json_t *j) {
  for (size_t i = 0; i < json_array_size(j); i++) {
    size_t old = path_push(c, "[%zu]", i);
    if (enc_elem(c, b, num, t->elem, json_array_get(j, i)) != 0) return -1;
    path_pop(c, old);
  }
  return 0;
}

/* Each entry a message {1: key, 2: value}. */
static int enc_map(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                   const json_t *j) {
  const char *key;
  json_t *val;
  json_object_foreach((json_t *)j, key, val) {
    sfb_buf entry = {0};
    sfb_buf_len_field(&entry, 1, key, strlen(key));
    json_t *ks = json_string(key);
    char shown[80] = "?";
    if (ks) describe(ks, shown, sizeof shown);
    json_decref(ks);
    size_t old = path_push(c, "[%s]", shown);
    int rc = enc_elem(c, &entry, 2, t->elem, val);
    if (rc == 0) sfb_buf_len_field(b, num, entry.p, entry.len);
    if (entry.oom) b->oom = true;
    sfb_buf_free(&entry);
    if (rc != 0) return -1;
    path_pop(c, old);
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
  return expected(c, what, j);
}

/* Field `num` of type t from j. `elem`: a list item or map value, written
 * even when it is the default. */
static int enc_value(ctx *c, sfb_buf *b, uint32_t num, const sfc_type *t,
                     const json_t *j, bool elem) {
  if (++c->depth > MAX_DEPTH) return fail(c, "nested too deeply");
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
      if (!json_is_null(j)) rc = expected(c, "null (void)", j);
      break;
  }
  c->depth--;
  return rc;
}

static int finish(ctx *c, sfb_buf *b, int rc, uint8_t **out, size_t *len) {
  if (rc == 0 && b->oom) rc = fail(c, "out of memory");
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
  ctx_init(&c, err, err_len);
  sfb_buf b = {0};
  json_t *empty = NULL;
  if (args == NULL || json_is_null(args)) args = empty = json_object();
  int rc;
  if (!args) {
    rc = fail(&c, "out of memory");
  } else if (!json_is_object(args)) {
    char d[80];
    describe(args, d, sizeof d);
    rc = fail(&c,
              "the arguments must be a JSON object of the parameters "
              "(%s%s%s), got %s",
              m->n_params ? "{\"" : "{}", m->n_params ? m->params[0].name : "",
              m->n_params ? "\": ...}" : "", d);
  } else {
    char owner[256];
    snprintf(owner, sizeof owner, "method %s", m->name);
    rc = enc_fields(&c, &b, m->params, m->n_params, args, "argument", owner);
  }
  json_decref(empty);
  return finish(&c, &b, rc, out, len);
}

int sfc_json_encode_record(const sfc_record *r, const json_t *obj,
                           const char *what, uint8_t **out, size_t *len,
                           char *err, size_t err_len) {
  ctx c;
  ctx_init(&c, err, err_len);
  sfb_buf b = {0};
  path_push(&c, "%s", what ? what : "value");
  int rc;
  char owner[160];
  snprintf(owner, sizeof owner, "record %s", r->name);
  if (!json_is_object(obj)) {
    char w[200];
    snprintf(w, sizeof w, "an object (record %s)", r->name);
    rc = expected(&c, w, obj);
  } else {
    rc = enc_fields(&c, &b, r->fields, r->n_fields, obj, "field", owner);
  }
  return finish(&c, &b, rc, out, len);
}

int sfc_json_encode_wrapped(const sfc_type *t, const json_t *v,
                            const char *what, uint8_t **out, size_t *len,
                            char *err, size_t err_len) {
  ctx c;
  ctx_init(&c, err, err_len);
  sfb_buf b = {0};
  path_push(&c, "%s", what ? what : "value");
  int rc = t->kind == SFC_VOID ? 0 : enc_value(&c, &b, 1, t, v, false);
  return finish(&c, &b, rc, out, len);
}

int sfc_json_encode_default(const sfc_field *f, uint8_t **out, size_t *len,
                            char *err, size_t err_len) {
  ctx c;
  ctx_init(&c, err, err_len);
  c.absent_zero = true;
  path_push(&c, "default of '%s'", f->name);
  sfb_buf b = {0};
  json_t *v = f->default_json
                  ? json_loads(f->default_json, JSON_DECODE_ANY, NULL)
                  : sfc_json_zero(f->type);
  int rc;
  if (!v)
    rc = fail(&c, "cannot read it back");
  else if (f->type->kind == SFC_RECORD)
    rc = enc_fields(&c, &b, f->type->record->fields, f->type->record->n_fields,
                    v, "field", f->type->record->name);
  else
    rc = enc_value(&c, &b, 1, f->type, v, false);
  json_decref(v);
  return finish(&c, &b, rc, out, len);
}

/* ---- decoding ----------------------------------------------------------- */

/* The reader is sfb/pbwire.h's; a length-delimited field read as a reader
 * of its own. */
static bool r_sub(sfb_reader *r, sfb_reader *sub) {
  const uint8_t *p;
  size_t n;
  if (!sfb_read_len(r, &p, &n)) return false;
  sfb_reader_init(sub, p, n);
  return true;
}

/* Skips an unknown field's value. Groups are no part of the records' wire
 * form: malformed here (the field number only matters for groups). */
static bool r_skip(sfb_reader *r, uint32_t field, unsigned wt) {
  if (wt == SFB_WT_SGROUP || wt == SFB_WT_EGROUP) return false;
  return sfb_skip_field(r, field, wt);
}

static const char *wt_name(unsigned wt) {
  switch (wt) {
    case 0: return "varint";
    case 1: return "fixed64";
    case 2: return "length-delimited";
    case 5: return "fixed32";
    default: return "unknown";
  }
}

static unsigned wire_wt(const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL:
    case SFC_INT32:
    case SFC_INT64: return 0;
    case SFC_FLOAT: return 5;
    case SFC_DOUBLE: return 1;
    default: return 2;
  }
}

static json_t *json_double(double d) {
  if (isnan(d)) return json_string("NaN");
  if (isinf(d)) return json_string(d > 0 ? "Infinity" : "-Infinity");
  return json_real(d);
}

/* A float as the shortest decimal that reads back as the same float. */
static json_t *json_float(float f) {
  if (!isfinite(f)) return json_double((double)f);
  char buf[32];
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    if (strtof(buf, NULL) == f) break;
  }
  return json_real(strtod(buf, NULL));
}

json_t *sfc_json_zero(const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL: return json_false();
    case SFC_INT32:
    case SFC_INT64: return json_integer(0);
    case SFC_FLOAT:
    case SFC_DOUBLE: return json_real(0.0);
    case SFC_STRING:
    case SFC_BYTES:
    case SFC_REF: return json_string("");
    case SFC_LIST: return json_array();
    case SFC_MAP: return json_object();
    case SFC_RECORD: {
      json_t *o = json_object();
      for (size_t i = 0; o && i < t->record->n_fields; i++)
        if (json_object_set_new(o, t->record->fields[i].name,
                                sfc_json_zero(t->record->fields[i].type)) != 0) {
          json_decref(o);
          return NULL;
        }
      return o;
    }
    case SFC_VOID: return json_null();
  }
  return NULL;
}

static int dec_fields(ctx *c, sfb_reader *r, const sfc_field *fs, size_t n,
                      json_t *obj);

/* One scalar of type t (wire type wt) from r. */
static int dec_scalar(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                      json_t **out) {
  uint64_t v;
  if (wt != wire_wt(t))
    return fail(c, "wire type %s where %s (%s) was expected", wt_name(wt),
                wt_name(wire_wt(t)), t->text);
  switch (t->kind) {
    case SFC_BOOL:
      if (!sfb_read_varint(r, &v)) return fail(c, "truncated varint");
      *out = json_boolean(v != 0);
      break;
    case SFC_INT32: {
      if (!sfb_read_varint(r, &v)) return fail(c, "truncated varint");
      *out = json_integer(sfb_unzigzag32((uint32_t)v));
      break;
    }
    case SFC_INT64:
      if (!sfb_read_varint(r, &v)) return fail(c, "truncated varint");
      *out = json_integer((json_int_t)sfb_unzigzag64(v));
      break;
    case SFC_FLOAT: {
      uint32_t bits;
      if (!sfb_read_fixed32(r, &bits)) return fail(c, "truncated fixed32");
      float f;
      memcpy(&f, &bits, 4);
      *out = json_float(f);
      break;
    }
    case SFC_DOUBLE: {
      if (!sfb_read_fixed64(r, &v)) return fail(c, "truncated fixed64");
      double d;
      memcpy(&d, &v, 8);
      *out = json_double(d);
      break;
    }
    default: return fail(c, "internal: not a scalar");
  }
  return *out ? 0 : fail(c, "out of memory");
}

/* The value {1: value} (a wrapper message) of type t into *slot. */
static int dec_wrapped(ctx *c, sfb_reader *r, const sfc_type *t, json_t **slot) {
  sfc_field one;
  memset(&one, 0, sizeof one);
  one.name = (char *)"1";
  one.type = (sfc_type *)t;
  one.number = 1;
  json_t *holder = json_object();
  if (!holder) return fail(c, "out of memory");
  int rc = dec_fields(c, r, &one, 1, holder);
  if (rc == 0) {
    json_t *v = json_object_get(holder, "1");
    json_incref(v);
    json_decref(*slot);
    *slot = v;
  }
  json_decref(holder);
  return rc;
}

static int dec_value(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                     json_t **slot);

/* Makes *slot a value of the JSON type `want` (keeping it when it is one
 * already: lists append, maps add, records merge). */
static int ensure(ctx *c, json_t **slot, json_type want, const sfc_type *t) {
  if (*slot && json_typeof(*slot) == want) return 0;
  json_decref(*slot);
  *slot = want == JSON_ARRAY    ? json_array()
          : t->kind == SFC_MAP ? json_object()
                               : sfc_json_zero(t);
  return *slot ? 0 : fail(c, "out of memory");
}

static void replace(json_t **slot, json_t *v) {
  json_decref(*slot);
  *slot = v;
}

/* string, ref<E>, bytes: a length-delimited field. */
static int dec_text(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                    json_t **slot) {
  sfb_reader sub;
  if (wt != 2)
    return fail(c, "wire type %s where length-delimited (%s) was expected",
                wt_name(wt), t->text);
  if (!r_sub(r, &sub)) return fail(c, "truncated length-delimited field");
  size_t n = (size_t)(sub.end - sub.p);
  if (t->kind == SFC_BYTES) {
    char *s = sfb_base64_encode(sub.p, n);
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    if (!v) return fail(c, "out of memory");
    replace(slot, v);
    return 0;
  }
  json_t *v = json_stringn(n ? (const char *)sub.p : "", n);
  if (!v)
    return fail(c, "%s is not valid UTF-8 (or holds a NUL byte)",
                t->kind == SFC_REF ? "the key" : "the string");
  replace(slot, v);
  return 0;
}

static int dec_record(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                      json_t **slot) {
  sfb_reader sub;
  if (wt != 2)
    return fail(c, "wire type %s where length-delimited (record %s) was "
                   "expected",
                wt_name(wt), t->record->name);
  if (!r_sub(r, &sub)) return fail(c, "truncated record %s", t->record->name);
  if (ensure(c, slot, JSON_OBJECT, t) != 0) return -1;
  return dec_fields(c, &sub, t->record->fields, t->record->n_fields, *slot);
}

/* A packed run of numbers (the writer never packs; other encoders do). */
static int dec_packed(ctx *c, sfb_reader *r, const sfc_type *t, json_t *arr) {
  sfb_reader sub;
  const sfc_type *et = t->elem;
  if (!r_sub(r, &sub)) return fail(c, "truncated packed %s", t->text);
  size_t idx = json_array_size(arr);
  while (sub.p < sub.end) {
    json_t *v = NULL;
    size_t old = path_push(c, "[%zu]", idx++);
    if (dec_scalar(c, &sub, et, wire_wt(et), &v) != 0) return -1;
    if (json_array_append_new(arr, v) != 0) return fail(c, "out of memory");
    path_pop(c, old);
  }
  return 0;
}

/* A list or map element that is itself a list or map: {1: value}. */
static int dec_nested(ctx *c, sfb_reader *r, const sfc_type *et, unsigned wt,
                      json_t **slot) {
  sfb_reader sub;
  if (wt != 2)
    return fail(c, "wire type %s where length-delimited (%s) was expected",
                wt_name(wt), et->text);
  if (!r_sub(r, &sub)) return fail(c, "truncated %s", et->text);
  return dec_wrapped(c, &sub, et, slot);
}

/* One item of a list (or a packed run of them), appended. */
static int dec_list(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                    json_t **slot) {
  if (ensure(c, slot, JSON_ARRAY, t) != 0) return -1;
  const sfc_type *et = t->elem;
  if (wire_wt(et) != 2 && wt == 2) return dec_packed(c, r, t, *slot);
  size_t old = path_push(c, "[%zu]", json_array_size(*slot));
  json_t *v = is_container(et) || et->kind == SFC_RECORD ? sfc_json_zero(et)
                                                         : NULL;
  int rc;
  if (is_container(et))
    rc = v ? dec_nested(c, r, et, wt, &v) : fail(c, "out of memory");
  else
    rc = dec_value(c, r, et, wt, &v);
  if (rc == 0 && json_array_append_new(*slot, v) != 0)
    rc = fail(c, "out of memory");
  else if (rc != 0)
    json_decref(v);
  if (rc == 0) path_pop(c, old);
  return rc;
}

/* The fields of one map entry {1: key, 2: value} into *key and *val. */
static int dec_entry(ctx *c, sfb_reader *sub, const sfc_type *t,
                     json_t **key, json_t **val) {
  static const sfc_type str_type = {.kind = SFC_STRING,
                                    .text = (char *)"string"};
  uint32_t field;
  unsigned ewt;
  int more, rc = 0;
  while (rc == 0 && (more = sfb_read_tag(sub, &field, &ewt)) != 0) {
    if (more < 0)
      rc = fail(c, "malformed field tag");
    else if (field == 1)
      rc = dec_value(c, sub, &str_type, ewt, key);
    else if (field == 2 && is_container(t->elem))
      rc = dec_nested(c, sub, t->elem, ewt, val);
    else if (field == 2)
      rc = dec_value(c, sub, t->elem, ewt, val);
    else if (!r_skip(sub, field, ewt))
      rc = fail(c, "malformed unknown field %u", field);
  }
  return rc;
}

/* One map entry, added (a later entry with the same key wins). */
static int dec_map(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                   json_t **slot) {
  sfb_reader sub;
  if (ensure(c, slot, JSON_OBJECT, t) != 0) return -1;
  if (wt != 2)
    return fail(c, "wire type %s where a map entry was expected",
                wt_name(wt));
  if (!r_sub(r, &sub)) return fail(c, "truncated map entry");
  json_t *key = json_string("");
  json_t *val = sfc_json_zero(t->elem);
  int rc = 0;
  if (!key || !val) {
    json_decref(val);
    rc = fail(c, "out of memory");
  } else {
    size_t old = path_push(c, "[entry]");
    rc = dec_entry(c, &sub, t, &key, &val);
    if (rc == 0) {
      path_pop(c, old);
      if (json_object_setn_new(*slot, json_string_value(key),
                               json_string_length(key), val) != 0)
        rc = fail(c, "out of memory");
    } else {
      json_decref(val);
    }
  }
  json_decref(key);
  return rc;
}

/* Decodes one occurrence of a field of type t (wire type wt) from r into
 * *slot (which holds the current value: lists append, maps add, records
 * merge, scalars replace). */
static int dec_value(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                     json_t **slot) {
  if (++c->depth > MAX_DEPTH) return fail(c, "nested too deeply");
  int rc = 0;
  switch (t->kind) {
    case SFC_BOOL:
    case SFC_INT32:
    case SFC_INT64:
    case SFC_FLOAT:
    case SFC_DOUBLE: {
      json_t *v = NULL;
      rc = dec_scalar(c, r, t, wt, &v);
      if (rc == 0) replace(slot, v);
      break;
    }
    case SFC_STRING:
    case SFC_REF:
    case SFC_BYTES: rc = dec_text(c, r, t, wt, slot); break;
    case SFC_RECORD: rc = dec_record(c, r, t, wt, slot); break;
    case SFC_LIST: rc = dec_list(c, r, t, wt, slot); break;
    case SFC_MAP: rc = dec_map(c, r, t, wt, slot); break;
    case SFC_VOID: rc = r_skip(r, 0, wt) ? 0 : fail(c, "malformed field"); break;
  }
  c->depth--;
  return rc;
}

/* Reads a group's fields from r into obj (which already holds every
 * field, zero or earlier values). Unknown fields are skipped. */
static int dec_fields(ctx *c, sfb_reader *r, const sfc_field *fs, size_t n,
                      json_t *obj) {
  for (size_t i = 0; i < n; i++)
    if (!json_object_get(obj, fs[i].name)) {
      json_t *z = sfc_json_zero(fs[i].type);
      if (!z || json_object_set_new(obj, fs[i].name, z) != 0)
        return fail(c, "out of memory");
    }
  uint32_t field;
  unsigned wt;
  int more;
  while ((more = sfb_read_tag(r, &field, &wt)) != 0) {
    if (more < 0) return fail(c, "malformed field tag");
    const sfc_field *f = NULL;
    for (size_t i = 0; i < n && !f; i++)
      if ((fs[i].number ? fs[i].number : (uint32_t)i + 1) == field) f = &fs[i];
    if (!f) {
      if (!r_skip(r, field, wt))
        return fail(c, "malformed unknown field %u", field);
      continue;
    }
    json_t *cur = json_object_get(obj, f->name);
    json_incref(cur);
    size_t old = strcmp(f->name, "1") == 0 ? c->plen
                 : c->plen                 ? path_push(c, ".%s", f->name)
                                           : path_push(c, "%s", f->name);
    int rc = dec_value(c, r, f->type, wt, &cur);
    if (rc == 0 && json_object_set(obj, f->name, cur) != 0)
      rc = fail(c, "out of memory");
    json_decref(cur);
    if (rc != 0) return rc;
    path_pop(c, old);
  }
  return 0;
}

static sfb_reader rb(const uint8_t *p, size_t n) {
  sfb_reader r;
  sfb_reader_init(&r, p, n);
  return r;
}

json_t *sfc_json_decode_args(const sfc_method *m, const uint8_t *p, size_t n,
                             char *err, size_t err_len) {
  ctx c;
  ctx_init(&c, err, err_len);
  path_push(&c, "args of %s", m->name);
  json_t *o = json_object();
  if (!o) {
    fail(&c, "out of memory");
    return NULL;
  }
  sfb_reader r = rb(p, n);
  c.plen = 0; /* argument names stand alone */
  c.path[0] = '\0';
  if (dec_fields(&c, &r, m->params, m->n_params, o) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *sfc_json_decode_wrapped(const sfc_type *t, const uint8_t *p,
                                size_t n, char *err, size_t err_len) {
  ctx c;
  ctx_init(&c, err, err_len);
  if (t->kind == SFC_VOID) return json_null();
  path_push(&c, "value");
  json_t *v = sfc_json_zero(t);
  if (!v) {
    fail(&c, "out of memory");
    return NULL;
  }
  sfb_reader r = rb(p, n);
  if (dec_wrapped(&c, &r, t, &v) != 0) {
    json_decref(v);
    return NULL;
  }
  return v;
}

json_t *sfc_json_decode_result(const sfc_method *m, const uint8_t *p,
                               size_t n, char *err, size_t err_len) {
  if (m->result == NULL || m->result->kind == SFC_VOID) return json_null();
  json_t *v = sfc_json_decode_wrapped(m->result, p, n, err, err_len);
  if (!v && err && err_len) {
    char tmp[512];
    snprintf(tmp, sizeof tmp, "result of %s: %s", m->name, err);
    snprintf(err, err_len, "%s", tmp);
  }
  return v;
}

json_t *sfc_json_decode_record(const sfc_record *r, const uint8_t *p,
                               size_t n, char *err, size_t err_len) {
  ctx c;
  ctx_init(&c, err, err_len);
  json_t *o = json_object();
  if (!o) {
    fail(&c, "out of memory");
    return NULL;
  }
  path_push(&c, "%s", r->name);
  sfb_reader b = rb(p, n);
  if (dec_fields(&c, &b, r->fields, r->n_fields, o) != 0) {
    json_decref(o);
    return NULL;
  }
  return o;
}

json_t *sfc_json_decode_state(const sfc_type *t, const uint8_t *p, size_t n,
                              char *err, size_t err_len) {
  if (t->kind == SFC_RECORD)
    return sfc_json_decode_record(t->record, p, n, err, err_len);
  return sfc_json_decode_wrapped(t, p, n, err, err_len);
}
