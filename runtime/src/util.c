/* util.c - the sfl_util library: see util.h. */
#define _GNU_SOURCE
#include "util.h"

#include "sfb/fnv.h"
#include "sfb/pbwire.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- proto3 fields ---------------------------------------------------------- */

void sfl_pb_string(sfb_buf *b, unsigned field, const char *s) {
  if (s != NULL && s[0] != '\0') sfb_buf_len_field(b, field, s, strlen(s));
}

void sfl_pb_bool(sfb_buf *b, unsigned field, bool v) {
  if (!v) return;
  sfb_buf_tag(b, field, SFB_WT_VARINT);
  sfb_buf_varint(b, 1);
}

void sfl_pb_address(sfb_buf *b, const char *ns, const char *type,
                    const char *id) {
  sfl_pb_string(b, 1, ns);
  sfl_pb_string(b, 2, type);
  sfl_pb_string(b, 3, id);
}

void sfl_pb_typed_value(sfb_buf *b, const char *typename, bool has_value,
                        const uint8_t *value, size_t len) {
  sfl_pb_string(b, 1, typename);
  sfl_pb_bool(b, 2, has_value);
  if (has_value && len > 0) sfb_buf_len_field(b, 3, value, len);
}

/* ---- string map -------------------------------------------------------------- */

static size_t hash_str(const char *s) { return (size_t)sfb_fnv1a64(s); }

void *sfl_map_get(const sfl_map *m, const char *key) {
  if (!m->n_buckets) return NULL;
  for (sfl_map_entry *e = m->buckets[hash_str(key) % m->n_buckets]; e; e = e->next)
    if (strcmp(e->key, key) == 0) return e->value;
  return NULL;
}

static int grow(sfl_map *m) {
  size_t nb = m->n_buckets ? m->n_buckets * 2 : 64;
  sfl_map_entry **b = calloc(nb, sizeof(*b));
  if (!b) return -1;
  for (size_t i = 0; i < m->n_buckets; i++) {
    sfl_map_entry *e = m->buckets[i];
    while (e) {
      sfl_map_entry *next = e->next;
      size_t h = hash_str(e->key) % nb;
      e->next = b[h];
      b[h] = e;
      e = next;
    }
  }
  free(m->buckets);
  m->buckets = b;
  m->n_buckets = nb;
  return 0;
}

int sfl_map_put(sfl_map *m, const char *key, void *value) {
  if (m->n_buckets) {
    for (sfl_map_entry *e = m->buckets[hash_str(key) % m->n_buckets]; e; e = e->next)
      if (strcmp(e->key, key) == 0) {
        e->value = value;
        return 0;
      }
  }
  if ((m->n + 1) * 4 > m->n_buckets * 3 && grow(m) != 0) return -1;
  sfl_map_entry *e = malloc(sizeof(*e));
  if (!e) return -1;
  e->key = strdup(key);
  if (!e->key) {
    free(e);
    return -1;
  }
  size_t h = hash_str(key) % m->n_buckets;
  e->value = value;
  e->next = m->buckets[h];
  m->buckets[h] = e;
  m->n++;
  return 0;
}

void *sfl_map_del(sfl_map *m, const char *key) {
  if (!m->n_buckets) return NULL;
  sfl_map_entry **pp = &m->buckets[hash_str(key) % m->n_buckets];
  for (; *pp; pp = &(*pp)->next) {
    if (strcmp((*pp)->key, key) == 0) {
      sfl_map_entry *e = *pp;
      void *v = e->value;
      *pp = e->next;
      free(e->key);
      free(e);
      m->n--;
      return v;
    }
  }
  return NULL;
}

void sfl_map_free(sfl_map *m) {
  for (size_t i = 0; i < m->n_buckets; i++) {
    sfl_map_entry *e = m->buckets[i];
    while (e) {
      sfl_map_entry *next = e->next;
      free(e->key);
      free(e);
      e = next;
    }
  }
  free(m->buckets);
  m->buckets = NULL;
  m->n_buckets = m->n = 0;
}

sfl_map_entry *sfl_map_next(const sfl_map *m, size_t *bucket,
                            sfl_map_entry *prev) {
  if (prev && prev->next) return prev->next;
  if (prev) (*bucket)++;
  for (; *bucket < m->n_buckets; (*bucket)++)
    if (m->buckets[*bucket]) return m->buckets[*bucket];
  return NULL;
}

/* ---- misc -------------------------------------------------------------------- */

int64_t sfl_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t sfl_mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void sfl_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  int64_t ns = ts.tv_nsec + (ms % 1000) * 1000000;
  ts.tv_sec += ms / 1000 + ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  pthread_cond_timedwait(cv, mu, &ts);
}

char *sfl_strjoin(const char *a, char sep, const char *b) {
  size_t na = strlen(a), nb = strlen(b);
  char *s = malloc(na + nb + 2);
  if (s == NULL) return NULL;
  memcpy(s, a, na);
  s[na] = sep;
  memcpy(s + na + 1, b, nb + 1);
  return s;
}

char *sfl_strfmt(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  char *s = NULL;
  if (vasprintf(&s, fmt, ap) < 0) s = NULL;
  va_end(ap);
  return s;
}
