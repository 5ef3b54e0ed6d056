/*
 * sfb/jpos.h - where each value of a JSON text is: a position index, for
 * "file:line:col: message" diagnostics about values jansson has parsed.
 *
 * jansson reports line:col only for syntax errors; its values carry no
 * position. So, once jansson has accepted a text, sfb_jpos_build() scans it
 * again (a minimal scanner that trusts the text is valid JSON) and records,
 * for every value, its JSON Pointer path (RFC 6901: "/entities/1/methods/0",
 * keys escaped "~" -> "~0", "/" -> "~1") with the line:col of the value and,
 * for object members, of the key. Lines and columns are 1-based; columns
 * count characters (UTF-8 code points) like jansson's.
 */
#ifndef SFB_JPOS_H
#define SFB_JPOS_H

#include <stddef.h>

/* A 1-based line and column; {0, 0} is "unknown". */
typedef struct sfb_pos {
  int line;
  int col;
} sfb_pos;

typedef struct sfb_jpos_entry {
  char *path;
  sfb_pos value; /* first character of the value */
  sfb_pos key;   /* the key's opening quote; = value for array items/root */
} sfb_jpos_entry;

typedef struct sfb_jpos {
  sfb_jpos_entry *entries; /* sorted by path after build */
  size_t n, cap;
} sfb_jpos;

/* Indexes `text` (valid JSON). 0, or -1 when out of memory or when the
 * text is not the JSON it should be (the index is then empty). */
int sfb_jpos_build(sfb_jpos *ix, const char *text, size_t len);
/* The entry of `path` ("" is the root), NULL if absent. */
const sfb_jpos_entry *sfb_jpos_find(const sfb_jpos *ix, const char *path);
void sfb_jpos_free(sfb_jpos *ix);

/* Appends "/" + the escaped `key` (or the decimal `index` when key is NULL)
 * to the NUL-terminated path in *buf (capacity *cap, grown as needed; *buf
 * may start NULL); returns the previous length, to truncate back to, or -1
 * out of memory. */
long sfb_jpos_push(char **buf, size_t *cap, const char *key, size_t index);

#endif /* SFB_JPOS_H */
