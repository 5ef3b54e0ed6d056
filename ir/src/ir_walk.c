/*
 * ir_walk.c - how the IR reader walks the JSON: it keeps the JSON Pointer
 * path of the node it is on (enter/leave), finds that node's line:col in
 * the position index (sfb/jpos.h), and words every error as
 * "file:line:col: message", with a "did you mean" for near-miss names.
 * Also the shape checks every part uses: unknown keys, typed members, docs.
 */
#include "ir_parse.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

int
irp_fail_at(parser *p, sfc_pos at, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(p, at, fmt, ap);
  va_end(ap);
  return -1;
}

sfc_pos irp_here(parser *p, int which) {
  const sfb_jpos_entry *e = sfb_jpos_find(&p->ix, p->path ? p->path : "");
  if (!e) return (sfc_pos){1, 1};
  sfb_pos at = which == AT_KEY ? e->key : e->value;
  return (sfc_pos){at.line, at.col};
}

/* An error at the node on the current path (its value, or its key). */
int irp_fail(parser *p, int which, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vfail_at(p, irp_here(p, which), fmt, ap);
  va_end(ap);
  return -1;
}

int irp_oom(parser *p) { return irp_fail(p, AT_VALUE, "out of memory"); }

/* Enters a member (key) or an array item (key NULL); returns the mark to
 * irp_leave() with, or -1 (out of memory, reported). */
long irp_enter(parser *p, const char *key, size_t index) {
  long mark = sfb_jpos_push(&p->path, &p->path_cap, key, index);
  if (mark < 0) irp_oom(p);
  return mark;
}

void irp_leave(parser *p, long mark) { p->path[mark] = '\0'; }

char *irp_dup_str(parser *p, const char *s) {
  char *d = strdup(s);
  if (!d) irp_oom(p);
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


void irp_suggest_init(suggestion *s, const char *word) {
  s->word = word;
  s->best = NULL;
  s->dist = (size_t)-1;
  s->text[0] = '\0';
}

/* Close enough: 1 edit for short words, 2 for longer ones. */
void irp_suggest_try(suggestion *s, const char *candidate) {
  size_t d = edit_distance(s->word, candidate);
  size_t limit = strlen(s->word) <= 4 ? 1 : 2;
  if (d == 0 || d > limit || d >= s->dist) return;
  s->best = candidate;
  s->dist = d;
}

const char *irp_suggest_text(suggestion *s) {
  if (s->best)
    snprintf(s->text, sizeof s->text, " (did you mean '%s'?)", s->best);
  return s->text;
}

/* ------------------------------------------------------------------ */
/* JSON shape                                                           */
/* ------------------------------------------------------------------ */

const char *irp_kind_name(const json_t *v) {
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
int irp_check_keys(parser *p, json_t *obj, const char *what,
                   const char *const *known) {
  const char *k;
  json_t *v;
  json_object_foreach(obj, k, v) {
    bool ok = false;
    for (const char *const *q = known; *q && !ok; q++) ok = !strcmp(*q, k);
    if (ok) continue;
    suggestion s;
    irp_suggest_init(&s, k);
    for (const char *const *q = known; *q; q++) irp_suggest_try(&s, *q);
    long m = irp_enter(p, k, 0);
    if (m < 0) return -1;
    if (s.best)
      return irp_fail(p, AT_KEY, "unknown key '%s' in %s%s", k, what,
                      irp_suggest_text(&s));
    char list[256] = "";
    for (const char *const *q = known; *q; q++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, *q, sizeof list - strlen(list) - 1);
    }
    return irp_fail(p, AT_KEY, "unknown key '%s' in %s (known keys: %s)", k,
                    what, list);
  }
  return 0;
}

/* Fetches obj[key] (obj on the current path). Absent: *out = NULL, and an
 * error "missing" when required. Of another JSON type than `want`: error.
 * want == JSON_TRUE stands for "a boolean". */
int irp_member(parser *p, json_t *obj, const char *key, json_type want,
               bool required, const char *what, json_t **out) {
  json_t *v = json_object_get(obj, key);
  *out = v;
  if (!v) {
    if (required) return irp_fail(p, AT_VALUE, "missing '%s' in %s", key, what);
    return 0;
  }
  bool ok = want == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want;
  if (ok) return 0;
  const char *want_s = want == JSON_OBJECT   ? "an object"
                       : want == JSON_ARRAY  ? "an array"
                       : want == JSON_STRING ? "a string"
                                             : "true or false";
  long m = irp_enter(p, key, 0);
  if (m < 0) return -1;
  return irp_fail(p, AT_VALUE, "'%s' must be %s, not %s", key, want_s,
                  irp_kind_name(v));
}

/* Optional "doc": a string, copied. */
int irp_get_doc(parser *p, json_t *obj, const char *what, char **out) {
  json_t *v;
  if (irp_member(p, obj, "doc", JSON_STRING, false, what, &v) < 0) return -1;
  if (!v) return 0;
  *out = irp_dup_str(p, json_string_value(v));
  return *out ? 0 : -1;
}
