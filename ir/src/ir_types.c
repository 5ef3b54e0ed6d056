/*
 * ir_types.c - the IR reader's values: record/entity/member names (C and
 * StateFun rules), the namespace, type strings ("list<ref<Item>>") parsed
 * into sfc_type trees, and state defaults checked against their type.
 */
#include "ir_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfb/base64.h"
#include "sfb/pbwire.h"

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

bool irp_is_upper_name(const char *s) {
  if (!(*s >= 'A' && *s <= 'Z')) return false;
  for (s++; *s; s++)
    if (!isalnum((unsigned char)*s) && *s != '_') return false;
  return true;
}

bool irp_is_lower_name(const char *s) {
  if (!((*s >= 'a' && *s <= 'z') || *s == '_')) return false;
  for (s++; *s; s++)
    if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') || *s == '_'))
      return false;
  return true;
}

/* `s` is the value on the current path; `what` says whose name it is. */
#define MAX_NAME 100

int irp_check_name(parser *p, const char *s, bool upper, const char *what) {
  if (!*s) return irp_fail(p, AT_VALUE, "empty %s name", what);
  if (strlen(s) > MAX_NAME)
    return irp_fail(p, AT_VALUE,
                    "%s name '%.20s...' is too long (%zu characters, "
                    "at most %d)",
                    what, s, strlen(s), MAX_NAME);
  if (upper && !irp_is_upper_name(s))
    return irp_fail(p, AT_VALUE,
                    "bad %s name '%s': use [A-Z][A-Za-z0-9_]* (like 'Item')",
                    what, s);
  if (!upper && !irp_is_lower_name(s))
    return irp_fail(
        p, AT_VALUE,
        "bad %s name '%s': use [a-z_][a-z0-9_]* (like 'unit_price')", what, s);
  if (!strncmp(s, "__", 2))
    return irp_fail(p, AT_VALUE, "%s name '%s' uses the reserved prefix '__'",
                    what, s);
  if (!strncasecmp(s, "sf_", 3))
    return irp_fail(p, AT_VALUE, "%s name '%s' uses the reserved prefix '%.3s'",
                    what, s, s);
  for (const char *const *k = c_keywords; *k; k++)
    if (!strcmp(*k, s))
      return irp_fail(p, AT_VALUE, "%s name '%s' is a C keyword", what, s);
  return 0;
}

/* A StateFun namespace: the part of a type name before '/'. */
int irp_check_namespace(parser *p, const char *ns) {
  size_t n = strlen(ns);
  if (!n) return irp_fail(p, AT_VALUE, "empty namespace");
  for (const char *c = ns; *c; c++)
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' ||
          *c == '.' || *c == '-'))
      return irp_fail(p, AT_VALUE,
                      "bad namespace '%s': use lowercase letters, digits, '_', "
                      "'.' and '-' (like 'shop' or 'com.example.shop')",
                      ns);
  if (!isalnum((unsigned char)ns[0]) || !isalnum((unsigned char)ns[n - 1]) ||
      strstr(ns, ".."))
    return irp_fail(
        p, AT_VALUE,
        "bad namespace '%s': it must start and end with a letter or "
        "digit and have no empty '.' parts",
        ns);
  if (n > 200)
    return irp_fail(p, AT_VALUE,
                    "namespace is too long (%zu characters, at most "
                    "200)",
                    n);
  if (!strcmp(ns, "io.statefun") || !strncmp(ns, "io.statefun.", 12) ||
      !strcmp(ns, "statefun.entities"))
    return irp_fail(p, AT_VALUE,
                    "namespace '%s' is reserved (io.statefun.*, "
                    "statefun.entities)",
                    ns);
  return 0;
}

/* ------------------------------------------------------------------ */
/* Types                                                                */
/* ------------------------------------------------------------------ */

void irp_type_free(sfc_type *t) {
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
    return irp_fail_at(ts->p, ts->pos, "malformed type '%s': %s at '%s'",
                       ts->whole, why, ts->c);
  return irp_fail_at(ts->p, ts->pos, "malformed type '%s': %s at the end",
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
      return irp_fail_at(p, ts->pos,
                         "'%s' in '%s' is a record, not an entity: ref<> "
                         "refers to entities",
                         name, ts->whole);
    suggestion s;
    irp_suggest_init(&s, name);
    for (size_t i = 0; i < p->ir->n_entities; i++)
      if (p->ir->entities[i].name) irp_suggest_try(&s, p->ir->entities[i].name);
    return irp_fail_at(p, ts->pos, "ref to unknown entity '%s'%s", name,
                       irp_suggest_text(&s));
  }
  t->kind = SFC_REF;
  t->ref_entity = (sfc_entity *)e;
  return 0;
}

static int parse_type_at(type_scan *ts, bool allow_void, int depth,
                         sfc_type **out) {
  parser *p = ts->p;
  if (depth > MAX_TYPE_DEPTH)
    return irp_fail_at(p, ts->pos,
                       "type '%s' is nested too deeply (at most %d)", ts->whole,
                       MAX_TYPE_DEPTH);
  const char *start = ts->c;
  size_t n = ident_len(ts->c);
  if (!n) {
    if (!*ts->whole) return irp_fail_at(p, ts->pos, "empty type");
    return type_error(ts, "expected a type");
  }
  sfc_type *t = calloc(1, sizeof *t);
  if (!t) return irp_fail_at(p, ts->pos, "out of memory");
  *out = t;
  t->pos = ts->pos;
  char name[128];
  snprintf(name, sizeof name, "%.*s", (int)(n < 127 ? n : 127), ts->c);
  ts->c += n;
  bool is_list = !strcmp(name, "list"), is_map = !strcmp(name, "map"),
       is_ref = !strcmp(name, "ref");
  if (is_list || is_map || is_ref) {
    if (*ts->c != '<')
      return irp_fail_at(p, ts->pos, "malformed type '%s': write %s", ts->whole,
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
        return irp_fail_at(p, ts->pos,
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
        return irp_fail_at(p, ts->pos,
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
      return irp_fail_at(p, ts->pos,
                         "'%s' is an entity, not a value type: write ref<%s>",
                         name, name);
    if (!found) {
      suggestion s;
      irp_suggest_init(&s, name);
      for (size_t i = 0; i < sizeof scalars / sizeof *scalars; i++)
        irp_suggest_try(&s, scalars[i].name);
      irp_suggest_try(&s, "list");
      irp_suggest_try(&s, "map");
      irp_suggest_try(&s, "ref");
      for (size_t i = 0; i < p->ir->n_records; i++)
        if (p->ir->records[i].name) irp_suggest_try(&s, p->ir->records[i].name);
      if (start != ts->whole || ts->c[0])
        return irp_fail_at(p, ts->pos, "unknown type '%s' in '%s'%s", name,
                           ts->whole, irp_suggest_text(&s));
      return irp_fail_at(p, ts->pos, "unknown type '%s'%s", name,
                         irp_suggest_text(&s));
    }
  }
  t->text = strndup(start, (size_t)(ts->c - start));
  if (!t->text) return irp_fail_at(p, ts->pos, "out of memory");
  return 0;
}

/* The type string on the current path. */
int irp_parse_type(parser *p, const char *text, bool allow_void,
                   sfc_type **out) {
  type_scan ts = {p, text, text, irp_here(p, AT_VALUE)};
  *out = NULL;
  if (parse_type_at(&ts, allow_void, 0, out) < 0) goto bad;
  if (*ts.c) {
    type_error(&ts, "unexpected text");
    goto bad;
  }
  return 0;
bad:
  irp_type_free(*out);
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
int irp_check_default(parser *p, const sfc_type *t, json_t *v) {
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
      return irp_fail(p, AT_VALUE,
                      "default %" JSON_INTEGER_FORMAT
                      " is out of range for int32",
                      json_integer_value(v));
    break;
  case SFC_FLOAT:
  case SFC_DOUBLE:
    if (!json_is_number(v)) {
      want = "a number";
      break;
    }
    if (t->kind == SFC_FLOAT &&
        !sfb_float_of_double(json_number_value(v), &(float){0}))
      return irp_fail(p, AT_VALUE, "default %g is out of range for float",
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
      return irp_fail(p, AT_VALUE,
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
      long m = irp_enter(p, NULL, i);
      if (m < 0 || irp_check_default(p, t->elem, item) < 0) return -1;
      irp_leave(p, m);
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
      long m = irp_enter(p, k, 0);
      if (m < 0 || irp_check_default(p, t->elem, item) < 0) return -1;
      irp_leave(p, m);
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
      long m = irp_enter(p, k, 0);
      if (m < 0) return -1;
      if (!f) {
        suggestion s;
        irp_suggest_init(&s, k);
        for (size_t i = 0; i < r->n_fields; i++)
          irp_suggest_try(&s, r->fields[i].name);
        return irp_fail(p, AT_KEY, "record %s has no field '%s'%s", r->name, k,
                        irp_suggest_text(&s));
      }
      if (irp_check_default(p, f->type, item) < 0) return -1;
      irp_leave(p, m);
    }
    break;
  }
  case SFC_VOID:
    want = "nothing";
    break;
  }
  if (want)
    return irp_fail(p, AT_VALUE,
                    "wrong default for type '%s': expected %s, got %s", t->text,
                    want, irp_kind_name(v));
  return 0;
}

unsigned sfc_type_wire_type(const sfc_type *t) {
  switch (t->kind) {
  case SFC_BOOL:
  case SFC_INT32:
  case SFC_INT64: return 0;
  case SFC_FLOAT: return 5;
  case SFC_DOUBLE: return 1;
  default: return 2;
  }
}
