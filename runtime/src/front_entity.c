/*
 * front_entity.c - entity calls through sf-local's ingress (--ir):
 * POST /<ns>/<Entity>/<key>/<method> with JSON arguments sends a
 * statefun.entities Call (the generated codec of proto/entities.proto) and
 * answers with the Reply from the reply egress, decoded as JSON (the
 * trace context of a `traceparent` header goes into the Call and comes
 * back from the Reply as one, docs/tracing.md; with --trace-out the call
 * is a span of sf-local's, the Call's parent); GET of an
 * entity's address adds its decoded state fields to the view.
 */
#include "front_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <statefun/statefun.h>

#include "entities.pb-c.h"
#include "ir_call.h"
#include "ir_json.h"
#include "sfb/buf.h"
#include "trace_spans.h"
#include "util.h"

#define MAX_REQUEST_ID SFC_CALL_MAX_REQUEST_ID

/* The IR entity of "ns/Entity" (NULL if none); *ns_known whether some IR
 * has that namespace. */
static const sfc_entity *ir_entity(const sfl_front *f, const char *fn_typename,
                                   bool *ns_known) {
  *ns_known = false;
  const char *slash = strchr(fn_typename, '/');
  if (slash == NULL) return NULL;
  char *ns = strndup(fn_typename, (size_t)(slash - fn_typename));
  if (ns == NULL) return NULL;
  const sfc_entity *e = sfc_call_entity(f->irs, f->n_irs, ns, slash + 1,
                                        ns_known);
  free(ns);
  return e;
}

/* Answers {"ok":false,"error":msg,"request_id":rid} (rid may be NULL). */
static enum MHD_Result send_call_error(exchange *x, unsigned code,
                                       const char *rid, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static enum MHD_Result send_call_error(exchange *x, unsigned code,
                                       const char *rid, const char *fmt, ...) {
  char msg[1536];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return front_send_json(x, code, sfc_call_error(rid, "%s", msg), NULL);
}

/* The method's Args record from the body, a JSON object of the arguments
 * (a blank body = none). False when it answered an error. */
static bool call_args(exchange *x, request *r, const sfc_entity *ent,
                      const sfc_method *m, uint8_t **argb, size_t *argn,
                      enum MHD_Result *ret) {
  char err[1536] = "";
  if (sfc_call_args(ent, m, r->body, r->len, argb, argn, err, sizeof err) == 0)
    return true;
  *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL, "%s", err);
  return false;
}

/* The call's options from the request: its id (X-Request-Id or a new
 * one; it names the Reply's topic), ?wait= and the idempotency key.
 * False when it answered an error. */
static bool call_options(exchange *x, char rid[MAX_REQUEST_ID + 1],
                         int64_t *wait_ms, const char **idem,
                         enum MHD_Result *ret) {
  const char *hrid = front_header(x, "X-Request-Id");
  if (hrid != NULL && hrid[0] != '\0') {
    if (!sfc_call_request_id_ok(hrid)) {
      *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, NULL,
                             "X-Request-Id must be 1 to %d characters of "
                             "[A-Za-z0-9._-]",
                             MAX_REQUEST_ID);
      return false;
    }
    snprintf(rid, MAX_REQUEST_ID + 1, "%s", hrid);
  } else {
    sfc_call_request_id_new("sfl", rid, MAX_REQUEST_ID + 1);
  }
  *wait_ms = SFC_CALL_DEFAULT_WAIT_MS;
  bool bad = false;
  char *w = front_query_arg(x, "wait", &bad);
  if (w != NULL) *wait_ms = sfl_front_parse_wait(w, x->f->max_poll_ms);
  free(w);
  if (bad || *wait_ms < 0) {
    *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, rid,
                           "bad ?wait= (seconds, e.g. 5 or 0.5; at most %lld)",
                           (long long)(x->f->max_poll_ms / 1000));
    return false;
  }
  char err[512];
  if (front_idempotency_key(x, idem, err, sizeof err) != 0) {
    *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, rid, "%s", err);
    return false;
  }
  return true;
}

/* While tracing, the call's own span (sfc_call_span_begin: a child of
 * the client's span, the Call's parent), written when it is answered. */
static void call_span_end(exchange *x, const request *r, unsigned status) {
  if (r->span.span[0] == '\0') return;
  char name[512], code[16];
  snprintf(name, sizeof name, "sf-local POST %s", x->url);
  snprintf(code, sizeof code, "%u", status);
  sfb_otlp_span sp = {r->span.trace_id, r->span.span, r->span.parent, name, SFB_SPAN_SERVER,
                      r->span.start_ns, sfb_otlp_now_ns(), status >= 500,
                      {"http.request.method", "url.path", "http.response.status_code",
                       "statefun.request_id"},
                      {"POST", x->url, code, r->rid}};
  sflt_write(&sp);
}

/* Sends the Call envelope (the generated codec of proto/entities.proto)
 * to the entity: an external call, its Reply to the reply egress under
 * topic `rid`. False when it answered an error. */
static bool call_send(exchange *x, request *r, const sfl_front_address *a,
                      const sfc_method *m, uint8_t *argb, size_t argn,
                      const char *rid, const char *idem, uint64_t *gen,
                      enum MHD_Result *ret) {
  Statefun__Entities__Call call = STATEFUN__ENTITIES__CALL__INIT;
  char trace_id[SFC_TRACE_ID_LEN + 1], span_id[SFC_SPAN_ID_LEN + 1];
  sfc_trace_from_header(front_header(x, "traceparent"), trace_id, span_id);
  call.trace_id = trace_id;
  call.parent_span_id = span_id;
  if (sflt_out != NULL) {
    sfc_call_span_begin(&r->span, front_header(x, "traceparent"), trace_id, span_id);
    call.parent_span_id = r->span.span;
  }
  call.method = (char *)m->name;
  call.args.data = argb;
  call.args.len = argn;
  call.call_id = call.request_id = call.reply_topic = (char *)rid;
  call.reply_egress = (char *)SFL_REPLY_EGRESS;
  size_t n = statefun__entities__call__get_packed_size(&call);
  uint8_t *wire = malloc(n ? n : 1);
  if (wire == NULL) {
    *ret = send_call_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, rid,
                           "out of memory");
    return false;
  }
  statefun__entities__call__pack(&call, wire);
  char err[1024] = "";
  sfl_result res = sfl_engine_send_nb(x->f->engine, a->fn_typename, a->id,
                                      SFC_CALL_TYPENAME, wire, n, idem, gen,
                                      err, sizeof err);
  free(wire);
  if (res == SFL_ERR_BUSY && front_park(x, r, x->f->send_wait_ms)) {
    *ret = MHD_YES; /* routed again when the backlog has room */
    return false;
  }
  switch (res) {
    case SFL_OK:
    case SFL_DUPLICATE: return true;
    case SFL_ERR_NO_FUNCTION:
      *ret = send_call_error(x, MHD_HTTP_NOT_FOUND, rid,
                             "no endpoint in module.yaml serves %s%s%s",
                             a->fn_typename, err[0] ? ": " : "", err);
      return false;
    case SFL_ERR_BUSY: {
      static const char *const h[] = {"Retry-After", "1", NULL};
      *ret = front_send_error_h(x, MHD_HTTP_SERVICE_UNAVAILABLE, h, "%s", err);
      return false;
    }
    case SFL_ERR_BAD_REQUEST:
      *ret = send_call_error(x, MHD_HTTP_BAD_REQUEST, rid, "%s", err);
      return false;
    case SFL_ERR_TOO_LARGE:
      *ret = send_call_error(x, HTTP_TOO_LARGE, rid, "%s", err);
      return false;
    default:
      *ret = send_call_error(x, MHD_HTTP_INTERNAL_SERVER_ERROR, rid,
                             "the call was not accepted: %s", err);
      return false;
  }
}

/* Answers with the entity's Reply record `rec`: the result as JSON, the
 * method's error (422), or why the Reply does not decode (502). */
static enum MHD_Result call_answer(exchange *x, const request *r, const sfc_method *m,
                                   const char *rid, const sfl_record *rec) {
  Statefun__Entities__Reply *rp = statefun__entities__reply__unpack(
      NULL, rec->len, rec->value ? rec->value : (const uint8_t *)"");
  if (rp == NULL) call_span_end(x, r, MHD_HTTP_BAD_GATEWAY);
  if (rp == NULL)
    return send_call_error(x, MHD_HTTP_BAD_GATEWAY, rid,
                           "the entity's Reply (%zu bytes, type %s) is not a "
                           "statefun.entities/Reply",
                           rec->len, rec->typename);
  /* The Reply's trace context: the trace id that went in, the span of
   * the entity instance that answered. */
  char tp[64];
  const char *h[] = {"traceparent", tp, NULL};
  bool traced = rp->trace_id[0] != '\0' && rp->span_id[0] != '\0';
  if (traced) sfc_traceparent(rp->trace_id, rp->span_id, tp, sizeof tp);
  traced = traced && front_header_safe(tp);
  /* A result in the generated encoders' form is written as text at
   * once; anything else (and every error) goes through the JSON tree. */
  sfb_buf text = {0};
  enum MHD_Result ret;
  if (rp->ok && sfc_call_answer_write(m, rid, rp->result.data, rp->result.len,
                                      &text) == 0) {
    sfb_buf_put(&text, "\n", 1);
    call_span_end(x, r, MHD_HTTP_OK);
    ret = text.oom ? MHD_NO
                   : front_send(x, MHD_HTTP_OK, "application/json", text.p,
                                text.len, traced ? h : NULL);
  } else {
    unsigned status = 0;
    json_t *o = sfc_call_answer(m, rid, rp->ok, rp->error, rp->result.data,
                                rp->result.len, &status);
    call_span_end(x, r, status);
    ret = front_send_json(x, status, o, traced ? h : NULL);
  }
  sfb_buf_free(&text);
  statefun__entities__reply__free_unpacked(rp, NULL);
  return ret;
}

/* A sent call goes on here: its Call durable (with --data), then its
 * Reply popped, the request parked in between; a 504 when the wait is
 * over. */
static enum MHD_Result call_resume(exchange *x, request *r) {
  const sfc_method *m = r->method;
  const char *rid = r->rid;
  if (r->commit_gen != 0) {
    int st = sfl_engine_commit_state(x->f->engine, r->commit_gen);
    if (st == 0 && front_park(x, r, r->call_wait_ms)) return MHD_YES;
    if (st != 1) call_span_end(x, r, MHD_HTTP_SERVICE_UNAVAILABLE);
    if (st != 1)
      return send_call_error(x, MHD_HTTP_SERVICE_UNAVAILABLE, rid,
                             "durable store: the call was not committed (%s)",
                             st < 0 ? "commit failed or sf-local is stopping"
                                    : "no commit in time");
    r->commit_gen = 0;
    r->park_deadline = 0;
  }
  sfl_record rec;
  memset(&rec, 0, sizeof rec);
  if (sfl_engine_egress_pop(x->f->engine, SFL_REPLY_EGRESS, rid, 0, &rec) ==
      SFL_OK) {
    enum MHD_Result ret = call_answer(x, r, m, rid, &rec);
    sfl_record_free(&rec);
    return ret;
  }
  int64_t left = r->call_deadline - sfl_mono_ms();
  if (left > 0 && front_park_reply(x, r, left)) return MHD_YES;
  char where[3 * MAX_REQUEST_ID + 128];
  snprintf(where, sizeof where,
           "its Reply will be on egress %s, topic %s (GET "
           "http://<egress>/egress/%s/%s)",
           SFL_REPLY_EGRESS, rid, SFL_REPLY_EGRESS, rid);
  call_span_end(x, r, MHD_HTTP_GATEWAY_TIMEOUT);
  return front_send_json(x, MHD_HTTP_GATEWAY_TIMEOUT,
                         sfc_call_timeout(rid, r->call_wait_ms, where), NULL);
}

/* POST /<ns>/<Entity>/<key>/<method> of a method the route found
 * (sfc_call_route_of): the arguments and options, the Call sent, then a
 * wait for its Reply on the reply egress. */
static enum MHD_Result entity_call(exchange *x, request *r,
                                   const sfl_front_address *a,
                                   const sfc_entity *ent, const sfc_method *m) {
  enum MHD_Result ret = MHD_NO;
  uint8_t *argb = NULL;
  size_t argn = 0;
  char rid[MAX_REQUEST_ID + 1];
  int64_t wait_ms;
  const char *idem;
  uint64_t gen = 0;
  if (call_args(x, r, ent, m, &argb, &argn, &ret) &&
      call_options(x, rid, &wait_ms, &idem, &ret) &&
      call_send(x, r, a, m, argb, argn, rid, idem, &gen, &ret)) {
    /* Sent: from here on the request waits for its Reply (parked). */
    r->method = m;
    snprintf(r->rid, sizeof r->rid, "%s", rid);
    r->call_wait_ms = wait_ms;
    r->call_deadline = sfl_mono_ms() + wait_ms;
    r->commit_gen = gen;
    r->park_deadline = 0;
    r->resume = call_resume;
    ret = call_resume(x, r);
  }
  free(argb);
  return ret;
}

/* Routes a POST whose address may name an IR entity (sfc_call_route_of,
 * the route sf-gateway takes too). Returns true when it answered (an
 * entity call or an entity error), false to fall through to the plain
 * send. */
bool front_entity_post(exchange *x, request *r, enum MHD_Result *ret) {
  sfl_front *f = x->f;
  if (f->n_irs == 0) return false;
  /* A raw typed message (playground style) stays a plain send. */
  const char *ct = front_header(x, MHD_HTTP_HEADER_CONTENT_TYPE);
  if (ct != NULL && strncasecmp(ct, "application/vnd.", 16) == 0) return false;
  sfc_call_route rt;
  sfc_call_route_of(f->irs, f->n_irs, x->url, &rt);
  bool answered = true;
  if (rt.kind == SFC_ROUTE_ERROR) {
    *ret = front_send_json(x, rt.status, rt.body, NULL);
    rt.body = NULL; /* front_send_json took it */
  } else if (rt.kind == SFC_ROUTE_CALL) {
    sfl_front_address a = {rt.fn_typename, rt.key};
    *ret = entity_call(x, r, &a, rt.entity, rt.method);
  } else {
    answered = false;
  }
  sfc_call_route_free(&rt);
  return answered;
}

/* Adds "fields" (the IR's state fields, decoded) to an address view. */
char *front_entity_fields(sfl_front *f, const char *fn_typename, char *view) {
  bool ns_known = false;
  const sfc_entity *e = ir_entity(f, fn_typename, &ns_known);
  if (e == NULL) return view;
  json_t *o = json_loads(view, 0, NULL);
  if (!json_is_object(o)) {
    json_decref(o);
    return view;
  }
  json_t *st = json_object_get(o, "state");
  json_t *fields = json_object();
  for (size_t i = 0; fields != NULL && i < e->n_state; i++) {
    const sfc_field *sf = &e->state[i];
    json_t *v = json_object_get(st, sf->name);
    json_t *dec = NULL;
    if (v == NULL) {
      /* never written: the default */
      dec = sf->default_json != NULL
                ? json_loads(sf->default_json, JSON_DECODE_ANY, NULL)
                : sfc_json_zero(sf->type);
    } else if (json_object_get(v, "value") != NULL) {
      dec = json_incref(json_object_get(v, "value"));
    } else {
      const char *b64 = json_string_value(json_object_get(v, "base64"));
      uint8_t *bytes = NULL;
      size_t n = 0;
      char err[512];
      if (b64 != NULL && sfc_base64_decode(b64, strlen(b64), &bytes, &n) == 0) {
        dec = sfc_json_decode_state(sf->type, bytes, n, err, sizeof err);
        if (dec == NULL) {
          dec = json_object();
          if (dec != NULL)
            json_object_set_new(dec, "undecodable", json_string(err));
        }
      }
      free(bytes);
    }
    if (dec != NULL) json_object_set_new(fields, sf->name, dec);
  }
  if (fields != NULL) json_object_set_new(o, "fields", fields);
  char *s = json_dumps(o, JSON_COMPACT);
  json_decref(o);
  if (s == NULL) return view;
  free(view);
  return s;
}
