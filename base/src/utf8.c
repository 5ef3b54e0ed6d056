/*
 * utf8.c - strict UTF-8 validation (see sfb/utf8.h), with an ASCII fast
 * path: names, ids and typenames are ASCII, eight bytes at a time.
 */
#include "sfb/utf8.h"

#include <stdint.h>
#include <string.h>

/* True when data[0..len) is all ASCII: eight bytes at a time, the last
 * eight (or four, or the one to three) read overlapping what was already
 * checked, so that no byte loop runs. */
static bool all_ascii(const uint8_t *s, size_t len) {
  uint64_t high = 0, w;
  if (len >= 8) {
    for (size_t i = 0; len - i >= 8; i += 8) {
      memcpy(&w, s + i, 8);
      high |= w;
    }
    memcpy(&w, s + len - 8, 8);
    high |= w;
  } else if (len >= 4) {
    uint32_t a, b;
    memcpy(&a, s, 4);
    memcpy(&b, s + len - 4, 4);
    high = a | b;
  } else if (len > 0) {
    high = s[0] | s[len / 2] | s[len - 1];
  }
  return !(high & 0x8080808080808080ull);
}

bool sfb_utf8_valid(const void *data, size_t len) {
  const uint8_t *s = data;
  if (all_ascii(s, len)) return true; /* the usual case: names, ids */
  size_t i = 0;
  while (i < len) {
    while (len - i >= 8) {
      uint64_t w;
      memcpy(&w, s + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i == len) break;
    uint8_t c = s[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t n;
    uint32_t cp;
    if (c >= 0xC2 && c <= 0xDF) {
      n = 1;
      cp = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
      n = 2;
      cp = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false; /* continuation byte, overlong lead, or > U+10FFFF */
    }
    if (len - i <= n) return false;
    for (size_t k = 1; k <= n; k++) {
      if ((s[i + k] & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (s[i + k] & 0x3F);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10FFFF)) ||
        (cp >= 0xD800 && cp <= 0xDFFF))
      return false; /* overlong, out of range, or a surrogate */
    i += n + 1;
  }
  return true;
}
