/*
 * ir_json_dec.c - protobuf wire -> JSON for IR values (ir_json.h), read
 * with sfb/pbwire.h's bounds-checked reader: every field of a record
 * present (zero when absent), packed numeric lists accepted, unknown
 * fields skipped, groups and wrong wire types refused with a message.
 */
#include "ir_json_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/base64.h"
#include "sfb/pbwire.h"


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


static int dec_fields(ctx *c, sfb_reader *r, const sfc_field *fs, size_t n,
                      json_t *obj);

/* One scalar of type t (wire type wt) from r. */
static int dec_scalar(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                      json_t **out) {
  uint64_t v;
  if (wt != sfc_type_wire_type(t))
    return ij_fail(c, "wire type %s where %s (%s) was expected", wt_name(wt),
                   wt_name(sfc_type_wire_type(t)), t->text);
  switch (t->kind) {
    case SFC_BOOL:
      if (!sfb_read_varint(r, &v)) return ij_fail(c, "truncated varint");
      *out = json_boolean(v != 0);
      break;
    case SFC_INT32: {
      if (!sfb_read_varint(r, &v)) return ij_fail(c, "truncated varint");
      *out = json_integer(sfb_unzigzag32((uint32_t)v));
      break;
    }
    case SFC_INT64:
      if (!sfb_read_varint(r, &v)) return ij_fail(c, "truncated varint");
      *out = json_integer((json_int_t)sfb_unzigzag64(v));
      break;
    case SFC_FLOAT: {
      uint32_t bits;
      if (!sfb_read_fixed32(r, &bits)) return ij_fail(c, "truncated fixed32");
      float f;
      memcpy(&f, &bits, 4);
      *out = json_float(f);
      break;
    }
    case SFC_DOUBLE: {
      if (!sfb_read_fixed64(r, &v)) return ij_fail(c, "truncated fixed64");
      double d;
      memcpy(&d, &v, 8);
      *out = json_double(d);
      break;
    }
    default: return ij_fail(c, "internal: not a scalar");
  }
  return *out ? 0 : ij_fail(c, "out of memory");
}

/* The value {1: value} (a wrapper message) of type t into *slot. */
static int dec_wrapped(ctx *c, sfb_reader *r, const sfc_type *t,
                       json_t **slot) {
  sfc_field one;
  memset(&one, 0, sizeof one);
  one.name = (char *)"1";
  one.type = (sfc_type *)t;
  one.number = 1;
  json_t *holder = json_object();
  if (!holder) return ij_fail(c, "out of memory");
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
  return *slot ? 0 : ij_fail(c, "out of memory");
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
    return ij_fail(c, "wire type %s where length-delimited (%s) was expected",
                   wt_name(wt), t->text);
  if (!r_sub(r, &sub)) return ij_fail(c, "truncated length-delimited field");
  size_t n = (size_t)(sub.end - sub.p);
  if (t->kind == SFC_BYTES) {
    char *s = sfb_base64_encode(sub.p, n);
    json_t *v = s ? json_string(s) : NULL;
    free(s);
    if (!v) return ij_fail(c, "out of memory");
    replace(slot, v);
    return 0;
  }
  json_t *v = json_stringn(n ? (const char *)sub.p : "", n);
  if (!v)
    return ij_fail(c, "%s is not valid UTF-8",
                   t->kind == SFC_REF ? "the key" : "the string");
  replace(slot, v);
  return 0;
}

static int dec_record(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                      json_t **slot) {
  sfb_reader sub;
  if (wt != 2)
    return ij_fail(c,
                   "wire type %s where length-delimited (record %s) was "
                   "expected",
                   wt_name(wt), t->record->name);
  if (!r_sub(r, &sub))
    return ij_fail(c, "truncated record %s", t->record->name);
  if (ensure(c, slot, JSON_OBJECT, t) != 0) return -1;
  return dec_fields(c, &sub, t->record->fields, t->record->n_fields, *slot);
}

/* A packed run of numbers (the writer never packs; other encoders do). */
static int dec_packed(ctx *c, sfb_reader *r, const sfc_type *t, json_t *arr) {
  sfb_reader sub;
  const sfc_type *et = t->elem;
  if (!r_sub(r, &sub)) return ij_fail(c, "truncated packed %s", t->text);
  size_t idx = json_array_size(arr);
  while (sub.p < sub.end) {
    json_t *v = NULL;
    size_t old = ij_path_push(c, "[%zu]", idx++);
    if (dec_scalar(c, &sub, et, sfc_type_wire_type(et), &v) != 0) return -1;
    if (json_array_append_new(arr, v) != 0) return ij_fail(c, "out of memory");
    ij_path_pop(c, old);
  }
  return 0;
}

/* A list or map element that is itself a list or map: {1: value}. */
static int dec_nested(ctx *c, sfb_reader *r, const sfc_type *et, unsigned wt,
                      json_t **slot) {
  sfb_reader sub;
  if (wt != 2)
    return ij_fail(c, "wire type %s where length-delimited (%s) was expected",
                   wt_name(wt), et->text);
  if (!r_sub(r, &sub)) return ij_fail(c, "truncated %s", et->text);
  return dec_wrapped(c, &sub, et, slot);
}

/* One item of a list (or a packed run of them), appended. */
static int dec_list(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                    json_t **slot) {
  if (ensure(c, slot, JSON_ARRAY, t) != 0) return -1;
  const sfc_type *et = t->elem;
  if (sfc_type_wire_type(et) != 2 && wt == 2) return dec_packed(c, r, t, *slot);
  size_t old = ij_path_push(c, "[%zu]", json_array_size(*slot));
  json_t *v = ij_is_container(et) || et->kind == SFC_RECORD ? sfc_json_zero(et)
                                                            : NULL;
  int rc;
  if (ij_is_container(et))
    rc = v ? dec_nested(c, r, et, wt, &v) : ij_fail(c, "out of memory");
  else
    rc = dec_value(c, r, et, wt, &v);
  if (rc == 0 && json_array_append_new(*slot, v) != 0)
    rc = ij_fail(c, "out of memory");
  else if (rc != 0)
    json_decref(v);
  if (rc == 0) ij_path_pop(c, old);
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
      rc = ij_fail(c, "malformed field tag");
    else if (field == 1)
      rc = dec_value(c, sub, &str_type, ewt, key);
    else if (field == 2 && ij_is_container(t->elem))
      rc = dec_nested(c, sub, t->elem, ewt, val);
    else if (field == 2)
      rc = dec_value(c, sub, t->elem, ewt, val);
    else if (!r_skip(sub, field, ewt))
      rc = ij_fail(c, "malformed unknown field %u", field);
  }
  return rc;
}

/* One map entry, added (a later entry with the same key wins). */
static int dec_map(ctx *c, sfb_reader *r, const sfc_type *t, unsigned wt,
                   json_t **slot) {
  sfb_reader sub;
  if (ensure(c, slot, JSON_OBJECT, t) != 0) return -1;
  if (wt != 2)
    return ij_fail(c, "wire type %s where a map entry was expected",
                   wt_name(wt));
  if (!r_sub(r, &sub)) return ij_fail(c, "truncated map entry");
  json_t *key = json_string("");
  json_t *val = sfc_json_zero(t->elem);
  int rc = 0;
  if (!key || !val) {
    json_decref(val);
    rc = ij_fail(c, "out of memory");
  } else {
    size_t old = ij_path_push(c, "[entry]");
    rc = dec_entry(c, &sub, t, &key, &val);
    if (rc == 0) {
      ij_path_pop(c, old);
      if (json_object_setn_new(*slot, json_string_value(key),
                               json_string_length(key), val) != 0)
        rc = ij_fail(c, "out of memory");
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
  if (++c->depth > MAX_DEPTH) return ij_fail(c, "nested too deeply");
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
    case SFC_VOID:
      rc = r_skip(r, 0, wt) ? 0 : ij_fail(c, "malformed field");
      break;
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
        return ij_fail(c, "out of memory");
    }
  uint32_t field;
  unsigned wt;
  int more;
  while ((more = sfb_read_tag(r, &field, &wt)) != 0) {
    if (more < 0) return ij_fail(c, "malformed field tag");
    const sfc_field *f = NULL;
    for (size_t i = 0; i < n && !f; i++)
      if ((fs[i].number ? fs[i].number : (uint32_t)i + 1) == field) f = &fs[i];
    if (!f) {
      if (!r_skip(r, field, wt))
        return ij_fail(c, "malformed unknown field %u", field);
      continue;
    }
    json_t *cur = json_object_get(obj, f->name);
    json_incref(cur);
    size_t old = strcmp(f->name, "1") == 0 ? c->plen
                 : c->plen                 ? ij_path_push(c, ".%s", f->name)
                                           : ij_path_push(c, "%s", f->name);
    int rc = dec_value(c, r, f->type, wt, &cur);
    if (rc == 0 && json_object_set(obj, f->name, cur) != 0)
      rc = ij_fail(c, "out of memory");
    json_decref(cur);
    if (rc != 0) return rc;
    ij_path_pop(c, old);
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
  ij_ctx_init(&c, err, err_len);
  ij_path_push(&c, "args of %s", m->name);
  json_t *o = json_object();
  if (!o) {
    ij_fail(&c, "out of memory");
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
  ij_ctx_init(&c, err, err_len);
  if (t->kind == SFC_VOID) return json_null();
  ij_path_push(&c, "value");
  json_t *v = sfc_json_zero(t);
  if (!v) {
    ij_fail(&c, "out of memory");
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
  ij_ctx_init(&c, err, err_len);
  json_t *o = json_object();
  if (!o) {
    ij_fail(&c, "out of memory");
    return NULL;
  }
  ij_path_push(&c, "%s", r->name);
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
