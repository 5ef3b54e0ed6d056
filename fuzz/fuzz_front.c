/*
 * fuzz_front: the pieces of sf-local's HTTP front that see request data
 * before the engine does (runtime/src/front_parse.c, base's urlpart.c and
 * the entity routing of ir/src/ir_call.c). The first input byte picks the
 * surface, the rest is its input:
 *   0  a raw request path -> sfl_front_parse_address (percent-decoding,
 *      name checks, the id with '/' in it)
 *   1  a Content-Type value -> sfl_front_content_type
 *   2  [type NUL] JSON body -> sfl_front_json_encode (the JSON ingress
 *      codec; without a NUL the type is inferred)
 *   3  a ?wait= value -> sfl_front_parse_wait
 *   4  a query/path part -> sfl_front_percent_decode (with and without '+')
 *   5  path NUL body -> sfc_call_route_of against tests/codegen's codec
 *      IR, then sfc_call_args on the body (entity calls)
 *   6  a JSON-lines body -> sfl_front_parse_records (batches of topic
 *      records), with at most 50 records
 * Left out: libmicrohttpd's own parsing of the request line and headers,
 * and everything after the engine accepts a message (tests/hostile and
 * tests/runtime drive those over real sockets). Checks: no crash/leak/UB,
 * and the documented contracts of each function (below).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_codec_ir.h"
#include "fuzz_common.h"
#include "http_front.h"
#include "ir.h"
#include "ir_call.h"

static void records(const uint8_t *p, size_t n) {
  sfl_front_records r;
  char err[256];
  err[0] = '\0';
  int rc = sfl_front_parse_records((const char *)p, n, 50, &r, err, sizeof err);
  if (rc == 0) {
    FZ_CHECK(r.n <= 50);
    for (size_t i = 0; i < r.n; i++) {
      FZ_CHECK(r.recs[i].key != NULL && r.recs[i].key[0] != '\0');
      FZ_CHECK(r.recs[i].len <= n); /* base64 and JSON escapes only shrink */
    }
    sfl_front_records_free(&r);
  } else {
    FZ_CHECK(rc >= -3 && err[0] != '\0' && r.recs == NULL && r.n == 0);
  }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *dup_str(const uint8_t *p, size_t n) { /* stops at a NUL */
  char *s = malloc(n + 1);
  FZ_CHECK(s != NULL);
  memcpy(s, p, n);
  s[n] = '\0';
  return s;
}

static void address(const char *path) {
  sfl_front_address a = {0};
  char err[256];
  err[0] = '\0';
  if (sfl_front_parse_address(path, &a, err, sizeof err) == 0) {
    const char *slash = strchr(a.fn_typename, '/');
    FZ_CHECK(slash != NULL && slash != a.fn_typename && slash[1] != '\0');
    FZ_CHECK(strchr(slash + 1, '/') == NULL);
    FZ_CHECK(a.id != NULL && a.id[0] != '\0');
    sfl_front_address_free(&a);
  } else {
    FZ_CHECK(err[0] != '\0' && memchr(err, 0, sizeof err) != NULL);
  }
}

static void content_type(const char *ct) {
  sfl_body_kind kind;
  char tn[256], err[256];
  err[0] = '\0';
  if (sfl_front_content_type(ct, &kind, tn, sizeof tn, err, sizeof err) == 0) {
    FZ_CHECK(kind == SFL_BODY_RAW || kind == SFL_BODY_JSON ||
             kind == SFL_BODY_TEXT);
    if (kind != SFL_BODY_JSON)
      FZ_CHECK(memchr(tn, 0, sizeof tn) != NULL && strchr(tn, '/') != NULL);
  } else {
    FZ_CHECK(err[0] != '\0');
  }
}

static void json_encode(const uint8_t *p, size_t n) {
  const uint8_t *nul = memchr(p, 0, n);
  char *type = nul ? dup_str(p, (size_t)(nul - p)) : NULL;
  const char *body = nul ? (const char *)nul + 1 : (const char *)p;
  size_t len = nul ? n - (size_t)(nul - p) - 1 : n;
  const char *tn = NULL;
  uint8_t *out = NULL;
  size_t out_len = 12345;
  char err[256];
  err[0] = '\0';
  if (sfl_front_json_encode(body, len, type, &tn, &out, &out_len, err,
                            sizeof err) == 0) {
    FZ_CHECK(tn != NULL && strncmp(tn, "io.statefun.types/", 18) == 0);
    FZ_CHECK((out == NULL) == (out_len == 0));
    free(out);
  } else {
    FZ_CHECK(err[0] != '\0');
  }
  free(type);
}

static void wait_arg(const char *s) {
  int64_t ms = sfl_front_parse_wait(s, 60000);
  FZ_CHECK(ms >= -1 && ms <= 60000);
}

static void percent(const char *s, size_t n) {
  char *out = malloc(n + 1);
  FZ_CHECK(out != NULL);
  for (int plus = 0; plus < 2; plus++) {
    long got = sfl_front_percent_decode(s, n, plus, out);
    FZ_CHECK(got >= -1 && got <= (long)n);
    if (got >= 0) {
      FZ_CHECK(out[got] == '\0');
      FZ_CHECK(strlen(out) == (size_t)got); /* %00 is refused */
    }
  }
  free(out);
}

static void entity_route(const uint8_t *p, size_t n) {
  const uint8_t *nul = memchr(p, 0, n);
  size_t plen = nul ? (size_t)(nul - p) : n;
  char *path = dup_str(p, plen);
  const uint8_t *body = nul ? nul + 1 : p + n;
  size_t blen = nul ? n - plen - 1 : 0;
  sfc_call_route r;
  sfc_call_route_of(fz_codec_ir(), 1, path, &r);
  switch (r.kind) {
  case SFC_ROUTE_ERROR:
    FZ_CHECK(r.status == 400 || r.status == 404);
    FZ_CHECK(r.body != NULL);
    break;
  case SFC_ROUTE_CALL: {
    FZ_CHECK(r.entity != NULL && r.method != NULL && r.key && r.key[0]);
    uint8_t *argb = NULL;
    size_t argn = 0;
    char err[512];
    err[0] = '\0';
    if (sfc_call_args(r.entity, r.method, body, blen, &argb, &argn, err,
                      sizeof err) == 0)
      free(argb);
    else
      FZ_CHECK(err[0] != '\0');
    break;
  }
  case SFC_ROUTE_NONE:
    break;
  }
  sfc_call_route_free(&r);
  free(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size == 0) return 0;
  const uint8_t *p = data + 1;
  size_t n = size - 1;
  char *s = dup_str(p, n);
  switch (data[0] % 7) {
  case 0: address(s); break;
  case 1: content_type(s); break;
  case 2: json_encode(p, n); break;
  case 3: wait_arg(s); break;
  case 4: percent(s, strlen(s)); break;
  case 5: entity_route(p, n); break;
  case 6: records(p, n); break;
  }
  free(s);
  return 0;
}
