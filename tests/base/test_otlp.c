/*
 * test_otlp.c - the span writer of sfbase (sfb/otlp.h): one line of OTLP
 * JSON per span, with the fields and encodings docs/tracing.md names (ids
 * as hex, times as decimal strings, string attributes, status ERROR),
 * JSON that stays JSON whatever the strings hold (quotes, control bytes,
 * bytes that are not UTF-8, as an HTTP error body can be), nothing for a
 * span without a trace id; and the derived span ids every process
 * computes alike (FNV-1a 64, never all zeros).
 */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/otlp.h"

static const char TRACE[] = "0af7651916cd43dd8448eb211c80319c";

/* The line sfb_otlp_write writes for sp (malloc'd), and its result. */
static char *line_of(const sfb_otlp_span *sp, int *rc) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  *rc = sfb_otlp_write(f, "svc", "scope", sp);
  fclose(f);
  return buf;
}

/* The one span of a line, parsed (the request freed by the caller). */
static json_t *span_of(const char *line, json_t **req) {
  json_error_t je;
  *req = json_loads(line, 0, &je);
  cr_assert_not_null(*req, "not JSON (%s): %s", je.text, line);
  json_t *rs = json_array_get(json_object_get(*req, "resourceSpans"), 0);
  json_t *ss = json_array_get(json_object_get(rs, "scopeSpans"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(json_object_get(ss, "scope"), "name")),
                   "scope");
  json_t *attr = json_array_get(json_object_get(json_object_get(rs, "resource"), "attributes"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(attr, "key")), "service.name");
  cr_assert_str_eq(
      json_string_value(json_object_get(json_object_get(attr, "value"), "stringValue")), "svc");
  return json_array_get(json_object_get(ss, "spans"), 0);
}

static const char *attr_value(json_t *sp, size_t i) {
  json_t *a = json_array_get(json_object_get(sp, "attributes"), i);
  return json_string_value(json_object_get(json_object_get(a, "value"), "stringValue"));
}

Test(otlp, fields) {
  sfb_otlp_span sp = {TRACE, "b7ad6b7169203331", "00f067aa0ba902b7", "POST", SFB_SPAN_CLIENT,
                      1700000000000000001ull, 1700000000000000002ull, false,
                      {"k1", "k2"}, {"v1", "v2"}};
  int rc;
  char *line = line_of(&sp, &rc);
  cr_assert_eq(rc, 0);
  cr_assert_eq(line[strlen(line) - 1], '\n', "one line");
  cr_assert_eq(strchr(line, '\n'), line + strlen(line) - 1, "one line only");
  json_t *req, *s = span_of(line, &req);
  cr_assert_str_eq(json_string_value(json_object_get(s, "traceId")), TRACE);
  cr_assert_str_eq(json_string_value(json_object_get(s, "spanId")), "b7ad6b7169203331");
  cr_assert_str_eq(json_string_value(json_object_get(s, "parentSpanId")), "00f067aa0ba902b7");
  cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "POST");
  cr_assert_eq(json_integer_value(json_object_get(s, "kind")), 3);
  cr_assert_str_eq(json_string_value(json_object_get(s, "startTimeUnixNano")),
                   "1700000000000000001", "uint64 as a decimal string");
  cr_assert_str_eq(json_string_value(json_object_get(s, "endTimeUnixNano")),
                   "1700000000000000002");
  cr_assert_eq(json_array_size(json_object_get(s, "attributes")), 2);
  cr_assert_str_eq(attr_value(s, 0), "v1");
  cr_assert_str_eq(attr_value(s, 1), "v2");
  cr_assert_null(json_object_get(s, "status"), "no status unless it failed");
  json_decref(req);
  free(line);
}

Test(otlp, error_root_and_hostile_strings) {
  /* an HTTP error body may hold anything: quotes, newlines, non-UTF-8 */
  sfb_otlp_span sp = {TRACE, "b7ad6b7169203331", NULL, "say \"hi\"\n", SFB_SPAN_SERVER, 1, 2,
                      true, {"statefun.error"}, {"HTTP 500: \xff\xfe bad \x01 \\ end"}};
  int rc;
  char *line = line_of(&sp, &rc);
  cr_assert_eq(rc, 0);
  json_t *req, *s = span_of(line, &req);
  cr_assert_str_eq(json_string_value(json_object_get(s, "parentSpanId")), "", "a root");
  cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "say \"hi\"\n");
  cr_assert_str_eq(attr_value(s, 0), "HTTP 500: ?? bad \x01 \\ end",
                   "bytes that are not UTF-8 become '?', the rest escaped");
  cr_assert_eq(json_integer_value(json_object_get(json_object_get(s, "status"), "code")), 2);
  json_decref(req);
  free(line);
  /* valid UTF-8 stays as it is */
  sfb_otlp_span u = {TRACE, "b7ad6b7169203331", "", "caf\xc3\xa9", SFB_SPAN_INTERNAL, 1, 1,
                     false, {NULL}, {NULL}};
  line = line_of(&u, &rc);
  s = span_of(line, &req);
  cr_assert_str_eq(json_string_value(json_object_get(s, "name")), "caf\xc3\xa9");
  json_decref(req);
  free(line);
}

Test(otlp, no_trace_no_line) {
  sfb_otlp_span sp = {"abc", "b7ad6b7169203331", NULL, "x", 1, 1, 1, false, {NULL}, {NULL}};
  int rc;
  char *line = line_of(&sp, &rc);
  cr_assert_eq(rc, -1);
  cr_assert_str_eq(line, "");
  free(line);
  sp.trace_id = NULL;
  line = line_of(&sp, &rc);
  cr_assert_eq(rc, -1);
  free(line);
}

Test(otlp, derived_span_ids) {
  char id[17];
  sfb_span_id_of("", id);
  cr_assert_str_eq(id, "cbf29ce484222325", "FNV-1a 64 offset basis");
  sfb_span_id_of("a", id);
  cr_assert_str_eq(id, "af63dc4c8601ec8c", "FNV-1a 64 of \"a\"");
  char again[17];
  sfb_span_id_of("shop/User/uma#1", id);
  sfb_span_id_of("shop/User/uma#1", again);
  cr_assert_str_eq(id, again, "the same text, the same id");
  sfb_span_id_of("shop/User/uma#2", again);
  cr_assert_str_neq(id, again);
  cr_assert_eq(strlen(id), 16);
  cr_assert_eq(strspn(id, "0123456789abcdef"), 16, "lower-case hex");
}
