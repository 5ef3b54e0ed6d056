/*
 * urlpart.c - URL parts (see sfb/urlpart.h): percent-decoding, name parts,
 * function addresses and the ?wait= value.
 */
#include "sfb/urlpart.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/utf8.h"

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

bool sfb_has_control(const char *s) {
  for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
    if (*p < 0x20 || *p == 0x7F) return true;
  return false;
}

int sfb_check_name(const char *what, const char *s, bool allow_empty, char *err,
                   size_t err_len) {
  const char *why = NULL;
  if (s[0] == '\0' && !allow_empty) {
    snprintf(err, err_len, "empty %s", what);
    return -1;
  }
  if (strchr(s, '/') != NULL) why = "must not contain '/'";
  else if (!sfb_utf8_valid(s, strlen(s))) why = "is not valid UTF-8";
  else if (sfb_has_control(s)) why = "contains control characters";
  if (why == NULL) return 0;
  snprintf(err, err_len, "the %s %s", what, why);
  return -1;
}

/* The checks of the id part (decoded), which may contain '/'. */
static int check_id(const char *id, const char *usage, char *err,
                    size_t err_len) {
  const char *why = NULL;
  if (id[0] == '\0') {
    snprintf(err, err_len, "%s (empty id)", usage);
    return -1;
  }
  if (!sfb_utf8_valid(id, strlen(id))) why = "is not valid UTF-8";
  else if (sfb_has_control(id)) why = "contains control characters";
  if (why == NULL) return 0;
  snprintf(err, err_len, "the id %s", why);
  return -1;
}

int sfb_parse_address(const char *path, char **fn_typename, char **id,
                      char *err, size_t err_len) {
  static const char usage[] = "expected /<namespace>/<type>/<id>";
  *fn_typename = *id = NULL;
  const char *ns = path != NULL && path[0] == '/' ? path + 1 : NULL;
  const char *s1 = ns != NULL ? strchr(ns, '/') : NULL;
  const char *s2 = s1 != NULL ? strchr(s1 + 1, '/') : NULL;
  if (s2 == NULL) {
    snprintf(err, err_len, "%s%s", usage, s1 != NULL ? " (no id)" : "");
    return -1;
  }
  char *dns = sfb_percent_decode_dup(ns, (size_t)(s1 - ns), false);
  char *dty = sfb_percent_decode_dup(s1 + 1, (size_t)(s2 - s1 - 1), false);
  char *did = sfb_percent_decode_dup(s2 + 1, strlen(s2 + 1), false);
  int rc = -1;
  if (dns == NULL || dty == NULL || did == NULL)
    snprintf(err, err_len, "bad percent-encoding in the path (or %%00)");
  else if (sfb_check_name("namespace", dns, false, err, err_len) == 0 &&
           sfb_check_name("function type", dty, false, err, err_len) == 0 &&
           check_id(did, usage, err, err_len) == 0) {
    size_t n = strlen(dns) + 1 + strlen(dty) + 1;
    *fn_typename = malloc(n);
    if (*fn_typename == NULL) {
      snprintf(err, err_len, "out of memory");
    } else {
      snprintf(*fn_typename, n, "%s/%s", dns, dty);
      *id = did;
      did = NULL;
      rc = 0;
    }
  }
  free(dns);
  free(dty);
  free(did);
  return rc;
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
