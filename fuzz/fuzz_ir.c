/*
 * fuzz_ir: the entity IR reader and checker (sfc_ir_parse: JSON syntax,
 * shape, names, types, references, record cycles, awaits, defaults), the
 * input being a whole IR file as sf-codegen, sf-modgen --ir, sf-local --ir
 * and sf-gateway read it. An IR the checker accepts must then work with
 * the IR JSON codec as the code generator uses it: every state field's
 * default encodes (sfc_json_encode_default) and its bytes decode back
 * (sfc_json_decode_state), every method's empty Args record decodes,
 * re-encodes and decodes the same. Checks: no crash/leak/UB, one
 * "fuzz.ir.json:line:col: message" on failure, and those codec contracts
 * on success.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "ir.h"
#include "ir_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_state(const sfc_field *f) {
  uint8_t *b = NULL;
  size_t n = 0;
  char err[512];
  err[0] = '\0';
  if (sfc_json_encode_default(f, &b, &n, err, sizeof err) != 0)
    fz_check_failed(err, __FILE__, __LINE__); /* the checker let it in */
  sfc_kind k = f->type->kind;
  if (k == SFC_LIST || k == SFC_MAP || k == SFC_RECORD) {
    json_t *j = sfc_json_decode_state(f->type, b ? b : (const uint8_t *)"",
                                      n, err, sizeof err);
    if (j == NULL) fz_check_failed(err, __FILE__, __LINE__);
    json_decref(j);
  }
  free(b);
}

static void check_method(const sfc_method *m) {
  char err[512];
  json_t *args = sfc_json_decode_args(m, (const uint8_t *)"", 0, err,
                                      sizeof err);
  if (args == NULL) fz_check_failed(err, __FILE__, __LINE__);
  uint8_t *b = NULL;
  size_t n = 0;
  if (sfc_json_encode_args(m, args, &b, &n, err, sizeof err) != 0)
    fz_check_failed(err, __FILE__, __LINE__);
  /* Zero scalars are left out, records are written (empty): decoding the
   * bytes again gives the same arguments. */
  json_t *again = sfc_json_decode_args(m, b ? b : (const uint8_t *)"", n,
                                       err, sizeof err);
  if (again == NULL) fz_check_failed(err, __FILE__, __LINE__);
  FZ_CHECK(json_equal(args, again));
  json_decref(again);
  free(b);
  json_decref(args);
  json_t *z = sfc_json_zero(m->result);
  FZ_CHECK(z != NULL);
  json_decref(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  sfc_ir ir;
  char err[512];
  memset(err, 0x5A, sizeof err);
  if (sfc_ir_parse("fuzz.ir.json", (const char *)data, size, &ir, err,
                   sizeof err) != 0) {
    FZ_CHECK(memchr(err, 0, sizeof err) != NULL);
    FZ_CHECK(strncmp(err, "fuzz.ir.json:", 13) == 0);
    return 0;
  }
  for (size_t e = 0; e < ir.n_entities; e++) {
    const sfc_entity *ent = &ir.entities[e];
    FZ_CHECK(sfc_ir_entity(&ir, ent->name) == ent);
    for (size_t i = 0; i < ent->n_state; i++) check_state(&ent->state[i]);
    for (size_t i = 0; i < ent->n_methods; i++) {
      FZ_CHECK(sfc_entity_method(ent, ent->methods[i].name) ==
               &ent->methods[i]);
      check_method(&ent->methods[i]);
    }
  }
  sfc_ir_free(&ir);
  return 0;
}
