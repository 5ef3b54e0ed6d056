/*
 * test_utf8.c - the UTF-8 validator of sfbase (sfb/utf8.h): well-formed
 * text of every length class, and each malformation (stray continuation,
 * overlong forms, surrogates, above U+10FFFF, truncation), also behind
 * the eight-byte ASCII fast path.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sfb/utf8.h"

static bool ok(const char *s) { return sfb_utf8_valid(s, strlen(s)); }

Test(utf8, valid) {
  cr_assert(ok(""));
  cr_assert(ok("plain ascii, longer than eight bytes"));
  cr_assert(ok("caf\xc3\xa9"));                 /* U+00E9 */
  cr_assert(ok("\xe2\x82\xac"));                /* U+20AC */
  cr_assert(ok("\xf0\x9f\x98\x80"));            /* U+1F600 */
  cr_assert(ok("\xf4\x8f\xbf\xbf"));            /* U+10FFFF */
  cr_assert(ok("12345678\xc3\xa9 after fast")); /* past the fast path */
  cr_assert(sfb_utf8_valid("a\0b", 3), "NUL is valid UTF-8");
}

Test(utf8, invalid) {
  static const char *const bad[] = {
      "\x80",             /* stray continuation */
      "\xc0\xaf",         /* overlong '/' */
      "\xc1\xbf",         /* overlong */
      "\xe0\x80\xaf",     /* overlong, 3 bytes */
      "\xf0\x80\x80\xaf", /* overlong, 4 bytes */
      "\xed\xa0\x80",     /* surrogate U+D800 */
      "\xf4\x90\x80\x80", /* above U+10FFFF */
      "\xf5\x80\x80\x80", /* lead byte above F4 */
      "\xc3",             /* truncated */
      "\xe2\x82",         /* truncated */
      "\xc3\x28",         /* bad continuation */
      "abcdefgh\xff",     /* behind the fast path */
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_not(ok(bad[i]), "case %zu", i);
}
