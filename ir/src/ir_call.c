/*
 * ir_call.c - the HTTP contract of an entity call (ir_call.h): where a
 * POST path leads, entity and method lookups with the names a 404 lists, the request id rules, the
 * JSON arguments turned into the Args record, and the answer bodies (200,
 * 422, 502, 504, errors) that sf-local and sf-gateway both send.
 */
#include "ir_call.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ir_json.h"
#include "sfb/buf.h"
#include "sfb/otlp.h"
#include "sfb/urlpart.h"
#include "sfb/utf8.h"

const sfc_entity *sfc_call_entity(const sfc_ir *irs, size_t n_irs,
                                  const char *ns, const char *name,
                                  bool *ns_known) {
  *ns_known = false;
  for (size_t i = 0; i < n_irs; i++) {
    if (strcmp(irs[i].namespace_, ns) != 0) continue;
    *ns_known = true;
    const sfc_entity *e = sfc_ir_entity(&irs[i], name);
    if (e != NULL) return e;
  }
  return NULL;
}

/* Appends ", name" (or "name" first) while it fits. */
static void add_name(char *out, size_t n, size_t *o, const char *name) {
  if (*o + 1 >= n) return;
  int w = snprintf(out + *o, n - *o, "%s%s", *o ? ", " : "", name);
  if (w > 0) *o += (size_t)w;
  if (*o >= n) *o = n - 1;
}

void sfc_call_entity_names(const sfc_ir *irs, size_t n_irs, const char *ns,
                           char *out, size_t n) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n_irs; i++)
    if (strcmp(irs[i].namespace_, ns) == 0)
      for (size_t k = 0; k < irs[i].n_entities; k++)
        add_name(out, n, &o, irs[i].entities[k].name);
}

void sfc_call_method_names(const sfc_entity *e, char *out, size_t n) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t k = 0; k < e->n_methods; k++)
    add_name(out, n, &o, e->methods[k].name);
}

bool sfc_call_request_id_ok(const char *s) {
  size_t n = strlen(s);
  if (n == 0 || n > SFC_CALL_MAX_REQUEST_ID) return false;
  for (const char *p = s; *p != '\0'; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
          (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' || *p == '-'))
      return false;
  return true;
}

/* Time, process, a counter and an address: unique across restarts and
 * across processes on one machine. */
void sfc_call_request_id_new(const char *prefix, char *out, size_t n) {
  static atomic_uint_fast64_t counter;
  uint64_t c = atomic_fetch_add(&counter, 1) + 1;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  uint64_t mix = ((uint64_t)ts.tv_nsec << 20) ^ ((uint64_t)getpid() << 40) ^
                 (c * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)&c;
  snprintf(out, n, "%s-%llx-%llx-%llu", prefix, (unsigned long long)ts.tv_sec,
           (unsigned long long)(mix & 0xFFFFFFFFFFull), (unsigned long long)c);
}

void sfc_trace_random_hex(char *out, size_t n) {
  static const char hex[] = "0123456789abcdef";
  static atomic_uint_fast64_t counter;
  uint64_t x = 0;
  for (size_t i = 0; i < n; i += 2) {
    if (i % 16 == 0) {
      /* splitmix64 of the time, pid and a counter: unique, not secret */
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      x = (uint64_t)ts.tv_nsec ^ ((uint64_t)ts.tv_sec << 30) ^
          ((uint64_t)getpid() << 48) ^
          (atomic_fetch_add(&counter, 1) + 1) * 0x9E3779B97F4A7C15ull;
      x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
      x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
      x ^= x >> 31;
    }
    /* two digits a byte from a table: snprintf("%02x") per byte was
     * ~8,000 instructions per id */
    out[i] = hex[(x >> 4) & 15];
    if (i + 1 < n) out[i + 1] = hex[x & 15];
    x >>= 8;
  }
  out[n] = '\0';
}

/* n lower-case hex digits, not all zeros. */
static bool trace_hex(const char *s, size_t n) {
  bool nonzero = false;
  for (size_t i = 0; i < n; i++) {
    if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
      return false;
    nonzero |= s[i] != '0';
  }
  return nonzero;
}

void sfc_trace_from_header(const char *tp, char trace_id[SFC_TRACE_ID_LEN + 1],
                           char span_id[SFC_SPAN_ID_LEN + 1]) {
  /* version 00: "vv-" + 32 + "-" + 16 + "-" + "ff" (55 characters); a
   * later version may append fields after another '-'. */
  if (tp != NULL && strlen(tp) >= 55 && strspn(tp, "0123456789abcdef") >= 2 &&
      strncmp(tp, "ff", 2) != 0 && tp[2] == '-' &&
      trace_hex(tp + 3, SFC_TRACE_ID_LEN) && tp[35] == '-' &&
      trace_hex(tp + 36, SFC_SPAN_ID_LEN) && tp[52] == '-' &&
      (tp[55] == '\0' || (strncmp(tp, "00", 2) != 0 && tp[55] == '-'))) {
    memcpy(trace_id, tp + 3, SFC_TRACE_ID_LEN);
    trace_id[SFC_TRACE_ID_LEN] = '\0';
    memcpy(span_id, tp + 36, SFC_SPAN_ID_LEN);
    span_id[SFC_SPAN_ID_LEN] = '\0';
    return;
  }
  sfc_trace_random_hex(trace_id, SFC_TRACE_ID_LEN);
  sfc_trace_random_hex(span_id, SFC_SPAN_ID_LEN);
}

void sfc_call_span_begin(sfc_call_span *s, const char *traceparent,
                         const char *trace_id, const char *client_span) {
  /* taken: the header's trace id is the one the call carries */
  bool taken = traceparent != NULL && strlen(traceparent) > 3 + SFC_TRACE_ID_LEN &&
               strncmp(traceparent + 3, trace_id, SFC_TRACE_ID_LEN) == 0;
  snprintf(s->trace_id, sizeof s->trace_id, "%s", trace_id);
  snprintf(s->parent, sizeof s->parent, "%s", taken ? client_span : "");
  sfc_trace_random_hex(s->span, SFC_SPAN_ID_LEN);
  s->start_ns = sfb_otlp_now_ns();
}

void sfc_traceparent(const char *trace_id, const char *span_id, char *out,
                     size_t n) {
  snprintf(out, n, "00-%s-%s-01", trace_id, span_id);
}

int sfc_call_args(const sfc_entity *e, const sfc_method *m, const uint8_t *body,
                  size_t len, uint8_t **argb, size_t *argn, char *err,
                  size_t err_len) {
  json_t *args = NULL;
  bool blank = true;
  for (size_t i = 0; i < len && blank; i++)
    blank = body[i] == ' ' || body[i] == '\t' || body[i] == '\r' ||
            body[i] == '\n';
  if (!blank) {
    json_error_t je;
    args = json_loadb((const char *)body, len,
                      JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &je);
    if (args == NULL) {
      snprintf(err, err_len, "the body is not JSON (line %d, column %d): %s",
               je.line, je.column, je.text);
      return -1;
    }
  }
  char why[1024] = "";
  int rc = sfc_json_encode_args(m, args, argb, argn, why, sizeof why);
  json_decref(args);
  if (rc != 0) snprintf(err, err_len, "%s.%s: %s", e->name, m->name, why);
  return rc;
}

/* A JSON string of msg; invalid UTF-8 (a key or method name from the URL
 * quoted back) has its non-ASCII bytes replaced by '?'. */
static json_t *message_string(char *msg) {
  json_t *s = json_string(msg);
  if (s != NULL) return s;
  for (unsigned char *p = (unsigned char *)msg; *p != '\0'; p++)
    if (*p >= 0x80) *p = '?';
  return json_string(msg);
}

json_t *sfc_call_error(const char *rid, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *o = json_object();
  if (o == NULL) return NULL;
  json_object_set_new(o, "ok", json_false());
  json_object_set_new(o, "error", message_string(msg));
  if (rid != NULL) json_object_set_new(o, "request_id", json_string(rid));
  return o;
}

json_t *sfc_call_answer(const sfc_method *m, const char *rid, bool ok,
                        const char *error, const uint8_t *result, size_t n,
                        unsigned *status) {
  if (!ok) {
    *status = 422;
    return sfc_call_error(rid, "%s",
                          error != NULL && error[0] != '\0'
                              ? error
                              : "the method failed (no reason given)");
  }
  char err[1024] = "";
  json_t *value = sfc_json_decode_result(m, result, n, err, sizeof err);
  if (value == NULL) {
    *status = 502;
    return sfc_call_error(rid, "the entity's result does not decode as %s: %s",
                          m->result->text, err);
  }
  *status = 200;
  json_t *o = json_object();
  if (o == NULL) {
    json_decref(value);
    return NULL;
  }
  json_object_set_new(o, "ok", json_true());
  json_object_set_new(o, "result", value);
  json_object_set_new(o, "request_id", json_string(rid));
  return o;
}

int sfc_call_answer_write(const sfc_method *m, const char *rid,
                          const uint8_t *result, size_t n, sfb_buf *out) {
  size_t start = out->len;
  if (rid == NULL || !sfb_utf8_valid(rid, strlen(rid))) return -1;
  sfb_buf_put(out, "{\"ok\":true,\"result\":", 20);
  if (sfc_json_write_result(m, result, n, out) != 0) {
    out->len = start;
    return -1;
  }
  sfb_buf_put(out, ",\"request_id\":", 14);
  sfb_buf_json_str(out, rid, strlen(rid));
  sfb_buf_put(out, "}", 1);
  if (out->oom) {
    out->len = start;
    return -1;
  }
  return 0;
}

json_t *sfc_call_timeout(const char *rid, int64_t wait_ms, const char *where) {
  return sfc_call_error(rid,
                        "no reply within %.3g s; the call was accepted and "
                        "may still complete: %s",
                        (double)wait_ms / 1000.0, where);
}

/* The entity of "ns/Entity" (NULL if none). */
static const sfc_entity *entity_of(const sfc_ir *irs, size_t n_irs,
                                   const char *fn_typename, bool *ns_known) {
  const char *slash = strchr(fn_typename, '/');
  char ns[256];
  snprintf(ns, sizeof ns, "%.*s", (int)(slash - fn_typename), fn_typename);
  return sfc_call_entity(irs, n_irs, ns, slash + 1, ns_known);
}

static void route_error(sfc_call_route *out, unsigned status, json_t *body) {
  out->kind = SFC_ROUTE_ERROR;
  out->status = status;
  out->body = body;
}

/* "/<ns>/<Entity>/<key>" + "/<method>": an entity of the IRs, or an
 * unknown one of an IR's namespace. False when the prefix is no entity
 * path (perr says why, or is empty). */
static bool route_method(const sfc_ir *irs, size_t n_irs, const char *prefix,
                         const char *raw_method, sfc_call_route *out,
                         char *perr, size_t perr_len) {
  char *fn, *key;
  if (sfb_parse_address(prefix, &fn, &key, perr, perr_len) != 0) return false;
  perr[0] = '\0';
  bool ns_known = false;
  const sfc_entity *e = entity_of(irs, n_irs, fn, &ns_known);
  char *mname = e != NULL ? sfb_percent_decode_dup(raw_method,
                                                   strlen(raw_method), false)
                          : NULL;
  const sfc_method *m = mname != NULL ? sfc_entity_method(e, mname) : NULL;
  const char *slash = strchr(fn, '/');
  char names[512];
  bool routed = true;
  if (e != NULL && mname == NULL) {
    route_error(out, 400,
                sfc_call_error(NULL,
                               "bad percent-encoding in the method "
                               "name"));
  } else if (e != NULL && m == NULL) {
    sfc_call_method_names(e, names, sizeof names);
    route_error(out, 404,
                sfc_call_error(NULL,
                               "entity %s has no method '%s' (methods: "
                               "%s)",
                               fn, mname, names));
  } else if (e != NULL) {
    out->kind = SFC_ROUTE_CALL;
    out->fn_typename = fn;
    out->key = key;
    out->entity = e;
    out->method = m;
    fn = key = NULL;
  } else if (ns_known) {
    char ns[256];
    snprintf(ns, sizeof ns, "%.*s", (int)(slash - fn), fn);
    sfc_call_entity_names(irs, n_irs, ns, names, sizeof names);
    route_error(out, 404,
                sfc_call_error(NULL,
                               "no entity '%s' in the IR of namespace "
                               "%s (entities: %s)",
                               slash + 1, ns, names));
  } else {
    routed = false;
  }
  free(mname);
  free(fn);
  free(key);
  return routed;
}

void sfc_call_route_of(const sfc_ir *irs, size_t n_irs, const char *path,
                       sfc_call_route *out) {
  memset(out, 0, sizeof *out);
  out->kind = SFC_ROUTE_NONE;
  const char *last = strrchr(path, '/');
  char perr[512] = "";
  if (last != NULL && last != path) {
    char *prefix = strndup(path, (size_t)(last - path));
    bool routed = prefix != NULL && route_method(irs, n_irs, prefix, last + 1,
                                                 out, perr, sizeof perr);
    free(prefix);
    if (routed) return;
  }
  /* "/<ns>/<Entity>/<key>" without a method, or with an empty key */
  char *fn, *key;
  if (sfb_parse_address(path, &fn, &key, out->why, sizeof out->why) != 0)
    return;
  bool ns_known = false;
  const sfc_entity *e = entity_of(irs, n_irs, fn, &ns_known);
  if (e != NULL && strchr(key, '/') == NULL) {
    char names[512];
    sfc_call_method_names(e, names, sizeof names);
    route_error(out, 404,
                sfc_call_error(NULL,
                               "%s is an entity: POST /%s/%s/<method> with the "
                               "JSON arguments (methods: %s), or PUT a raw "
                               "message",
                               fn, fn, key, names));
  } else if (e != NULL) {
    route_error(
        out, 400,
        sfc_call_error(NULL, "an entity call is POST /%s/<key>/<method>: %s",
                       fn, perr[0] ? perr : "bad path"));
  } else {
    out->fn_typename = fn;
    fn = NULL;
  }
  free(fn);
  free(key);
}

void sfc_call_route_free(sfc_call_route *r) {
  free(r->fn_typename);
  free(r->key);
  json_decref(r->body);
  memset(r, 0, sizeof *r);
}
