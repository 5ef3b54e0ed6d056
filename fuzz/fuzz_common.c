/* Shared pieces of the fuzz harnesses; see fuzz_common.h. */
#include "fuzz_common.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_types.pb-c.h"
#include "sfb/buf.h"
#include "sfb/pbwire.h"

void fz_check_failed(const char *what, const char *file, int line) {
  fprintf(stderr, "FUZZ CHECK FAILED: %s (%s:%d)\n", what, file, line);
  abort();
}

bool fz_json_equal(const json_t *a, const json_t *b) {
  if (!a || !b || json_typeof(a) != json_typeof(b)) return false;
  if (json_is_array(a)) {
    if (json_array_size(a) != json_array_size(b)) return false;
    for (size_t i = 0; i < json_array_size(a); i++)
      if (!fz_json_equal(json_array_get(a, i), json_array_get(b, i)))
        return false;
    return true;
  }
  if (!json_is_object(a)) return json_equal(a, b);
  if (json_object_size(a) != json_object_size(b)) return false;
  const char *key;
  size_t klen;
  json_t *v;
  json_object_keylen_foreach((json_t *)a, key, klen, v) {
    if (!fz_json_equal(v, json_object_getn(b, key, klen))) return false;
  }
  return true;
}

/* ---- types and specs ---------------------------------------------------- */

const sf_type fz_type_json = SF_TYPE_JSON(FZ_TYPENAME_JSON);
const sf_type fz_type_raw = SF_TYPE_RAW(FZ_TYPENAME_RAW);
const sf_type fz_type_proto =
    SF_TYPE_PROTO(FZ_TYPENAME_PROTO, &statefun__fuzz__fuzz_record__descriptor);

static const sf_value_spec s_flag = SF_VALUE_SPEC("flag", &sf_type_bool);
static const sf_value_spec s_count = SF_VALUE_SPEC("count", &sf_type_int);
static const sf_value_spec s_total =
    SF_VALUE_SPEC_EXPIRE_AFTER_WRITE("total", &sf_type_long, 60000);
static const sf_value_spec s_ratio = SF_VALUE_SPEC("ratio", &sf_type_float);
static const sf_value_spec s_avg =
    SF_VALUE_SPEC_EXPIRE_AFTER_CALL("avg", &sf_type_double, 1000);
static const sf_value_spec s_name = SF_VALUE_SPEC("name", &sf_type_string);
static const sf_value_spec s_doc = SF_VALUE_SPEC("doc", &fz_type_json);
static const sf_value_spec s_blob = SF_VALUE_SPEC("blob", &fz_type_raw);
static const sf_value_spec s_rec = SF_VALUE_SPEC("rec", &fz_type_proto);
/* Declared by no function: every access must fail. */
static const sf_value_spec s_ghost = SF_VALUE_SPEC("ghost", &sf_type_int);

const sf_value_spec *const fz_specs[FZ_N_SPECS] = {
    &s_flag, &s_count, &s_total, &s_ratio, &s_avg,
    &s_name, &s_doc,   &s_blob,  &s_rec};

/* ---- byte reader ---------------------------------------------------------- */

uint8_t fz_u8(fz_reader *r) {
  if (r->n == 0) return 0;
  r->n--;
  return *r->p++;
}

uint32_t fz_u32(fz_reader *r) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) v = (v << 8) | fz_u8(r);
  return v;
}

uint64_t fz_u64(fz_reader *r) {
  return ((uint64_t)fz_u32(r) << 32) | fz_u32(r);
}

size_t fz_slice(fz_reader *r, size_t max, const uint8_t **out) {
  size_t n = fz_u8(r);
  if (n > max) n = max;
  if (n > r->n) n = r->n;
  *out = r->p;
  r->p += n;
  r->n -= n;
  return n;
}

/* ---- protobuf writer ------------------------------------------------------ */

void fz_buf_free(fz_buf *b) { sfb_buf_free(b); }

/* A fuzzer that runs out of memory has nothing sensible left to test. */
static void check_oom(const fz_buf *b) {
  if (b->oom) abort();
}

void fz_put(fz_buf *b, const void *data, size_t len) {
  sfb_buf_put(b, data, len);
  check_oom(b);
}

void pb_varint(fz_buf *b, uint64_t v) {
  sfb_buf_varint(b, v);
  check_oom(b);
}

void pb_tag(fz_buf *b, uint32_t field, uint32_t wire_type) {
  sfb_buf_tag(b, field, wire_type);
  check_oom(b);
}

void pb_uint(fz_buf *b, uint32_t field, uint64_t v) {
  pb_tag(b, field, 0);
  pb_varint(b, v);
}

void pb_lenf(fz_buf *b, uint32_t field, const void *d, size_t n) {
  pb_tag(b, field, 2);
  pb_varint(b, n);
  fz_put(b, d, n);
}

void pb_str(fz_buf *b, uint32_t field, const char *s) {
  pb_lenf(b, field, s, strlen(s));
}

void pb_msg(fz_buf *b, uint32_t field, fz_buf *child) {
  pb_lenf(b, field, child->p, child->len);
  fz_buf_free(child);
}

/* ---- FromFunction validator ----------------------------------------------- */

/* A field of a message schema: number, expected wire type, and for LEN
 * fields that hold messages the nested schema. */
typedef struct pb_field {
  uint32_t number;
  uint32_t wire_type;
  const struct pb_field *nested; /* NULL-terminated by number == 0 */
} pb_field;

#define END {0, 0, NULL}
static const pb_field k_address[] = {{1, 2, NULL}, {2, 2, NULL}, {3, 2, NULL},
                                     END};
static const pb_field k_typed_value[] = {
    {1, 2, NULL}, {2, 0, NULL}, {3, 2, NULL}, END};
static const pb_field k_mutation[] = {
    {1, 0, NULL}, {2, 2, NULL}, {3, 2, k_typed_value}, END};
static const pb_field k_invocation[] = {
    {1, 2, k_address}, {2, 2, k_typed_value}, END};
static const pb_field k_delayed[] = {{1, 0, NULL},
                                     {2, 2, k_address},
                                     {3, 2, k_typed_value},
                                     {10, 0, NULL},
                                     {11, 2, NULL},
                                     END};
static const pb_field k_egress[] = {
    {1, 2, NULL}, {2, 2, NULL}, {3, 2, k_typed_value}, END};
static const pb_field k_response[] = {{1, 2, k_mutation},
                                      {2, 2, k_invocation},
                                      {3, 2, k_delayed},
                                      {4, 2, k_egress},
                                      END};
static const pb_field k_expiration[] = {{1, 0, NULL}, {2, 0, NULL}, END};
static const pb_field k_spec[] = {
    {1, 2, NULL}, {2, 2, k_expiration}, {3, 2, NULL}, END};
static const pb_field k_incomplete[] = {{1, 2, k_spec}, END};
static const pb_field k_from_function[] = {
    {100, 2, k_response}, {101, 2, k_incomplete}, END};

static bool validate(const uint8_t *p, const uint8_t *end,
                     const pb_field *schema, int depth) {
  if (depth > 8) return false;
  sfb_reader r;
  sfb_reader_init(&r, p, (size_t)(end - p));
  uint32_t number;
  unsigned wt;
  int more;
  while ((more = sfb_read_tag(&r, &number, &wt)) == 1) {
    const pb_field *f = schema;
    while (f->number && f->number != number) f++;
    /* Our SDK writes only fields of the schema, with their wire types. */
    if (!f->number || f->wire_type != wt) return false;
    uint64_t v;
    const uint8_t *sub;
    size_t n;
    if (wt == SFB_WT_VARINT) {
      if (!sfb_read_varint(&r, &v)) return false;
    } else {
      if (!sfb_read_len(&r, &sub, &n)) return false;
      if (f->nested && !validate(sub, sub + n, f->nested, depth + 1))
        return false;
    }
  }
  return more == 0;
}

bool fz_valid_from_function(const uint8_t *buf, size_t len) {
  if (len && !buf) return false;
  return validate(buf, buf + len, k_from_function, 0);
}

/* ---- value encodings ------------------------------------------------------ */

void fz_encode_value(fz_reader *r, const sf_type *type, fz_buf *out) {
  uint8_t tmp[16];
  size_t n = 0;
  const uint8_t *s;
  size_t slen;
  out->len = 0;
  switch (type->kind) {
    case SF_KIND_BOOL: n = sf_encode_bool(fz_u8(r) & 1, tmp); break;
    case SF_KIND_INT: n = sf_encode_int((int32_t)fz_u32(r), tmp); break;
    case SF_KIND_LONG: n = sf_encode_long((int64_t)fz_u64(r), tmp); break;
    case SF_KIND_FLOAT: {
      uint32_t bits = fz_u32(r);
      float f;
      memcpy(&f, &bits, sizeof f);
      n = sf_encode_float(f, tmp);
      break;
    }
    case SF_KIND_DOUBLE: {
      uint64_t bits = fz_u64(r);
      double d;
      memcpy(&d, &bits, sizeof d);
      n = sf_encode_double(d, tmp);
      break;
    }
    case SF_KIND_STRING:
      slen = fz_slice(r, 200, &s);
      if (slen) pb_lenf(out, 1, s, slen);
      return;
    case SF_KIND_JSON: {
      char text[64];
      switch (fz_u8(r) % 4) {
        case 0:
          snprintf(text, sizeof text, "{\"n\":%d,\"k\":[true,null]}",
                   (int)(int8_t)fz_u8(r));
          fz_put(out, text, strlen(text));
          return;
        case 1: fz_put(out, "[1,2.5,\"x\"]", 11); return;
        case 2: fz_put(out, "\"just a string\"", 15); return;
        default: slen = fz_slice(r, 200, &s); fz_put(out, s, slen); return;
      }
    }
    case SF_KIND_PROTO: {
      Statefun__Fuzz__FuzzRecord rec = STATEFUN__FUZZ__FUZZ_RECORD__INIT;
      char name[32];
      ProtobufCBinaryData part;
      slen = fz_slice(r, sizeof name - 1, &s);
      memcpy(name, s, slen);
      name[slen] = 0;
      /* proto3 strings must be UTF-8: keep it ASCII. */
      for (size_t i = 0; i < slen; i++) name[i] = (char)('a' + name[i] % 26);
      rec.name = name;
      rec.count = (int64_t)fz_u64(r);
      rec.flag = fz_u8(r) & 1;
      part.len = fz_slice(r, 64, &s);
      part.data = (uint8_t *)s;
      rec.n_parts = 1;
      rec.parts = &part;
      size_t need = statefun__fuzz__fuzz_record__get_packed_size(&rec);
      uint8_t *buf = malloc(need ? need : 1);
      if (!buf) abort();
      statefun__fuzz__fuzz_record__pack(&rec, buf);
      fz_put(out, buf, need);
      free(buf);
      return;
    }
    case SF_KIND_RAW:
    default: slen = fz_slice(r, 200, &s); fz_put(out, s, slen); return;
  }
  fz_put(out, tmp, n);
}

/* ---- the functions -------------------------------------------------------- */

/* Reads every declared state through its typed getter; the status must be
 * one the API documents. */
static void read_all_states(sf_context *ctx) {
  bool b;
  int32_t i;
  int64_t l;
  float f;
  double d;
  const char *s;
  size_t n;
  sf_value v;
  json_t *j = NULL;
  ProtobufCMessage *m = NULL;
  sf_status st;
  st = sf_state_get_bool(ctx, &s_flag, &b);
  FZ_CHECK(st == SF_OK || st == SF_ERR_NO_VALUE || st == SF_ERR_VALUE_DECODE ||
           st == SF_ERR_TYPE_MISMATCH);
  (void)sf_state_get_int(ctx, &s_count, &i);
  (void)sf_state_get_long(ctx, &s_total, &l);
  (void)sf_state_get_float(ctx, &s_ratio, &f);
  (void)sf_state_get_double(ctx, &s_avg, &d);
  if (sf_state_get_string(ctx, &s_name, &s, &n) == SF_OK)
    FZ_CHECK(n == 0 || s != NULL);
  if (sf_state_get_json(ctx, &s_doc, &j) == SF_OK)
    FZ_CHECK(j != NULL); /* the request's: freed with its arena */
  (void)sf_state_get_proto(ctx, &s_rec, &m);
  if (sf_state_get(ctx, &s_blob, &v) == SF_OK) {
    /* (The typename is the one the request carried: the SDK, like all
     * official SDKs but Python, does not check it against the spec.) */
    FZ_CHECK(v.has_value && v.type_name != NULL);
  }
  /* Type mismatches through the wrong typed getter must be refused. */
  FZ_CHECK(sf_state_get_int(ctx, &s_name, &i) != SF_OK);
  FZ_CHECK(sf_state_get_string(ctx, &s_count, &s, &n) != SF_OK);
  /* Undeclared state. */
  FZ_CHECK(sf_state_get_int(ctx, &s_ghost, &i) == SF_ERR_UNKNOWN_STATE);
  FZ_CHECK(!sf_state_has(ctx, &s_ghost));
}

/* Reads the message through every accessor. */
static void read_message(sf_context *ctx, const sf_message *msg) {
  bool b;
  int32_t i;
  int64_t l;
  float f;
  double d;
  const char *s;
  size_t n;
  json_t *j = NULL;
  ProtobufCMessage *m = NULL;
  FZ_CHECK(msg != NULL && msg->target.namespace_ && msg->target.type &&
           msg->target.id);
  (void)sf_message_is_bool(msg);
  (void)sf_message_is_int(msg);
  (void)sf_message_is_long(msg);
  (void)sf_message_is_float(msg);
  (void)sf_message_is_double(msg);
  (void)sf_message_is_string(msg);
  (void)sf_message_is(msg, &fz_type_json);
  if (sf_message_as_bool(msg, &b) == SF_OK) FZ_CHECK(sf_message_is_bool(msg));
  if (sf_message_as_int(msg, &i) == SF_OK) FZ_CHECK(sf_message_is_int(msg));
  (void)sf_message_as_long(msg, &l);
  (void)sf_message_as_float(msg, &f);
  (void)sf_message_as_double(msg, &d);
  if (sf_message_as_string(msg, &s, &n) == SF_OK) {
    FZ_CHECK(sf_message_is_string(msg));
    FZ_CHECK(n <= msg->value.len);
  }
  (void)sf_message_as_string(msg, &s, NULL);
  if (sf_message_as_json(ctx, msg, &fz_type_json, &j) == SF_OK)
    FZ_CHECK(j != NULL); /* the request's: freed with its arena */
  (void)sf_message_as_proto(ctx, msg, &fz_type_proto, &m);
}

static sf_status fn_types(sf_context *ctx, const sf_message *msg, void *ud) {
  (void)ud;
  read_message(ctx, msg);
  read_all_states(ctx);
  /* Write every state, derived from the previous value and the message. */
  int32_t count = 0;
  (void)sf_state_get_int(ctx, &s_count, &count);
  count = (int32_t)((uint32_t)count + 1u);
  FZ_CHECK(sf_state_set_int(ctx, &s_count, count) == SF_OK);
  int32_t back = 0;
  FZ_CHECK(sf_state_get_int(ctx, &s_count, &back) == SF_OK && back == count);
  bool flag = false;
  (void)sf_state_get_bool(ctx, &s_flag, &flag);
  FZ_CHECK(sf_state_set_bool(ctx, &s_flag, !flag) == SF_OK);
  FZ_CHECK(sf_state_set_long(ctx, &s_total, (int64_t)count * 1000) == SF_OK);
  FZ_CHECK(sf_state_set_float(ctx, &s_ratio, (float)count / 3.0f) == SF_OK);
  FZ_CHECK(sf_state_set_double(ctx, &s_avg, count / 7.0) == SF_OK);
  const char *s;
  size_t n;
  if (sf_message_as_string(msg, &s, &n) == SF_OK) {
    FZ_CHECK(sf_state_set_string(ctx, &s_name, s, n) == SF_OK);
  } else {
    FZ_CHECK(sf_state_set_string(ctx, &s_name, "none", 4) == SF_OK);
  }
  json_t *doc = json_pack("{s:i,s:b}", "count", (json_int_t)count, "flag",
                          !flag);
  FZ_CHECK(doc != NULL);
  FZ_CHECK(sf_state_set_json(ctx, &s_doc, doc) == SF_OK);
  json_decref(doc);
  if (msg->value.has_value) {
    sf_value raw = sf_value_bytes(
        ctx, &fz_type_raw, msg->value.data ? (const void *)msg->value.data : "",
        msg->value.len);
    FZ_CHECK(raw.type_name != NULL);
    FZ_CHECK(sf_state_set(ctx, &s_blob, raw) == SF_OK);
  } else {
    FZ_CHECK(sf_state_clear(ctx, &s_blob) == SF_OK);
    FZ_CHECK(!sf_state_has(ctx, &s_blob));
  }
  Statefun__Fuzz__FuzzRecord rec = STATEFUN__FUZZ__FUZZ_RECORD__INIT;
  rec.name = (char *)"rec";
  rec.count = count;
  FZ_CHECK(sf_state_set_proto(ctx, &s_rec, &rec.base) == SF_OK);
  ProtobufCMessage *m = NULL;
  FZ_CHECK(sf_state_get_proto(ctx, &s_rec, &m) == SF_OK && m != NULL);
  FZ_CHECK(((Statefun__Fuzz__FuzzRecord *)m)->count == count);
  return SF_OK;
}

/* Copies a slice into a NUL-terminated identifier made of [a-z0-9]. */
static const char *ident(sf_context *ctx, const uint8_t *s, size_t n) {
  char buf[64];
  if (n > sizeof buf - 1) n = sizeof buf - 1;
  for (size_t i = 0; i < n; i++) {
    uint8_t c = s[i] % 36;
    buf[i] = (char)(c < 26 ? 'a' + c : '0' + (c - 26));
  }
  if (n == 0) buf[n++] = 'x';
  return sf_context_strdup(ctx, buf, n);
}

/* Text for string values: the bytes themselves when `raw` (possibly not
 * UTF-8, which the SDK must refuse), else an ASCII copy of them. */
static const char *text(sf_context *ctx, const uint8_t *s, size_t n,
                        bool raw) {
  if (raw) return (const char *)s;
  char *t = sf_arena_alloc(sf_context_arena(ctx), n + 1);
  if (!t) return NULL;
  for (size_t i = 0; i < n; i++) t[i] = (char)(' ' + s[i] % 95);
  t[n] = 0;
  return t;
}

/* Runs the message bytes as a little program of SDK calls. */
static sf_status fn_actions(sf_context *ctx, const sf_message *msg,
                            void *ud) {
  (void)ud;
  fz_reader r = {msg->value.data, msg->value.has_value ? msg->value.len : 0};
  if (!r.p) r.n = 0;
  const uint8_t *s;
  size_t n;
  static const char *const bad_typenames[] = {"nope", "a/b/c", "/x", "x/", ""};
  for (int step = 0; step < 128 && r.n > 0; step++) {
    uint8_t op = fz_u8(&r);
    const sf_value_spec *spec = fz_specs[fz_u8(&r) % FZ_N_SPECS];
    switch (op % 21) {
      case 0: {
        int32_t v = (int32_t)fz_u32(&r), back = 0;
        FZ_CHECK(sf_state_set_int(ctx, &s_count, v) == SF_OK);
        FZ_CHECK(sf_state_get_int(ctx, &s_count, &back) == SF_OK && back == v);
        break;
      }
      case 1:
        FZ_CHECK(sf_state_clear(ctx, spec) == SF_OK);
        FZ_CHECK(!sf_state_has(ctx, spec));
        break;
      case 2:
        n = fz_slice(&r, 40, &s);
        (void)sf_send(ctx, FZ_FN_TYPES, ident(ctx, s, n),
                      sf_value_int(ctx, (int32_t)fz_u32(&r)));
        break;
      case 3: {
        int64_t delay = (int64_t)fz_u8(&r) * 1000;
        uint8_t t = fz_u8(&r);
        char tok[8];
        snprintf(tok, sizeof tok, "tok%u", t % 4);
        n = fz_slice(&r, 40, &s);
        const char *txt = text(ctx, s, n, op & 0x20);
        if (!txt) break;
        (void)sf_send_after(ctx, delay, (t & 4) ? tok : (t & 8) ? "" : NULL,
                            FZ_FN_NOSTATE, ident(ctx, s, n),
                            sf_value_string(ctx, txt, n));
        break;
      }
      case 4: {
        char tok[8];
        snprintf(tok, sizeof tok, "tok%u", fz_u8(&r) % 4);
        FZ_CHECK(sf_cancel_delayed(ctx, tok) == SF_OK);
        FZ_CHECK(sf_cancel_delayed(ctx, "") != SF_OK);
        break;
      }
      case 5: {
        n = fz_slice(&r, 100, &s);
        const char *txt = text(ctx, s, n, op & 0x20);
        if (!txt) break;
        (void)sf_egress(ctx, "fuzz.egress/out", sf_value_string(ctx, txt, n));
        break;
      }
      case 6:
        n = fz_slice(&r, 100, &s);
        (void)sf_egress_kafka(ctx, "fuzz.egress/kafka", "topic",
                              (op & 32) ? "key" : NULL, s, n);
        FZ_CHECK(sf_egress_kafka(ctx, "fuzz.egress/kafka", "", NULL, s, n) !=
                 SF_OK);
        break;
      case 7:
        n = fz_slice(&r, 100, &s);
        (void)sf_egress_kinesis(ctx, "fuzz.egress/kinesis", "stream", "pk",
                                (op & 32) ? "123" : NULL, s, n);
        FZ_CHECK(sf_egress_kinesis(ctx, "fuzz.egress/kinesis", "stream", "",
                                   NULL, s, n) != SF_OK);
        break;
      case 8: {
        const char *back;
        size_t blen;
        n = fz_slice(&r, 200, &s);
        const char *txt = text(ctx, s, n, op & 0x20);
        if (!txt) break;
        sf_status st = sf_state_set_string(ctx, &s_name, txt, n);
        if (op & 0x20) {
          /* Arbitrary bytes: refused unless they happen to be UTF-8 (and
           * then the batch fails). */
          if (st != SF_OK) return st;
        } else {
          FZ_CHECK(st == SF_OK);
        }
        FZ_CHECK(sf_state_get_string(ctx, &s_name, &back, &blen) == SF_OK);
        FZ_CHECK(blen == n && (n == 0 || memcmp(back, txt, n) == 0));
        break;
      }
      case 9: {
        n = fz_slice(&r, 100, &s);
        json_t *j = json_pack("{s:s%,s:i}", "k", (const char *)s, n, "n",
                              (json_int_t)n);
        sf_status st = sf_state_set_json(ctx, &s_doc, j); /* j may be NULL */
        if (j) {
          FZ_CHECK(st == SF_OK);
          json_decref(j);
        } else {
          FZ_CHECK(st != SF_OK);
        }
        break;
      }
      case 10: read_all_states(ctx); break;
      case 11: return sf_context_fail(ctx, "program says fail at step %d", step);
      case 12: {
        n = fz_slice(&r, 200, &s);
        sf_value v = sf_value_bytes(ctx, &fz_type_raw, s, n);
        FZ_CHECK(sf_state_set(ctx, &s_blob, v) == SF_OK);
        break;
      }
      case 13:
        n = fz_slice(&r, 20, &s);
        FZ_CHECK(sf_send(ctx, bad_typenames[fz_u8(&r) % 5], ident(ctx, s, n),
                         sf_value_bool(ctx, true)) != SF_OK);
        break;
      case 14:
        FZ_CHECK(sf_state_set(ctx, &s_count, sf_value_cstring(ctx, "x")) ==
                 SF_ERR_TYPE_MISMATCH);
        break;
      case 15: {
        Statefun__Fuzz__FuzzRecord rec = STATEFUN__FUZZ__FUZZ_RECORD__INIT;
        rec.count = (int64_t)fz_u64(&r);
        rec.name = (char *)ident(ctx, r.p, r.n > 8 ? 8 : r.n);
        FZ_CHECK(sf_state_set_proto(ctx, &s_rec, &rec.base) == SF_OK);
        break;
      }
      case 16: {
        /* Scratch memory, up to 16 MiB: may hit the arena limit. */
        size_t size = (size_t)fz_u8(&r) << 16;
        void *p = sf_arena_alloc(sf_context_arena(ctx), size);
        if (p && size) memset(p, 0xAB, size < 4096 ? size : 4096);
        break;
      }
      case 17: {
        uint64_t bits = fz_u64(&r);
        float f;
        double d;
        uint32_t b32 = (uint32_t)bits;
        memcpy(&f, &b32, sizeof f);
        memcpy(&d, &bits, sizeof d);
        FZ_CHECK(sf_state_set_long(ctx, &s_total, (int64_t)bits) == SF_OK);
        FZ_CHECK(sf_state_set_float(ctx, &s_ratio, f) == SF_OK);
        FZ_CHECK(sf_state_set_double(ctx, &s_avg, d) == SF_OK);
        int64_t l2;
        double d2;
        FZ_CHECK(sf_state_get_long(ctx, &s_total, &l2) == SF_OK &&
                 l2 == (int64_t)bits);
        /* Bit-exact, except that -0.0 becomes 0.0 (encoded as nothing,
         * like the Python SDK does). */
        FZ_CHECK(sf_state_get_double(ctx, &s_avg, &d2) == SF_OK &&
                 (memcmp(&d2, &d, sizeof d) == 0 || (d == 0 && d2 == 0)));
        break;
      }
      case 18:
        FZ_CHECK(sf_state_set_int(ctx, &s_ghost, 1) == SF_ERR_UNKNOWN_STATE);
        FZ_CHECK(sf_state_clear(ctx, &s_ghost) == SF_ERR_UNKNOWN_STATE);
        break;
      case 19: {
        const sf_address *self = sf_self(ctx);
        FZ_CHECK(self && self->namespace_ && self->type && self->id);
        char tn[256];
        snprintf(tn, sizeof tn, "%s/%s", self->namespace_, self->type);
        n = fz_slice(&r, 50, &s);
        (void)sf_send(ctx, tn, self->id, sf_value_bytes(ctx, &fz_type_raw, s, n));
        break;
      }
      case 20: {
        bool b = fz_u8(&r) & 1, back = !b;
        FZ_CHECK(sf_state_set_bool(ctx, &s_flag, b) == SF_OK);
        FZ_CHECK(sf_state_get_bool(ctx, &s_flag, &back) == SF_OK && back == b);
        break;
      }
    }
  }
  return SF_OK;
}

/* No state; echoes the message back to its caller, if any. */
static sf_status fn_nostate(sf_context *ctx, const sf_message *msg,
                            void *ud) {
  (void)ud;
  read_message(ctx, msg);
  int32_t i;
  FZ_CHECK(sf_state_get_int(ctx, &s_count, &i) == SF_ERR_UNKNOWN_STATE);
  const sf_address *caller = sf_caller(ctx);
  if (caller) {
    FZ_CHECK(caller->namespace_ && caller->type && caller->id);
    char tn[512];
    snprintf(tn, sizeof tn, "%s/%s", caller->namespace_, caller->type);
    if (msg->value.has_value && msg->value.type_name &&
        sf_typename_validate(msg->value.type_name) == SF_OK) {
      (void)sf_send(ctx, tn, caller->id, msg->value);
    }
  }
  return SF_OK;
}

static sf_handler *g_handler;
static sf_arena *g_arena;

const sf_handler *fz_handler(void) {
  if (g_handler) return g_handler;
  sf_handler *h = sf_handler_new();
  FZ_CHECK(h != NULL);
  FZ_CHECK(sf_handler_register(h, FZ_FN_TYPES, fn_types, NULL, fz_specs,
                               FZ_N_SPECS) == SF_OK);
  FZ_CHECK(sf_handler_register(h, FZ_FN_ACTIONS, fn_actions, NULL, fz_specs,
                               FZ_N_SPECS) == SF_OK);
  FZ_CHECK(sf_handler_register(h, FZ_FN_NOSTATE, fn_nostate, NULL, NULL, 0) ==
           SF_OK);
  /* Registration errors. */
  FZ_CHECK(sf_handler_register(h, FZ_FN_TYPES, fn_types, NULL, NULL, 0) ==
           SF_ERR_DUPLICATE);
  FZ_CHECK(sf_handler_register(h, "no-slash", fn_types, NULL, NULL, 0) ==
           SF_ERR_BAD_TYPENAME);
  FZ_CHECK(sf_handler_function_count(h) == 3);
  g_handler = h;
  return h;
}

sf_arena *fz_arena(void) {
  if (!g_arena) {
    g_arena = sf_arena_new((size_t)64 << 20);
    FZ_CHECK(g_arena != NULL);
  }
  return g_arena;
}
