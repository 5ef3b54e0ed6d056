/*
 * http.c - sf-gateway's HTTP front: POST /<ns>/<Entity>/<key>/<method>
 * with JSON arguments, answered as sf-local --ir answers it
 * (docs/sf-local-http.md, "Calling entities"; the bodies come from
 * ir_call.h, shared with sf-local), plus GET /health and GET /metrics.
 *
 * One libmicrohttpd polling thread serves every connection. A call's
 * connection is suspended once its Call is handed to Kafka, and the Kafka
 * thread resumes it with the answer ready (gw_answer): thousands of calls
 * can wait without a thread each.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "entities.pb-c.h"
#include "gateway.h"
#include "sfb/buf.h"
#include "sfb/listen.h"
#include "sfb/otlp.h"
#include "sfb/urlpart.h"

#define HTTP_TOO_LARGE 413 /* MHD renamed the constant across versions */
#define MAX_IDEMPOTENCY_KEY 256

/* One request: its body, and its wait once the Call is out. */
typedef struct gw_req {
  uint8_t *body;
  size_t len, cap;
  bool too_large;
  bool waiting; /* suspended; w.done says when the answer is there */
  gw_waiter w;
} gw_req;

/* ---- answers ------------------------------------------------------------ */

/* An answer, with a `traceparent` header when tp is a non-empty one. */
static enum MHD_Result send_text_tp(struct MHD_Connection *c, unsigned status,
                                    const char *ctype, const char *text,
                                    size_t n, const char *tp) {
  struct MHD_Response *r = MHD_create_response_from_buffer(
      n, (void *)text, MHD_RESPMEM_MUST_COPY);
  if (r == NULL) return MHD_NO;
  MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
  if (tp != NULL && tp[0] != '\0') MHD_add_response_header(r, "traceparent", tp);
  enum MHD_Result ret = MHD_queue_response(c, status, r);
  MHD_destroy_response(r);
  return ret;
}

static enum MHD_Result send_text(struct MHD_Connection *c, unsigned status,
                                 const char *ctype, const char *text,
                                 size_t n) {
  return send_text_tp(c, status, ctype, text, n, NULL);
}

/* The JSON text of an answer, one line; NULL when out of memory. */
static char *json_line(json_t *o) {
  char *s = o != NULL ? json_dumps(o, JSON_COMPACT) : NULL;
  json_decref(o);
  if (s == NULL) return NULL;
  size_t n = strlen(s);
  char *line = realloc(s, n + 2);
  if (line == NULL) {
    free(s);
    return NULL;
  }
  line[n] = '\n';
  line[n + 1] = '\0';
  return line;
}

/* Sends an answer line (taken; NULL: out of memory). */
static enum MHD_Result send_line_tp(struct MHD_Connection *c, unsigned status,
                                    char *line, const char *tp) {
  if (line == NULL) {
    static const char oom[] = "{\"error\":\"out of memory\"}\n";
    return send_text(c, 500, "application/json", oom, sizeof oom - 1);
  }
  enum MHD_Result r = send_text_tp(c, status, "application/json", line,
                                   strlen(line), tp);
  free(line);
  return r;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status,
                                 json_t *o) {
  return send_line_tp(c, status, json_line(o), NULL);
}

/* {"error":"..."}: the answers that are not an entity call's (413, 405). */
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status,
                                  const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  json_t *o = json_object();
  if (o != NULL) json_object_set_new(o, "error", json_string(msg));
  return send_json(c, status, o);
}

/* The answer line to a Reply's bytes for a method (malloc'd, NULL when
 * out of memory): 200/422/502 in *status; tp gets the Reply's trace
 * context as a traceparent ("" when it has none). A result in the
 * generated encoders' form is written as text at once
 * (sfc_call_answer_write); anything else, and every error, goes through
 * the JSON tree. */
static char *reply_answer(const sfc_method *m, const char *rid,
                          const uint8_t *p, size_t n, unsigned *status,
                          char tp[64]) {
  tp[0] = '\0';
  Statefun__Entities__Reply *rp = statefun__entities__reply__unpack(
      NULL, n, p ? p : (const uint8_t *)"");
  if (rp == NULL) {
    *status = 502;
    return json_line(sfc_call_error(rid,
                                    "the entity's Reply (%zu bytes) is not a "
                                    "statefun.entities/Reply",
                                    n));
  }
  char *line = NULL;
  sfb_buf b = {0};
  if (rp->ok &&
      sfc_call_answer_write(m, rid, rp->result.data, rp->result.len, &b) == 0) {
    sfb_buf_put(&b, "\n", 2); /* the line and its NUL */
    *status = 200;
    if (!b.oom) line = (char *)b.p;
    else sfb_buf_free(&b);
  } else {
    line = json_line(sfc_call_answer(m, rid, rp->ok, rp->error,
                                     rp->result.data, rp->result.len, status));
  }
  if (rp->trace_id[0] != '\0' && rp->span_id[0] != '\0')
    sfc_traceparent(rp->trace_id, rp->span_id, tp, 64);
  statefun__entities__reply__free_unpacked(rp, NULL);
  return line;
}

/* Hands the waiter its answer line (taken) and resumes its request. */
static void answer_line(gw *g, gw_waiter *w, unsigned status, char *line) {
  gw_table_unwait(&g->table, w);
  w->status = status;
  w->body = line;
  w->done = true;
  MHD_resume_connection(w->conn);
}

void gw_answer(gw *g, gw_waiter *w, unsigned status, json_t *body) {
  answer_line(g, w, status, json_line(body));
}

void gw_answer_reply(gw *g, gw_call *c) {
  while (c->waiters != NULL) {
    gw_waiter *w = c->waiters;
    unsigned status = 0;
    char *line = reply_answer(w->method, w->rid, c->reply, c->reply_len,
                              &status, w->traceparent);
    answer_line(g, w, status, line);
  }
}

/* ---- an entity call ----------------------------------------------------- */

static const char *header(struct MHD_Connection *c, const char *name) {
  return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static bool printable_ascii(const char *s) {
  for (; *s != '\0'; s++)
    if (*s < 0x20 || *s > 0x7E) return false;
  return true;
}

/* The call's options: request id (X-Request-Id or a new one), ?wait= and
 * X-Idempotency-Key. 0, or the 400 already answered in *ret. */
static int call_options(gw *g, struct MHD_Connection *c, gw_req *r,
                        const char **idem, enum MHD_Result *ret) {
  const char *hrid = header(c, "X-Request-Id");
  if (hrid != NULL && hrid[0] != '\0') {
    if (!sfc_call_request_id_ok(hrid)) {
      *ret = send_json(c, 400,
                       sfc_call_error(NULL,
                                      "X-Request-Id must be 1 to %d characters "
                                      "of [A-Za-z0-9._-]",
                                      SFC_CALL_MAX_REQUEST_ID));
      return -1;
    }
    snprintf(r->w.rid, sizeof r->w.rid, "%s", hrid);
  } else {
    sfc_call_request_id_new("sfg", r->w.rid, sizeof r->w.rid);
  }
  r->w.wait_ms = g->opt.timeout_ms;
  const char *w = MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "wait");
  if (w != NULL) {
    char *dw = sfb_percent_decode_dup(w, strlen(w), true);
    r->w.wait_ms = dw != NULL ? sfb_parse_wait(dw, g->opt.max_wait_ms) : -1;
    free(dw);
  }
  if (r->w.wait_ms < 0) {
    *ret = send_json(c, 400,
                     sfc_call_error(r->w.rid,
                                    "bad ?wait= (seconds, e.g. 5 or 0.5; at "
                                    "most %lld)",
                                    (long long)(g->opt.max_wait_ms / 1000)));
    return -1;
  }
  *idem = header(c, "X-Idempotency-Key");
  if (*idem != NULL && (*idem)[0] == '\0') *idem = NULL;
  if (*idem != NULL &&
      (strlen(*idem) > MAX_IDEMPOTENCY_KEY || !printable_ascii(*idem))) {
    *ret = send_json(c, 400,
                     sfc_call_error(r->w.rid,
                                    "X-Idempotency-Key must be 1 to %d "
                                    "printable ASCII characters",
                                    MAX_IDEMPOTENCY_KEY));
    return -1;
  }
  return 0;
}

/* With --trace-out: the call's own span (a child of the client's span
 * when its traceparent was taken), which the Call names as its parent. */
static void call_span_begin(struct MHD_Connection *c, gw_waiter *w, const gw_route *route,
                            const char *key, const char *trace_id, const char *client_span) {
  sfc_call_span_begin(&w->span, header(c, "traceparent"), trace_id, client_span);
  snprintf(w->trace_name, sizeof w->trace_name, GW_NAME " call %s.%s", route->fn_typename,
           w->method->name);
  snprintf(w->trace_key, sizeof w->trace_key, "%s", key);
  w->trace_topic = route->topic;
}

/* ... written once the call is answered (or not sent). */
static void call_span_end(gw *g, const gw_waiter *w, unsigned status) {
  if (w->span.span[0] == '\0' || g->trace_out == NULL) return;
  char code[16];
  snprintf(code, sizeof code, "%u", status);
  sfb_otlp_span sp = {w->span.trace_id, w->span.span, w->span.parent, w->trace_name,
                      SFB_SPAN_SERVER, w->span.start_ns, sfb_otlp_now_ns(), status >= 500,
                      {"statefun.key", "http.response.status_code", "statefun.request_id",
                       "messaging.destination.name"},
                      {w->trace_key, code, w->rid, w->trace_topic}};
  pthread_mutex_lock(&g->trace_mu);
  sfb_otlp_write(g->trace_out, GW_NAME, "statefun-c.sf-gateway", &sp);
  pthread_mutex_unlock(&g->trace_mu);
}

/* The Call envelope: an external call whose Reply goes to the replies
 * egress, on the replies topic, keyed by the request id. */
static uint8_t *pack_call(gw *g, struct MHD_Connection *c, gw_waiter *w,
                          const gw_route *route, const char *key, const uint8_t *argb,
                          size_t argn, size_t *n) {
  Statefun__Entities__Call call = STATEFUN__ENTITIES__CALL__INIT;
  const sfc_method *m = w->method;
  const char *rid = w->rid;
  /* docs/tracing.md: the client's trace context, or a new trace */
  char trace_id[SFC_TRACE_ID_LEN + 1], span_id[SFC_SPAN_ID_LEN + 1];
  sfc_trace_from_header(header(c, "traceparent"), trace_id, span_id);
  call.trace_id = trace_id;
  call.parent_span_id = span_id;
  if (g->trace_out != NULL) {
    call_span_begin(c, w, route, key, trace_id, span_id);
    call.parent_span_id = w->span.span;
  }
  call.method = (char *)m->name;
  call.args.data = (uint8_t *)argb;
  call.args.len = argn;
  call.call_id = call.request_id = (char *)rid;
  call.reply_egress = (char *)g->opt.reply_egress;
  call.reply_topic = (char *)g->opt.replies_topic;
  *n = statefun__entities__call__get_packed_size(&call);
  uint8_t *wire = malloc(*n ? *n : 1);
  if (wire != NULL) statefun__entities__call__pack(&call, wire);
  return wire;
}

/* Under the lock: the call of this request, sent now unless the request
 * id (a retry) or the idempotency key names one already sent. NULL when
 * it answered an error. */
static gw_call *find_or_send(gw *g, struct MHD_Connection *c, gw_req *r,
                             const gw_route *route, const char *key,
                             const uint8_t *argb, size_t argn, const char *idem,
                             enum MHD_Result *ret) {
  gw_call *call = idem != NULL ? gw_table_find_idem(&g->table, idem) : NULL;
  if (call != NULL) snprintf(r->w.rid, sizeof r->w.rid, "%s", call->rid);
  if (call == NULL) call = gw_table_find(&g->table, r->w.rid);
  if (call != NULL) return call;
  call = gw_table_add(&g->table, r->w.rid, idem,
                      gw_now_ms() + g->opt.remember_ms);
  size_t n = 0;
  uint8_t *wire = call != NULL
                      ? pack_call(g, c, &r->w, route, key, argb, argn, &n)
                      : NULL;
  char err[512] = "out of memory";
  if (wire == NULL || gw_kafka_send(g, route->topic, key, wire, n, r->w.rid,
                                    err, sizeof err) != 0) {
    if (call != NULL) gw_table_remove(&g->table, call);
    atomic_fetch_add(&g->n_errors, 1);
    call_span_end(g, &r->w, 503);
    *ret = send_json(c, 503,
                     sfc_call_error(r->w.rid,
                                    "the Call was not handed to "
                                    "Kafka (topic %s): %s; retry",
                                    route->topic, err));
    free(wire);
    return NULL;
  }
  free(wire);
  call->sent_us = gw_now_us();
  atomic_fetch_add(&g->n_calls, 1);
  return call;
}

/* POST /<ns>/<Entity>/<key>/<method>: checks, the Call to Kafka, then a
 * suspended wait for the Reply (or its Reply at once, if remembered). */
static enum MHD_Result entity_call(gw *g, struct MHD_Connection *c, gw_req *r,
                                   const gw_route *route, const char *key,
                                   const sfc_method *m) {
  enum MHD_Result ret;
  uint8_t *argb = NULL;
  size_t argn = 0;
  char err[1280];
  if (sfc_call_args(route->entity, m, r->body, r->len, &argb, &argn, err,
                    sizeof err) != 0)
    return send_json(c, 400, sfc_call_error(NULL, "%s", err));
  const char *idem;
  r->w.method = m;
  r->w.conn = c;
  if (call_options(g, c, r, &idem, &ret) != 0) {
    free(argb);
    return ret;
  }
  if (!atomic_load(&g->ready)) {
    free(argb);
    return send_json(c, 503,
                     sfc_call_error(r->w.rid,
                                    "not connected to Kafka yet (the replies "
                                    "topic %s is not assigned); nothing was "
                                    "sent, retry",
                                    g->opt.replies_topic));
  }
  pthread_mutex_lock(&g->table.mu);
  gw_call *call = find_or_send(g, c, r, route, key, argb, argn, idem, &ret);
  free(argb);
  if (call != NULL && call->replied) {
    unsigned status;
    char tp[64];
    char *line = reply_answer(m, r->w.rid, call->reply, call->reply_len,
                              &status, tp);
    pthread_mutex_unlock(&g->table.mu);
    return send_line_tp(c, status, line, tp);
  }
  if (call != NULL) {
    r->w.deadline_ms = gw_now_ms() + r->w.wait_ms;
    gw_table_wait(&g->table, call, &r->w);
    r->waiting = true;
    MHD_suspend_connection(c);
    ret = MHD_YES;
  }
  pthread_mutex_unlock(&g->table.mu);
  return ret;
}

/* Routes a POST by its path against the IRs (ir_call.h: the same routes
 * and answers as sf-local's). A path that is no entity address gets the
 * plain {"error": ...} sf-local's message send would give. */
static enum MHD_Result post(gw *g, struct MHD_Connection *c, const char *url,
                            gw_req *r) {
  /* sf-local sends a raw typed message for these; here there is none. */
  const char *ct = header(c, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct != NULL && strncasecmp(ct, "application/vnd.", 16) == 0)
    return send_error(c, 415,
                      GW_NAME
                      " takes entity calls with JSON arguments; a "
                      "raw typed message (Content-Type: %s) goes to the "
                      "function's Kafka ingress topic directly",
                      ct);
  sfc_call_route rt;
  sfc_call_route_of(g->irs, g->n_irs, url, &rt);
  const gw_route *route = NULL;
  enum MHD_Result ret;
  if (rt.kind == SFC_ROUTE_ERROR) {
    ret = send_json(c, rt.status, rt.body);
    rt.body = NULL; /* send_json took it */
  } else if (rt.kind == SFC_ROUTE_NONE && rt.why[0] != '\0') {
    ret = send_error(c, 400, "%s", rt.why);
  } else if (rt.kind == SFC_ROUTE_NONE) {
    ret = send_error(c, 404,
                     "no entity %s: its namespace is in none of the "
                     "gateway's --ir files",
                     rt.fn_typename);
  } else if ((route = gw_route_of(g, rt.fn_typename)) == NULL) {
    ret = send_error(c, 404, "no topic serves %s", rt.fn_typename);
  } else {
    ret = entity_call(g, c, r, route, rt.key, rt.method);
  }
  sfc_call_route_free(&rt);
  return ret;
}

/* ---- GET: health and metrics ------------------------------------------- */

/* Appends to a fixed buffer, truncating (the text is small and known). */
static void add(char *buf, size_t n, size_t *o, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void add(char *buf, size_t n, size_t *o, const char *fmt, ...) {
  if (*o >= n) return;
  va_list ap;
  va_start(ap, fmt);
  int w = vsnprintf(buf + *o, n - *o, fmt, ap);
  va_end(ap);
  if (w > 0) *o += (size_t)w;
  if (*o > n) *o = n;
}

/* Prometheus text, version 0.0.4. */
static enum MHD_Result metrics(gw *g, struct MHD_Connection *c) {
  pthread_mutex_lock(&g->table.mu);
  size_t waiting = g->table.n_waiting, known = g->table.n_calls;
  pthread_mutex_unlock(&g->table.mu);
  const struct {
    const char *name;
    atomic_uint_fast64_t *v;
  } counters[] = {{"calls", &g->n_calls},
                  {"replies", &g->n_replies},
                  {"timeouts", &g->n_timeouts},
                  {"kafka_errors", &g->n_errors}};
  char t[4096];
  size_t o = 0;
  for (size_t i = 0; i < sizeof counters / sizeof *counters; i++)
    add(t, sizeof t, &o,
        "# TYPE sf_gateway_%s_total counter\nsf_gateway_%s_total %llu\n",
        counters[i].name, counters[i].name,
        (unsigned long long)atomic_load(counters[i].v));
  add(t, sizeof t, &o,
      "# TYPE sf_gateway_waiting gauge\nsf_gateway_waiting %zu\n"
      "# TYPE sf_gateway_remembered_calls gauge\n"
      "sf_gateway_remembered_calls %zu\n"
      "# HELP sf_gateway_roundtrip_seconds Call produced to Reply consumed\n"
      "# TYPE sf_gateway_roundtrip_seconds histogram\n",
      waiting, known);
  unsigned long long cum = 0;
  for (size_t b = 0; b <= GW_RT_BUCKETS; b++) {
    cum += (unsigned long long)atomic_load(&g->rt_bucket[b]);
    if (b < GW_RT_BUCKETS)
      add(t, sizeof t, &o,
          "sf_gateway_roundtrip_seconds_bucket{le=\"%g\"} %llu\n",
          gw_rt_bounds_ms[b] / 1000.0, cum);
    else
      add(t, sizeof t, &o,
          "sf_gateway_roundtrip_seconds_bucket{le=\"+Inf\"} %llu\n", cum);
  }
  add(t, sizeof t, &o,
      "sf_gateway_roundtrip_seconds_sum %.6f\n"
      "sf_gateway_roundtrip_seconds_count %llu\n",
      (double)atomic_load(&g->rt_sum_us) / 1e6, cum);
  return send_text(c, 200, "text/plain; version=0.0.4", t, o);
}

static enum MHD_Result get(gw *g, struct MHD_Connection *c, const char *url) {
  if (strcmp(url, "/health") == 0) {
    bool ok = !atomic_load(&g->stopping) && atomic_load(&g->ready);
    const char *b = atomic_load(&g->stopping) ? "{\"status\":\"stopping\"}\n"
                    : ok                      ? "{\"status\":\"ok\"}\n"
                         : "{\"status\":\"connecting to Kafka\"}\n";
    return send_text(c, ok ? 200 : 503, "application/json", b, strlen(b));
  }
  if (strcmp(url, "/metrics") == 0) return metrics(g, c);
  return send_error(c, 405,
                    GW_NAME
                    " answers POST /<namespace>/<Entity>/<key>/"
                    "<method> (entity calls), GET /health and GET /metrics");
}

/* ---- libmicrohttpd ------------------------------------------------------ */

static enum MHD_Result on_access(void *cls, struct MHD_Connection *c,
                                 const char *url, const char *method,
                                 const char *version, const char *upload,
                                 size_t *upload_size, void **con_cls) {
  gw *g = cls;
  gw_req *r = *con_cls;
  bool is_post = strcmp(method, "POST") == 0;
  if (r == NULL) {
    r = calloc(1, sizeof *r);
    if (r == NULL) return MHD_NO;
    *con_cls = r;
    const char *cl = header(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (is_post && cl != NULL) {
      char *end = NULL;
      errno = 0;
      unsigned long long n = strtoull(cl, &end, 10);
      /* Answering before the body arrives makes MHD close the
       * connection instead of reading it. */
      if (errno != 0 || end == cl || n > g->opt.max_body)
        return send_error(c, HTTP_TOO_LARGE, "body larger than %zu bytes",
                          g->opt.max_body);
    }
    return MHD_YES;
  }
  if (*upload_size != 0) {
    size_t n = *upload_size;
    *upload_size = 0;
    if (r->too_large || n > g->opt.max_body - r->len) {
      r->too_large = true; /* a chunked body over the limit: drain, 413 */
      return MHD_YES;
    }
    if (r->len + n > r->cap) {
      size_t nc = r->cap ? r->cap * 2 : 4096;
      while (nc < r->len + n) nc *= 2;
      uint8_t *nb = realloc(r->body, nc);
      if (nb == NULL) return MHD_NO;
      r->body = nb;
      r->cap = nc;
    }
    memcpy(r->body + r->len, upload, n);
    r->len += n;
    return MHD_YES;
  }
  if (r->waiting) { /* resumed: the answer is there */
    call_span_end(g, &r->w, r->w.status);
    const char *b = r->w.body;
    if (b == NULL) return send_error(c, 500, "out of memory");
    return send_text_tp(c, r->w.status, "application/json", b, strlen(b),
                        r->w.traceparent);
  }
  if (r->too_large)
    return send_error(c, HTTP_TOO_LARGE, "body larger than %zu bytes",
                      g->opt.max_body);
  if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0)
    return get(g, c, url);
  if (!is_post)
    return send_error(c, 405, "method %s: an entity call is POST", method);
  if (atomic_load(&g->stopping))
    return send_json(c, 503, sfc_call_error(NULL, GW_NAME " is stopping"));
  return post(g, c, url, r);
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe) {
  gw *g = cls;
  gw_req *r = *con_cls;
  if (r == NULL) return;
  if (r->waiting && !r->w.done) { /* only at shutdown */
    pthread_mutex_lock(&g->table.mu);
    gw_table_unwait(&g->table, &r->w);
    pthread_mutex_unlock(&g->table.mu);
  }
  free(r->w.body);
  free(r->body);
  free(r);
  *con_cls = NULL;
}

/* Keeps "%2F" as it is: the path is decoded part by part. */
static size_t no_unescape(void *cls, struct MHD_Connection *c, char *s) {
  return strlen(s);
}

static void mhd_log(void *cls, const char *fmt, va_list ap) {
  gw *g = cls;
  if (!g->opt.verbose) return;
  fputs(GW_NAME ": http: ", stderr);
  vfprintf(stderr, fmt, ap);
}

int gw_http_start(gw *g) {
  char host[256];
  const char *colon = strrchr(g->opt.listen, ':');
  char *end = NULL;
  long port = colon != NULL ? strtol(colon + 1, &end, 10) : -1;
  if (colon == NULL || end == colon + 1 || *end != '\0' || port < 0 ||
      port > 65535 || (size_t)(colon - g->opt.listen) >= sizeof host) {
    fprintf(stderr, GW_NAME ": --listen %s: expected HOST:PORT\n",
            g->opt.listen);
    return -1;
  }
  snprintf(host, sizeof host, "%.*s", (int)(colon - g->opt.listen),
           g->opt.listen);
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  sfb_listener l;
  if (sfb_listen_tcp(host, (uint16_t)port, &l) != 0) {
    fprintf(stderr, GW_NAME ": --listen %s: %s\n", g->opt.listen,
            sfb_listen_strerror(&l));
    return -1;
  }
  g->port = l.port;
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
                   MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
  if (l.ipv6) flags |= MHD_USE_IPv6;
  g->daemon = MHD_start_daemon(
      flags, 0, NULL, NULL, on_access, g, MHD_OPTION_EXTERNAL_LOGGER, mhd_log,
      g, /* must come first */
      MHD_OPTION_LISTEN_SOCKET, (MHD_socket)l.fd, MHD_OPTION_UNESCAPE_CALLBACK,
      no_unescape, NULL, MHD_OPTION_NOTIFY_COMPLETED, on_completed, g,
      MHD_OPTION_CONNECTION_LIMIT, (unsigned int)4096,
      MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)120, MHD_OPTION_END);
  if (g->daemon == NULL) {
    fprintf(stderr, GW_NAME ": cannot start the HTTP server on %s\n",
            g->opt.listen);
    return -1;
  }
  return 0;
}

void gw_http_stop(gw *g) {
  if (g->daemon != NULL) MHD_stop_daemon(g->daemon);
  g->daemon = NULL;
}
