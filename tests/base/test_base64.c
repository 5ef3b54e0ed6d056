/*
 * test_base64.c - sfbase's base64 (sfb/base64.h): the RFC 4648 test
 * vectors both ways, and each strictness rule with its reason and offset.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/base64.h"

static const char *const k_plain[] = {"", "f", "fo", "foo", "foob", "fooba",
                                      "foobar"};
static const char *const k_coded[] = {"", "Zg==", "Zm8=", "Zm9v", "Zm9vYg==",
                                      "Zm9vYmE=", "Zm9vYmFy"};

Test(base64, rfc4648_vectors_encode) {
  for (int i = 0; i < 7; i++) {
    char *s = sfb_base64_encode(k_plain[i], strlen(k_plain[i]));
    cr_assert_str_eq(s, k_coded[i]);
    free(s);
  }
}

/* sfb_base64_put appends the same encodings to what a buffer holds, and
 * writes nothing more once room was reserved. */
Test(base64, put_appends) {
  sfb_buf b = {0};
  sfb_buf_put(&b, "[", 1);
  for (int i = 0; i < 7; i++) {
    cr_assert(sfb_buf_reserve(&b, (strlen(k_plain[i]) + 2) / 3 * 4));
    size_t cap = b.cap;
    sfb_base64_put(&b, k_plain[i], strlen(k_plain[i]));
    cr_assert_eq(b.cap, cap, "grew after reserving");
    sfb_buf_put(&b, "|", 1);
  }
  sfb_buf_put(&b, "", 1);
  cr_assert_not(b.oom);
  cr_assert_str_eq((char *)b.p, "[|Zg==|Zm8=|Zm9v|Zm9vYg==|Zm9vYmE=|Zm9vYmFy|");
  sfb_buf_free(&b);
}

/* Decodes and returns a NUL-terminated copy (NULL on failure). */
static char *decode(const char *s, unsigned flags, sfb_base64_error *err) {
  sfb_buf b = {0};
  if (sfb_base64_decode(s, strlen(s), flags, &b, err) != 0 || b.oom) {
    sfb_buf_free(&b);
    return NULL;
  }
  sfb_buf_put(&b, "", 1);
  return (char *)b.p;
}

Test(base64, rfc4648_vectors_decode) {
  for (int i = 0; i < 7; i++) {
    char *s = decode(k_coded[i], SFB_BASE64_PADDED, NULL);
    cr_assert_str_eq(s, k_plain[i]);
    free(s);
  }
}

Test(base64, all_bytes_round_trip) {
  uint8_t all[256];
  for (int i = 0; i < 256; i++) all[i] = (uint8_t)i;
  char *s = sfb_base64_encode(all, sizeof all);
  sfb_buf b = {0};
  cr_assert_eq(sfb_base64_decode(s, strlen(s), SFB_BASE64_PADDED, &b, NULL), 0);
  cr_assert_eq(b.len, 256);
  cr_assert_arr_eq(b.p, all, 256);
  sfb_buf_free(&b);
  free(s);
}

Test(base64, padding_optional_unless_asked) {
  char *s = decode("Zm8", 0, NULL);
  cr_assert_str_eq(s, "fo");
  free(s);
  sfb_base64_error e = {0};
  cr_assert_null(decode("Zm8", SFB_BASE64_PADDED, &e));
  cr_assert_str_eq(e.why, "missing padding (the length must be a multiple of 4)");
}

static void refused(const char *in, const char *why, size_t at) {
  sfb_base64_error e = {0};
  cr_assert_null(decode(in, 0, &e), "%s accepted", in);
  cr_assert_str_eq(e.why, why, "%s", in);
  cr_assert_eq(e.at, at, "%s: at %zu", in, e.at);
}

Test(base64, strict_reasons) {
  refused("Zm9v!A==", "a character outside the base64 alphabet", 4);
  refused("Zg=a", "padding in the wrong place", 2);
  refused("Z===", "padding in the wrong place", 1);
  refused("Zm9vY", "truncated (a length of 4k+1 characters is impossible)", 5);
  refused("Zh==", "non-zero trailing bits", 1); /* 'h' leaves bits set */
  refused("Zm9=", "non-zero trailing bits", 2);
}
