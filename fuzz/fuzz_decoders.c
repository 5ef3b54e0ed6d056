/*
 * fuzz_decoders: the typed decoders (sf_decode_*), the message accessors
 * (sf_message_is_* / sf_message_as_*; JSON, which needs a function's
 * context, is fuzzed through the handler in fuzz_common.c) and the name
 * validators on arbitrary bytes, plus encode/decode round trips of values
 * taken from the input.
 */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const k_typenames[] = {
    SF_TYPENAME_BOOL,   SF_TYPENAME_INT,    SF_TYPENAME_LONG,
    SF_TYPENAME_FLOAT,  SF_TYPENAME_DOUBLE, SF_TYPENAME_STRING,
    FZ_TYPENAME_JSON,   FZ_TYPENAME_RAW,    "io.statefun.types/bool ",
    "io.statefun.types", "",                NULL};
#define N_TYPENAMES (sizeof k_typenames / sizeof k_typenames[0])

static void decode_all(const uint8_t *d, size_t n) {
  bool b;
  int32_t i;
  int64_t l;
  float f;
  double x;
  const char *s = NULL;
  size_t slen = 0;
  (void)sf_decode_bool(d, n, &b);
  (void)sf_decode_int(d, n, &i);
  (void)sf_decode_long(d, n, &l);
  (void)sf_decode_float(d, n, &f);
  (void)sf_decode_double(d, n, &x);
  if (sf_decode_string(d, n, &s, &slen) == SF_OK) {
    /* The string points into the input. */
    FZ_CHECK(slen <= n);
    FZ_CHECK(slen == 0 || (s >= (const char *)d &&
                           s + slen <= (const char *)d + n));
  }
}

static void round_trips(fz_reader *r) {
  uint8_t buf[16];
  size_t n;
  bool b = fz_u8(r) & 1, b2 = !b;
  n = sf_encode_bool(b, buf);
  FZ_CHECK(n <= 2 && sf_decode_bool(buf, n, &b2) == SF_OK && b2 == b);
  int32_t i = (int32_t)fz_u32(r), i2 = ~i;
  n = sf_encode_int(i, buf);
  FZ_CHECK(n <= 5 && sf_decode_int(buf, n, &i2) == SF_OK && i2 == i);
  int64_t l = (int64_t)fz_u64(r), l2 = ~l;
  n = sf_encode_long(l, buf);
  FZ_CHECK(n <= 9 && sf_decode_long(buf, n, &l2) == SF_OK && l2 == l);
  uint32_t fb = fz_u32(r);
  float f, f2 = 0;
  memcpy(&f, &fb, sizeof f);
  n = sf_encode_float(f, buf);
  FZ_CHECK(n <= 5 && sf_decode_float(buf, n, &f2) == SF_OK);
  /* Bit-exact, except that zero may lose its sign (proto3 default). */
  FZ_CHECK(memcmp(&f, &f2, sizeof f) == 0 || (f == 0 && f2 == 0));
  uint64_t db = fz_u64(r);
  double x, x2 = 0;
  memcpy(&x, &db, sizeof x);
  n = sf_encode_double(x, buf);
  FZ_CHECK(n <= 9 && sf_decode_double(buf, n, &x2) == SF_OK);
  FZ_CHECK(memcmp(&x, &x2, sizeof x) == 0 || (x == 0 && x2 == 0));
}

static void accessors(const char *tn, bool has_value, const uint8_t *d,
                      size_t n) {
  sf_message m;
  memset(&m, 0, sizeof m);
  m.target.namespace_ = "fuzz.fns";
  m.target.type = "decoders";
  m.target.id = "1";
  m.value.type_name = tn;
  m.value.has_value = has_value;
  m.value.data = d;
  m.value.len = n;
  bool b;
  int32_t i;
  int64_t l;
  float f;
  double x;
  const char *s;
  size_t slen;
  bool is[6] = {sf_message_is_bool(&m),  sf_message_is_int(&m),
                sf_message_is_long(&m),  sf_message_is_float(&m),
                sf_message_is_double(&m), sf_message_is_string(&m)};
  sf_status st[6] = {sf_message_as_bool(&m, &b),
                     sf_message_as_int(&m, &i),
                     sf_message_as_long(&m, &l),
                     sf_message_as_float(&m, &f),
                     sf_message_as_double(&m, &x),
                     sf_message_as_string(&m, &s, &slen)};
  static const char *const builtin[6] = {
      SF_TYPENAME_BOOL,  SF_TYPENAME_INT,    SF_TYPENAME_LONG,
      SF_TYPENAME_FLOAT, SF_TYPENAME_DOUBLE, SF_TYPENAME_STRING};
  for (int k = 0; k < 6; k++) {
    /* is_* compares the typename exactly; a typed accessor succeeds only
     * for its own type, with a value. */
    FZ_CHECK(is[k] == (tn != NULL && strcmp(tn, builtin[k]) == 0));
    if (!is[k]) FZ_CHECK(st[k] != SF_OK);
    else if (!has_value) FZ_CHECK(st[k] == SF_ERR_NO_VALUE);
    else FZ_CHECK(st[k] == SF_OK || st[k] == SF_ERR_VALUE_DECODE);
  }
  if (st[5] == SF_OK) FZ_CHECK(slen <= n);
  (void)sf_message_as_string(&m, &s, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_reader r = {data, size};
  uint8_t sel = fz_u8(&r);
  const uint8_t *rest = r.p;
  size_t rest_len = r.n;

  decode_all(rest, rest_len);
  accessors(k_typenames[sel % N_TYPENAMES], (sel & 0x80) == 0, rest, rest_len);

  /* Name validators on a NUL-terminated copy. */
  char *name = malloc(rest_len + 1);
  FZ_CHECK(name != NULL);
  if (rest_len) memcpy(name, rest, rest_len);
  name[rest_len] = 0;
  sf_status ts = sf_typename_validate(name);
  if (ts == SF_OK) {
    const char *slash = strchr(name, '/');
    FZ_CHECK(slash && slash != name && slash[1] && !strchr(slash + 1, '/'));
  }
  sf_status ns = sf_state_name_validate(name);
  if (ns == SF_OK) FZ_CHECK(name[0] && !strchr(name, '/'));
  free(name);

  fz_reader rt = {rest, rest_len};
  round_trips(&rt);
  return 0;
}
