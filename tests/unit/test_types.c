/* Built-in type encodings (byte-exact), decoders, name validation. */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include <statefun/statefun.h>

#define ASSERT_BYTES(buf, n, ...)                                   \
  do {                                                              \
    const uint8_t want_[] = {__VA_ARGS__};                          \
    cr_assert_eq((n), sizeof(want_), "length %zu, want %zu", (size_t)(n), sizeof(want_)); \
    cr_assert_arr_eq((buf), want_, sizeof(want_));                  \
  } while (0)

Test(types, typenames_of_builtins) {
  cr_assert_str_eq(sf_type_bool.type_name, "io.statefun.types/bool");
  cr_assert_str_eq(sf_type_int.type_name, "io.statefun.types/int");
  cr_assert_str_eq(sf_type_long.type_name, "io.statefun.types/long");
  cr_assert_str_eq(sf_type_float.type_name, "io.statefun.types/float");
  cr_assert_str_eq(sf_type_double.type_name, "io.statefun.types/double");
  cr_assert_str_eq(sf_type_string.type_name, "io.statefun.types/string");
}

Test(types, encodings_match_protobuf_wrappers) {
  uint8_t b[9];
  cr_assert_eq(sf_encode_bool(false, b), 0);
  ASSERT_BYTES(b, sf_encode_bool(true, b), 0x08, 0x01);
  cr_assert_eq(sf_encode_int(0, b), 0);
  ASSERT_BYTES(b, sf_encode_int(1, b), 0x0D, 1, 0, 0, 0);
  ASSERT_BYTES(b, sf_encode_int(-2, b), 0x0D, 0xFE, 0xFF, 0xFF, 0xFF);
  ASSERT_BYTES(b, sf_encode_int(INT32_MIN, b), 0x0D, 0, 0, 0, 0x80);
  cr_assert_eq(sf_encode_long(0, b), 0);
  ASSERT_BYTES(b, sf_encode_long(INT64_MAX, b), 0x09, 0xFF, 0xFF, 0xFF, 0xFF,
               0xFF, 0xFF, 0xFF, 0x7F);
  ASSERT_BYTES(b, sf_encode_float(1.0f, b), 0x0D, 0x00, 0x00, 0x80, 0x3F);
  cr_assert_eq(sf_encode_float(-0.0f, b), 0);
  ASSERT_BYTES(b, sf_encode_double(2.0, b), 0x09, 0, 0, 0, 0, 0, 0, 0, 0x40);
}

Test(types, decoders_round_trip) {
  uint8_t b[9];
  int32_t i;
  int64_t l;
  float f;
  double d;
  bool z;
  int32_t ints[] = {0, 1, -1, INT32_MAX, INT32_MIN};
  for (size_t k = 0; k < 5; k++) {
    cr_assert_eq(sf_decode_int(b, sf_encode_int(ints[k], b), &i), SF_OK);
    cr_assert_eq(i, ints[k]);
  }
  cr_assert_eq(sf_decode_long(b, sf_encode_long(INT64_MIN, b), &l), SF_OK);
  cr_assert_eq(l, INT64_MIN);
  cr_assert_eq(sf_decode_float(b, sf_encode_float(3.25f, b), &f), SF_OK);
  cr_assert_float_eq(f, 3.25f, 0);
  cr_assert_eq(sf_decode_double(b, sf_encode_double(-1e300, b), &d), SF_OK);
  cr_assert_eq(d, -1e300);
  cr_assert_eq(sf_decode_double(b, sf_encode_double(NAN, b), &d), SF_OK);
  cr_assert(isnan(d));
  cr_assert_eq(sf_decode_bool(b, sf_encode_bool(true, b), &z), SF_OK);
  cr_assert(z);
  cr_assert_eq(sf_decode_bool(NULL, 0, &z), SF_OK);
  cr_assert(!z);
}

Test(types, decoders_accept_unknown_fields_and_last_wins) {
  /* field 2 varint 5, field 1 = 7, field 1 = 9 */
  const uint8_t buf[] = {0x10, 0x05, 0x0D, 7, 0, 0, 0, 0x0D, 9, 0, 0, 0};
  int32_t i;
  cr_assert_eq(sf_decode_int(buf, sizeof buf, &i), SF_OK);
  cr_assert_eq(i, 9);
}

Test(types, decoders_reject_garbage) {
  int32_t i;
  int64_t l;
  const char *s;
  size_t n;
  const uint8_t truncated[] = {0x0D, 1, 2};
  cr_assert_eq(sf_decode_int(truncated, sizeof truncated, &i), SF_ERR_VALUE_DECODE);
  const uint8_t unterminated_group[] = {0x13, 0x08, 0x01}; /* group 2, no end */
  cr_assert_eq(sf_decode_int(unterminated_group, sizeof unterminated_group, &i), SF_ERR_VALUE_DECODE);
  const uint8_t wrong_end[] = {0x13, 0x1C}; /* group 2 closed as group 3 */
  cr_assert_eq(sf_decode_int(wrong_end, sizeof wrong_end, &i), SF_ERR_VALUE_DECODE);
  const uint8_t long_len[] = {0x0A, 0x05, 'a'};
  cr_assert_eq(sf_decode_string(long_len, sizeof long_len, &s, &n), SF_ERR_VALUE_DECODE);
  const uint8_t bad_varint[] = {0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
                                0xFF, 0xFF, 0xFF, 0xFF};
  cr_assert_eq(sf_decode_long(bad_varint, sizeof bad_varint, &l), SF_ERR_VALUE_DECODE);
  const uint8_t field0[] = {0x00, 0x01};
  cr_assert_eq(sf_decode_int(field0, sizeof field0, &i), SF_ERR_VALUE_DECODE);
  const uint8_t group[] = {0x0B};
  cr_assert_eq(sf_decode_int(group, sizeof group, &i), SF_ERR_VALUE_DECODE);
}

Test(types, field1_with_other_wire_type_is_skipped_like_protobuf) {
  /* field 1 as LEN (unknown for IntWrapper), then field 1 fixed32 = 1 */
  const uint8_t buf[] = {0x0A, 0x01, 0x78, 0x0D, 1, 0, 0, 0};
  int32_t i = -1;
  cr_assert_eq(sf_decode_int(buf, sizeof buf, &i), SF_OK);
  cr_assert_eq(i, 1);
  const uint8_t only_other[] = {0x08, 0x01}; /* varint where fixed32 expected */
  cr_assert_eq(sf_decode_int(only_other, sizeof only_other, &i), SF_OK);
  cr_assert_eq(i, 0);
  /* a group (field 6) is skipped up to its end tag */
  const uint8_t group[] = {0x33, 0x08, 0x01, 0x34, 0x0D, 5, 0, 0, 0};
  cr_assert_eq(sf_decode_int(group, sizeof group, &i), SF_OK);
  cr_assert_eq(i, 5);
}

Test(types, strings_must_be_utf8) {
  const char *s;
  size_t n;
  const uint8_t bad[][6] = {
      {0x0A, 0x02, 0xC3, 0x28},       /* bad continuation */
      {0x0A, 0x03, 0xED, 0xA0, 0x80}, /* surrogate U+D800 */
      {0x0A, 0x02, 0xC0, 0x80},       /* overlong NUL */
      {0x0A, 0x01, 0x80},             /* lone continuation */
      {0x0A, 0x04, 0xF4, 0x90, 0x80, 0x80}, /* > U+10FFFF */
  };
  const size_t lens[] = {4, 5, 4, 3, 6};
  for (size_t k = 0; k < 5; k++)
    cr_assert_eq(sf_decode_string(bad[k], lens[k], &s, &n), SF_ERR_VALUE_DECODE, "case %zu", k);
  const uint8_t good[] = {0x0A, 0x07, 'h', 0xC3, 0xA9, 0xF0, 0x9F, 0x98, 0x80};
  cr_assert_eq(sf_decode_string(good, sizeof good, &s, &n), SF_OK);
  cr_assert_eq(n, 7);
}

/* The validator checks ASCII a word at a time with overlapping reads at
 * the end (base/src/utf8.c): a stray byte at any position of any length
 * must still be seen, and ASCII of any length accepted. */
Test(types, utf8_every_length_and_position) {
  uint8_t buf[40];
  for (size_t len = 0; len <= 33; len++) {
    memset(buf, 'a', sizeof buf);
    cr_assert(sf_utf8_valid(buf, len), "ASCII, length %zu", len);
    for (size_t at = 0; at < len; at++) {
      memset(buf, 'a', sizeof buf);
      buf[at] = 0x80; /* a lone continuation byte */
      cr_assert(!sf_utf8_valid(buf, len), "0x80 at %zu of %zu", at, len);
      if (at + 1 < len) {
        buf[at] = 0xC3; /* U+00E9, two bytes */
        buf[at + 1] = 0xA9;
        cr_assert(sf_utf8_valid(buf, len), "U+00E9 at %zu of %zu", at, len);
      }
    }
  }
}

Test(types, string_decode) {
  const uint8_t buf[] = {0x0A, 0x05, 'h', 'e', 'l', 'l', 'o'};
  const char *s;
  size_t n;
  cr_assert_eq(sf_decode_string(buf, sizeof buf, &s, &n), SF_OK);
  cr_assert_eq(n, 5);
  cr_assert_eq(memcmp(s, "hello", 5), 0);
  cr_assert_eq(sf_decode_string(NULL, 0, &s, &n), SF_OK);
  cr_assert_eq(n, 0);
}

Test(types, typename_validation) {
  cr_assert_eq(sf_typename_validate("a/b"), SF_OK);
  cr_assert_eq(sf_typename_validate("com.example.fns/greet"), SF_OK);
  cr_assert_eq(sf_typename_validate("nslash"), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_validate("/b"), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_validate("a/"), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_validate("a/b/c"), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_validate(""), SF_ERR_BAD_TYPENAME);
  cr_assert_eq(sf_typename_validate(NULL), SF_ERR_BAD_TYPENAME);
}

Test(types, state_name_validation) {
  cr_assert_eq(sf_state_name_validate("seen"), SF_OK);
  cr_assert_eq(sf_state_name_validate("_x9"), SF_OK);
  cr_assert_eq(sf_state_name_validate("Seen_Count2"), SF_OK);
  cr_assert_eq(sf_state_name_validate("9lives"), SF_ERR_BAD_STATE_NAME);
  cr_assert_eq(sf_state_name_validate("a-b"), SF_ERR_BAD_STATE_NAME);
  cr_assert_eq(sf_state_name_validate("a b"), SF_ERR_BAD_STATE_NAME);
  cr_assert_eq(sf_state_name_validate(""), SF_ERR_BAD_STATE_NAME);
  cr_assert_eq(sf_state_name_validate(NULL), SF_ERR_BAD_STATE_NAME);
}

Test(types, message_accessors_check_type_and_presence) {
  uint8_t b[5];
  size_t n = sf_encode_int(42, b);
  sf_message m = {{"a", "b", "c"}, {SF_TYPENAME_INT, true, b, n}};
  int32_t i;
  int64_t l;
  cr_assert(sf_message_is_int(&m));
  cr_assert(!sf_message_is_long(&m));
  cr_assert(sf_message_is(&m, &sf_type_int));
  cr_assert_eq(sf_message_as_int(&m, &i), SF_OK);
  cr_assert_eq(i, 42);
  cr_assert_eq(sf_message_as_long(&m, &l), SF_ERR_TYPE_MISMATCH);
  m.value.has_value = false;
  cr_assert_eq(sf_message_as_int(&m, &i), SF_ERR_NO_VALUE);
}

Test(types, strerror_covers_every_status) {
  for (int s = 0; s >= SF_ERR_IO; s--) {
    const char *msg = sf_strerror((sf_status)s);
    cr_assert_not_null(msg);
    cr_assert_str_neq(msg, "unknown status", "status %d has no message", s);
  }
  cr_assert_str_eq(sf_strerror((sf_status)-999), "unknown status");
}
