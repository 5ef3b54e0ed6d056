/*
 * util.h - small pieces sf-local's files share: a growable byte buffer with
 * protobuf wire-format writers, a string-keyed hash map, time, base64.
 */
#ifndef SF_LOCAL_UTIL_H
#define SF_LOCAL_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- byte buffer + protobuf writers ---------------------------------------- */

typedef struct sfl_buf {
  uint8_t *data;
  size_t len;
  size_t cap;
  bool oom; /* sticky: a failed growth; writers become no-ops */
} sfl_buf;

void sfl_buf_free(sfl_buf *b);
void sfl_buf_reset(sfl_buf *b);
void sfl_buf_put(sfl_buf *b, const void *data, size_t len);
void sfl_buf_varint(sfl_buf *b, uint64_t v);
/* Field `field` as length-delimited bytes; skipped when empty and
 * `skip_empty` (proto3 default). */
void sfl_pb_bytes(sfl_buf *b, unsigned field, const void *data, size_t len,
                  bool skip_empty);
void sfl_pb_string(sfl_buf *b, unsigned field, const char *s);
void sfl_pb_bool(sfl_buf *b, unsigned field, bool v);
/* An Address message body (namespace, type, id). */
void sfl_pb_address(sfl_buf *b, const char *ns, const char *type,
                    const char *id);
/* A TypedValue message body. */
void sfl_pb_typed_value(sfl_buf *b, const char *typename, bool has_value,
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
/* Base64 (standard alphabet, padded) of len bytes; malloc'd. */
char *sfl_base64(const uint8_t *data, size_t len);
/* printf into a malloc'd string. */
char *sfl_strfmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
