/*
 * ir_json_text.c - protobuf wire -> JSON text for a method's result,
 * written straight into a buffer (sfc_json_write_result, ir_json.h): the
 * fast path of an entity call's answer. It writes the very text that
 * json_dumps(sfc_json_decode_result(...), JSON_COMPACT) writes, without
 * building the jansson tree (an object, a hash table and a malloc per
 * field: a third of sf-local's instructions per hotel request).
 *
 * It covers the wire form the generated encoders write (fields in
 * declaration order, each singular field once, lists unpacked), and says
 * "not mine" for anything else: a field out of order or repeated, a
 * packed list, a map, a string that is not UTF-8 or holds a NUL, a
 * malformed or truncated field, nesting past MAX_DEPTH / 2. The caller then
 * takes the tree (ir_json_dec.c), which merges repeated fields and words
 * the errors; the two agree wherever this one answers (checked by
 * test_entity_json and fuzz_ir_json).
 */
#include "ir_json_impl.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/base64.h"
#include "sfb/buf.h"
#include "sfb/pbwire.h"
#include "sfb/utf8.h"

/* "Not on the fast path": the caller decodes with the tree. */
#define NOT_MINE (-1)

static void put(sfb_buf *b, const char *s) { sfb_buf_put(b, s, strlen(s)); }

/* A double as jansson dumps a real: "%.17g", a ".0" when that reads as an
 * integer, no '+' and no leading zeros in the exponent. */
static void put_real(sfb_buf *b, double d) {
  char buf[40];
  int n = snprintf(buf, sizeof buf, "%.17g", d);
  if (n <= 0 || (size_t)n >= sizeof buf - 3) return put(b, "0.0");
  if (strchr(buf, '.') == NULL && strchr(buf, 'e') == NULL) {
    memcpy(buf + n, ".0", 3);
    n += 2;
  }
  char *e = strchr(buf, 'e');
  if (e != NULL) {
    char *start = e + 1, *end = e + 2;
    if (*start == '-') start++;
    while (*end == '0') end++;
    if (end != start) {
      memmove(start, end, (size_t)(buf + n - end) + 1);
      n -= (int)(end - start);
    }
  }
  sfb_buf_put(b, buf, (size_t)n);
}

/* ir_json_dec.c's json_double: NaN and the infinities as strings. */
static void put_double(sfb_buf *b, double d) {
  if (isnan(d)) return put(b, "\"NaN\"");
  if (isinf(d)) return put(b, d > 0 ? "\"Infinity\"" : "\"-Infinity\"");
  put_real(b, d);
}

/* ir_json_dec.c's json_float: the shortest decimal that reads back as the
 * same float, as a double. */
static void put_float(sfb_buf *b, float f) {
  if (!isfinite(f)) return put_double(b, (double)f);
  char buf[32];
  for (int prec = 6; prec <= 9; prec++) {
    snprintf(buf, sizeof buf, "%.*g", prec, (double)f);
    if (strtof(buf, NULL) == f) break;
  }
  put_real(b, strtod(buf, NULL));
}

static void put_int(sfb_buf *b, int64_t v) {
  char buf[24];
  int n = snprintf(buf, sizeof buf, "%" PRId64, v);
  sfb_buf_put(b, buf, (size_t)n);
}

/* The zero value of t (sfc_json_zero), as text. */
static void put_zero(sfb_buf *b, const sfc_type *t) {
  switch (t->kind) {
    case SFC_BOOL: put(b, "false"); return;
    case SFC_INT32:
    case SFC_INT64: put(b, "0"); return;
    case SFC_FLOAT:
    case SFC_DOUBLE: put(b, "0.0"); return;
    case SFC_STRING:
    case SFC_BYTES:
    case SFC_REF: put(b, "\"\""); return;
    case SFC_LIST: put(b, "[]"); return;
    case SFC_MAP: put(b, "{}"); return;
    case SFC_RECORD:
      put(b, "{");
      for (size_t i = 0; i < t->record->n_fields; i++) {
        const sfc_field *f = &t->record->fields[i];
        if (i > 0) put(b, ",");
        sfb_buf_json_str(b, f->name, strlen(f->name));
        put(b, ":");
        put_zero(b, f->type);
      }
      put(b, "}");
      return;
    case SFC_VOID: put(b, "null"); return;
  }
}

/* One scalar of type t (wire type wt). */
static int put_scalar(sfb_buf *b, sfb_reader *r, const sfc_type *t,
                      unsigned wt) {
  uint64_t v;
  if (wt != sfc_type_wire_type(t)) return NOT_MINE;
  switch (t->kind) {
    case SFC_BOOL:
      if (!sfb_read_varint(r, &v)) return NOT_MINE;
      put(b, v != 0 ? "true" : "false");
      return 0;
    case SFC_INT32:
      if (!sfb_read_varint(r, &v)) return NOT_MINE;
      put_int(b, sfb_unzigzag32((uint32_t)v));
      return 0;
    case SFC_INT64:
      if (!sfb_read_varint(r, &v)) return NOT_MINE;
      put_int(b, sfb_unzigzag64(v));
      return 0;
    case SFC_FLOAT: {
      uint32_t bits;
      if (!sfb_read_fixed32(r, &bits)) return NOT_MINE;
      float f;
      memcpy(&f, &bits, 4);
      put_float(b, f);
      return 0;
    }
    case SFC_DOUBLE: {
      if (!sfb_read_fixed64(r, &v)) return NOT_MINE;
      double d;
      memcpy(&d, &v, 8);
      put_double(b, d);
      return 0;
    }
    default: return NOT_MINE;
  }
}

/* string, ref<E>, bytes: a length-delimited field. */
static int put_text(sfb_buf *b, sfb_reader *r, const sfc_type *t,
                    unsigned wt) {
  const uint8_t *p;
  size_t n;
  if (wt != SFB_WT_LEN || !sfb_read_len(r, &p, &n)) return NOT_MINE;
  if (t->kind == SFC_BYTES) {
    char *s = sfb_base64_encode(p, n);
    if (s == NULL) return NOT_MINE;
    sfb_buf_json_str(b, s, strlen(s));
    free(s);
    return 0;
  }
  if (memchr(p, 0, n) != NULL || !sfb_utf8_valid(p, n)) return NOT_MINE;
  sfb_buf_json_str(b, (const char *)p, n);
  return 0;
}

static int put_value(sfb_buf *b, sfb_reader *r, const sfc_type *t,
                     unsigned wt, int depth);

/* The fields of a group (a record, or the wrapper {1: value}) as a JSON
 * object: every field, in declaration order, zero when absent. The wire
 * must hold them in that order, a singular field at most once and a
 * list's items one after the other. `wrapped`: write field 1's value
 * alone, not an object (the wrapper's one field). */
static int put_fields(sfb_buf *b, sfb_reader *r, const sfc_field *fs,
                      size_t n, bool wrapped, int depth) {
  size_t next = 0;     /* the next field to write */
  bool in_list = false; /* field next - 1 is a list still open */
  uint32_t field;
  unsigned wt;
  int more;
  if (!wrapped) put(b, "{");
  while ((more = sfb_read_tag(r, &field, &wt)) != 0) {
    if (more < 0) return NOT_MINE;
    size_t j = n;
    for (size_t i = 0; i < n && j == n; i++)
      if ((fs[i].number ? fs[i].number : (uint32_t)i + 1) == field) j = i;
    if (j == n) { /* unknown: skipped, as the tree does */
      if (wt == SFB_WT_SGROUP || wt == SFB_WT_EGROUP ||
          !sfb_skip_field(r, field, wt))
        return NOT_MINE;
      continue;
    }
    const sfc_type *t = fs[j].type;
    if (t->kind == SFC_MAP) return NOT_MINE;
    if (in_list && j == next - 1) { /* the list's next item */
      put(b, ",");
    } else {
      if (j < next) return NOT_MINE; /* out of order, or repeated */
      if (in_list) put(b, "]");
      in_list = false;
      for (; next < j; next++) {
        if (!wrapped && next > 0) put(b, ",");
        if (!wrapped)
          sfb_buf_json_str(b, fs[next].name, strlen(fs[next].name)), put(b, ":");
        put_zero(b, fs[next].type);
      }
      if (!wrapped && j > 0) put(b, ",");
      if (!wrapped) sfb_buf_json_str(b, fs[j].name, strlen(fs[j].name)), put(b, ":");
      next = j + 1;
      if (t->kind == SFC_LIST) put(b, "[");
      in_list = t->kind == SFC_LIST;
    }
    if (put_value(b, r, t->kind == SFC_LIST ? t->elem : t, wt, depth + 1) != 0)
      return NOT_MINE;
  }
  if (in_list) put(b, "]");
  for (; next < n; next++) {
    if (!wrapped && next > 0) put(b, ",");
    if (!wrapped) sfb_buf_json_str(b, fs[next].name, strlen(fs[next].name)), put(b, ":");
    put_zero(b, fs[next].type);
  }
  if (!wrapped) put(b, "}");
  return 0;
}

/* The message {1: value} of type t, as the value. */
static int put_wrapped(sfb_buf *b, sfb_reader *r, const sfc_type *t,
                       int depth) {
  sfc_field one;
  memset(&one, 0, sizeof one);
  one.name = (char *)"1";
  one.type = (sfc_type *)t;
  one.number = 1;
  return put_fields(b, r, &one, 1, true, depth);
}

/* One value of type t (a list's item when t is the element type). */
static int put_value(sfb_buf *b, sfb_reader *r, const sfc_type *t,
                     unsigned wt, int depth) {
  if (depth > MAX_DEPTH / 2) return NOT_MINE; /* within the tree's guard */
  sfb_reader sub;
  const uint8_t *p;
  size_t n;
  switch (t->kind) {
    case SFC_BOOL:
    case SFC_INT32:
    case SFC_INT64:
    case SFC_FLOAT:
    case SFC_DOUBLE: return put_scalar(b, r, t, wt);
    case SFC_STRING:
    case SFC_REF:
    case SFC_BYTES: return put_text(b, r, t, wt);
    case SFC_RECORD:
    case SFC_LIST: /* a list inside a list: {1: value} */
      if (wt != SFB_WT_LEN || !sfb_read_len(r, &p, &n)) return NOT_MINE;
      sfb_reader_init(&sub, p, n);
      if (t->kind == SFC_LIST) return put_wrapped(b, &sub, t, depth);
      return put_fields(b, &sub, t->record->fields, t->record->n_fields,
                        false, depth);
    case SFC_MAP:
    case SFC_VOID: return NOT_MINE;
  }
  return NOT_MINE;
}

int sfc_json_write_result(const sfc_method *m, const uint8_t *p, size_t n,
                          sfb_buf *out) {
  size_t start = out->len;
  int rc = 0;
  if (m->result == NULL || m->result->kind == SFC_VOID) {
    put(out, "null");
  } else {
    sfb_reader r;
    sfb_reader_init(&r, p, n);
    rc = put_wrapped(out, &r, m->result, 0);
  }
  if (rc != 0 || out->oom) {
    out->len = start;
    return NOT_MINE;
  }
  return 0;
}
