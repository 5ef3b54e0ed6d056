/*
 * test_fnv.c - the FNV-1a hashes of sfbase (sfb/fnv.h) against the
 * published test vectors of FNV's authors ("", "a", "foobar"), plus bytes
 * above 0x7f, which must hash as unsigned (a signed char would change
 * every id built from non-ASCII text).
 */
#include <criterion/criterion.h>

#include "sfb/fnv.h"

Test(fnv, fnv1a64_vectors) {
  cr_assert_eq(sfb_fnv1a64(""), UINT64_C(0xcbf29ce484222325));
  cr_assert_eq(sfb_fnv1a64("a"), UINT64_C(0xaf63dc4c8601ec8c));
  cr_assert_eq(sfb_fnv1a64("foobar"), UINT64_C(0x85944171f73967e8));
}

Test(fnv, fnv1a32_vectors) {
  cr_assert_eq(sfb_fnv1a32(""), UINT32_C(0x811c9dc5));
  cr_assert_eq(sfb_fnv1a32("a"), UINT32_C(0xe40c292c));
  cr_assert_eq(sfb_fnv1a32("foobar"), UINT32_C(0xbf9cf968));
}

Test(fnv, high_bytes_hash_unsigned) {
  cr_assert_eq(sfb_fnv1a64("\xff\x80"), UINT64_C(0x0a9a2607b6f6e56a));
  cr_assert_eq(sfb_fnv1a32("\xff\x80"), UINT32_C(0xee1eea4a));
}
