/*
 * test_urlpart.c - URL parts (sfb/urlpart.h): percent-decoding (escapes of
 * either case, '+' only in query values, %00 and bad escapes refused) and
 * ?wait= seconds (decimals, the cap, every malformed form).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/urlpart.h"

Test(urlpart, decodes) {
  char out[64];
  cr_assert_eq(sfb_percent_decode("a%2Fb%2fc", 9, false, out), 5);
  cr_assert_str_eq(out, "a/b/c");
  cr_assert_eq(sfb_percent_decode("a+b%20c", 7, false, out), 5);
  cr_assert_str_eq(out, "a+b c");
  cr_assert_eq(sfb_percent_decode("a+b", 3, true, out), 3);
  cr_assert_str_eq(out, "a b");
  cr_assert_eq(sfb_percent_decode("%C3%A9", 6, false, out), 2);
  cr_assert_str_eq(out, "\xc3\xa9");
  cr_assert_eq(sfb_percent_decode("", 0, false, out), 0);
  cr_assert_str_eq(out, "");
  /* only len bytes are read */
  cr_assert_eq(sfb_percent_decode("abc/def", 3, false, out), 3);
  cr_assert_str_eq(out, "abc");
}

Test(urlpart, refuses) {
  char out[64];
  static const char *const bad[] = {"%", "%2", "a%zz", "%g0", "%00", "x%0"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(sfb_percent_decode(bad[i], strlen(bad[i]), false, out), -1,
                 "'%s'", bad[i]);
  cr_assert_eq(sfb_percent_decode("a\0b", 3, false, out), -1, "a NUL byte");
  cr_assert_null(sfb_percent_decode_dup("a%zz", 4, false));
  char *s = sfb_percent_decode_dup("k%2Fv", 5, false);
  cr_assert_str_eq(s, "k/v");
  free(s);
}

Test(urlpart, wait) {
  cr_assert_eq(sfb_parse_wait("5", 60000), 5000);
  cr_assert_eq(sfb_parse_wait("0.5", 60000), 500);
  cr_assert_eq(sfb_parse_wait(".25", 60000), 250);
  cr_assert_eq(sfb_parse_wait("0", 60000), 0);
  cr_assert_eq(sfb_parse_wait("61", 60000), 60000, "capped");
  cr_assert_eq(sfb_parse_wait("1e9", 60000), -1, "no exponent");
  static const char *const bad[] = {"",   "abc", "-1",  "1.2.3", ".",
                                    "5s", " 5",  "inf", "nan"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(sfb_parse_wait(bad[i], 60000), -1, "'%s'", bad[i]);
  cr_assert_eq(sfb_parse_wait(NULL, 60000), -1);
}

Test(urlpart, check_name) {
  char err[128];
  cr_assert_eq(sfb_check_name("namespace", "shop", false, err, sizeof err), 0);
  cr_assert_eq(sfb_check_name("topic", "", true, err, sizeof err), 0);
  static const struct {
    const char *s, *err;
  } bad[] = {{"", "empty namespace"},
             {"a/b", "the namespace must not contain '/'"},
             {"a\xff", "the namespace is not valid UTF-8"},
             {"a\x01", "the namespace contains control characters"},
             {"a\x7f", "the namespace contains control characters"}};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cr_assert_eq(sfb_check_name("namespace", bad[i].s, false, err, sizeof err),
                 -1);
    cr_assert_str_eq(err, bad[i].err);
  }
  cr_assert(sfb_has_control("\t"));
  cr_assert_not(sfb_has_control("caf\xc3\xa9"));
}

Test(urlpart, address) {
  char *fn, *id, err[128];
  cr_assert_eq(
      sfb_parse_address("/shop/User/al%2Fice/x", &fn, &id, err, sizeof err), 0,
      "%s", err);
  cr_assert_str_eq(fn, "shop/User");
  cr_assert_str_eq(id, "al/ice/x");
  free(fn);
  free(id);
  static const struct {
    const char *path, *err;
  } bad[] = {
      {"shop/User/a", "expected /<namespace>/<type>/<id>"},
      {"/shop", "expected /<namespace>/<type>/<id>"},
      {"/shop/User", "expected /<namespace>/<type>/<id> (no id)"},
      {"/shop/User/", "expected /<namespace>/<type>/<id> (empty id)"},
      {"/shop/User/a%zz", "bad percent-encoding in the path (or %00)"},
      {"/shop/User/a%00", "bad percent-encoding in the path (or %00)"},
      {"//User/a", "empty namespace"},
      {"/shop/%2F/a", "the function type must not contain '/'"},
      {"/shop/User/a%01", "the id contains control characters"},
      {"/shop/User/a%FF", "the id is not valid UTF-8"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cr_assert_eq(sfb_parse_address(bad[i].path, &fn, &id, err, sizeof err), -1,
                 "%s", bad[i].path);
    cr_assert_str_eq(err, bad[i].err, "%s", bad[i].path);
    cr_assert_null(fn);
    cr_assert_null(id);
  }
}
