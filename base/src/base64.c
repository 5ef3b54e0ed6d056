/*
 * base64.c - standard base64 encoding and strict decoding (see
 * sfb/base64.h).
 */
#include "sfb/base64.h"

#include <stdlib.h>

static const char k_alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void sfb_base64_put(sfb_buf *out, const void *data, size_t len) {
  const uint8_t *d = data;
  if (len > (SIZE_MAX - 1) / 4 * 3 - 2) {
    out->oom = true;
    return;
  }
  if (len == 0) return; /* nothing to write (and out->p may be NULL) */
  if (!sfb_buf_reserve(out, (len + 2) / 3 * 4)) return;
  char *o = (char *)out->p + out->len;
  size_t k = 0;
  for (size_t i = 0; i < len; i += 3) {
    uint32_t v = (uint32_t)d[i] << 16;
    if (i + 1 < len) v |= (uint32_t)d[i + 1] << 8;
    if (i + 2 < len) v |= d[i + 2];
    o[k++] = k_alphabet[(v >> 18) & 63];
    o[k++] = k_alphabet[(v >> 12) & 63];
    o[k++] = i + 1 < len ? k_alphabet[(v >> 6) & 63] : '=';
    o[k++] = i + 2 < len ? k_alphabet[v & 63] : '=';
  }
  out->len += k;
}

char *sfb_base64_encode(const void *data, size_t len) {
  sfb_buf b = {0};
  sfb_base64_put(&b, data, len);
  sfb_buf_put(&b, "", 1);
  if (b.oom) {
    sfb_buf_free(&b);
    return NULL;
  }
  return (char *)b.p;
}

static int value_of(int ch) {
  if (ch >= 'A' && ch <= 'Z') return ch - 'A';
  if (ch >= 'a' && ch <= 'z') return ch - 'a' + 26;
  if (ch >= '0' && ch <= '9') return ch - '0' + 52;
  if (ch == '+') return 62;
  if (ch == '/') return 63;
  return -1;
}

static int fail(sfb_base64_error *err, const char *why, size_t at) {
  if (err) {
    err->why = why;
    err->at = at;
  }
  return -1;
}

/* The length without padding, or -1 when the padding is misplaced. */
static int strip_padding(const char *s, size_t n, unsigned flags, size_t *end,
                         sfb_base64_error *err) {
  size_t e = n;
  while (e > 0 && s[e - 1] == '=' && n - e < 2) e--;
  if ((e < n || (flags & SFB_BASE64_PADDED)) && n % 4 != 0)
    return fail(err, e < n ? "padding in the wrong place"
                           : "missing padding (the length must be a multiple of 4)",
                e);
  if (e % 4 == 1)
    return fail(err, "truncated (a length of 4k+1 characters is impossible)", e);
  *end = e;
  return 0;
}

int sfb_base64_decode(const char *s, size_t n, unsigned flags, sfb_buf *out,
                      sfb_base64_error *err) {
  size_t end;
  if (strip_padding(s, n, flags, &end, err) < 0) return -1;
  uint32_t acc = 0;
  int bits = 0;
  for (size_t i = 0; i < end; i++) {
    int v = value_of((unsigned char)s[i]);
    if (v < 0)
      return fail(err, s[i] == '=' ? "padding in the wrong place"
                                   : "a character outside the base64 alphabet",
                  i);
    acc = (acc << 6) | (uint32_t)v;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      uint8_t byte = (uint8_t)(acc >> bits);
      sfb_buf_put(out, &byte, 1);
    }
  }
  /* Canonical form: the unused low bits of the last character are zero. */
  if (bits > 0 && (acc & ((1u << bits) - 1)) != 0)
    return fail(err, "non-zero trailing bits", end - 1);
  return 0;
}
