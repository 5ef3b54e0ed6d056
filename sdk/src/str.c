/*
 * str.c - sf_str, the text of entity method bodies (declared in
 * <statefun/entity.h>): making one of a C string, comparing two, and
 * sf_str_printf, printf into an sf_str in the request arena. A method
 * that keeps the text across an await stores the sf_str in a frame member
 * (a string local), which the frame's encoding copies; so examples need no
 * printf helper of their own.
 */
#include <stdarg.h>
#include <string.h>

#include "statefun/entity.h"

#include "internal.h"

sf_str sf_str_of(const char *cstr) {
  sf_str s = {cstr ? cstr : "", cstr ? strlen(cstr) : 0};
  return s;
}

bool sf_str_eq(sf_str a, sf_str b) {
  return a.len == b.len && (a.len == 0 || memcmp(a.ptr, b.ptr, a.len) == 0);
}

sf_str sf_str_printf(sf_entity_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t len = 0;
  char *p = sf_arena_vprintf(sf_entity_arena(ctx), &len, fmt, ap);
  va_end(ap);
  sf_str s = {p, p != NULL ? len : 0};
  return s;
}
