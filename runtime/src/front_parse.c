/*
 * front_parse.c - the pure helpers of sf-local's HTTP front: percent
 * decoding, function addresses in paths, name parts, Content-Type, the
 * JSON convenience for built-in types, base64 of record values and ?wait=.
 * No server here: tests/runtime/test_front.c calls these directly.
 */
#include "front_impl.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <statefun/statefun.h>

#include "sfb/base64.h"
#include "sfb/pbwire.h"
#include "sfb/urlpart.h"

void front_err(char *err, size_t err_len, const char *fmt, ...) {
  if (err == NULL || err_len == 0) return;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, err_len, fmt, ap);
  va_end(ap);
}

/* The percent-decoding of sfbase (sfb/urlpart.h), under the front's
 * name for its callers and tests. */
long sfl_front_percent_decode(const char *in, size_t len, bool plus_is_space,
                              char *out) {
  return sfb_percent_decode(in, len, plus_is_space, out);
}

bool front_has_control(const char *s) { return sfb_has_control(s); }

/* Decodes one path part into a fresh string; NULL on a bad escape. */
char *front_decode_part(const char *in, size_t len) {
  return sfb_percent_decode_dup(in, len, false);
}

void sfl_front_address_free(sfl_front_address *a) {
  if (a == NULL) return;
  free(a->fn_typename);
  free(a->id);
  a->fn_typename = NULL;
  a->id = NULL;
}

/* Checks a decoded name part (namespace, type, topic, egress parts):
 * sfbase's rules and messages (sfb/urlpart.h), shared with sf-gateway. */
int front_check_name(const char *what, const char *s, bool allow_empty,
                     char *err, size_t err_len) {
  return sfb_check_name(what, s, allow_empty, err, err_len);
}

int sfl_front_parse_address(const char *path, sfl_front_address *out, char *err,
                            size_t err_len) {
  return sfb_parse_address(path, &out->fn_typename, &out->id, err, err_len);
}

static const char form_hint[] =
    "use -H 'Content-Type: application/vnd.<namespace>/<name>' for the raw "
    "bytes of a type, application/json for the JSON convenience, or "
    "text/plain for a string";

/* The media type of a Content-Type value (NULL: absent): where it starts,
 * and its length in *n, blanks and parameters (";charset=...") left out. */
static const char *media_type(const char *ct, size_t *n) {
  const char *p = ct != NULL ? ct : "";
  while (*p == ' ' || *p == '\t') p++;
  *n = strcspn(p, ";");
  while (*n > 0 && (p[*n - 1] == ' ' || p[*n - 1] == '\t')) (*n)--;
  return p;
}

int sfl_front_content_type(const char *ct, sfl_body_kind *kind, char *typename,
                           size_t tn_len, char *err, size_t err_len) {
  if (tn_len > 0) typename[0] = '\0';
  size_t n;
  const char *p = media_type(ct, &n);
  if (n == 0) {
    *kind = SFL_BODY_RAW;
    snprintf(typename, tn_len, "%s", SF_TYPENAME_STRING);
    return 0;
  }
  static const char vnd[] = "application/vnd.";
  const size_t vlen = sizeof vnd - 1;
  if (n > vlen && strncasecmp(p, vnd, vlen) == 0) {
    size_t tl = n - vlen;
    if (tl >= tn_len) {
      front_err(err, err_len, "typename in Content-Type too long (%zu bytes)",
                tl);
      return -1;
    }
    memcpy(typename, p + vlen, tl);
    typename[tl] = '\0';
    bool bad = sf_typename_validate(typename) != SF_OK ||
               front_has_control(typename) ||
               strpbrk(typename, " \t\"") != NULL ||
               !sf_utf8_valid((const uint8_t *)typename, tl);
    if (bad) {
      front_err(err, err_len,
                "bad typename '%.*s' in Content-Type: expected "
                "application/vnd.<namespace>/<name>",
                (int)(tl > 100 ? 100 : tl), p + vlen);
      typename[0] = '\0';
      return -1;
    }
    *kind = SFL_BODY_RAW;
    return 0;
  }
  if (n == 16 && strncasecmp(p, "application/json", 16) == 0) {
    *kind = SFL_BODY_JSON;
    return 0;
  }
  if (n == 10 && strncasecmp(p, "text/plain", 10) == 0) {
    *kind = SFL_BODY_TEXT;
    snprintf(typename, tn_len, "%s", SF_TYPENAME_STRING);
    return 0;
  }
  if (n == 33 && strncasecmp(p, "application/x-www-form-urlencoded", 33) == 0) {
    front_err(err, err_len,
              "Content-Type application/x-www-form-urlencoded (curl -d sets it "
              "when no -H 'Content-Type: ...' is given): %s",
              form_hint);
    return -1;
  }
  front_err(err, err_len, "unsupported Content-Type '%.*s': %s",
            (int)(n > 100 ? 100 : n), p, form_hint);
  return -1;
}

int sfl_front_string_wrapper(const char *s, size_t len, uint8_t **out,
                             size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (len == 0) return 0; /* proto3: "" is the default, zero bytes */
  uint8_t hdr[1 + SFB_VARINT_MAX];
  size_t h = sfb_tag_put(hdr, 1, SFB_WT_LEN); /* StringWrapper.value */
  h += sfb_varint_put(hdr + h, len);
  uint8_t *b = malloc(h + len);
  if (b == NULL) return -1;
  memcpy(b, hdr, h);
  memcpy(b + h, s, len);
  *out = b;
  *out_len = h + len;
  return 0;
}

static const char *json_kind(const json_t *j) {
  switch (json_typeof(j)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a non-integer number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    case JSON_NULL: return "null";
  }
  return "something else";
}

/* The built-in type a ?type= value names ("int" or the full typename). */
static const char *builtin_for(const char *type) {
  static const char *const names[][2] = {
      {"bool", SF_TYPENAME_BOOL},     {"boolean", SF_TYPENAME_BOOL},
      {"int", SF_TYPENAME_INT},       {"long", SF_TYPENAME_LONG},
      {"float", SF_TYPENAME_FLOAT},   {"double", SF_TYPENAME_DOUBLE},
      {"string", SF_TYPENAME_STRING},
  };
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strcmp(type, names[i][0]) == 0 || strcmp(type, names[i][1]) == 0)
      return names[i][1];
  return NULL;
}

static int copy_out(const uint8_t *buf, size_t n, uint8_t **out,
                    size_t *out_len) {
  *out = NULL;
  *out_len = 0;
  if (n == 0) return 0;
  *out = malloc(n);
  if (*out == NULL) return -1;
  memcpy(*out, buf, n);
  *out_len = n;
  return 0;
}

/* The typename a JSON value implies without ?type= (string, bool, long,
 * double); NULL with err set for anything else. */
static const char *implied_typename(const json_t *j, char *err,
                                    size_t err_len) {
  switch (json_typeof(j)) {
    case JSON_STRING: return SF_TYPENAME_STRING;
    case JSON_TRUE:
    case JSON_FALSE: return SF_TYPENAME_BOOL;
    case JSON_INTEGER: return SF_TYPENAME_LONG;
    case JSON_REAL: return SF_TYPENAME_DOUBLE;
    default:
      front_err(err, err_len,
                "the JSON convenience takes a string, a number or a boolean, "
                "not %s; to send JSON as a user type use "
                "-H 'Content-Type: application/vnd.<namespace>/<name>'",
                json_kind(j));
      return NULL;
  }
}

/* A bool, int, long, float or double (typename tn) from JSON value j into
 * buf (*n bytes). -1 with err set when j does not fit the type. */
static int encode_scalar(const char *tn, const json_t *j, uint8_t buf[9],
                         size_t *n, char *err, size_t err_len) {
  if (strcmp(tn, SF_TYPENAME_BOOL) == 0) {
    if (!json_is_boolean(j)) {
      front_err(err, err_len, "type bool needs true or false, got %s",
                json_kind(j));
      return -1;
    }
    *n = sf_encode_bool(json_is_true(j), buf);
  } else if (strcmp(tn, SF_TYPENAME_INT) == 0) {
    if (!json_is_integer(j) || json_integer_value(j) < INT32_MIN ||
        json_integer_value(j) > INT32_MAX) {
      front_err(err, err_len,
                "type int needs an integer in [-2147483648, 2147483647], got "
                "%s%s",
                json_kind(j),
                json_is_integer(j) ? " out of range (use type=long)" : "");
      return -1;
    }
    *n = sf_encode_int((int32_t)json_integer_value(j), buf);
  } else if (strcmp(tn, SF_TYPENAME_LONG) == 0) {
    if (!json_is_integer(j)) {
      front_err(err, err_len, "type long needs an integer, got %s",
                json_kind(j));
      return -1;
    }
    *n = sf_encode_long((int64_t)json_integer_value(j), buf);
  } else if (strcmp(tn, SF_TYPENAME_FLOAT) == 0) {
    if (!json_is_number(j)) {
      front_err(err, err_len, "type float needs a number, got %s",
                json_kind(j));
      return -1;
    }
    double d = json_number_value(j);
    float f;
    if (!isfinite(d) || !sfb_float_of_double(d, &f)) {
      front_err(err, err_len, "%g is out of float range (use type=double)", d);
      return -1;
    }
    *n = sf_encode_float(f, buf);
  } else { /* double */
    if (!json_is_number(j)) {
      front_err(err, err_len, "type double needs a number, got %s",
                json_kind(j));
      return -1;
    }
    *n = sf_encode_double(json_number_value(j), buf);
  }
  return 0;
}

bool sfl_front_media_is(const char *ct, const char *media) {
  size_t n;
  const char *p = media_type(ct, &n);
  return n == strlen(media) && strncasecmp(p, media, n) == 0;
}

/* Where one record's key and value sit in sfl_front_records.bytes (offsets:
 * the buffer moves while it grows). */
typedef struct record_at {
  size_t key, value, len;
} record_at;

/* One line of a batch: its key and value appended to b, where they are in
 * *at. 0, or -1 with the reason (column in *col, 0 when none). */
static int parse_record_line(const char *line, size_t len, sfb_buf *b,
                             record_at *at, int *col, char *why,
                             size_t why_len) {
  json_error_t jerr;
  json_t *o = json_loadb(line, len, JSON_REJECT_DUPLICATES, &jerr);
  *col = 0;
  if (o == NULL) {
    *col = jerr.column;
    front_err(why, why_len, "%s", jerr.text);
    return -1;
  }
  int rc = -1;
  json_t *k = json_object_get(o, "key");
  json_t *v = json_object_get(o, "value");
  json_t *v64 = json_object_get(o, "value_base64");
  const char *key = json_string_value(k);
  if (!json_is_object(o)) {
    front_err(why, why_len,
              "expected an object {\"key\":...,\"value\":...} or "
              "{\"key\":...,\"value_base64\":...}");
  } else if (key == NULL || key[0] == '\0') {
    front_err(why, why_len,
              "a record needs \"key\", a non-empty string (the target "
              "function id)");
  } else if (strlen(key) != json_string_length(k) || front_has_control(key)) {
    front_err(why, why_len, "the key must be UTF-8 without control characters");
  } else if (v64 != NULL && !json_is_string(v64)) {
    front_err(why, why_len, "\"value_base64\" must be a string");
  } else if (v64 == NULL && !json_is_string(v)) {
    front_err(why, why_len,
              v == NULL ? "a record needs \"value\" (text) or \"value_base64\""
                        : "\"value\" must be a string (its UTF-8 bytes are the "
                          "value); use \"value_base64\" for other bytes");
  } else {
    at->key = b->len;
    sfb_buf_put(b, key, strlen(key) + 1);
    at->value = b->len;
    if (v64 != NULL) {
      sfb_base64_error be;
      if (sfb_base64_decode(json_string_value(v64), json_string_length(v64),
                            0, b, &be) != 0) {
        front_err(why, why_len, "\"value_base64\": %s at character %zu",
                  be.why, be.at + 1);
        goto done;
      }
    } else {
      sfb_buf_put(b, json_string_value(v), json_string_length(v));
    }
    at->len = b->len - at->value;
    rc = 0;
  }
done:
  json_decref(o);
  return rc;
}

int sfl_front_parse_records(const char *body, size_t len, size_t max_records,
                            sfl_front_records *out, char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  sfb_buf b = {0};
  record_at *at = NULL;
  size_t n = 0, cap = 0, line_no = 0;
  int rc = 0;
  for (size_t off = 0; off < len && rc == 0;) {
    const char *line = body + off;
    const char *nl = memchr(line, '\n', len - off);
    size_t ll = nl != NULL ? (size_t)(nl - line) : len - off;
    off += ll + (nl != NULL);
    line_no++;
    size_t blank = 0;
    while (blank < ll && (line[blank] == ' ' || line[blank] == '\t' ||
                          line[blank] == '\r'))
      blank++;
    if (blank == ll) continue;
    if (n == max_records) {
      front_err(err, err_len, "more than %zu records in one request",
                max_records);
      rc = -2;
      break;
    }
    if (n == cap) {
      size_t nc = cap != 0 ? cap * 2 : 64;
      record_at *g = realloc(at, nc * sizeof *g);
      if (g == NULL) {
        rc = -3;
        break;
      }
      at = g;
      cap = nc;
    }
    char why[256];
    int col;
    if (parse_record_line(line, ll, &b, &at[n], &col, why, sizeof why) != 0) {
      if (col > 0)
        front_err(err, err_len, "line %zu, column %d: %s", line_no, col, why);
      else
        front_err(err, err_len, "line %zu: %s", line_no, why);
      rc = -1;
      break;
    }
    n++;
  }
  if (rc == 0 && b.oom) rc = -3;
  if (rc == 0 && n > 0 && (out->recs = malloc(n * sizeof *out->recs)) == NULL)
    rc = -3;
  if (rc == -3) front_err(err, err_len, "out of memory");
  if (rc != 0) {
    free(out->recs);
    out->recs = NULL;
    sfb_buf_free(&b);
    free(at);
    return rc;
  }
  for (size_t i = 0; i < n; i++) {
    out->recs[i].key = (const char *)b.p + at[i].key;
    out->recs[i].value = (const char *)b.p + at[i].value;
    out->recs[i].len = at[i].len;
  }
  out->n = n;
  out->bytes = (char *)b.p;
  free(at);
  return 0;
}

void sfl_front_records_free(sfl_front_records *r) {
  free(r->recs);
  free(r->bytes);
  memset(r, 0, sizeof *r);
}

int sfl_front_json_encode(const char *body, size_t len, const char *type,
                          const char **typename, uint8_t **out, size_t *out_len,
                          char *err, size_t err_len) {
  *out = NULL;
  *out_len = 0;
  *typename = NULL;
  const char *tn = NULL;
  if (type != NULL && type[0] != '\0') {
    tn = builtin_for(type);
    if (tn == NULL) {
      front_err(err, err_len,
                "unknown ?type=%.40s: expected bool, int, long, float, double "
                "or string",
                type);
      return -1;
    }
  }
  json_error_t jerr;
  json_t *j = json_loadb(body, len, JSON_DECODE_ANY, &jerr);
  if (j == NULL) {
    front_err(err, err_len, "body is not JSON: %s (line %d, column %d)",
              jerr.text, jerr.line, jerr.column);
    return -1;
  }
  int rc = -1;
  uint8_t buf[9];
  size_t n = 0;
  if (tn == NULL && (tn = implied_typename(j, err, err_len)) == NULL) goto done;
  if (strcmp(tn, SF_TYPENAME_STRING) == 0) {
    if (!json_is_string(j)) {
      front_err(err, err_len,
                "type string needs a JSON string (in quotes), got %s",
                json_kind(j));
      goto done;
    }
    if (sfl_front_string_wrapper(json_string_value(j), json_string_length(j),
                                 out, out_len) != 0) {
      front_err(err, err_len, "out of memory");
      goto done;
    }
  } else if (encode_scalar(tn, j, buf, &n, err, err_len) != 0) {
    goto done;
  } else if (copy_out(buf, n, out, out_len) != 0) {
    front_err(err, err_len, "out of memory");
    goto done;
  }
  *typename = tn;
  rc = 0;
done:
  json_decref(j);
  return rc;
}

/* The one base64 of the tree (sfbase); kept under this name for the
 * front's callers and tests. */
char *sfl_front_base64(const uint8_t *data, size_t len) {
  return sfb_base64_encode(data, len);
}

/* ?wait= by sfbase's rules (shared with sf-gateway). */
int64_t sfl_front_parse_wait(const char *s, int64_t max_ms) {
  return sfb_parse_wait(s, max_ms);
}
