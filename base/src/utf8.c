/*
 * utf8.c - strict UTF-8 validation (see sfb/utf8.h), with an ASCII fast
 * path: names, ids and typenames are ASCII, eight bytes at a time.
 */
#include "sfb/utf8.h"

#include <stdint.h>
#include <string.h>

/* True when data[0..len) is all ASCII: eight bytes at a time, then the
 * tail byte by byte, with no branch per byte. */
static bool all_ascii(const uint8_t *s, size_t len) {
  uint64_t high = 0;
  size_t i = 0;
  for (; len - i >= 8; i += 8) {
    uint64_t w;
    memcpy(&w, s + i, 8);
    high |= w;
  }
  uint8_t tail = 0;
  for (; i < len; i++) tail |= s[i];
  return !((high & 0x8080808080808080ull) | (tail & 0x80));
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
