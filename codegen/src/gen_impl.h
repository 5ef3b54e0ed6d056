/*
 * gen_impl.h - what the parts of sf-codegen's C generator share: the
 * generator state (`gen`), the string pool and diagnostics, and the
 * functions one part calls in another. Private to codegen/src; the
 * generator's API is gen.h. The parts follow the order of the output:
 *
 *   gen_names.c   C names and types of IR types, clash checks, the frame
 *                 layout hash, and the small helpers every part uses
 *   gen_header.c  the banner and <base>.h
 *   gen_codec.c   the wire codecs of records, Args, frames and values
 *   gen_state.c   state load/store and the defaults
 *   gen_entity.c  method steps, method and entity descriptors
 *   gen.c         putting it together (sfc_gen_text) and writing files
 */
#ifndef SFC_GEN_IMPL_H
#define SFC_GEN_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "gen.h"

/* The static codec functions of one type, emitted only when used:
 * sf__enc_/sf__dec_ (a list or map field), sf__encw_/sf__readw_ (the value
 * as a message {1: value}). */
enum { H_ENC, H_DEC, H_ENCW, H_READW, H_N };
typedef struct helper {
  const sfc_type *type;
  bool need[H_N], done[H_N];
} helper;

typedef struct gen {
  const sfc_ir *ir;
  const char *source; /* the IR path, for comments */
  const char *base;   /* file base name (a C identifier) */
  char *ns;           /* the namespace as a C identifier */
  FILE *h;            /* the header */
  FILE *c;            /* the source body */
  FILE *wr;           /* the source: Result/state wrapper codecs */
  char **pool;        /* strings made by S(), freed at the end */
  size_t n_pool, cap_pool;
  const sfc_type **conts; /* list/map types, elements before containers */
  size_t n_conts, cap_conts;
  struct helper *helpers; /* codec functions the output uses */
  size_t n_helpers, cap_helpers;
  bool oom;
  char *err;
  size_t err_len;
  bool failed;
} gen;

/* A numbered member of a message: lvalue `lv` of IR type `type`. */
typedef struct member {
  uint32_t num;
  const sfc_type *type;
  const char *lv;
} member;

/* gen_names.c: the string pool (S: printf into a string the generator
 * frees), the first error (fail_at, "file:line:col: ..."), comments, C
 * names and types of IR types, name clash checks, the frame layout hash. */
__attribute__((format(printf, 2, 3))) const char *S(gen *g, const char *fmt,
                                                    ...);
__attribute__((format(printf, 3, 4))) void fail_at(gen *g, sfc_pos pos,
                                                   const char *fmt, ...);
char *c_ident(const char *s);
const char *comment_text(gen *g, const char *s);
void emit_doc(gen *g, FILE *o, const char *ind, const char *doc);
bool is_container(const sfc_type *t);
const char *mangle(gen *g, const sfc_type *t);
const char *type_text(gen *g, const sfc_type *t);
const char *ctype(gen *g, const sfc_type *t);
const char *addr(gen *g, const char *lv);
const char *mem(gen *g, const char *lv, const char *m);
void collect_all(gen *g);
void check_names(gen *g);
char *layout_string(gen *g, const sfc_method *m);

/* gen_header.c: the opening banner and the header */
void emit_banner(gen *g, FILE *o, const char *file, const char *what);
const char *param_list(gen *g, const sfc_method *m);
const char *free_name(gen *g, const sfc_method *m, const char *name);
void emit_header(gen *g);

/* gen_codec.c: wire codecs */
void need(gen *g, const sfc_type *t, int kind);
void emit_group_write(gen *g, FILE *o, const char *sig, const char *prologue,
                      const member *ms, size_t n);
void emit_group_read(gen *g, FILE *o, const char *sig, const char *prologue,
                     const char *epilogue, const member *ms, size_t n);
void emit_helper_proto(gen *g, FILE *o, const sfc_type *t, int kind);
void emit_helpers(gen *g, FILE *o);
member *field_members(gen *g, const sfc_field *f, size_t n, const char *prefix);
void emit_record(gen *g, FILE *o, const sfc_record *r);

/* gen_state.c: state load/store and defaults */
void emit_state(gen *g, FILE *o, const sfc_entity *e);

/* gen_entity.c: method steps and entity descriptors */
void emit_entity(gen *g, FILE *o, const sfc_entity *e);

#endif
