/*
 * ir.c - reads an entity IR file (docs/entity-ir.md) into an sfc_ir and
 * checks everything that can be checked before generating C.
 *
 * jansson parses the text (duplicate keys refused, so every path names one
 * value); the position index (sfb/jpos.h) then says where each value is, so
 * every message is "file:line:col: message" pointing at the offending
 * node. The walk keeps the JSON Pointer path of the node it is on
 * (p->path); irp_fail() looks that path up. The reader is three files
 * (ir_parse.h lists them): the walk and its errors (ir_walk.c), values
 * (ir_types.c: names, types, defaults) and, here, the structure and the
 * public API.
 *
 * The checks run in phases, so that names can be used before they are
 * declared: (1) shape, namespace, record and entity names; (2) record
 * fields and record cycles; (3) entities: state, methods, parameters,
 * locals, awaits; (4) await targets (every method is known by then);
 * (5) clashes between the C names the generator will derive. The first
 * error stops the load: one message, like a compiler's first error.
 */
#include "ir.h"
#include "ir_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/fnv.h"
#include "sfb/jpos.h"

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
  if (irp_member(p, obj, key, JSON_ARRAY, false, what, &arr) < 0) return -1;
  if (!arr || !json_array_size(arr)) return 0;
  long mk = irp_enter(p, key, 0);
  if (mk < 0) return -1;
  size_t n = json_array_size(arr);
  *out = calloc(n, sizeof **out);
  if (!*out) return irp_oom(p);
  *n_out = n;
  for (size_t i = 0; i < n; i++) {
    json_t *fo = json_array_get(arr, i);
    sfc_field *f = &(*out)[i];
    f->number = (uint32_t)(i + 1);
    long mi = irp_enter(p, NULL, i);
    if (mi < 0) return -1;
    if (!json_is_object(fo))
      return irp_fail(p, AT_VALUE, "%s[%zu] must be an object, not %s", key, i,
                      irp_kind_name(fo));
    snprintf(what, sizeof what, "a %s of %s", role_name[role], owner);
    if (irp_check_keys(p, fo, what, role == F_STATE ? keys_state : keys_plain) <
        0)
      return -1;
    json_t *name, *type;
    if (irp_member(p, fo, "name", JSON_STRING, true, what, &name) < 0 ||
        irp_member(p, fo, "type", JSON_STRING, true, what, &type) < 0 ||
        irp_get_doc(p, fo, what, &f->doc) < 0)
      return -1;
    long m = irp_enter(p, "name", 0);
    if (m < 0) return -1;
    f->pos = irp_here(p, AT_VALUE);
    const char *nm = json_string_value(name);
    if (irp_check_name(p, nm, false, role_name[role]) < 0) return -1;
    for (size_t j = 0; j < i; j++)
      if (!strcmp((*out)[j].name, nm))
        return irp_fail(p, AT_VALUE, "duplicate %s '%s' in %s (first at %d:%d)",
                        role_name[role], nm, owner, (*out)[j].pos.line,
                        (*out)[j].pos.col);
    if (!(f->name = irp_dup_str(p, nm))) return -1;
    irp_leave(p, m);
    if ((m = irp_enter(p, "type", 0)) < 0) return -1;
    if (irp_parse_type(p, json_string_value(type), false, &f->type) < 0)
      return -1;
    irp_leave(p, m);
    json_t *def = json_object_get(fo, "default");
    if (def) {
      if ((m = irp_enter(p, "default", 0)) < 0) return -1;
      f->default_pos = irp_here(p, AT_VALUE);
      if (irp_check_default(p, f->type, def) < 0) return -1;
      f->default_json = json_dumps(
          def, JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17));
      if (!f->default_json) return irp_oom(p);
      irp_leave(p, m);
    }
    irp_leave(p, mi);
  }
  irp_leave(p, mk);
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
      return irp_fail_at(p, f ? f->type->pos : first->pos, "%s", msg);
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
  if (!state || !stack) rc = irp_oom(p);
  for (size_t i = 0; i < n && rc == 0; i++)
    if (state[i] == 0) rc = find_cycle(p, i, state, stack, 0);
  free(state);
  free(stack);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Methods                                                              */
/* ------------------------------------------------------------------ */

/* Members every generated frame struct has (sdk/include/statefun/entity.h):
 * F->hdr (label, error), F->p parameters, F->r await results, F->result. */
static const char *const frame_members[] = {"hdr", "p", "r", "result", NULL};

static int parse_awaits(parser *p, json_t *mo, const sfc_entity *e,
                        sfc_method *m) {
  static const char *const keys[] = {"label", "call", "fan_out", "doc", NULL};
  char what[300];
  snprintf(what, sizeof what, "method %s.%s", e->name, m->name);
  json_t *arr;
  if (irp_member(p, mo, "awaits", JSON_ARRAY, false, what, &arr) < 0) return -1;
  if (!arr || !json_array_size(arr)) return 0;
  long mk = irp_enter(p, "awaits", 0);
  if (mk < 0) return -1;
  size_t n = json_array_size(arr);
  if (!(m->awaits = calloc(n, sizeof *m->awaits))) return irp_oom(p);
  m->n_awaits = n;
  snprintf(what, sizeof what, "an await of %s.%s", e->name, m->name);
  for (size_t i = 0; i < n; i++) {
    json_t *ao = json_array_get(arr, i), *label, *call, *fan;
    sfc_await *a = &m->awaits[i];
    long mi = irp_enter(p, NULL, i);
    if (mi < 0) return -1;
    if (!json_is_object(ao))
      return irp_fail(p, AT_VALUE, "awaits[%zu] must be an object, not %s", i,
                      irp_kind_name(ao));
    if (irp_check_keys(p, ao, what, keys) < 0 ||
        irp_member(p, ao, "label", JSON_STRING, true, what, &label) < 0 ||
        irp_member(p, ao, "call", JSON_STRING, true, what, &call) < 0 ||
        irp_member(p, ao, "fan_out", JSON_TRUE, false, what, &fan) < 0 ||
        irp_get_doc(p, ao, what, &a->doc) < 0)
      return -1;
    a->fan_out = fan && json_is_true(fan);
    long ml = irp_enter(p, "label", 0);
    if (ml < 0) return -1;
    a->pos = irp_here(p, AT_VALUE);
    const char *lb = json_string_value(label);
    if (irp_check_name(p, lb, false, "await label") < 0) return -1;
    a->label_id = sfb_fnv1a32(lb);
    for (size_t j = 0; j < i; j++) {
      if (!strcmp(m->awaits[j].label, lb))
        return irp_fail(
            p, AT_VALUE, "duplicate await label '%s' in %s.%s (first at %d:%d)",
            lb, e->name, m->name, m->awaits[j].pos.line, m->awaits[j].pos.col);
      if (m->awaits[j].label_id == a->label_id)
        return irp_fail(p, AT_VALUE,
                        "await labels '%s' and '%s' of %s.%s have the same id "
                        "(FNV-1a 0x%08x): rename one",
                        m->awaits[j].label, lb, e->name, m->name, a->label_id);
    }
    if (a->label_id == 0)
      return irp_fail(p, AT_VALUE,
                      "await label '%s' hashes to 0, kept for the "
                      "method's start: rename it",
                      lb);
    if (!(a->label = irp_dup_str(p, lb))) return -1;
    irp_leave(p, ml);
    if ((ml = irp_enter(p, "call", 0)) < 0) return -1;
    a->call_pos = irp_here(p, AT_VALUE);
    const char *target = json_string_value(call);
    const char *dot = strchr(target, '.');
    bool form = dot && dot != target && dot[1];
    if (form) {
      char ent[256];
      snprintf(ent, sizeof ent, "%.*s", (int)(dot - target), target);
      form = (size_t)(dot - target) < sizeof ent && irp_is_upper_name(ent) &&
             irp_is_lower_name(dot + 1);
    }
    if (!form)
      return irp_fail(p, AT_VALUE,
                      "call must be 'Entity.method' (like 'Item.get_price'), "
                      "got '%s'",
                      target);
    if (!(a->target_text = irp_dup_str(p, target))) return -1;
    irp_leave(p, ml);
    irp_leave(p, mi);
  }
  irp_leave(p, mk);
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
    return irp_fail(p, AT_VALUE, "methods[%zu] must be an object, not %s", idx,
                    irp_kind_name(mo));
  json_t *name, *result, *ro, *re;
  if (irp_check_keys(p, mo, what, keys) < 0 ||
      irp_member(p, mo, "name", JSON_STRING, true, what, &name) < 0)
    return -1;
  long mn = irp_enter(p, "name", 0);
  if (mn < 0) return -1;
  m->pos = irp_here(p, AT_VALUE);
  const char *nm = json_string_value(name);
  if (irp_check_name(p, nm, false, "method") < 0) return -1;
  for (size_t j = 0; j < idx; j++)
    if (!strcmp(e->methods[j].name, nm))
      return irp_fail(p, AT_VALUE,
                      "duplicate method '%s' in %s (first at %d:%d)", nm,
                      e->name, e->methods[j].pos.line, e->methods[j].pos.col);
  if (!(m->name = irp_dup_str(p, nm))) return -1;
  irp_leave(p, mn);
  snprintf(what, sizeof what, "method %s.%s", e->name, m->name);
  if (irp_get_doc(p, mo, what, &m->doc) < 0 ||
      irp_member(p, mo, "result", JSON_STRING, false, what, &result) < 0 ||
      irp_member(p, mo, "read_only", JSON_TRUE, false, what, &ro) < 0 ||
      irp_member(p, mo, "reentrant", JSON_TRUE, false, what, &re) < 0)
    return -1;
  m->read_only = ro && json_is_true(ro);
  m->reentrant = re && json_is_true(re);
  if (parse_fields(p, mo, "params", F_PARAM, what, &m->params,
                   &m->n_params) < 0)
    return -1;
  if (result) {
    long mr = irp_enter(p, "result", 0);
    if (mr < 0 ||
        irp_parse_type(p, json_string_value(result), true, &m->result) < 0)
      return -1;
    irp_leave(p, mr);
  } else {
    if (!(m->result = calloc(1, sizeof *m->result))) return irp_oom(p);
    m->result->kind = SFC_VOID;
    m->result->pos = m->pos;
    if (!(m->result->text = irp_dup_str(p, "void"))) return -1;
  }
  if (parse_fields(p, mo, "locals", F_LOCAL, what, &m->locals,
                   &m->n_locals) < 0)
    return -1;
  for (size_t i = 0; i < m->n_locals; i++) {
    const sfc_field *l = &m->locals[i];
    for (size_t j = 0; j < m->n_params; j++)
      if (!strcmp(m->params[j].name, l->name))
        return irp_fail_at(p, l->pos,
                           "local '%s' shadows parameter '%s' of %s.%s "
                           "(declared at %d:%d)",
                           l->name, l->name, e->name, m->name,
                           m->params[j].pos.line, m->params[j].pos.col);
    for (const char *const *fm = frame_members; *fm; fm++)
      if (!strcmp(*fm, l->name))
        return irp_fail_at(p, l->pos,
                           "local '%s' clashes with the frame member F->%s "
                           "(frames hold F->hdr, F->p, F->r and F->result)",
                           l->name, l->name);
  }
  if (parse_awaits(p, mo, e, m) < 0) return -1;
  if (m->read_only && m->n_awaits)
    return irp_fail_at(p, m->awaits[0].pos,
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
  if (irp_member(p, eo, "methods", JSON_ARRAY, false, what, &arr) < 0)
    return -1;
  if (!arr || !json_array_size(arr)) return 0;
  long mk = irp_enter(p, "methods", 0);
  if (mk < 0) return -1;
  size_t n = json_array_size(arr);
  if (!(e->methods = calloc(n, sizeof *e->methods))) return irp_oom(p);
  e->n_methods = n;
  for (size_t i = 0; i < n; i++) {
    long mi = irp_enter(p, NULL, i);
    if (mi < 0 || parse_method(p, json_array_get(arr, i), e, i) < 0) return -1;
    irp_leave(p, mi);
  }
  irp_leave(p, mk);
  return 0;
}

/* A fan_out await's result type: list<R> of the callee's result R (a
 * copy of R's chain, which the await owns). */
static sfc_type *fan_out_results(const sfc_type *r) {
  sfc_type *head = calloc(1, sizeof *head), *t = head;
  if (!head) return NULL;
  head->kind = SFC_LIST;
  head->pos = r->pos;
  size_t n = strlen(r->text) + 7;
  if (!(head->text = malloc(n))) goto fail;
  snprintf(head->text, n, "list<%s>", r->text);
  for (; r; r = r->elem) {
    if (!(t->elem = calloc(1, sizeof *t->elem))) goto fail;
    t = t->elem;
    *t = *r;
    t->elem = NULL;
    if (!(t->text = strdup(r->text))) goto fail;
  }
  return head;
fail:
  irp_type_free(head);
  return NULL;
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
          irp_suggest_init(&s, ent);
          for (size_t x = 0; x < ir->n_entities; x++)
            irp_suggest_try(&s, ir->entities[x].name);
          return irp_fail_at(p, a->call_pos, "call to unknown entity '%s'%s",
                             ent, irp_suggest_text(&s));
        }
        const sfc_method *tm = sfc_entity_method(te, dot + 1);
        if (!tm) {
          suggestion s;
          irp_suggest_init(&s, dot + 1);
          for (size_t x = 0; x < te->n_methods; x++)
            irp_suggest_try(&s, te->methods[x].name);
          if (s.best)
            return irp_fail_at(p, a->call_pos,
                               "call to unknown method '%s' (did you mean "
                               "'%s.%s'?)",
                               a->target_text, te->name, s.best);
          return irp_fail_at(p, a->call_pos, "call to unknown method '%s'",
                             a->target_text);
        }
        a->entity = (sfc_entity *)te;
        a->method = (sfc_method *)tm;
        if (a->fan_out && tm->result->kind != SFC_VOID &&
            !(a->results = fan_out_results(tm->result)))
          return irp_oom(p);
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
    return irp_fail_at(p, pos,
                       "%s generates the C name '%s', which %s (at %d:%d) "
                       "already has",
                       mine, buf, theirs, names[i].pos.line, names[i].pos.col);
  }
  if (!(names[*n].name = strdup(buf)))
    return irp_fail_at(p, pos, "out of memory");
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
  if (!names) return irp_oom(p);
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
    return irp_fail(p, AT_VALUE, "%s[%zu] must be an object, not %s", arr_key,
                    i, irp_kind_name(arr_obj));
  json_t *nv;
  if (irp_check_keys(p, arr_obj, what, is_entity ? ekeys : rkeys) < 0 ||
      irp_member(p, arr_obj, "name", JSON_STRING, true, what, &nv) < 0 ||
      irp_get_doc(p, arr_obj, what, doc) < 0)
    return -1;
  long m = irp_enter(p, "name", 0);
  if (m < 0) return -1;
  *pos = irp_here(p, AT_VALUE);
  const char *nm = json_string_value(nv);
  sfc_ir *ir = p->ir;
  if (irp_check_name(p, nm, true, is_entity ? "entity" : "record") < 0)
    return -1;
  for (size_t j = 0; j < ir->n_records && ir->records[j].name; j++) {
    if (strcmp(ir->records[j].name, nm)) continue;
    if (is_entity)
      return irp_fail(p, AT_VALUE,
                      "entity '%s' has the name of record %s (at %d:%d): types "
                      "share one namespace",
                      nm, nm, ir->records[j].pos.line, ir->records[j].pos.col);
    return irp_fail(p, AT_VALUE, "duplicate record '%s' (first at %d:%d)", nm,
                    ir->records[j].pos.line, ir->records[j].pos.col);
  }
  for (size_t j = 0; j < ir->n_entities && ir->entities[j].name; j++)
    if (!strcmp(ir->entities[j].name, nm))
      return irp_fail(p, AT_VALUE, "duplicate entity '%s' (first at %d:%d)", nm,
                      ir->entities[j].pos.line, ir->entities[j].pos.col);
  if (!(*name = irp_dup_str(p, nm))) return -1;
  irp_leave(p, m);
  return 0;
}

static int parse_root(parser *p, json_t *root) {
  static const char *const keys[] = {"$schema", "namespace", "doc",
                                     "records", "entities",  NULL};
  sfc_ir *ir = p->ir;
  if (!json_is_object(root))
    return irp_fail(p, AT_VALUE, "an entity IR must be a JSON object, not %s",
                    irp_kind_name(root));
  json_t *ns, *schema, *records, *entities;
  const char *w = "the IR";
  if (irp_check_keys(p, root, w, keys) < 0 ||
      irp_member(p, root, "$schema", JSON_STRING, false, w, &schema) < 0 ||
      irp_member(p, root, "namespace", JSON_STRING, true, w, &ns) < 0 ||
      irp_get_doc(p, root, w, &ir->doc) < 0 ||
      irp_member(p, root, "records", JSON_ARRAY, false, w, &records) < 0 ||
      irp_member(p, root, "entities", JSON_ARRAY, true, w, &entities) < 0)
    return -1;
  long m = irp_enter(p, "namespace", 0);
  if (m < 0) return -1;
  ir->namespace_pos = irp_here(p, AT_VALUE);
  if (irp_check_namespace(p, json_string_value(ns)) < 0) return -1;
  if (!(ir->namespace_ = irp_dup_str(p, json_string_value(ns)))) return -1;
  irp_leave(p, m);
  if (!json_array_size(entities)) {
    if ((m = irp_enter(p, "entities", 0)) < 0) return -1;
    return irp_fail(p, AT_VALUE, "no entities: declare at least one");
  }

  /* phase 1: names of records and entities (n_* grow as names are read,
   * so duplicates are checked against the ones before) */
  size_t nr = records ? json_array_size(records) : 0;
  size_t ne = json_array_size(entities);
  if (nr && !(ir->records = calloc(nr, sizeof *ir->records))) return irp_oom(p);
  if (!(ir->entities = calloc(ne, sizeof *ir->entities))) return irp_oom(p);
  for (size_t i = 0; i < nr; i++) {
    long mk = irp_enter(p, "records", 0),
         mi = mk < 0 ? -1 : irp_enter(p, NULL, i);
    if (mi < 0) return -1;
    sfc_record *r = &ir->records[i];
    ir->n_records = i + 1; /* so that sfc_ir_free frees what is read */
    if (parse_decl_name(p, json_array_get(records, i), "records", i, false,
                        &r->name, &r->pos, &r->doc) < 0)
      return -1;
    irp_leave(p, mk);
  }
  for (size_t i = 0; i < ne; i++) {
    long mk = irp_enter(p, "entities", 0),
         mi = mk < 0 ? -1 : irp_enter(p, NULL, i);
    if (mi < 0) return -1;
    sfc_entity *e = &ir->entities[i];
    ir->n_entities = i + 1;
    if (parse_decl_name(p, json_array_get(entities, i), "entities", i, true,
                        &e->name, &e->pos, &e->doc) < 0)
      return -1;
    irp_leave(p, mk);
  }

  /* phase 2: record fields, then cycles */
  for (size_t i = 0; i < nr; i++) {
    long mk = irp_enter(p, "records", 0),
         mi = mk < 0 ? -1 : irp_enter(p, NULL, i);
    if (mi < 0) return -1;
    sfc_record *r = &ir->records[i];
    char what[160];
    snprintf(what, sizeof what, "record %s", r->name);
    if (parse_fields(p, json_array_get(records, i), "fields", F_RECORD, what,
                     &r->fields, &r->n_fields) < 0)
      return -1;
    irp_leave(p, mk);
  }
  if (check_record_cycles(p) < 0) return -1;

  /* phase 3: entities */
  for (size_t i = 0; i < ne; i++) {
    long mk = irp_enter(p, "entities", 0),
         mi = mk < 0 ? -1 : irp_enter(p, NULL, i);
    if (mi < 0 ||
        parse_entity_body(p, json_array_get(entities, i), &ir->entities[i]) < 0)
      return -1;
    irp_leave(p, mk);
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
    return irp_fail_at(&p, at, "JSON syntax error: %s", je.text);
  }
  int rc;
  if (sfb_jpos_build(&p.ix, text, len) < 0) {
    rc = irp_fail_at(&p, (sfc_pos){1, 1}, "out of memory");
  } else if (!(out->path = strdup(name))) {
    rc = irp_fail_at(&p, (sfc_pos){1, 1}, "out of memory");
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
    irp_type_free(f[i].type);
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
      irp_type_free(m->result);
      for (size_t k = 0; k < m->n_awaits; k++) {
        free(m->awaits[k].label);
        irp_type_free(m->awaits[k].results);
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
