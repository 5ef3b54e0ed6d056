/*
 * ir_json_impl.h - what the halves of the IR's JSON codec share (private to
 * ir/src): the error context that words every message as "where: what"
 * (e.g. "argument 'items'[2]: expected a string (ref<Item> key), got 3").
 *
 *   ir_json.c      the error context, value descriptions, base64, zero values
 *   ir_json_enc.c  JSON -> protobuf wire (sfc_json_encode_*)
 *   ir_json_dec.c  protobuf wire -> JSON (sfc_json_decode_*)
 *   ir_json_text.c protobuf wire -> JSON text, the fast path of a result
 */
#ifndef SFC_IR_JSON_IMPL_H
#define SFC_IR_JSON_IMPL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "ir_json.h"

/* Deeper than any IR type can nest in practice; a guard, not a rule. */
#define MAX_DEPTH 64

typedef struct ctx {
  char path[512]; /* "argument 'items'[2].qty" */
  size_t plen;
  char *err;
  size_t err_len;
  int depth;
  bool absent_zero; /* a record field left out is its zero (IR defaults) */
} ctx;

void ij_ctx_init(ctx *c, char *err, size_t err_len);
/* Appends to the path; returns the previous length to truncate back to. */
__attribute__((format(printf, 2, 3))) size_t ij_path_push(ctx *c,
                                                          const char *fmt,
                                                          ...);
void ij_path_pop(ctx *c, size_t old);
/* Writes "path: message" into the caller's err; returns -1. */
__attribute__((format(printf, 2, 3))) int ij_fail(ctx *c, const char *fmt,
                                                  ...);
/* A short description of a JSON value for "got ...". */
void ij_describe(const json_t *j, char *out, size_t n);
/* "expected <what>, got <description of got>"; returns -1. */
int ij_expected(ctx *c, const char *what, const json_t *got);
/* A list or map (wrapped as {1: value} inside a list or as a map value). */
bool ij_is_container(const sfc_type *t);

#endif
