/*
 * config_get.c - typed access to a ynode mapping for sf-local's
 * module.yaml reader: maps, sequences, strings, typenames, integers as
 * Jackson coerces them, Flink durations (sfbase's sfb/duration.h), and the
 * unknown-key checks; every error points at the offending node.
 */
#include "config_impl.h"

#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sfb/duration.h"

ynode *cfg_map_get(const ynode *map, const char *key) {
  if (!map || map->type != YN_MAP) return NULL;
  for (size_t i = 0; i + 1 < map->n; i += 2)
    if (map->kids[i]->type == YN_SCALAR && !strcmp(map->kids[i]->text, key))
      return map->kids[i + 1];
  return NULL;
}

/* Duplicate keys: Jackson keeps the last silently; we refuse. Keys must be
 * scalars (module.yaml never needs complex keys). */
int cfg_check_keys(ctx *c, const ynode *map) {
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const ynode *k = map->kids[i];
    if (k->type != YN_SCALAR)
      return cfg_fail(c, k, "mapping keys must be scalars");
    for (size_t j = 0; j < i; j += 2)
      if (!strcmp(map->kids[j]->text, k->text))
        return cfg_fail(c, k, "duplicate key '%s' (first at %d:%d)",
                        cfg_q(c, k), map->kids[j]->line, map->kids[j]->col);
  }
  return 0;
}

/* The node of `key` in `map` as a mapping; NULL (no error) when absent or
 * null and !required. Returns -1 on error. */
int cfg_get_map(ctx *c, const ynode *map, const char *key, bool required,
                const char *where, ynode **out) {
  ynode *v = cfg_map_get(map, key);
  *out = NULL;
  if (!v || (cfg_is_null(v) && !required)) {
    if (required)
      return cfg_fail(c, map, "%s: missing required key '%s'", where, key);
    return 0;
  }
  if (v->type != YN_MAP)
    return cfg_fail(c, v, "'%s' must be a mapping, not %s", key, cfg_what(v));
  if (cfg_check_keys(c, v) < 0) return -1;
  *out = v;
  return 0;
}

int cfg_get_seq(ctx *c, const ynode *map, const char *key, bool required,
                const char *where, ynode **out) {
  ynode *v = cfg_map_get(map, key);
  *out = NULL;
  if (!v || (cfg_is_null(v) && !required)) {
    if (required)
      return cfg_fail(c, map, "%s: missing required key '%s'", where, key);
    return 0;
  }
  if (v->type != YN_SEQ)
    return cfg_fail(c, v, "'%s' must be a sequence, not %s", key, cfg_what(v));
  *out = v;
  return 0;
}

/* A non-empty string. */
int cfg_get_str(ctx *c, const ynode *map, const char *key, bool required,
                const char *where, ynode **out) {
  ynode *v = cfg_map_get(map, key);
  *out = NULL;
  if (!v || (cfg_is_null(v) && !required)) {
    if (required)
      return cfg_fail(c, map, "%s: missing required key '%s'", where, key);
    return 0;
  }
  if (v->type != YN_SCALAR || cfg_is_null(v))
    return cfg_fail(c, v, "'%s' must be a string, not %s", key, cfg_what(v));
  *out = v;
  return 0;
}

/* Exactly one '/', both sides non-empty (stricter than Java's split()). */
static bool is_typename(const char *s) {
  const char *slash = strchr(s, '/');
  return slash && slash != s && slash[1] && !strchr(slash + 1, '/');
}

int cfg_check_typename(ctx *c, const ynode *n, const char *what_) {
  if (n->type != YN_SCALAR || cfg_is_null(n))
    return cfg_fail(c, n, "%s must be a typename <namespace>/<name>, not %s",
                    what_, cfg_what(n));
  if (!is_typename(n->text))
    return cfg_fail(c, n, "invalid %s '%s': expected <namespace>/<name>", what_,
                    cfg_q(c, n));
  return 0;
}

/* Decimal digits (an optional '+'), plain or quoted: Jackson coerces both. */
bool cfg_parse_u64(const char *s, uint64_t *out) {
  if (*s == '+') s++;
  if (!isdigit((unsigned char)*s)) return false;
  uint64_t v = 0;
  for (; *s; s++) {
    if (!isdigit((unsigned char)*s)) return false;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10) return false;
    v = v * 10 + d;
  }
  *out = v;
  return true;
}

/* An integer in [min, max] (Java int fields: max INT32_MAX). */
int cfg_get_int(ctx *c, const ynode *map, const char *key, int64_t min,
                int64_t max, const char *kind_of, int64_t *out) {
  ynode *v = cfg_map_get(map, key);
  if (!v || cfg_is_null(v)) return 0;
  uint64_t x;
  if (v->type != YN_SCALAR || !cfg_parse_u64(v->text, &x) ||
      x < (uint64_t)min || x > (uint64_t)max) {
    if (v->type == YN_SCALAR)
      return cfg_fail(c, v, "'%s' must be %s, not '%s'", key, kind_of,
                      cfg_q(c, v));
    return cfg_fail(c, v, "'%s' must be %s, not %s", key, kind_of, cfg_what(v));
  }
  *out = (int64_t)x;
  return 0;
}

/* A Java int (an optional sign, plain or quoted) at `key`; leaves *out
 * alone when absent. */
int cfg_get_java_int(ctx *c, const ynode *map, const char *key, int64_t *out) {
  ynode *v = cfg_map_get(map, key);
  if (!v || cfg_is_null(v)) return 0;
  uint64_t x = 0;
  const char *t = v->type == YN_SCALAR ? v->text : "";
  bool neg = *t == '-';
  bool ok = v->type == YN_SCALAR && cfg_parse_u64(neg ? t + 1 : t, &x) &&
            *(neg ? t + 1 : t) != '+' &&
            x <= (neg ? (uint64_t)INT32_MAX + 1 : (uint64_t)INT32_MAX);
  if (!ok) {
    if (v->type == YN_SCALAR)
      return cfg_fail(c, v, "'%s' must be an integer (a Java int), not '%s'",
                      key, cfg_q(c, v));
    return cfg_fail(c, v, "'%s' must be an integer, not %s", key, cfg_what(v));
  }
  *out = neg ? -(int64_t)x : (int64_t)x;
  return 0;
}

/* ------------------------------------------------------------------ */
/* Durations: Flink's TimeUtils.parseDuration (sfbase's sfb/duration.h;   */
/* a bare number is milliseconds, as in Flink)                            */
/* ------------------------------------------------------------------ */

/* Duration at `key`; leaves *ms alone when absent. `nonzero`: Flink's
 * requireNonZeroDuration (we also apply it to the async call/connect, where
 * a zero timeout can only mean every call fails). */
int cfg_get_duration(ctx *c, const ynode *map, const char *key, bool nonzero,
                     int64_t *ms, const ynode **at) {
  ynode *v = cfg_map_get(map, key);
  if (!v || cfg_is_null(v)) return 0;
  if (at) *at = v;
  if (v->type != YN_SCALAR)
    return cfg_fail(c, v,
                    "'%s' must be a duration like 2min, 20s or 500ms, not %s",
                    key, cfg_what(v));
  sfb_duration_error why = sfb_duration_parse_ms(v->text, ms);
  if (why != SFB_DURATION_OK)
    return cfg_fail(
        c, v,
        "invalid duration '%s' for '%s' (%s): expected a number with "
        "an optional unit ms, s, min, h or d, e.g. 2min, 20s, 500ms",
        cfg_q(c, v), key, sfb_duration_strerror(why));
  if (nonzero && *ms == 0)
    return cfg_fail(c, v, "'%s' must be larger than 0", key);
  return 0;
}

/* For messages: 120000 -> "2min", 1500 -> "1500ms". */
void cfg_fmt_ms(char *buf, size_t len, int64_t ms) {
  if (ms && ms % 3600000 == 0)
    snprintf(buf, len, "%lldh", (long long)(ms / 3600000));
  else if (ms && ms % 60000 == 0)
    snprintf(buf, len, "%lldmin", (long long)(ms / 60000));
  else if (ms && ms % 1000 == 0)
    snprintf(buf, len, "%llds", (long long)(ms / 1000));
  else snprintf(buf, len, "%lldms", (long long)ms);
}

/* Unknown-key check for the strict places. `hint` maps likely typos. */
int cfg_check_known(ctx *c, const ynode *map, const char *const *known,
                    const char *where) {
  static const struct {
    const char *typo, *meant;
  } hints[] = {
      {"transports", "transport"},
      {"function", "functions"},
      {"url", "urlPathTemplate"},
      {"urlTemplate", "urlPathTemplate"},
      {"timeout", "timeouts"},
      {"maxBatchRequests", "maxNumBatchRequests"},
      {"maxNumBatchRequest", "maxNumBatchRequests"},
  };
  for (size_t i = 0; i + 1 < map->n; i += 2) {
    const ynode *k = map->kids[i];
    bool ok = false;
    for (const char *const *p = known; *p; p++)
      if (!strcmp(*p, k->text)) ok = true;
    if (ok) continue;
    char list[256] = "";
    for (const char *const *p = known; *p; p++) {
      if (*list) strncat(list, ", ", sizeof list - strlen(list) - 1);
      strncat(list, *p, sizeof list - strlen(list) - 1);
    }
    for (size_t h = 0; h < sizeof hints / sizeof *hints; h++)
      if (!strcmp(hints[h].typo, k->text))
        for (const char *const *p = known; *p; p++)
          if (!strcmp(*p, hints[h].meant))
            return cfg_fail(c, k, "unknown key '%s' in %s (did you mean '%s'?)",
                            cfg_q(c, k), where, hints[h].meant);
    return cfg_fail(c, k, "unknown key '%s' in %s; known keys: %s", cfg_q(c, k),
                    where, list);
  }
  return 0;
}

char *cfg_dup_text(ctx *c, const ynode *n) {
  char *s = strdup(n->text);
  if (!s) cfg_oom(c);
  return s;
}

int cfg_grow_array(void **arr, size_t *cap, size_t elem) {
  size_t nc = *cap ? 2 * *cap : 4;
  void *p = realloc(*arr, nc * elem);
  if (!p) return -1;
  memset((char *)p + *cap * elem, 0, (nc - *cap) * elem);
  *arr = p;
  *cap = nc;
  return 0;
}
