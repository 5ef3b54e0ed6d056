/*
 * ir.c - reads an entity IR file (docs/entity-ir.md) into an sfc_ir and
 * checks everything that can be checked before generating C.
 *
 * jansson parses the text (duplicate keys refused, so every path names one
 * value); the position index (sfb/jpos.h) then says where each value is, so
 * every message is "file:line:col: message" pointing at the offending
 * node. The walk keeps the JSON Pointer path of the node it is on
 * (p->path); fail() looks that path up.
 *
 * The checks run in phases, so that names can be used before they are
 * declared: (1) shape, namespace, record and entity names; (2) record
 * fields and record cycles; (3) entities: state, methods, parameters,
 * locals, awaits; (4) await targets (every method is known by then);
 * (5) clashes between the C names the generator will derive. The first
 * error stops the load: one message, like a compiler's first error.
 */
#include "ir.h"

#include <ctype.h>
#include <errno.h>
#include <float.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfb/base64.h"
#include "sfb/jpos.h"

typedef struct {
  const char *file;
  sfb_jpos ix;
  char *path; /* JSON Pointer of the node being checked */
  size_t path_cap;
  char *err;
  size_t err_len;
  sfc_ir *ir;
} parser;

enum { AT_VALUE, AT_KEY };

/* ------------------------------------------------------------------ */
/* Errors and paths                                                     */
/* ------------------------------------------------------------------ */

static int vfail_at(parser *p, sfc_pos at, const char *fmt, va_list ap) {
  if (!p->err || !p->err_len) return -1;
  int n = snprintf(p->err, p->err_len, "%s:%d:%d: ", p->file, at.line, at.col);
  if (n >= 0 && (size_t)n < p->err_len)
    vsnprintf(p->err + n, p->err_len - (size_t)n, fmt, ap);
  return -1;
}

__attribute__((format(printf, 3, 4))) static int
fail_at(parser *p, sfc_pos at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(p, at, fmt, ap);
  va_end(ap);
  return -1;
}

static sfc_pos here(parser *p, int which) {
  const sfb_jpos_entry *e = sfb_jpos_find(&p->ix, p->path ? p->path : "");
  if (!e) return (sfc_pos){1, 1};
  sfb_pos at = which == AT_KEY ? e->key : e->value;
  return (sfc_pos){at.line, at.col};
}

/* An error at the node on the current path (its value, or its key). */
__attribute__((format(printf, 3, 4))) static int fail(parser *p, int which,
                                                      const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(p, here(p, which), fmt, ap);
  va_end(ap);
  return -1;
}

static int oom(parser *p) { return fail(p, AT_VALUE, "out of memory"); }

/* Enters a member (key) or an array item (key NULL); returns the mark to
 * leave() with, or -1 (out of memory, reported). */
static long enter(parser *p, const char *key, size_t index) {
  long mark = sfb_jpos_push(&p->path, &p->path_cap, key, index);
  if (mark < 0) oom(p);
  return mark;
}

static void leave(parser *p, long mark) { p->path[mark] = '\0'; }

static char *dup_str(parser *p, const char *s) {
  char *d = strdup(s);
  if (!d) oom(p);
  return d;
}

/* ------------------------------------------------------------------ */
/* "did you mean"                                                       */
/* ------------------------------------------------------------------ */

/* Optimal string alignment distance: insertions, deletions, substitutions
 * and transpositions of neighbours ("Lien" -> "Line" is 1) cost 1; a
 * change of case only costs 1 too. */
static size_t edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return (size_t)-1;
  size_t d[65][65];
  for (size_t i = 0; i <= la; i++) d[i][0] = i;
  for (size_t j = 0; j <= lb; j++) d[0][j] = j;
  for (size_t i = 1; i <= la; i++)
    for (size_t j = 1; j <= lb; j++) {
      size_t best = d[i - 1][j - 1] + (a[i - 1] != b[j - 1]);
      if (d[i - 1][j] + 1 < best) best = d[i - 1][j] + 1;
      if (d[i][j - 1] + 1 < best) best = d[i][j - 1] + 1;
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
          d[i - 2][j - 2] + 1 < best)
        best = d[i - 2][j - 2] + 1;
      d[i][j] = best;
    }
  return d[la][lb];
}

typedef struct {
  const char *word;
  const char *best;
  size_t dist;
  char text[160]; /* " (did you mean 'x'?)" or "" */
} suggestion;

static void suggest_init(suggestion *s, const char *word) {
  s->word = word;
  s->best = NULL;
  s->dist = (size_t)-1;
  s->text[0] = '\0';
}

/* Close enough: 1 edit for short words, 2 for longer ones. */
static void suggest_try(suggestion *s, const char *candidate) {
  size_t d = edit_distance(s->word, candidate);
  size_t limit = strlen(s->word) <= 4 ? 1 : 2;
  if (d == 0 || d > limit || d >= s->dist) return;
  s->best = candidate;
  s->dist = d;
}

static const char *suggest_text(suggestion *s) {
  if (s->best)
    snprintf(s->text, sizeof s->text, " (did you mean '%s'?)", s->best);
  return s->text;
}

/* ------------------------------------------------------------------ */
/* JSON shape                                                           */
/* ------------------------------------------------------------------ */

static const char *kind_name(const json_t *v) {
  switch (json_typeof(v)) {
  case JSON_OBJECT: return "an object";
  case JSON_ARRAY: return "an array";
  case JSON_STRING: return "a string";
  case JSON_INTEGER: return "an integer";
  case JSON_REAL: return "a real number";
  case JSON_TRUE:
  case JSON_FALSE: return "a boolean";
  default: return "null";
  }
}

/* Refuses the keys of `obj` (the current path) that are not in `known`. */
static int check_keys(parser *p, json_t *obj, const char *what,
                      const char *const *known) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    bool ok = false;
    for (const char *const *q = known; *q && !ok; q++) ok = !strcmp(*q, k);
    if (ok) continue;
    suggestion s;
    suggest_init(&s, k);
    for (const char *const *q = known; *q; q++) suggest_try(&s, *q);
    long m = enter(p, k, 0);
    if (m < 0) return -1;
    if (s.best)
      return fail(p, AT_KEY, "unknown key '%s' in %s%s", k, what,
                  suggest_text(&s));
    char list[256] = "";
    for (const char *const *q = known; *q; q++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, *q, sizeof list - strlen(list) - 1);
    }
    return fail(p, AT_KEY, "unknown key '%s' in %s (known keys: %s)", k, what,
                list);
  }
  return 0;
}

/* Fetches obj[key] (obj on the current path). Absent: *out = NULL, and an
 * error "missing" when required. Of another JSON type than `want`: error.
 * want == JSON_TRUE stands for "a boolean". */
static int member(parser *p, json_t *obj, const char *key, json_type want,
                  bool required, const char *what, json_t **out) {
  json_t *v = json_object_get(obj, key);
  *out = v;
  if (!v) {
    if (required) return fail(p, AT_VALUE, "missing '%s' in %s", key, what);
    return 0;
  }
  bool ok = want == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want;
  if (ok) return 0;
  const char *want_s = want == JSON_OBJECT   ? "an object"
                       : want == JSON_ARRAY  ? "an array"
                       : want == JSON_STRING ? "a string"
                                             : "true or false";
  long m = enter(p, key, 0);
  if (m < 0) return -1;
  return fail(p, AT_VALUE, "'%s' must be %s, not %s", key, want_s,
              kind_name(v));
}

/* Optional "doc": a string, copied. */
static int get_doc(parser *p, json_t *obj, const char *what, char **out) {
  json_t *v;
  if (member(p, obj, "doc", JSON_STRING, false, what, &v) < 0) return -1;
  if (!v) return 0;
  *out = dup_str(p, json_string_value(v));
  return *out ? 0 : -1;
}

/* ------------------------------------------------------------------ */
/* Names                                                                */
/* ------------------------------------------------------------------ */

static const char *const c_keywords[] = {
    "alignas", "alignof", "asm", "auto", "bool", "break", "case", "char",
    "const", "constexpr", "continue", "default", "do", "double", "else",
    "enum", "extern", "false", "float", "for", "goto", "if", "inline", "int",
    "long", "nullptr", "register", "restrict", "return", "short", "signed",
    "sizeof", "static", "static_assert", "struct", "switch", "thread_local",
    "true", "typedef", "typeof", "typeof_unqual", "union", "unsigned",
    "void", "volatile", "while", NULL};

static bool is_upper_name(const char *s) {
  if (!(*s >= 'A' && *s <= 'Z')) return false;
  for (s++; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

static bool is_lower_name(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || *s == '_')) return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

/* `s` is the value on the current path; `what` says whose name it is. */
#define MAX_NAME 100

static int check_name(parser *p, const char *s, bool upper, const char *what) {
  if (!*s) return fail(p, AT_VALUE, "empty %s name", what);
  if (strlen(s) > MAX_NAME)
    return fail(p, AT_VALUE, "%s name '%.20s...' is too long (%zu characters, "
                "at most %d)", what, s, strlen(s), MAX_NAME);
  if (upper && !is_upper_name(s))
    return fail(p, AT_VALUE,
                "bad %s name '%s': use [A-Z][A-Za-z0-9_]* (like 'Item')",
                what, s);
  if (!upper && !is_lower_name(s))
    return fail(p, AT_VALUE,
                "bad %s name '%s': use [a-z_][a-z0-9_]* (like 'unit_price')",
                what, s);
  if (!strncmp(s, "__", 2))
    return fail(p, AT_VALUE, "%s name '%s' uses the reserved prefix '__'",
                what, s);
  if (!strncasecmp(s, "sf_", 3))
    return fail(p, AT_VALUE, "%s name '%s' uses the reserved prefix '%.3s'",
                what, s, s);
  for (const char *const *k = c_keywords; *k; k++)
    if (!strcmp(*k, s))
      return fail(p, AT_VALUE, "%s name '%s' is a C keyword", what, s);
  return 0;
}

/* A StateFun namespace: the part of a type name before '/'. */
static int check_namespace(parser *p, const char *ns) {
  size_t n = strlen(ns);
  if (!n) return fail(p, AT_VALUE, "empty namespace");
  for (const char *c = ns; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          *c == '.' || *c == '-'))
      return fail(p, AT_VALUE,
                  "bad namespace '%s': use lowercase letters, digits, '_', "
                  "'.' and '-' (like 'shop' or 'com.example.shop')",
                  ns);
  if (!isalnum((unsigned char)ns[0]) || !isalnum((unsigned char)ns[n - 1]) ||
      strstr(ns, ".."))
    return fail(p, AT_VALUE,
                "bad namespace '%s': it must start and end with a letter or "
                "digit and have no empty '.' parts",
                ns);
  if (n > 200)
    return fail(p, AT_VALUE, "namespace is too long (%zu characters, at most "
                             "200)", n);
  if (!strcmp(ns, "io.statefun") || !strncmp(ns, "io.statefun.", 12) ||
      !strcmp(ns, "statefun.entities"))
    return fail(p, AT_VALUE,
                "namespace '%s' is reserved (io.statefun.*, "
                "statefun.entities)",
                ns);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

static void type_free(sfc_type *t) {
  while (t) {
    sfc_type *elem = t->elem;
    free(t->text);
    free(t);
    t = elem;
  }
}

static const struct {
  const char *name;
  sfc_kind kind;
} scalars[] = {{"bool", SFC_BOOL},     {"int32", SFC_INT32},
               {"int64", SFC_INT64},   {"float", SFC_FLOAT},
               {"double", SFC_DOUBLE}, {"string", SFC_STRING},
               {"bytes", SFC_BYTES}};

#define MAX_TYPE_DEPTH 32

typedef struct {
  parser *p;
  const char *whole; /* the type as written */
  const char *c;     /* cursor */
  sfc_pos pos;
} type_scan;

static int type_error(type_scan *ts, const char *why) {
  if (*ts->c)
    return fail_at(ts->p, ts->pos, "malformed type '%s': %s at '%s'",
                   ts->whole, why, ts->c);
  return fail_at(ts->p, ts->pos, "malformed type '%s': %s at the end",
                 ts->whole, why);
}

static size_t ident_len(const char *c) {
  size_t n = 0;
  while (isalnum((unsigned char)c[n]) || c[n] == '_') n++;
  return n;
}

static int parse_type_at(type_scan *ts, bool allow_void, int depth,
                         sfc_type **out);

static int parse_ref(type_scan *ts, sfc_type *t) {
  parser *p = ts->p;
  size_t n = ident_len(ts->c);
  if (!n) return type_error(ts, "expected an entity name");
  char name[128];
  snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), ts->c);
  ts->c += n;
  const sfc_entity *e = sfc_ir_entity(p->ir, name);
  if (!e) {
    if (sfc_ir_record(p->ir, name))
      return fail_at(p, ts->pos,
                     "'%s' in '%s' is a record, not an entity: ref<> "
                     "refers to entities",
                     name, ts->whole);
    suggestion s;
    suggest_init(&s, name);
    for (size_t i = 0; i < p->ir->n_entities; i++)
      if (p->ir->entities[i].name) suggest_try(&s, p->ir->entities[i].name);
    return fail_at(p, ts->pos, "ref to unknown entity '%s'%s", name,
                   suggest_text(&s));
  }
  t->kind = SFC_REF;
  t->ref_entity = (sfc_entity *)e;
  return 0;
}

static int parse_type_at(type_scan *ts, bool allow_void, int depth,
                         sfc_type **out) {
  parser *p = ts->p;
  if (depth > MAX_TYPE_DEPTH)
    return fail_at(p, ts->pos, "type '%s' is nested too deeply (at most %d)",
                   ts->whole, MAX_TYPE_DEPTH);
  const char *start = ts->c;
  size_t n = ident_len(ts->c);
  if (!n) {
    if (!*ts->whole) return fail_at(p, ts->pos, "empty type");
    return type_error(ts, "expected a type");
  }
  sfc_type *t = calloc(1, sizeof *t);
  if (!t) return fail_at(p, ts->pos, "out of memory");
  *out = t;
  t->pos = ts->pos;
  char name[128];
  snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), ts->c);
  ts->c += n;
  bool is_list = !strcmp(name, "list"), is_map = !strcmp(name, "map"),
       is_ref = !strcmp(name, "ref");
  if (is_list || is_map || is_ref) {
    if (*ts->c != '<')
      return fail_at(p, ts->pos, "malformed type '%s': write %s", ts->whole,
                     is_list  ? "list<T>"
                     : is_map ? "map<T> (string keys)"
                              : "ref<Entity>");
    ts->c++;
    if (is_ref) {
      if (parse_ref(ts, t) < 0) return -1;
    } else {
      t->kind = is_list ? SFC_LIST : SFC_MAP;
      if (parse_type_at(ts, false, depth + 1, &t->elem) < 0) return -1;
      if (is_map && *ts->c == ',')
        return fail_at(p, ts->pos,
                       "malformed type '%s': map<T> takes one type, the "
                       "value type (keys are always strings)",
                       ts->whole);
    }
    if (*ts->c != '>') return type_error(ts, "expected '>'");
    ts->c++;
  } else {
    bool found = false;
    for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
      if (!strcmp(scalars[i].name, name)) {
        t->kind = scalars[i].kind;
        found = true;
      }
    if (!found && !strcmp(name, "void")) {
      if (!allow_void)
        return fail_at(p, ts->pos,
                       "'void' is only allowed as a method result");
      t->kind = SFC_VOID;
      found = true;
    }
    if (!found) {
      const sfc_record *r = sfc_ir_record(p->ir, name);
      if (r) {
        t->kind = SFC_RECORD;
        t->record = (sfc_record *)r;
        found = true;
      }
    }
    if (!found && sfc_ir_entity(p->ir, name))
      return fail_at(p, ts->pos,
                     "'%s' is an entity, not a value type: write ref<%s>",
                     name, name);
    if (!found) {
      suggestion s;
      suggest_init(&s, name);
      for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
        suggest_try(&s, scalars[i].name);
      suggest_try(&s, "list");
      suggest_try(&s, "map");
      suggest_try(&s, "ref");
      for (size_t i = 0; i < p->ir->n_records; i++)
        if (p->ir->records[i].name) suggest_try(&s, p->ir->records[i].name);
      if (start != ts->whole || ts->c[0])
        return fail_at(p, ts->pos, "unknown type '%s' in '%s'%s", name,
                       ts->whole, suggest_text(&s));
      return fail_at(p, ts->pos, "unknown type '%s'%s", name,
                     suggest_text(&s));
    }
  }
  t->text = strndup(start, (size_t)(ts->c - start));
  if (!t->text) return fail_at(p, ts->pos, "out of memory");
  return 0;
}

/* The type string on the current path. */
static int parse_type(parser *p, const char *text, bool allow_void,
                      sfc_type **out) {
  type_scan ts = {p, text, text, here(p, AT_VALUE)};
  *out = NULL;
  if (parse_type_at(&ts, allow_void, 0, out) < 0) goto bad;
  if (*ts.c) {
    type_error(&ts, "unexpected text");
    goto bad;
  }
  return 0;
bad:
  type_free(*out);
  *out = NULL;
  return -1;
}

/* ------------------------------------------------------------------ */
/* Defaults                                                             */
/* ------------------------------------------------------------------ */

/* Padded, strict base64: what the JSON codec (ir_json.c) can encode. */
static bool is_base64(const json_t *v) {
  sfb_buf out = {0};
  int rc = sfb_base64_decode(json_string_value(v), json_string_length(v),
                             SFB_BASE64_PADDED, &out, NULL);
  sfb_buf_free(&out);
  return rc == 0;
}

/* `v` is on the current path; it must be a value of type `t`. */
static int check_default(parser *p, const sfc_type *t, json_t *v) {
  const char *want = NULL;
  switch (t->kind) {
  case SFC_BOOL:
    if (!json_is_boolean(v)) want = "true or false";
    break;
  case SFC_INT32:
  case SFC_INT64:
    if (!json_is_integer(v)) {
      want = "an integer";
      break;
    }
    if (t->kind == SFC_INT32 && (json_integer_value(v) < INT32_MIN ||
                                 json_integer_value(v) > INT32_MAX))
      return fail(p, AT_VALUE, "default %" JSON_INTEGER_FORMAT
                  " is out of range for int32",
                  json_integer_value(v));
    break;
  case SFC_FLOAT:
  case SFC_DOUBLE:
    if (!json_is_number(v)) {
      want = "a number";
      break;
    }
    if (t->kind == SFC_FLOAT && fabs(json_number_value(v)) > FLT_MAX)
      return fail(p, AT_VALUE, "default %g is out of range for float",
                  json_number_value(v));
    break;
  case SFC_STRING:
    if (!json_is_string(v)) want = "a string";
    break;
  case SFC_BYTES:
    if (!json_is_string(v)) {
      want = "a base64 string";
      break;
    }
    if (!is_base64(v))
      return fail(p, AT_VALUE,
                  "default for bytes must be base64 (RFC 4648, padded): "
                  "'%s' is not",
                  json_string_value(v));
    break;
  case SFC_REF:
    if (!json_is_string(v)) want = "a string (the entity's key)";
    break;
  case SFC_LIST: {
    if (!json_is_array(v)) {
      want = "an array";
      break;
    }
    size_t i;
    json_t *item;
    json_array_foreach(v, i, item) {
      long m = enter(p, NULL, i);
      if (m < 0 || check_default(p, t->elem, item) < 0) return -1;
      leave(p, m);
    }
    break;
  }
  case SFC_MAP: {
    if (!json_is_object(v)) {
      want = "an object";
      break;
    }
    const char *k;
    json_t *item;
    json_object_foreach(v, k, item) {
      long m = enter(p, k, 0);
      if (m < 0 || check_default(p, t->elem, item) < 0) return -1;
      leave(p, m);
    }
    break;
  }
  case SFC_RECORD: {
    if (!json_is_object(v)) {
      want = "an object";
      break;
    }
    const sfc_record *r = t->record;
    const char *k;
    json_t *item;
    json_object_foreach(v, k, item) {
      const sfc_field *f = NULL;
      for (size_t i = 0; i < r->n_fields && !f; i++)
        if (!strcmp(r->fields[i].name, k)) f = &r->fields[i];
      long m = enter(p, k, 0);
      if (m < 0) return -1;
      if (!f) {
        suggestion s;
        suggest_init(&s, k);
        for (size_t i = 0; i < r->n_fields; i++)
          suggest_try(&s, r->fields[i].name);
        return fail(p, AT_KEY, "record %s has no field '%s'%s", r->name, k,
                    suggest_text(&s));
      }
      if (check_default(p, f->type, item) < 0) return -1;
      leave(p, m);
    }
    break;
  }
  case SFC_VOID:
    want = "nothing";
    break;
  }
  if (want)
    return fail(p, AT_VALUE, "wrong default for type '%s': expected %s, got %s",
                t->text, want, kind_name(v));
  return 0;
}

/* ------------------------------------------------------------------ */
/* Fields, parameters, locals                                           */
/* ------------------------------------------------------------------ */

typedef enum { F_RECORD, F_STATE, F_PARAM, F_LOCAL } field_role;

static const char *const role_name[] = {"field", "state field", "parameter",
                                        "local"};

/* Reads the array obj[key] of {name, type, ...} into *out (the current
 * path is obj); `owner` names the record or method in messages. */
static int parse_fields(parser *p, json_t *obj, const char *key,
                        field_role role, const char *owner, sfc_field **out,
                        size_t *n_out) {
  static const char *const keys_plain[] = {"name", "type", "doc", NULL};
  static const char *const keys_state[] = {"name", "type", "default", "doc",
                                           NULL};
  json_t *arr;
  char what[300];
  snprintf(what, sizeof what, "%s", owner);
  if (member(p, obj, key, JSON_ARRAY, false, what, &arr) < 0) return -1;
  if (!arr || !json_array_size(arr)) return 0;
  long mk = enter(p, key, 0);
  if (mk < 0) return -1;
  size_t n = json_array_size(arr);
  *out = calloc(n, sizeof **out);
  if (!*out) return oom(p);
  *n_out = n;
  for (size_t i = 0; i < n; i++) {
    json_t *fo = json_array_get(arr, i);
    sfc_field *f = &(*out)[i];
    f->number = (uint32_t)(i + 1);
    long mi = enter(p, NULL, i);
    if (mi < 0) return -1;
    if (!json_is_object(fo))
      return fail(p, AT_VALUE, "%s[%zu] must be an object, not %s", key, i,
                  kind_name(fo));
    snprintf(what, sizeof what, "a %s of %s", role_name[role], owner);
    if (check_keys(p, fo, what, role == F_STATE ? keys_state : keys_plain) < 0)
      return -1;
    json_t *name, *type;
    if (member(p, fo, "name", JSON_STRING, true, what, &name) < 0 ||
        member(p, fo, "type", JSON_STRING, true, what, &type) < 0 ||
        get_doc(p, fo, what, &f->doc) < 0)
      return -1;
    long m = enter(p, "name", 0);
    if (m < 0) return -1;
    f->pos = here(p, AT_VALUE);
    const char *nm = json_string_value(name);
    if (check_name(p, nm, false, role_name[role]) < 0) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp((*out)[j].name, nm))
        return fail(p, AT_VALUE, "duplicate %s '%s' in %s (first at %d:%d)",
                    role_name[role], nm, owner, (*out)[j].pos.line,
                    (*out)[j].pos.col);
    if (!(f->name = dup_str(p, nm))) return -1;
    leave(p, m);
    if ((m = enter(p, "type", 0)) < 0) return -1;
    if (parse_type(p, json_string_value(type), false, &f->type) < 0)
      return -1;
    leave(p, m);
    json_t *def = json_object_get(fo, "default");
    if (def) {
      if ((m = enter(p, "default", 0)) < 0) return -1;
      f->default_pos = here(p, AT_VALUE);
      if (check_default(p, f->type, def) < 0) return -1;
      f->default_json =
          json_dumps(def, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
      if (!f->default_json) return oom(p);
      leave(p, m);
    }
    leave(p, mi);
  }
  leave(p, mk);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Records                                                              */
/* ------------------------------------------------------------------ */

/* Record r contains record s directly (not through list/map). */
static const sfc_field *contains(const sfc_record *r, const sfc_record *s) {
  for (size_t i = 0; i < r->n_fields; i++)
    if (r->fields[i].type->kind == SFC_RECORD && r->fields[i].type->record == s)
      return &r->fields[i];
  return NULL;
}

/* Depth-first search over "contains" edges; state: 0 new, 1 on the stack,
 * 2 done. A record reached again while on the stack closes a cycle. */
static int find_cycle(parser *p, size_t at, int *state, size_t *stack,
                      size_t depth) {
  sfc_ir *ir = p->ir;
  const sfc_record *r = &ir->records[at];
  state[at] = 1;
  stack[depth] = at;
  for (size_t i = 0; i < r->n_fields; i++) {
    const sfc_type *t = r->fields[i].type;
    if (t->kind != SFC_RECORD) continue;
    size_t next = (size_t)(t->record - ir->records);
    if (state[next] == 1) {
      size_t from = 0;
      while (stack[from] != next) from++;
      char msg[1024] = "record cycle: ";
      for (size_t k = from; k <= depth; k++) {
        strncat(msg, ir->records[stack[k]].name, sizeof msg - strlen(msg) - 1);
        strncat(msg, " -> ", sizeof msg - strlen(msg) - 1);
      }
      strncat(msg, ir->records[next].name, sizeof msg - strlen(msg) - 1);
      /* point at the field of the cycle's first record that starts it */
      const sfc_record *first = &ir->records[next];
      const sfc_record *second =
          from < depth ? &ir->records[stack[from + 1]] : first;
      const sfc_field *f = contains(first, second);
      return fail_at(p, f ? f->type->pos : first->pos, "%s", msg);
    }
    if (state[next] == 0 && find_cycle(p, next, state, stack, depth + 1) < 0)
      return -1;
  }
  state[at] = 2;
  return 0;
}

static int check_record_cycles(parser *p) {
  size_t n = p->ir->n_records;
  if (!n) return 0;
  int *state = calloc(n, sizeof *state);
  size_t *stack = calloc(n, sizeof *stack);
  int rc = 0;
  if (!state || !stack) rc = oom(p);
  for (size_t i = 0; i < n && rc == 0; i++)
    if (state[i] == 0) rc = find_cycle(p, i, state, stack, 0);
  free(state);
  free(stack);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Methods                                                              */
/* ------------------------------------------------------------------ */

static uint32_t fnv1a(const char *s) {
  uint32_t h = 2166136261u;
  for (; *s; s++) {
    h ^= (unsigned char)*s;
    h *= 16777619u;
  }
  return h;
}

/* Members every generated frame struct has (sdk/include/statefun/entity.h):
 * F->hdr (label, error), F->p parameters, F->r await results, F->result. */
static const char *const frame_members[] = {"hdr", "p", "r", "result", NULL};

static int parse_awaits(parser *p, json_t *mo, const sfc_entity *e,
                        sfc_method *m) {
  static const char *const keys[] = {"label", "call", "doc", NULL};
  char what[300];
  snprintf(what, sizeof what, "method %s.%s", e->name, m->name);
  json_t *arr;
  if (member(p, mo, "awaits", JSON_ARRAY, false, what, &arr) < 0) return -1;
  if (!arr || !json_array_size(arr)) return 0;
  long mk = enter(p, "awaits", 0);
  if (mk < 0) return -1;
  size_t n = json_array_size(arr);
  if (!(m->awaits = calloc(n, sizeof *m->awaits))) return oom(p);
  m->n_awaits = n;
  snprintf(what, sizeof what, "an await of %s.%s", e->name, m->name);
  for (size_t i = 0; i < n; i++) {
    json_t *ao = json_array_get(arr, i), *label, *call;
    sfc_await *a = &m->awaits[i];
    long mi = enter(p, NULL, i);
    if (mi < 0) return -1;
    if (!json_is_object(ao))
      return fail(p, AT_VALUE, "awaits[%zu] must be an object, not %s", i,
                  kind_name(ao));
    if (check_keys(p, ao, what, keys) < 0 ||
        member(p, ao, "label", JSON_STRING, true, what, &label) < 0 ||
        member(p, ao, "call", JSON_STRING, true, what, &call) < 0 ||
        get_doc(p, ao, what, &a->doc) < 0)
      return -1;
    long ml = enter(p, "label", 0);
    if (ml < 0) return -1;
    a->pos = here(p, AT_VALUE);
    const char *lb = json_string_value(label);
    if (check_name(p, lb, false, "await label") < 0) return -1;
    a->label_id = fnv1a(lb);
    for (size_t j = 0; j < i; j++) {
      if (!strcmp(m->awaits[j].label, lb))
        return fail(p, AT_VALUE,
                    "duplicate await label '%s' in %s.%s (first at %d:%d)",
                    lb, e->name, m->name, m->awaits[j].pos.line,
                    m->awaits[j].pos.col);
      if (m->awaits[j].label_id == a->label_id)
        return fail(p, AT_VALUE,
                    "await labels '%s' and '%s' of %s.%s have the same id "
                    "(FNV-1a 0x%08x): rename one",
                    m->awaits[j].label, lb, e->name, m->name, a->label_id);
    }
    if (a->label_id == 0)
      return fail(p, AT_VALUE, "await label '%s' hashes to 0, kept for the "
                  "method's start: rename it", lb);
    if (!(a->label = dup_str(p, lb))) return -1;
    leave(p, ml);
    if ((ml = enter(p, "call", 0)) < 0) return -1;
    a->call_pos = here(p, AT_VALUE);
    const char *target = json_string_value(call);
    const char *dot = strchr(target, '.');
    bool form = dot && dot != target && dot[1];
    if (form) {
      char ent[256];
      snprintf(ent, sizeof ent, "%.*s", (int)(dot - target), target);
      form = (size_t)(dot - target) < sizeof ent && is_upper_name(ent) &&
             is_lower_name(dot + 1);
    }
    if (!form)
      return fail(p, AT_VALUE,
                  "call must be 'Entity.method' (like 'Item.get_price'), "
                  "got '%s'",
                  target);
    if (!(a->target_text = dup_str(p, target))) return -1;
    leave(p, ml);
    leave(p, mi);
  }
  leave(p, mk);
  return 0;
}

static int parse_method(parser *p, json_t *mo, sfc_entity *e, size_t idx) {
  static const char *const keys[] = {"name",   "doc",    "params",
                                     "result", "locals", "awaits",
                                     "read_only", "reentrant", NULL};
  sfc_method *m = &e->methods[idx];
  char what[300];
  snprintf(what, sizeof what, "a method of %s", e->name);
  if (!json_is_object(mo))
    return fail(p, AT_VALUE, "methods[%zu] must be an object, not %s", idx,
                kind_name(mo));
  json_t *name, *result, *ro, *re;
  if (check_keys(p, mo, what, keys) < 0 ||
      member(p, mo, "name", JSON_STRING, true, what, &name) < 0)
    return -1;
  long mn = enter(p, "name", 0);
  if (mn < 0) return -1;
  m->pos = here(p, AT_VALUE);
  const char *nm = json_string_value(name);
  if (check_name(p, nm, false, "method") < 0) return -1;
  for (size_t j = 0; j < idx; j++)
    if (!strcmp(e->methods[j].name, nm))
      return fail(p, AT_VALUE, "duplicate method '%s' in %s (first at %d:%d)",
                  nm, e->name, e->methods[j].pos.line, e->methods[j].pos.col);
  if (!(m->name = dup_str(p, nm))) return -1;
  leave(p, mn);
  snprintf(what, sizeof what, "method %s.%s", e->name, m->name);
  if (get_doc(p, mo, what, &m->doc) < 0 ||
      member(p, mo, "result", JSON_STRING, false, what, &result) < 0 ||
      member(p, mo, "read_only", JSON_TRUE, false, what, &ro) < 0 ||
      member(p, mo, "reentrant", JSON_TRUE, false, what, &re) < 0)
    return -1;
  m->read_only = ro && json_is_true(ro);
  m->reentrant = re && json_is_true(re);
  if (parse_fields(p, mo, "params", F_PARAM, what, &m->params, &m->n_params) < 0)
    return -1;
  if (result) {
    long mr = enter(p, "result", 0);
    if (mr < 0 || parse_type(p, json_string_value(result), true, &m->result) < 0)
      return -1;
    leave(p, mr);
  } else {
    if (!(m->result = calloc(1, sizeof *m->result))) return oom(p);
    m->result->kind = SFC_VOID;
    m->result->pos = m->pos;
    if (!(m->result->text = dup_str(p, "void"))) return -1;
  }
  if (parse_fields(p, mo, "locals", F_LOCAL, what, &m->locals, &m->n_locals) < 0)
    return -1;
  for (size_t i = 0; i < m->n_locals; i++) {
    const sfc_field *l = &m->locals[i];
    for (size_t j = 0; j < m->n_params; j++)
      if (!strcmp(m->params[j].name, l->name))
        return fail_at(p, l->pos,
                       "local '%s' shadows parameter '%s' of %s.%s "
                       "(declared at %d:%d)",
                       l->name, l->name, e->name, m->name,
                       m->params[j].pos.line, m->params[j].pos.col);
    for (const char *const *fm = frame_members; *fm; fm++)
      if (!strcmp(*fm, l->name))
        return fail_at(p, l->pos,
                       "local '%s' clashes with the frame member F->%s "
                       "(frames hold F->hdr, F->p, F->r and F->result)",
                       l->name, l->name);
  }
  if (parse_awaits(p, mo, e, m) < 0) return -1;
  if (m->read_only && m->n_awaits)
    return fail_at(p, m->awaits[0].pos,
                   "read_only method %s.%s may not await: a suspended "
                   "method keeps its frame in the entity's state",
                   e->name, m->name);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Entities                                                             */
/* ------------------------------------------------------------------ */

static int parse_entity_body(parser *p, json_t *eo, sfc_entity *e) {
  char what[200];
  snprintf(what, sizeof what, "entity %s", e->name);
  if (parse_fields(p, eo, "state", F_STATE, what, &e->state, &e->n_state) < 0)
    return -1;
  json_t *arr;
  if (member(p, eo, "methods", JSON_ARRAY, false, what, &arr) < 0) return -1;
  if (!arr || !json_array_size(arr)) return 0;
  long mk = enter(p, "methods", 0);
  if (mk < 0) return -1;
  size_t n = json_array_size(arr);
  if (!(e->methods = calloc(n, sizeof *e->methods))) return oom(p);
  e->n_methods = n;
  for (size_t i = 0; i < n; i++) {
    long mi = enter(p, NULL, i);
    if (mi < 0 || parse_method(p, json_array_get(arr, i), e, i) < 0) return -1;
    leave(p, mi);
  }
  leave(p, mk);
  return 0;
}

/* Every "call" names an existing Entity.method. */
static int resolve_awaits(parser *p) {
  sfc_ir *ir = p->ir;
  for (size_t i = 0; i < ir->n_entities; i++)
    for (size_t j = 0; j < ir->entities[i].n_methods; j++) {
      sfc_method *m = &ir->entities[i].methods[j];
      for (size_t k = 0; k < m->n_awaits; k++) {
        sfc_await *a = &m->awaits[k];
        const char *dot = strchr(a->target_text, '.');
        char ent[256];
        snprintf(ent, sizeof ent, "%.*s", (int)(dot - a->target_text),
                 a->target_text);
        const sfc_entity *te = sfc_ir_entity(ir, ent);
        if (!te) {
          suggestion s;
          suggest_init(&s, ent);
          for (size_t x = 0; x < ir->n_entities; x++)
            suggest_try(&s, ir->entities[x].name);
          return fail_at(p, a->call_pos, "call to unknown entity '%s'%s", ent,
                         suggest_text(&s));
        }
        const sfc_method *tm = sfc_entity_method(te, dot + 1);
        if (!tm) {
          suggestion s;
          suggest_init(&s, dot + 1);
          for (size_t x = 0; x < te->n_methods; x++)
            suggest_try(&s, te->methods[x].name);
          if (s.best)
            return fail_at(p, a->call_pos,
                           "call to unknown method '%s' (did you mean "
                           "'%s.%s'?)",
                           a->target_text, te->name, s.best);
          return fail_at(p, a->call_pos, "call to unknown method '%s'",
                         a->target_text);
        }
        a->entity = (sfc_entity *)te;
        a->method = (sfc_method *)tm;
      }
    }
  return 0;
}

/* The C names the generated code declares (sdk/include/statefun/entity.h):
 * a record's struct <Record>; per entity <Entity> and <Entity>_state; per
 * method <Entity>_<method> (the typed call), <Entity>_<method>_frame and
 * <Entity>_<method>_step. No two may be the same name. */
typedef struct {
  char *name;
  const char *kind; /* "record", "entity", "method" */
  const char *owner, *member;
  sfc_pos pos;
} c_name;

static void owner_text(char *buf, size_t n, const c_name *c) {
  if (c->member)
    snprintf(buf, n, "%s %s.%s", c->kind, c->owner, c->member);
  else
    snprintf(buf, n, "%s %s", c->kind, c->owner);
}

static int add_c_name(parser *p, c_name *names, size_t *n, const char *kind,
                      const char *owner, const char *member, const char *suffix,
                      sfc_pos pos) {
  char buf[512];
  if (member)
    snprintf(buf, sizeof buf, "%s_%s%s", owner, member, suffix);
  else
    snprintf(buf, sizeof buf, "%s%s", owner, suffix);
  for (size_t i = 0; i < *n; i++) {
    if (strcmp(names[i].name, buf)) continue;
    char mine[300], theirs[300];
    c_name me = {buf, kind, owner, member, pos};
    owner_text(mine, sizeof mine, &me);
    owner_text(theirs, sizeof theirs, &names[i]);
    return fail_at(p, pos,
                   "%s generates the C name '%s', which %s (at %d:%d) "
                   "already has",
                   mine, buf, theirs, names[i].pos.line, names[i].pos.col);
  }
  if (!(names[*n].name = strdup(buf))) return fail_at(p, pos, "out of memory");
  names[*n].kind = kind;
  names[*n].owner = owner;
  names[*n].member = member;
  names[*n].pos = pos;
  (*n)++;
  return 0;
}

static int check_c_names(parser *p) {
  sfc_ir *ir = p->ir;
  size_t cap = ir->n_records;
  for (size_t i = 0; i < ir->n_entities; i++)
    cap += 2 + 3 * ir->entities[i].n_methods;
  c_name *names = calloc(cap ? cap : 1, sizeof *names);
  if (!names) return oom(p);
  size_t n = 0;
  int rc = 0;
  for (size_t i = 0; i < ir->n_records && !rc; i++)
    rc = add_c_name(p, names, &n, "record", ir->records[i].name, NULL, "",
                    ir->records[i].pos);
  for (size_t i = 0; i < ir->n_entities && !rc; i++) {
    const sfc_entity *e = &ir->entities[i];
    rc = add_c_name(p, names, &n, "entity", e->name, NULL, "", e->pos);
    if (!rc) rc = add_c_name(p, names, &n, "entity", e->name, NULL, "_state",
                             e->pos);
    for (size_t j = 0; j < e->n_methods && !rc; j++) {
      const sfc_method *m = &e->methods[j];
      static const char *const suffixes[] = {"", "_frame", "_step"};
      for (size_t k = 0; k < 3 && !rc; k++)
        rc = add_c_name(p, names, &n, "method", e->name, m->name, suffixes[k],
                        m->pos);
    }
  }
  for (size_t i = 0; i < n; i++) free(names[i].name);
  free(names);
  return rc;
}

/* ------------------------------------------------------------------ */
/* The file                                                             */
/* ------------------------------------------------------------------ */

/* Phase 1 for one record or entity: the object's shape and its name. */
static int parse_decl_name(parser *p, json_t *arr_obj, const char *arr_key,
                           size_t i, bool is_entity, char **name, sfc_pos *pos,
                           char **doc) {
  static const char *const rkeys[] = {"name", "doc", "fields", NULL};
  static const char *const ekeys[] = {"name", "doc", "state", "methods", NULL};
  const char *what = is_entity ? "an entity" : "a record";
  if (!json_is_object(arr_obj))
    return fail(p, AT_VALUE, "%s[%zu] must be an object, not %s", arr_key, i,
                kind_name(arr_obj));
  json_t *nv;
  if (check_keys(p, arr_obj, what, is_entity ? ekeys : rkeys) < 0 ||
      member(p, arr_obj, "name", JSON_STRING, true, what, &nv) < 0 ||
      get_doc(p, arr_obj, what, doc) < 0)
    return -1;
  long m = enter(p, "name", 0);
  if (m < 0) return -1;
  *pos = here(p, AT_VALUE);
  const char *nm = json_string_value(nv);
  sfc_ir *ir = p->ir;
  if (check_name(p, nm, true, is_entity ? "entity" : "record") < 0) return -1;
  for (size_t j = 0; j < ir->n_records && ir->records[j].name; j++) {
    if (strcmp(ir->records[j].name, nm)) continue;
    if (is_entity)
      return fail(p, AT_VALUE,
                  "entity '%s' has the name of record %s (at %d:%d): types "
                  "share one namespace",
                  nm, nm, ir->records[j].pos.line, ir->records[j].pos.col);
    return fail(p, AT_VALUE, "duplicate record '%s' (first at %d:%d)", nm,
                ir->records[j].pos.line, ir->records[j].pos.col);
  }
  for (size_t j = 0; j < ir->n_entities && ir->entities[j].name; j++)
    if (!strcmp(ir->entities[j].name, nm))
      return fail(p, AT_VALUE, "duplicate entity '%s' (first at %d:%d)", nm,
                  ir->entities[j].pos.line, ir->entities[j].pos.col);
  if (!(*name = dup_str(p, nm))) return -1;
  leave(p, m);
  return 0;
}

static int parse_root(parser *p, json_t *root) {
  static const char *const keys[] = {"$schema", "namespace", "doc",
                                     "records", "entities",  NULL};
  sfc_ir *ir = p->ir;
  if (!json_is_object(root))
    return fail(p, AT_VALUE, "an entity IR must be a JSON object, not %s",
                kind_name(root));
  json_t *ns, *schema, *records, *entities;
  if (check_keys(p, root, "the IR", keys) < 0 ||
      member(p, root, "$schema", JSON_STRING, false, "the IR", &schema) < 0 ||
      member(p, root, "namespace", JSON_STRING, true, "the IR", &ns) < 0 ||
      get_doc(p, root, "the IR", &ir->doc) < 0 ||
      member(p, root, "records", JSON_ARRAY, false, "the IR", &records) < 0 ||
      member(p, root, "entities", JSON_ARRAY, true, "the IR", &entities) < 0)
    return -1;
  long m = enter(p, "namespace", 0);
  if (m < 0) return -1;
  ir->namespace_pos = here(p, AT_VALUE);
  if (check_namespace(p, json_string_value(ns)) < 0) return -1;
  if (!(ir->namespace_ = dup_str(p, json_string_value(ns)))) return -1;
  leave(p, m);
  if (!json_array_size(entities)) {
    if ((m = enter(p, "entities", 0)) < 0) return -1;
    return fail(p, AT_VALUE, "no entities: declare at least one");
  }

  /* phase 1: names of records and entities (n_* grow as names are read,
   * so duplicates are checked against the ones before) */
  size_t nr = records ? json_array_size(records) : 0;
  size_t ne = json_array_size(entities);
  if (nr && !(ir->records = calloc(nr, sizeof *ir->records))) return oom(p);
  if (!(ir->entities = calloc(ne, sizeof *ir->entities))) return oom(p);
  for (size_t i = 0; i < nr; i++) {
    long mk = enter(p, "records", 0), mi = mk < 0 ? -1 : enter(p, NULL, i);
    if (mi < 0) return -1;
    sfc_record *r = &ir->records[i];
    ir->n_records = i + 1; /* so that sfc_ir_free frees what is read */
    if (parse_decl_name(p, json_array_get(records, i), "records", i, false,
                        &r->name, &r->pos, &r->doc) < 0)
      return -1;
    leave(p, mk);
  }
  for (size_t i = 0; i < ne; i++) {
    long mk = enter(p, "entities", 0), mi = mk < 0 ? -1 : enter(p, NULL, i);
    if (mi < 0) return -1;
    sfc_entity *e = &ir->entities[i];
    ir->n_entities = i + 1;
    if (parse_decl_name(p, json_array_get(entities, i), "entities", i, true,
                        &e->name, &e->pos, &e->doc) < 0)
      return -1;
    leave(p, mk);
  }

  /* phase 2: record fields, then cycles */
  for (size_t i = 0; i < nr; i++) {
    long mk = enter(p, "records", 0), mi = mk < 0 ? -1 : enter(p, NULL, i);
    if (mi < 0) return -1;
    sfc_record *r = &ir->records[i];
    char what[160];
    snprintf(what, sizeof what, "record %s", r->name);
    if (parse_fields(p, json_array_get(records, i), "fields", F_RECORD, what,
                     &r->fields, &r->n_fields) < 0)
      return -1;
    leave(p, mk);
  }
  if (check_record_cycles(p) < 0) return -1;

  /* phase 3: entities */
  for (size_t i = 0; i < ne; i++) {
    long mk = enter(p, "entities", 0), mi = mk < 0 ? -1 : enter(p, NULL, i);
    if (mi < 0 ||
        parse_entity_body(p, json_array_get(entities, i), &ir->entities[i]) < 0)
      return -1;
    leave(p, mk);
  }

  /* phases 4 and 5 */
  if (resolve_awaits(p) < 0 || check_c_names(p) < 0) return -1;
  return 0;
}

int sfc_ir_parse(const char *name, const char *text, size_t len, sfc_ir *out,
                 char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  if (err && err_len) err[0] = '\0';
  parser p = {.file = name, .err = err, .err_len = err_len, .ir = out};
  json_error_t je;
  json_t *root =
      json_loadb(text, len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
  if (!root) {
    sfc_pos at = {je.line > 0 ? je.line : 1, je.column > 0 ? je.column : 1};
    return fail_at(&p, at, "JSON syntax error: %s", je.text);
  }
  int rc;
  if (sfb_jpos_build(&p.ix, text, len) < 0) {
    rc = fail_at(&p, (sfc_pos){1, 1}, "out of memory");
  } else if (!(out->path = strdup(name))) {
    rc = fail_at(&p, (sfc_pos){1, 1}, "out of memory");
  } else {
    rc = parse_root(&p, root);
  }
  json_decref(root);
  sfb_jpos_free(&p.ix);
  free(p.path);
  if (rc < 0) sfc_ir_free(out);
  return rc;
}

int sfc_ir_load(const char *path, sfc_ir *out, char *err, size_t err_len) {
  memset(out, 0, sizeof *out);
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t len = 0, cap = 0;
  int saved = 0;
  if (f) {
    for (;;) {
      if (len + 4096 > cap) {
        cap = cap ? cap * 2 : 65536;
        char *b = realloc(buf, cap);
        if (!b) {
          saved = ENOMEM;
          break;
        }
        buf = b;
      }
      size_t got = fread(buf + len, 1, cap - len, f);
      len += got;
      if (got == 0) {
        if (ferror(f)) saved = errno ? errno : EIO;
        break;
      }
    }
    fclose(f);
  } else {
    saved = errno;
  }
  if (!f || saved) {
    if (err && err_len)
      snprintf(err, err_len, "%s: cannot read: %s", path, strerror(saved));
    free(buf);
    return -1;
  }
  int rc = sfc_ir_parse(path, buf ? buf : "", len, out, err, err_len);
  free(buf);
  return rc;
}

static void fields_free(sfc_field *f, size_t n) {
  for (size_t i = 0; i < n; i++) {
    free(f[i].name);
    type_free(f[i].type);
    free(f[i].default_json);
    free(f[i].doc);
  }
  free(f);
}

void sfc_ir_free(sfc_ir *ir) {
  if (!ir) return;
  for (size_t i = 0; i < ir->n_records; i++) {
    free(ir->records[i].name);
    free(ir->records[i].doc);
    fields_free(ir->records[i].fields, ir->records[i].n_fields);
  }
  free(ir->records);
  for (size_t i = 0; i < ir->n_entities; i++) {
    sfc_entity *e = &ir->entities[i];
    free(e->name);
    free(e->doc);
    fields_free(e->state, e->n_state);
    for (size_t j = 0; j < e->n_methods; j++) {
      sfc_method *m = &e->methods[j];
      free(m->name);
      free(m->doc);
      fields_free(m->params, m->n_params);
      fields_free(m->locals, m->n_locals);
      type_free(m->result);
      for (size_t k = 0; k < m->n_awaits; k++) {
        free(m->awaits[k].label);
        free(m->awaits[k].target_text);
        free(m->awaits[k].doc);
      }
      free(m->awaits);
    }
    free(e->methods);
  }
  free(ir->entities);
  free(ir->namespace_);
  free(ir->doc);
  free(ir->path);
  memset(ir, 0, sizeof *ir);
}

const sfc_entity *sfc_ir_entity(const sfc_ir *ir, const char *name) {
  for (size_t i = 0; i < ir->n_entities; i++)
    if (ir->entities[i].name && !strcmp(ir->entities[i].name, name))
      return &ir->entities[i];
  return NULL;
}

const sfc_record *sfc_ir_record(const sfc_ir *ir, const char *name) {
  for (size_t i = 0; i < ir->n_records; i++)
    if (ir->records[i].name && !strcmp(ir->records[i].name, name))
      return &ir->records[i];
  return NULL;
}

const sfc_method *sfc_entity_method(const sfc_entity *e, const char *name) {
  for (size_t i = 0; i < e->n_methods; i++)
    if (e->methods[i].name && !strcmp(e->methods[i].name, name))
      return &e->methods[i];
  return NULL;
}
