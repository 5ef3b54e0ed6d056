/*
 * sfb/duration.h - Flink durations ("2min", "20 s", "500ms", "1500"): the
 * syntax of Flink's TimeUtils.parseDuration, which StateFun uses for every
 * timeout in module.yaml. The text is trimmed; then come decimal digits,
 * optional blanks, and an optional unit label, matched case-insensitively
 * (d, day(s), h, hour(s), min, m, minute(s), s, sec(s), second(s), ms,
 * milli(s), millisecond(s), µs, micro(s), microsecond(s), ns, nano(s),
 * nanosecond(s)). A bare number is milliseconds in Flink; callers decide
 * whether they accept one.
 */
#ifndef SFB_DURATION_H
#define SFB_DURATION_H

#include <stdbool.h>
#include <stdint.h>

/* What a parse found. */
typedef struct sfb_duration {
  uint64_t value;       /* the number, at most INT64_MAX */
  const char *unit;     /* the canonical (lower-case) label, "" if none */
  int64_t unit_ns;      /* nanoseconds per unit (1000000 when none) */
  const char *digits;   /* the digits in the text, leading zeros included */
  int n_digits;
  const char *unit_text; /* the unit as written (unit_len bytes) */
  int unit_len;
} sfb_duration;

/* Why a parse failed. */
typedef enum sfb_duration_error {
  SFB_DURATION_OK = 0,
  SFB_DURATION_EMPTY,        /* nothing but blanks */
  SFB_DURATION_NO_NUMBER,    /* does not start with a digit */
  SFB_DURATION_TOO_LARGE,    /* over INT64_MAX, or over INT64_MAX ms */
  SFB_DURATION_UNKNOWN_UNIT, /* a label Flink does not know */
} sfb_duration_error;

/* Parses `text`. SFB_DURATION_OK with *out filled, else the reason. */
sfb_duration_error sfb_duration_parse(const char *text, sfb_duration *out);

/* The duration in milliseconds; sub-millisecond units round up so that a
 * non-zero duration stays non-zero. SFB_DURATION_TOO_LARGE when it does
 * not fit an int64_t (Flink's Duration.toMillis would throw). */
sfb_duration_error sfb_duration_ms(const sfb_duration *d, int64_t *ms);

/* Parses and converts in one step. */
sfb_duration_error sfb_duration_parse_ms(const char *text, int64_t *ms);

/* A short phrase for a reason ("empty", "unknown unit", ...). */
const char *sfb_duration_strerror(sfb_duration_error e);

#endif /* SFB_DURATION_H */
