/*
 * test_pbwire.c - the protobuf wire codec of sfbase (sfb/pbwire.h):
 * varints and tags against bytes from the protobuf encoding spec, fixed
 * values, zigzag, and the reader's bounds checks on hostile input.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "sfb/pbwire.h"

Test(pbwire, varint_spec_examples) {
  uint8_t b[SFB_VARINT_MAX];
  cr_assert_eq(sfb_varint_put(b, 1), 1);
  cr_assert_eq(b[0], 0x01);
  cr_assert_eq(sfb_varint_put(b, 150), 2); /* the spec's example: 96 01 */
  cr_assert(b[0] == 0x96 && b[1] == 0x01);
  cr_assert_eq(sfb_varint_put(b, UINT64_MAX), 10);
  cr_assert_eq(b[9], 0x01);
  for (int i = 0; i < 9; i++) cr_assert_eq(b[i], 0xFF);
}

Test(pbwire, varint_size_matches_put) {
  uint64_t vs[] = {0, 1, 127, 128, 16383, 16384, (1ull << 35) - 1, 1ull << 35,
                   UINT64_MAX};
  for (size_t i = 0; i < sizeof vs / sizeof *vs; i++) {
    uint8_t b[SFB_VARINT_MAX];
    cr_assert_eq(sfb_varint_size(vs[i]), sfb_varint_put(b, vs[i]), "v=%llu",
                 (unsigned long long)vs[i]);
  }
}

Test(pbwire, tag) {
  uint8_t b[SFB_VARINT_MAX];
  cr_assert_eq(sfb_tag_put(b, 1, SFB_WT_LEN), 1);
  cr_assert_eq(b[0], 0x0A);
  cr_assert_eq(sfb_tag_put(b, 100, SFB_WT_LEN), 2); /* FromFunction field 100 */
  cr_assert(b[0] == 0xA2 && b[1] == 0x06);
}

Test(pbwire, fixed_little_endian) {
  uint8_t b[8];
  sfb_fixed32_put(b, 0x01020304u);
  cr_assert(b[0] == 4 && b[1] == 3 && b[2] == 2 && b[3] == 1);
  cr_assert_eq(sfb_fixed32_get(b), 0x01020304u);
  sfb_fixed64_put(b, 0x0102030405060708ull);
  cr_assert(b[0] == 8 && b[7] == 1);
  cr_assert_eq(sfb_fixed64_get(b), 0x0102030405060708ull);
}

Test(pbwire, zigzag) {
  cr_assert_eq(sfb_zigzag32(0), 0u);
  cr_assert_eq(sfb_zigzag32(-1), 1u);
  cr_assert_eq(sfb_zigzag32(1), 2u);
  cr_assert_eq(sfb_zigzag32(INT32_MIN), UINT32_MAX);
  cr_assert_eq(sfb_zigzag64(INT64_MIN), UINT64_MAX);
  int64_t vs[] = {0, 1, -1, 63, -64, INT64_MAX, INT64_MIN};
  for (size_t i = 0; i < sizeof vs / sizeof *vs; i++)
    cr_assert_eq(sfb_unzigzag64(sfb_zigzag64(vs[i])), vs[i]);
  cr_assert_eq(sfb_unzigzag32(sfb_zigzag32(INT32_MIN)), INT32_MIN);
}

Test(pbwire, read_varint_round_trip_and_truncation) {
  uint8_t b[SFB_VARINT_MAX];
  size_t n = sfb_varint_put(b, 300);
  sfb_reader r;
  uint64_t v;
  sfb_reader_init(&r, b, n);
  cr_assert(sfb_read_varint(&r, &v));
  cr_assert_eq(v, 300);
  cr_assert_not(sfb_reader_more(&r));
  sfb_reader_init(&r, b, n - 1); /* continuation bit, then the end */
  cr_assert_not(sfb_read_varint(&r, &v));
  uint8_t eleven[11];
  memset(eleven, 0x80, sizeof eleven);
  sfb_reader_init(&r, eleven, sizeof eleven);
  cr_assert_not(sfb_read_varint(&r, &v), "more than 10 bytes");
}

Test(pbwire, read_tag) {
  uint8_t ok[] = {0xA2, 0x06};
  sfb_reader r;
  uint32_t f;
  unsigned wt;
  sfb_reader_init(&r, ok, sizeof ok);
  cr_assert_eq(sfb_read_tag(&r, &f, &wt), 1);
  cr_assert(f == 100 && wt == SFB_WT_LEN);
  cr_assert_eq(sfb_read_tag(&r, &f, &wt), 0, "end of input");
  uint8_t zero[] = {0x02};
  sfb_reader_init(&r, zero, sizeof zero);
  cr_assert_eq(sfb_read_tag(&r, &f, &wt), -1, "field 0");
  uint8_t big[SFB_VARINT_MAX];
  size_t n = sfb_varint_put(big, ((uint64_t)SFB_FIELD_MAX + 1) << 3);
  sfb_reader_init(&r, big, n);
  cr_assert_eq(sfb_read_tag(&r, &f, &wt), -1, "field above 2^29-1");
  sfb_reader_init(&r, NULL, 5);
  cr_assert_eq(sfb_read_tag(&r, &f, &wt), 0, "NULL reads as empty");
}

Test(pbwire, read_len_checks_bounds) {
  uint8_t ok[] = {0x03, 'a', 'b', 'c', 0x7F};
  sfb_reader r;
  const uint8_t *p;
  size_t n;
  sfb_reader_init(&r, ok, sizeof ok);
  cr_assert(sfb_read_len(&r, &p, &n));
  cr_assert(n == 3 && memcmp(p, "abc", 3) == 0 && p == ok + 1);
  cr_assert_eq(*r.p, 0x7F);
  uint8_t longer[] = {0x05, 'a', 'b'};
  sfb_reader_init(&r, longer, sizeof longer);
  cr_assert_not(sfb_read_len(&r, &p, &n));
  uint8_t huge[] = {0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01};
  sfb_reader_init(&r, huge, sizeof huge);
  cr_assert_not(sfb_read_len(&r, &p, &n), "a length near 2^64");
}

Test(pbwire, read_fixed) {
  uint8_t b[] = {1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0};
  sfb_reader r;
  uint32_t u;
  uint64_t w;
  sfb_reader_init(&r, b, sizeof b);
  cr_assert(sfb_read_fixed32(&r, &u) && u == 1);
  cr_assert_not(sfb_read_fixed64(&r, &w), "7 bytes left");
  cr_assert(sfb_read_fixed32(&r, &u) && u == 2);
}

/* Skips the value after a tag and reports where the reader stands. */
static long skip(const uint8_t *b, size_t n) {
  sfb_reader r;
  uint32_t f;
  unsigned wt;
  sfb_reader_init(&r, b, n);
  if (sfb_read_tag(&r, &f, &wt) != 1) return -2;
  if (!sfb_skip_field(&r, f, wt)) return -1;
  return (long)(r.p - b);
}

Test(pbwire, skip_each_wire_type) {
  uint8_t varint[] = {0x08, 0x96, 0x01, 0xFF};
  cr_assert_eq(skip(varint, sizeof varint), 3);
  uint8_t i64[] = {0x09, 1, 2, 3, 4, 5, 6, 7, 8};
  cr_assert_eq(skip(i64, sizeof i64), 9);
  cr_assert_eq(skip(i64, sizeof i64 - 1), -1);
  uint8_t len[] = {0x0A, 0x02, 'h', 'i'};
  cr_assert_eq(skip(len, sizeof len), 4);
  uint8_t i32[] = {0x0D, 1, 2, 3, 4};
  cr_assert_eq(skip(i32, sizeof i32), 5);
  cr_assert_eq(skip(i32, 4), -1);
  uint8_t wt6[] = {0x0E}, wt7[] = {0x0F}, end[] = {0x0C};
  cr_assert_eq(skip(wt6, 1), -1);
  cr_assert_eq(skip(wt7, 1), -1);
  cr_assert_eq(skip(end, 1), -1, "an end group without a start");
}

Test(pbwire, skip_groups) {
  /* group 1 { field 2 varint 5; group 3 { } } then a byte after */
  uint8_t g[] = {0x0B, 0x10, 0x05, 0x1B, 0x1C, 0x0C, 0x7F};
  cr_assert_eq(skip(g, sizeof g), 6);
  uint8_t wrong_end[] = {0x0B, 0x14}; /* starts 1, ends 2 */
  cr_assert_eq(skip(wrong_end, sizeof wrong_end), -1);
  uint8_t open[] = {0x0B, 0x10, 0x05};
  cr_assert_eq(skip(open, sizeof open), -1, "no end tag");
}

Test(pbwire, skip_bounds_group_nesting) {
  uint8_t deep[200 * 2];
  size_t n = 0;
  for (int i = 0; i < 100; i++) deep[n++] = 0x0B; /* 100 nested starts */
  for (int i = 0; i < 100; i++) deep[n++] = 0x0C;
  cr_assert_eq(skip(deep, n), -1, "nesting beyond 64 is refused");
  n = 0;
  for (int i = 0; i < 60; i++) deep[n++] = 0x0B;
  for (int i = 0; i < 60; i++) deep[n++] = 0x0C;
  cr_assert_eq(skip(deep, n), (long)n);
}

/* A float field's value from a JSON double: within rounding of FLT_MAX is
 * FLT_MAX (3.4028235e38, FLT_MAX's shortest digits, parses just above it);
 * from FLT_MAX + half an ulp (0x1.ffffffp127: the tie rounds to infinity)
 * on it is out of range. */
Test(pbwire, float_of_double) {
  float f = 0;
  cr_assert(sfb_float_of_double(3.4028235e38, &f));
  cr_assert(f == 0x1.fffffep127f);
  cr_assert(sfb_float_of_double(-3.4028235e38, &f));
  cr_assert(f == -0x1.fffffep127f);
  cr_assert(sfb_float_of_double(0x1.fffffefffffffp127, &f));
  cr_assert(f == 0x1.fffffep127f);
  cr_assert_not(sfb_float_of_double(0x1.ffffffp127, &f));
  cr_assert_not(sfb_float_of_double(-0x1.ffffffp127, &f));
  cr_assert_not(sfb_float_of_double(1e39, &f));
  cr_assert(sfb_float_of_double(0.1, &f));
  cr_assert(f == 0.1f);
  cr_assert(sfb_float_of_double(-INFINITY, &f));
  cr_assert(isinf(f) && f < 0);
  cr_assert(sfb_float_of_double(NAN, &f));
  cr_assert(isnan(f));
}
