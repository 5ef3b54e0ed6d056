/*
 * jpos.c - the JSON position index (see sfb/jpos.h).
 *
 * A recursive scanner over text that jansson has already parsed: it never
 * has to report a syntax error, only to keep track of line and column and
 * of the path to the value it is on. Keys are decoded (escapes, \uXXXX with
 * surrogate pairs) so that paths match the keys jansson hands out.
 */
#include "sfb/jpos.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  const char *p, *end;
  int line, col;
  sfb_jpos *ix;
  char *path;
  size_t path_cap;
  int depth;
} scanner;

#define MAX_DEPTH 4096 /* jansson refuses deeper texts (2048) anyway */

/* One byte on. Columns count characters: only a UTF-8 sequence's first
 * byte (not 10xxxxxx) moves the column, as in jansson. */
static void advance(scanner *s) {
  unsigned char c = (unsigned char)*s->p++;
  if (c == '\n') {
    s->line++;
    s->col = 1;
  } else if ((c & 0xC0) != 0x80) {
    s->col++;
  }
}

static void skip_ws(scanner *s) {
  while (s->p < s->end &&
         (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    advance(s);
}

static int add(scanner *s, sfb_pos key, sfb_pos value) {
  sfb_jpos *ix = s->ix;
  if (ix->n == ix->cap) {
    size_t cap = ix->cap ? ix->cap * 2 : 64;
    sfb_jpos_entry *e = realloc(ix->entries, cap * sizeof *e);
    if (!e) return -1;
    ix->entries = e;
    ix->cap = cap;
  }
  char *path = strdup(s->path);
  if (!path) return -1;
  ix->entries[ix->n++] = (sfb_jpos_entry){path, value, key};
  return 0;
}

static void put_utf8(char *out, size_t *n, unsigned long cp) {
  if (cp < 0x80) {
    out[(*n)++] = (char)cp;
  } else if (cp < 0x800) {
    out[(*n)++] = (char)(0xC0 | (cp >> 6));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out[(*n)++] = (char)(0xE0 | (cp >> 12));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  } else {
    out[(*n)++] = (char)(0xF0 | (cp >> 18));
    out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
    out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
    out[(*n)++] = (char)(0x80 | (cp & 0x3F));
  }
}

static unsigned long hex4(const char *p) {
  unsigned long v = 0;
  for (int i = 0; i < 4; i++) {
    char c = p[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (unsigned long)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (unsigned long)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (unsigned long)(c - 'A' + 10);
  }
  return v;
}

/* Scans a string at its opening quote; when `out` is given, stores the
 * decoded bytes there (malloc'd, NUL-terminated). */
static int scan_string(scanner *s, char **out) {
  advance(s); /* " */
  const char *start = s->p;
  while (s->p < s->end && *s->p != '"') {
    if (*s->p == '\\') advance(s);
    if (s->p < s->end) advance(s);
  }
  if (s->p >= s->end) return -1;
  const char *stop = s->p;
  advance(s); /* " */
  if (!out) return 0;
  /* decoded text is never longer than the escaped one */
  char *d = malloc((size_t)(stop - start) + 1);
  if (!d) return -1;
  size_t n = 0;
  for (const char *q = start; q < stop; q++) {
    if (*q != '\\') {
      d[n++] = *q;
      continue;
    }
    q++;
    switch (*q) {
    case 'b': d[n++] = '\b'; break;
    case 'f': d[n++] = '\f'; break;
    case 'n': d[n++] = '\n'; break;
    case 'r': d[n++] = '\r'; break;
    case 't': d[n++] = '\t'; break;
    case 'u': {
      if (stop - q < 5) break;
      unsigned long cp = hex4(q + 1);
      q += 4;
      if (cp >= 0xD800 && cp <= 0xDBFF && stop - q >= 7 && q[1] == '\\' &&
          q[2] == 'u') {
        unsigned long lo = hex4(q + 3);
        if (lo >= 0xDC00 && lo <= 0xDFFF) {
          cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          q += 6;
        }
      }
      put_utf8(d, &n, cp);
      break;
    }
    default: d[n++] = *q; break; /* " \ / */
    }
  }
  d[n] = '\0';
  *out = d;
  return 0;
}

long sfb_jpos_push(char **buf, size_t *cap, const char *key, size_t index) {
  size_t len = *buf ? strlen(*buf) : 0;
  char num[32];
  if (!key) {
    snprintf(num, sizeof num, "%zu", index);
    key = num;
  }
  size_t need = len + 2 + 2 * strlen(key); /* worst case: all escaped */
  if (need > *cap || !*buf) {
    size_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    char *b = realloc(*buf, c);
    if (!b) return -1;
    if (!*buf) b[0] = '\0';
    *buf = b;
    *cap = c;
  }
  char *w = *buf + len;
  *w++ = '/';
  for (const char *k = key; *k; k++) {
    if (*k == '~') {
      *w++ = '~';
      *w++ = '0';
    } else if (*k == '/') {
      *w++ = '~';
      *w++ = '1';
    } else {
      *w++ = *k;
    }
  }
  *w = '\0';
  return (long)len;
}

static int scan_value(scanner *s, sfb_pos key);

static int scan_object(scanner *s) {
  advance(s); /* { */
  skip_ws(s);
  if (s->p < s->end && *s->p == '}') {
    advance(s);
    return 0;
  }
  for (;;) {
    skip_ws(s);
    if (s->p >= s->end || *s->p != '"') return -1;
    sfb_pos kpos = {s->line, s->col};
    char *key = NULL;
    if (scan_string(s, &key) < 0) return -1;
    long mark = sfb_jpos_push(&s->path, &s->path_cap, key, 0);
    free(key);
    if (mark < 0) return -1;
    skip_ws(s);
    if (s->p >= s->end || *s->p != ':') return -1;
    advance(s);
    if (scan_value(s, kpos) < 0) return -1;
    s->path[mark] = '\0';
    skip_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p == '}') {
      advance(s);
      return 0;
    }
    if (*s->p != ',') return -1;
    advance(s);
  }
}

static int scan_array(scanner *s) {
  advance(s); /* [ */
  skip_ws(s);
  if (s->p < s->end && *s->p == ']') {
    advance(s);
    return 0;
  }
  for (size_t i = 0;; i++) {
    long mark = sfb_jpos_push(&s->path, &s->path_cap, NULL, i);
    if (mark < 0) return -1;
    if (scan_value(s, (sfb_pos){0, 0}) < 0) return -1;
    s->path[mark] = '\0';
    skip_ws(s);
    if (s->p >= s->end) return -1;
    if (*s->p == ']') {
      advance(s);
      return 0;
    }
    if (*s->p != ',') return -1;
    advance(s);
  }
}

/* key.line == 0: not an object member (the key position is the value's). */
static int scan_value(scanner *s, sfb_pos key) {
  skip_ws(s);
  if (s->p >= s->end) return -1;
  sfb_pos at = {s->line, s->col};
  if (add(s, key.line ? key : at, at) < 0) return -1;
  if (++s->depth > MAX_DEPTH) return -1;
  int rc = 0;
  switch (*s->p) {
  case '{': rc = scan_object(s); break;
  case '[': rc = scan_array(s); break;
  case '"': rc = scan_string(s, NULL); break;
  default: /* number, true, false, null */
    while (s->p < s->end && *s->p != ',' && *s->p != '}' && *s->p != ']' &&
           *s->p != ' ' && *s->p != '\t' && *s->p != '\n' && *s->p != '\r')
      advance(s);
    break;
  }
  s->depth--;
  return rc;
}

static int by_path(const void *a, const void *b) {
  return strcmp(((const sfb_jpos_entry *)a)->path,
                ((const sfb_jpos_entry *)b)->path);
}

int sfb_jpos_build(sfb_jpos *ix, const char *text, size_t len) {
  memset(ix, 0, sizeof *ix);
  scanner s = {.p = text, .end = text + len, .line = 1, .col = 1, .ix = ix};
  s.path = malloc(64);
  if (!s.path) return -1;
  s.path[0] = '\0';
  s.path_cap = 64;
  int rc = scan_value(&s, (sfb_pos){0, 0});
  free(s.path);
  if (rc < 0) {
    sfb_jpos_free(ix);
    return -1;
  }
  qsort(ix->entries, ix->n, sizeof *ix->entries, by_path);
  return 0;
}

const sfb_jpos_entry *sfb_jpos_find(const sfb_jpos *ix, const char *path) {
  if (!ix->n) return NULL;
  sfb_jpos_entry key = {.path = (char *)path};
  return bsearch(&key, ix->entries, ix->n, sizeof *ix->entries, by_path);
}

void sfb_jpos_free(sfb_jpos *ix) {
  for (size_t i = 0; i < ix->n; i++) free(ix->entries[i].path);
  free(ix->entries);
  memset(ix, 0, sizeof *ix);
}
