/*
 * test_jpos.c - the JSON position index (sfb/jpos.h): line:col of values
 * and keys by JSON Pointer path, escaped and \u-encoded keys, columns in
 * characters, and path building.
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/jpos.h"

static const char k_text[] =
    "{\n"
    "  \"a\": [1, {\"b/c\": true}],\n"
    "  \"t~x\": \"\xc3\xa9\xc3\xa9\", \"n\": null,\n"
    "  \"\\u00e9\\ud83d\\ude00\": 2\n"
    "}\n";

static void at(const sfb_jpos *ix, const char *path, int vl, int vc, int kl,
               int kc) {
  const sfb_jpos_entry *e = sfb_jpos_find(ix, path);
  cr_assert_not_null(e, "no entry for '%s'", path);
  cr_assert(e->value.line == vl && e->value.col == vc,
            "'%s' value at %d:%d, want %d:%d", path, e->value.line,
            e->value.col, vl, vc);
  cr_assert(e->key.line == kl && e->key.col == kc,
            "'%s' key at %d:%d, want %d:%d", path, e->key.line, e->key.col, kl,
            kc);
}

Test(jpos, positions_by_path) {
  sfb_jpos ix;
  cr_assert_eq(sfb_jpos_build(&ix, k_text, strlen(k_text)), 0);
  at(&ix, "", 1, 1, 1, 1);
  at(&ix, "/a", 2, 8, 2, 3);
  at(&ix, "/a/0", 2, 9, 2, 9);
  at(&ix, "/a/1", 2, 12, 2, 12);
  at(&ix, "/a/1/b~1c", 2, 20, 2, 13);
  at(&ix, "/t~0x", 3, 10, 3, 3);
  at(&ix, "/n", 3, 21, 3, 16); /* "éé" counts two columns */
  at(&ix, "/\xc3\xa9\xf0\x9f\x98\x80", 4, 25, 4, 3); /* é + U+1F600 */
  cr_assert_null(sfb_jpos_find(&ix, "/a/2"));
  cr_assert_null(sfb_jpos_find(&ix, "/b"));
  sfb_jpos_free(&ix);
  cr_assert_eq(ix.n, 0);
}

Test(jpos, scalar_root_and_bad_text) {
  sfb_jpos ix;
  cr_assert_eq(sfb_jpos_build(&ix, "  42", 4), 0);
  at(&ix, "", 1, 3, 1, 3);
  sfb_jpos_free(&ix);
  cr_assert_eq(sfb_jpos_build(&ix, "{\"a\" 1}", 7), -1);
  cr_assert_eq(ix.n, 0);
  cr_assert_null(sfb_jpos_find(&ix, ""));
}

Test(jpos, push_builds_pointer_paths) {
  char *buf = NULL;
  size_t cap = 0;
  cr_assert_eq(sfb_jpos_push(&buf, &cap, "a/b~c", 0), 0);
  cr_assert_str_eq(buf, "/a~1b~0c");
  long mark = sfb_jpos_push(&buf, &cap, NULL, 12);
  cr_assert_eq(mark, 8);
  cr_assert_str_eq(buf, "/a~1b~0c/12");
  buf[mark] = '\0';
  cr_assert_str_eq(buf, "/a~1b~0c");
  free(buf);
}
