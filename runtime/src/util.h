/*
 * util.h - small pieces sf-local's files share (the sfl_util library): the
 * proto3 fields of the messages the engine builds (on sfbase's buffer and
 * wire writer), a string-keyed hash map, clocks, printf into a malloc'd
 * string. The wire format, base64 and the like are sfbase's (base/).
 */
#ifndef SF_LOCAL_UTIL_H
#define SF_LOCAL_UTIL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sfb/buf.h"

/* ---- proto3 fields of sf-local's messages ------------------------------ */

/* On sfbase's growable buffer (sfb/buf.h): a string field, skipped when
 * NULL or empty (proto3's default); a bool field, skipped when false. */
void sfl_pb_string(sfb_buf *b, unsigned field, const char *s);
void sfl_pb_bool(sfb_buf *b, unsigned field, bool v);
/* An Address message body (namespace, type, id). */
void sfl_pb_address(sfb_buf *b, const char *ns, const char *type,
                    const char *id);
/* A TypedValue message body. */
void sfl_pb_typed_value(sfb_buf *b, const char *typename, bool has_value,
                        const uint8_t *value, size_t len);

/* ---- string map -------------------------------------------------------------- */

typedef struct sfl_map_entry {
  char *key;
  void *value;
  struct sfl_map_entry *next;
} sfl_map_entry;

typedef struct sfl_map {
  sfl_map_entry **buckets;
  size_t n_buckets;
  size_t n;
} sfl_map;

void *sfl_map_get(const sfl_map *m, const char *key);
/* Inserts or replaces; the key is copied. Returns -1 when out of memory. */
int sfl_map_put(sfl_map *m, const char *key, void *value);
/* Removes and returns the value (NULL if absent). */
void *sfl_map_del(sfl_map *m, const char *key);
/* Frees the table (not the values). */
void sfl_map_free(sfl_map *m);
/* Iteration: for (i = 0; (e = sfl_map_next(m, &i, e)); ) ... */
sfl_map_entry *sfl_map_next(const sfl_map *m, size_t *bucket,
                            sfl_map_entry *prev);

/* ---- misc -------------------------------------------------------------------- */

/* Wall-clock milliseconds since the epoch (for persisted deadlines). */
int64_t sfl_now_ms(void);
/* Monotonic milliseconds (for timeouts and rates). */
int64_t sfl_mono_ms(void);
/* pthread_cond_timedwait for at most `ms` milliseconds on a condition of
 * the default (CLOCK_REALTIME) clock. */
void sfl_cond_wait_ms(pthread_cond_t *cv, pthread_mutex_t *mu, int64_t ms);
/* a, sep, b as one malloc'd string (NULL when out of memory): the
 * "ns/type" and "ns/type/id" keys of every invocation, without
 * vasprintf's cost (~1,100 instructions a call). */
char *sfl_strjoin(const char *a, char sep, const char *b);
/* printf into a malloc'd string. */
char *sfl_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
