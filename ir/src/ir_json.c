/*
 * ir_json.c - the IR-driven JSON <-> record codec (ir_json.h): the parts
 * both directions share (ir_json_impl.h): the error context, descriptions
 * of JSON values for messages, the zero value of a type, and the base64
 * entry point sf-local uses. Encoding is ir_json_enc.c, decoding
 * ir_json_dec.c.
 */
#include "ir_json_impl.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/base64.h"
#include "sfb/buf.h"

void ij_ctx_init(ctx *c, char *err, size_t err_len) {
  memset(c, 0, sizeof *c);
  c->err = err;
  c->err_len = err_len;
  if (err && err_len) err[0] = '\0';
}

/* Appends to the path; returns the previous length to truncate back to. */
size_t ij_path_push(ctx *c, const char *fmt, ...) {
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

void ij_path_pop(ctx *c, size_t old) {
  c->plen = old;
  c->path[old] = '\0';
}

int ij_fail(ctx *c, const char *fmt, ...) {
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
void ij_describe(const json_t *j, char *out, size_t n) {
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

int ij_expected(ctx *c, const char *what, const json_t *got) {
  char d[80];
  ij_describe(got, d, sizeof d);
  return ij_fail(c, "expected %s, got %s", what, d);
}

bool ij_is_container(const sfc_type *t) {
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
      for (size_t i = 0; o && i < t->record->n_fields; i++) {
        const sfc_field *f = &t->record->fields[i];
        if (json_object_set_new(o, f->name, sfc_json_zero(f->type)) != 0) {
          json_decref(o);
          return NULL;
        }
      }
      return o;
    }
    case SFC_VOID: return json_null();
  }
  return NULL;
}
