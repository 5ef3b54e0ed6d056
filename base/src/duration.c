/*
 * duration.c - Flink duration parsing (see sfb/duration.h). The unit
 * labels are those of Flink's TimeUtils.TimeUnit, singular and plural
 * (Flink's "min" has no plural "mins").
 */
#include "sfb/duration.h"

#include <ctype.h>
#include <stddef.h>
#include <string.h>

static const struct {
  const char *label;
  int64_t ns; /* nanoseconds per unit */
} k_units[] = {
    {"d", 86400000000000LL},     {"day", 86400000000000LL},
    {"days", 86400000000000LL},  {"h", 3600000000000LL},
    {"hour", 3600000000000LL},   {"hours", 3600000000000LL},
    {"min", 60000000000LL},      {"m", 60000000000LL},
    {"minute", 60000000000LL},   {"minutes", 60000000000LL},
    {"s", 1000000000LL},         {"sec", 1000000000LL},
    {"secs", 1000000000LL},      {"second", 1000000000LL},
    {"seconds", 1000000000LL},   {"ms", 1000000LL},
    {"milli", 1000000LL},        {"millis", 1000000LL},
    {"millisecond", 1000000LL},  {"milliseconds", 1000000LL},
    {"\xc2\xb5s", 1000LL},       {"micro", 1000LL},
    {"micros", 1000LL},          {"microsecond", 1000LL},
    {"microseconds", 1000LL},    {"ns", 1LL},
    {"nano", 1LL},               {"nanos", 1LL},
    {"nanosecond", 1LL},         {"nanoseconds", 1LL},
};

#define MS_NS 1000000LL

/* Java's String.trim(): every character up to U+0020 is a blank. */
static bool blank(char c) { return (unsigned char)c <= ' '; }

/* The table entry for a label of `len` bytes, case-insensitively; -1. */
static int find_unit(const char *label, size_t len) {
  char lower[16];
  if (len >= sizeof lower) return -1;
  for (size_t i = 0; i < len; i++)
    lower[i] = (char)tolower((unsigned char)label[i]);
  lower[len] = '\0';
  for (size_t k = 0; k < sizeof k_units / sizeof *k_units; k++)
    if (!strcmp(lower, k_units[k].label)) return (int)k;
  return -1;
}

/* Leading digits into *v; SFB_DURATION_TOO_LARGE past INT64_MAX. */
static sfb_duration_error read_number(const char *p, size_t len, size_t *i,
                                      uint64_t *v) {
  *v = 0;
  for (; *i < len && isdigit((unsigned char)p[*i]); (*i)++) {
    unsigned d = (unsigned)(p[*i] - '0');
    if (*v > ((uint64_t)INT64_MAX - d) / 10) return SFB_DURATION_TOO_LARGE;
    *v = *v * 10 + d;
  }
  return SFB_DURATION_OK;
}

sfb_duration_error sfb_duration_parse(const char *text, sfb_duration *out) {
  memset(out, 0, sizeof *out);
  while (*text && blank(*text)) text++;
  size_t len = strlen(text);
  while (len && blank(text[len - 1])) len--;
  if (!len) return SFB_DURATION_EMPTY;
  size_t i = 0;
  sfb_duration_error e = read_number(text, len, &i, &out->value);
  if (i == 0) return SFB_DURATION_NO_NUMBER;
  if (e != SFB_DURATION_OK) return e;
  out->digits = text;
  out->n_digits = (int)i;
  while (i < len && blank(text[i])) i++;
  out->unit_text = text + i;
  out->unit_len = (int)(len - i);
  out->unit = "";
  out->unit_ns = MS_NS; /* no unit: milliseconds */
  if (i == len) return SFB_DURATION_OK;
  int k = find_unit(text + i, len - i);
  if (k < 0) return SFB_DURATION_UNKNOWN_UNIT;
  out->unit = k_units[k].label;
  out->unit_ns = k_units[k].ns;
  return SFB_DURATION_OK;
}

sfb_duration_error sfb_duration_ms(const sfb_duration *d, int64_t *ms) {
  if (d->unit_ns >= MS_NS) {
    int64_t mult = d->unit_ns / MS_NS;
    if (d->value > (uint64_t)(INT64_MAX / mult)) return SFB_DURATION_TOO_LARGE;
    *ms = (int64_t)d->value * mult;
  } else {
    uint64_t div = (uint64_t)(MS_NS / d->unit_ns);
    *ms = (int64_t)(d->value / div) + (d->value % div ? 1 : 0);
  }
  return SFB_DURATION_OK;
}

sfb_duration_error sfb_duration_parse_ms(const char *text, int64_t *ms) {
  sfb_duration d;
  sfb_duration_error e = sfb_duration_parse(text, &d);
  return e != SFB_DURATION_OK ? e : sfb_duration_ms(&d, ms);
}

const char *sfb_duration_strerror(sfb_duration_error e) {
  switch (e) {
  case SFB_DURATION_OK: return "ok";
  case SFB_DURATION_EMPTY: return "empty";
  case SFB_DURATION_NO_NUMBER: return "does not start with a number";
  case SFB_DURATION_TOO_LARGE: return "too large";
  case SFB_DURATION_UNKNOWN_UNIT: return "unknown unit";
  }
  return "invalid duration";
}
