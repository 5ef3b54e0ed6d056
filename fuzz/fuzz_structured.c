/*
 * fuzz_structured: builds a well-formed ToFunction from the fuzz bytes
 * (target function, id, which states are present / absent / empty /
 * mistyped / garbage, a batch of 0-8 invocations with callers and typed
 * arguments, occasional unknown fields) so that mutations explore the
 * handler beyond the decoder: missing-state replies, batches, state
 * carried across invocations, the action programs of fuzz.fns/actions.
 * Checks the reply against what the request asked for.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_targets[] = {FZ_FN_TYPES, FZ_FN_ACTIONS,
                                        FZ_FN_NOSTATE, FZ_FN_UNKNOWN};
static const sf_type *const k_types[] = {
    &sf_type_bool,  &sf_type_int,  &sf_type_long, &sf_type_float,
    &sf_type_double, &sf_type_string, &fz_type_json, &fz_type_raw,
    &fz_type_proto};
#define N_TYPES (sizeof k_types / sizeof k_types[0])

static void address(fz_buf *out, const char *typename_, const char *id) {
  const char *slash = strchr(typename_, '/');
  size_t ns_len = slash ? (size_t)(slash - typename_) : strlen(typename_);
  pb_lenf(out, 1, typename_, ns_len);
  pb_str(out, 2, slash ? slash + 1 : "");
  pb_str(out, 3, id);
}

static void make_id(fz_reader *r, char *id, size_t cap) {
  const uint8_t *s;
  size_t n = fz_slice(r, cap - 1, &s);
  /* fz_slice keeps n < cap, but from another file: the loop states the
   * bound itself so that the write is visibly inside id[] (gcc -O3
   * -Wstringop-overflow cannot see the callee's promise). */
  size_t i = 0;
  for (; i < n && i + 1 < cap; i++) id[i] = (char)('0' + s[i] % 75); /* ASCII */
  id[i] = 0;
}

/* A TypedValue of a type picked by the input: usually a valid encoding. */
static void typed_value(fz_reader *r, fz_buf *out, const sf_type *type,
                        uint8_t how) {
  fz_buf v = {0};
  const uint8_t *s;
  switch (how % 8) {
    case 0: /* garbage bytes */
      pb_str(out, 1, type->type_name);
      pb_uint(out, 2, 1);
      {
        size_t n = fz_slice(r, 255, &s);
        pb_lenf(out, 3, s, n);
      }
      return;
    case 1: /* has_value = false */
      pb_str(out, 1, type->type_name);
      return;
    case 2: { /* another typename */
      const sf_type *other = k_types[fz_u8(r) % N_TYPES];
      fz_encode_value(r, other, &v);
      pb_str(out, 1, other->type_name);
      pb_uint(out, 2, 1);
      pb_lenf(out, 3, v.p, v.len);
      break;
    }
    default:
      fz_encode_value(r, type, &v);
      pb_str(out, 1, type->type_name);
      pb_uint(out, 2, 1);
      if (v.len || (how & 8)) pb_lenf(out, 3, v.p, v.len);
      break;
  }
  fz_buf_free(&v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_reader r = {data, size};
  uint8_t sel = fz_u8(&r);
  const char *target = k_targets[sel % 4];
  bool stateful = strcmp(target, FZ_FN_TYPES) == 0 ||
                  strcmp(target, FZ_FN_ACTIONS) == 0;
  char id[32];
  make_id(&r, id, sizeof id);

  fz_buf batch = {0}, tmp = {0};
  address(&tmp, target, id);
  pb_msg(&batch, 1, &tmp);

  /* State: each spec absent, present without value, or with a value. */
  bool missing = false;
  for (int k = 0; k < FZ_N_SPECS; k++) {
    const sf_value_spec *spec = fz_specs[k];
    uint8_t how = fz_u8(&r);
    if (how % 8 == 0) {
      missing = true;
      continue;
    }
    fz_buf pv = {0}, tv = {0};
    pb_str(&pv, 1, spec->name);
    if (how % 8 != 1) { /* 1: state_value unset, as the runtime sends */
      typed_value(&r, &tv, spec->type, (uint8_t)(how >> 3));
      pb_msg(&pv, 2, &tv);
    }
    fz_buf dup = {0};
    if (how & 0x80) fz_put(&dup, pv.p, pv.len); /* sent twice */
    pb_msg(&batch, 2, &pv);
    if (dup.len) pb_msg(&batch, 2, &dup);
    fz_buf_free(&dup);
  }
  if (sel & 0x10) { /* a state nobody declared */
    fz_buf pv = {0}, tv = {0};
    pb_str(&pv, 1, "stranger");
    typed_value(&r, &tv, &sf_type_int, 3);
    pb_msg(&pv, 2, &tv);
    pb_msg(&batch, 2, &pv);
  }

  /* The batch. */
  size_t n_inv = fz_u8(&r) % 9; /* 0 is a malformed request */
  for (size_t i = 0; i < n_inv; i++) {
    fz_buf inv = {0}, tv = {0};
    uint8_t how = fz_u8(&r);
    if (how & 1) {
      char cid[16];
      make_id(&r, cid, sizeof cid);
      fz_buf caller = {0};
      address(&caller, (how & 2) ? FZ_FN_TYPES : "fuzz.ingress/", cid);
      pb_msg(&inv, 1, &caller);
    }
    if (strcmp(target, FZ_FN_ACTIONS) == 0 && (how & 4)) {
      /* A program for fn_actions, as raw bytes. */
      const uint8_t *s;
      size_t n = fz_slice(&r, 255, &s);
      pb_str(&tv, 1, FZ_TYPENAME_RAW);
      pb_uint(&tv, 2, 1);
      pb_lenf(&tv, 3, s, n);
    } else {
      typed_value(&r, &tv, k_types[fz_u8(&r) % N_TYPES], (uint8_t)(how >> 3));
    }
    pb_msg(&inv, 2, &tv);
    pb_msg(&batch, 3, &inv);
  }
  if (sel & 0x20) pb_uint(&batch, 15, fz_u32(&r)); /* unknown field */

  fz_buf req = {0};
  pb_msg(&req, 100, &batch);
  if (sel & 0x40) pb_lenf(&req, 7, "x", 1); /* unknown top-level field */

  const sf_handler *h = fz_handler();
  sf_arena *arena = fz_arena();
  sf_arena_reset(arena);
  uint8_t *reply = NULL;
  size_t reply_len = 0;
  sf_handle_info info;
  sf_status st =
      sf_handler_handle(h, req.p, req.len, arena, &reply, &reply_len, &info);
  /* (A batch of zero invocations never comes from the runtime; like the
   * official SDKs the handler may answer it with an empty result.) */
  if (strcmp(target, FZ_FN_UNKNOWN) == 0 && n_inv > 0) {
    FZ_CHECK(st == SF_ERR_UNKNOWN_FUNCTION);
  }
  if (st == SF_OK) {
    FZ_CHECK(fz_valid_from_function(reply, reply_len));
    /* Missing state (and only that) gives an incomplete-context reply
     * that lists it, before running anything. */
    FZ_CHECK(info.incomplete == (stateful && missing));
    if (info.incomplete) {
      FZ_CHECK(info.invocations == 0);
      FZ_CHECK(reply_len >= 2 && reply[0] == 0xAA && reply[1] == 0x06);
    } else {
      FZ_CHECK(info.invocations == n_inv);
      /* No side effects may be an empty FromFunction; fuzz.fns/types
       * always writes state. */
      FZ_CHECK(reply_len == 0 || (reply[0] == 0xA2 && reply[1] == 0x06));
      if (n_inv > 0 && strcmp(target, FZ_FN_TYPES) == 0)
        FZ_CHECK(reply_len > 2);
    }
  } else {
    FZ_CHECK(info.error[0] != 0);
  }
  fz_buf_free(&req);
  return 0;
}
