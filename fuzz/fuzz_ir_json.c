/*
 * fuzz_ir_json: the IR-driven JSON <-> protobuf codec (ir_json.h) and the
 * entity Reply envelope as sf-local and sf-gateway receive it, for one
 * fixed IR with every field type (tests/codegen/gen/codec.ir.json, entity
 * Keeper). The first input byte picks the operation (low 2 bits) and the
 * method (the rest); the other bytes are its input:
 *   0  Args record bytes -> JSON -> bytes -> JSON: the two JSON values are
 *      equal (what the decoder accepts, the encoder takes back)
 *   1  JSON text -> Args bytes -> JSON -> bytes: the two encodings are
 *      equal (a client's arguments, sf-local's entity call)
 *   2  a statefun.entities.Reply -> sfc_call_answer (200, 422 or 502);
 *      where the text path (sfc_call_answer_write) writes the answer, it
 *      is that answer's json_dumps byte for byte
 *   3  record All bytes -> JSON -> bytes -> JSON, as in 0
 * Left out: the SDK's entity runtime receiving a Call or Reply inside a
 * ToFunction (it needs a generated entity; see fuzz/README.md).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "entities.pb-c.h"
#include "fuzz_codec_ir.h"
#include "fuzz_common.h"
#include "ir.h"
#include "ir_call.h"
#include "ir_json.h"
#include "sfb/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Bytes -> JSON; when they decode, JSON -> bytes -> JSON gives the same. */
static void bytes_round_trip(const sfc_method *m, const sfc_record *r,
                             const uint8_t *p, size_t n) {
  char err[512];
  json_t *j = m ? sfc_json_decode_args(m, p, n, err, sizeof err)
                : sfc_json_decode_record(r, p, n, err, sizeof err);
  if (j == NULL) return;
  uint8_t *b = NULL;
  size_t bn = 0;
  int rc = m ? sfc_json_encode_args(m, j, &b, &bn, err, sizeof err)
             : sfc_json_encode_record(r, j, "value", &b, &bn, err, sizeof err);
  if (rc != 0) fz_check_failed(err, __FILE__, __LINE__);
  json_t *j2 = m ? sfc_json_decode_args(m, b ? b : p, bn, err, sizeof err)
                 : sfc_json_decode_record(r, b ? b : p, bn, err, sizeof err);
  if (j2 == NULL) fz_check_failed(err, __FILE__, __LINE__);
  FZ_CHECK(fz_json_equal(j, j2));
  json_decref(j2);
  json_decref(j);
  free(b);
}

/* JSON -> bytes; when it encodes, bytes -> JSON -> bytes gives the same. */
static void json_round_trip(const sfc_method *m, const uint8_t *p, size_t n) {
  json_t *j = json_loadb((const char *)p, n, JSON_DECODE_ANY, NULL);
  if (j == NULL) return;
  char err[512];
  uint8_t *b = NULL, *b2 = NULL;
  size_t bn = 0, bn2 = 0;
  if (sfc_json_encode_args(m, j, &b, &bn, err, sizeof err) == 0) {
    json_t *back = sfc_json_decode_args(m, b ? b : p, bn, err, sizeof err);
    if (back == NULL) fz_check_failed(err, __FILE__, __LINE__);
    if (sfc_json_encode_args(m, back, &b2, &bn2, err, sizeof err) != 0)
      fz_check_failed(err, __FILE__, __LINE__);
    FZ_CHECK(bn == bn2 && (bn == 0 || memcmp(b, b2, bn) == 0));
    json_decref(back);
  }
  free(b);
  free(b2);
  json_decref(j);
}

static void reply(const sfc_method *m, const uint8_t *p, size_t n) {
  Statefun__Entities__Reply *rp =
      statefun__entities__reply__unpack(NULL, n, p);
  if (rp == NULL) return;
  unsigned status = 0;
  json_t *o = sfc_call_answer(m, "rid-1", rp->ok, rp->error, rp->result.data,
                              rp->result.len, &status);
  FZ_CHECK(o != NULL);
  FZ_CHECK(status == 200 || status == 422 || status == 502);
  char *text = json_dumps(o, JSON_COMPACT);
  FZ_CHECK(text != NULL);
  sfb_buf b = {0};
  if (rp->ok && sfc_call_answer_write(m, "rid-1", rp->result.data,
                                      rp->result.len, &b) == 0)
    FZ_CHECK(status == 200 && b.len == strlen(text) &&
             memcmp(b.p, text, b.len) == 0);
  sfb_buf_free(&b);
  free(text);
  json_decref(o);
  statefun__entities__reply__free_unpacked(rp, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const sfc_ir *ir = fz_codec_ir();
  const sfc_entity *e = sfc_ir_entity(ir, "Keeper");
  FZ_CHECK(e != NULL && e->n_methods > 0);
  const sfc_method *m = &e->methods[(data[0] >> 2) % e->n_methods];
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  switch (data[0] & 3) {
  case 0: bytes_round_trip(m, NULL, p, n); break;
  case 1: json_round_trip(m, p, n); break;
  case 2: reply(m, p, n); break;
  case 3: bytes_round_trip(NULL, sfc_ir_record(ir, "All"), p, n); break;
  }
  return 0;
}
