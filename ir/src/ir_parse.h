/*
 * ir_parse.h - what the parts of the IR reader share (private to ir/src):
 * the parser state and the functions one part calls in another.
 *
 *   ir_walk.c   the walk: the JSON Pointer path of the node being read,
 *               its position, "file:line:col: message" errors, "did you
 *               mean" suggestions, and the JSON shape checks (keys, members)
 *   ir_types.c  values: names, namespaces, type strings, defaults
 *   ir.c        the structure: fields, records, methods, entities, the
 *               file, and the public API (ir.h)
 */
#ifndef SFC_IR_PARSE_H
#define SFC_IR_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ir.h"
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

typedef struct {
  const char *word;
  const char *best;
  size_t dist;
  char text[160]; /* " (did you mean 'x'?)" or "" */
} suggestion;

/* ir_walk.c: paths, positions, errors, suggestions, JSON shape */
/* An error at `at` / at the node on the current path (its value or key);
 * both return -1. */
__attribute__((format(printf, 3, 4))) int irp_fail_at(parser *p, sfc_pos at,
                                                      const char *fmt, ...);
sfc_pos irp_here(parser *p, int which);
__attribute__((format(printf, 3, 4))) int irp_fail(parser *p, int which,
                                                   const char *fmt, ...);
int irp_oom(parser *p);
void irp_leave(parser *p, long mark);
long irp_enter(parser *p, const char *key, size_t index);
char *irp_dup_str(parser *p, const char *s);
void irp_suggest_init(suggestion *s, const char *word);
void irp_suggest_try(suggestion *s, const char *candidate);
const char *irp_suggest_text(suggestion *s);
const char *irp_kind_name(const json_t *v);
int irp_check_keys(parser *p, json_t *obj, const char *what,
                   const char *const *known);
int irp_member(parser *p, json_t *obj, const char *key, json_type want,
               bool required, const char *what, json_t **out);
int irp_get_doc(parser *p, json_t *obj, const char *what, char **out);

/* ir_types.c: names, types, defaults */
bool irp_is_upper_name(const char *s);
bool irp_is_lower_name(const char *s);
int irp_check_name(parser *p, const char *s, bool upper, const char *what);
int irp_check_namespace(parser *p, const char *ns);
void irp_type_free(sfc_type *t);
int irp_parse_type(parser *p, const char *text, bool allow_void,
                   sfc_type **out);
int irp_check_default(parser *p, const sfc_type *t, json_t *v);

#endif
