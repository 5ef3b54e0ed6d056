/*
 * str.c - text for entity method bodies: sf_str_printf, printf into an
 * sf_str in the request arena (declared in <statefun/entity.h>). A method
 * that keeps the text across an await stores the sf_str in a frame member
 * (a string local), which the frame's encoding copies; so examples need no
 * printf helper of their own.
 */
#include <stdarg.h>

#include "statefun/entity.h"

#include "internal.h"

sf_str sf_str_printf(sf_entity_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  size_t len = 0;
  char *p = sf_arena_vprintf(sf_entity_arena(ctx), &len, fmt, ap);
  va_end(ap);
  sf_str s = {p, p != NULL ? len : 0};
  return s;
}
