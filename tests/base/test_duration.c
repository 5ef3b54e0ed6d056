/*
 * test_duration.c - Flink duration parsing (sfb/duration.h): the syntax of
 * Flink's TimeUtils.parseDuration (every unit label, case, blanks, a bare
 * number as milliseconds), rounding to milliseconds, and each refusal.
 */
#include <criterion/criterion.h>
#include <string.h>

#include "sfb/duration.h"

static int64_t ms_of(const char *text) {
  int64_t ms = -1;
  sfb_duration_error e = sfb_duration_parse_ms(text, &ms);
  cr_assert_eq(e, SFB_DURATION_OK, "'%s': %s", text, sfb_duration_strerror(e));
  return ms;
}

Test(duration, every_label) {
  static const struct {
    const char *text;
    int64_t ms;
  } cases[] = {
      {"2d", 172800000},     {"1day", 86400000},      {"2days", 172800000},
      {"1h", 3600000},       {"1hour", 3600000},      {"2hours", 7200000},
      {"2min", 120000},      {"2m", 120000},          {"1minute", 60000},
      {"3minutes", 180000},  {"20s", 20000},          {"1sec", 1000},
      {"2secs", 2000},       {"1second", 1000},       {"5seconds", 5000},
      {"500ms", 500},        {"1milli", 1},           {"7millis", 7},
      {"1millisecond", 1},   {"9milliseconds", 9},    {"1500\xc2\xb5s", 2},
      {"1000micro", 1},      {"1micros", 1},          {"1microsecond", 1},
      {"2000microseconds", 2}, {"1ns", 1},            {"1nano", 1},
      {"1000000nanos", 1},   {"1nanosecond", 1},      {"3nanoseconds", 1},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    cr_assert_eq(ms_of(cases[i].text), cases[i].ms, "%s", cases[i].text);
}

Test(duration, syntax) {
  cr_assert_eq(ms_of("1500"), 1500, "a bare number is milliseconds");
  cr_assert_eq(ms_of("  2 MIN\t"), 120000, "trimmed, blanks, any case");
  cr_assert_eq(ms_of("020s"), 20000);
  cr_assert_eq(ms_of("0ms"), 0);
  sfb_duration d;
  cr_assert_eq(sfb_duration_parse(" 020 Min ", &d), SFB_DURATION_OK);
  cr_assert_str_eq(d.unit, "min");
  cr_assert_eq(d.value, 20);
  cr_assert_eq(d.unit_ns, 60000000000LL);
  cr_assert(d.n_digits == 3 && strncmp(d.digits, "020", 3) == 0);
  cr_assert(d.unit_len == 3 && strncmp(d.unit_text, "Min", 3) == 0);
  cr_assert_eq(sfb_duration_parse("15", &d), SFB_DURATION_OK);
  cr_assert_str_eq(d.unit, "");
  cr_assert_eq(d.unit_len, 0);
}

Test(duration, sub_millisecond_rounds_up) {
  cr_assert_eq(ms_of("1ns"), 1);
  cr_assert_eq(ms_of("1000000ns"), 1);
  cr_assert_eq(ms_of("1000001ns"), 2);
  cr_assert_eq(ms_of("0ns"), 0);
}

static void refused(const char *text, sfb_duration_error want) {
  int64_t ms;
  sfb_duration_error e = sfb_duration_parse_ms(text, &ms);
  cr_assert_eq(e, want, "'%s': got %s, want %s", text,
               sfb_duration_strerror(e), sfb_duration_strerror(want));
}

Test(duration, refusals) {
  refused("", SFB_DURATION_EMPTY);
  refused(" \t ", SFB_DURATION_EMPTY);
  refused("ms", SFB_DURATION_NO_NUMBER);
  refused("-1s", SFB_DURATION_NO_NUMBER);
  refused("1.5s", SFB_DURATION_UNKNOWN_UNIT);
  refused("1mins", SFB_DURATION_UNKNOWN_UNIT); /* Flink: no plural of min */
  refused("1500us", SFB_DURATION_UNKNOWN_UNIT);
  refused("2 fortnights", SFB_DURATION_UNKNOWN_UNIT);
  refused("2 s s", SFB_DURATION_UNKNOWN_UNIT);
  refused("9223372036854775808ms", SFB_DURATION_TOO_LARGE); /* INT64_MAX+1 */
  refused("9223372036854775807d", SFB_DURATION_TOO_LARGE);  /* ms overflow */
  int64_t ms;
  cr_assert_eq(sfb_duration_parse_ms("9223372036854775807ms", &ms),
               SFB_DURATION_OK);
  cr_assert_eq(ms, INT64_MAX);
  cr_assert_str_eq(sfb_duration_strerror(SFB_DURATION_UNKNOWN_UNIT),
                   "unknown unit");
}
