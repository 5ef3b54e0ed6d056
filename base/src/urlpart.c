/*
 * urlpart.c - percent-decoding of URL parts and the ?wait= value (see
 * sfb/urlpart.h).
 */
#include "sfb/urlpart.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long sfb_percent_decode(const char *in, size_t len, bool plus_is_space,
                        char *out) {
  size_t o = 0;
  for (size_t i = 0; i < len; i++) {
    char c = in[i];
    if (c == '\0') return -1;
    if (c == '+' && plus_is_space) {
      out[o++] = ' ';
      continue;
    }
    if (c != '%') {
      out[o++] = c;
      continue;
    }
    if (len - i < 3) return -1;
    int h = hexval(in[i + 1]), l = hexval(in[i + 2]);
    if (h < 0 || l < 0 || h * 16 + l == 0) return -1;
    out[o++] = (char)(h * 16 + l);
    i += 2;
  }
  out[o] = '\0';
  return (long)o;
}

char *sfb_percent_decode_dup(const char *in, size_t len, bool plus_is_space) {
  char *out = malloc(len + 1);
  if (out != NULL && sfb_percent_decode(in, len, plus_is_space, out) < 0) {
    free(out);
    out = NULL;
  }
  return out;
}

int64_t sfb_parse_wait(const char *s, int64_t max_ms) {
  if (s == NULL || s[0] == '\0') return -1;
  for (const char *p = s; *p != '\0'; p++)
    if (!((*p >= '0' && *p <= '9') || *p == '.')) return -1;
  char *end = NULL;
  errno = 0;
  double v = strtod(s, &end);
  if (end == s || *end != '\0' || !isfinite(v) || v < 0) return -1;
  double ms = v * 1000.0;
  if (ms >= (double)max_ms) return max_ms;
  return (int64_t)ms;
}
