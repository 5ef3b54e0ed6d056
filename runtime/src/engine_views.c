/*
 * engine_views.c - what sf-local shows of its engine: the view of one
 * address (mailbox, state values as JSON), /metrics in Prometheus' text
 * format and the summary at the ingress root.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sfb/base64.h"

static json_t *value_json(const char *tn, const uint8_t *v, size_t len) {
  json_t *o = json_object();
  json_object_set_new(o, "typename", json_string(tn));
  char *b64 = sfb_base64_encode(v, len);
  json_object_set_new(o, "base64", json_string(b64 ? b64 : ""));
  free(b64);
  json_t *dec = NULL;
  if (strcmp(tn, SF_TYPENAME_INT) == 0) {
    int32_t x;
    if (sf_decode_int(v, len, &x) == SF_OK) dec = json_integer(x);
  } else if (strcmp(tn, SF_TYPENAME_LONG) == 0) {
    int64_t x;
    if (sf_decode_long(v, len, &x) == SF_OK) dec = json_integer(x);
  } else if (strcmp(tn, SF_TYPENAME_BOOL) == 0) {
    bool x;
    if (sf_decode_bool(v, len, &x) == SF_OK) dec = json_boolean(x);
  } else if (strcmp(tn, SF_TYPENAME_FLOAT) == 0) {
    float x;
    if (sf_decode_float(v, len, &x) == SF_OK) dec = json_real(x);
  } else if (strcmp(tn, SF_TYPENAME_DOUBLE) == 0) {
    double x;
    if (sf_decode_double(v, len, &x) == SF_OK) dec = json_real(x);
  } else if (strcmp(tn, SF_TYPENAME_STRING) == 0) {
    const char *s;
    size_t n;
    if (sf_decode_string(v, len, &s, &n) == SF_OK) dec = json_stringn(s, n);
  } else if (strncmp(tn, "io.statefun.types/", 18) != 0 && len > 0 && sf_utf8_valid(v, len)) {
    /* A user type whose bytes are JSON text (SF_TYPE_JSON, the
     * playground's JSON types): shown as that JSON. Protobuf and other
     * binary values are not UTF-8 JSON text, and stay base64 only. */
    dec = json_loadb((const char *)v, len, JSON_DECODE_ANY, NULL);
  }
  if (dec) json_object_set_new(o, "value", dec);
  return o;
}

json_t *eng_message_json(const msg *m) {
  Io__Statefun__Sdk__Reqreply__ToFunction__Invocation *inv =
      (Io__Statefun__Sdk__Reqreply__ToFunction__Invocation *)protobuf_c_message_unpack(
          &io__statefun__sdk__reqreply__to_function__invocation__descriptor, NULL, m->len, m->inv);
  json_t *j = inv && inv->argument
                  ? value_json(inv->argument->typename_, inv->argument->value.data,
                               inv->argument->value.len)
                  : json_object();
  json_object_set_new(j, "seq", json_integer((json_int_t)m->seq));
  if (inv && inv->caller)
    json_object_set_new(j, "caller", json_pack("s+s+s", inv->caller->namespace_, "/",
                                               inv->caller->type));
  if (inv) protobuf_c_message_free_unpacked(&inv->base, NULL);
  return j;
}

char *sfl_engine_describe_address(sfl_engine *e, const char *fn_typename, const char *id) {
  char *key = sfl_strjoin(fn_typename, '/', id);
  if (!key) return NULL;
  pthread_mutex_lock(&e->mu);
  addr *a = sfl_map_get(&e->addrs, key);
  free(key);
  if (!a) {
    pthread_mutex_unlock(&e->mu);
    return NULL;
  }
  json_t *o = json_object();
  json_object_set_new(o, "address", json_string(a->key));
  json_t *st = json_object();
  int64_t now = sfl_now_ms();
  for (state_val *s = a->state; s; s = s->next) {
    if (s->expire_at && now >= s->expire_at) continue;
    json_t *v = value_json(s->typename, s->value, s->len);
    if (s->expire_at) json_object_set_new(v, "expires_in_ms", json_integer(s->expire_at - now));
    json_object_set_new(st, s->name, v);
  }
  json_object_set_new(o, "state", st);
  json_t *mb = json_array();
  size_t n = 0;
  for (msg *m = a->head; m && n < 100; m = m->next, n++)
    json_array_append_new(mb, eng_message_json(m));
  json_object_set_new(o, "mailbox", mb);
  json_object_set_new(o, "queued", json_integer((json_int_t)a->queued));
  json_object_set_new(o, "in_flight", json_integer((json_int_t)a->inflight));
  json_object_set_new(o, "batches", json_integer((json_int_t)a->batches));
  json_object_set_new(o, "failures", json_integer((json_int_t)a->failures));
  if (a->last_error[0]) json_object_set_new(o, "last_error", json_string(a->last_error));
  pthread_mutex_unlock(&e->mu);
  char *s = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS);
  json_decref(o);
  return s;
}

char *sfl_engine_metrics(sfl_engine *e) {
  pthread_mutex_lock(&e->mu);
  char *s = sfl_strfmt(
      "# HELP sflocal_ingress_messages_total Messages accepted from the ingress.\n"
      "# TYPE sflocal_ingress_messages_total counter\nsflocal_ingress_messages_total %llu\n"
      "# HELP sflocal_invocations_total Invocations answered by functions.\n"
      "# TYPE sflocal_invocations_total counter\nsflocal_invocations_total %llu\n"
      "# TYPE sflocal_batches_total counter\nsflocal_batches_total %llu\n"
      "# HELP sflocal_batch_size_max Largest batch sent.\n"
      "# TYPE sflocal_batch_size_max gauge\nsflocal_batch_size_max %llu\n"
      "# TYPE sflocal_retries_total counter\nsflocal_retries_total %llu\n"
      "# TYPE sflocal_failed_batches_total counter\nsflocal_failed_batches_total %llu\n"
      "# TYPE sflocal_missing_state_total counter\nsflocal_missing_state_total %llu\n"
      "# TYPE sflocal_routed_messages_total counter\nsflocal_routed_messages_total %llu\n"
      "# TYPE sflocal_delayed_fired_total counter\nsflocal_delayed_fired_total %llu\n"
      "# TYPE sflocal_egress_records_total counter\nsflocal_egress_records_total %llu\n"
      "# TYPE sflocal_messages_per_second gauge\nsflocal_messages_per_second %.1f\n"
      "# TYPE sflocal_in_flight gauge\nsflocal_in_flight %zu\n"
      "# TYPE sflocal_queued gauge\nsflocal_queued %zu\n"
      "# TYPE sflocal_delayed_pending gauge\nsflocal_delayed_pending %zu\n"
      "# TYPE sflocal_egress_unread gauge\nsflocal_egress_unread %zu\n"
      "# TYPE sflocal_addresses gauge\nsflocal_addresses %zu\n",
      (unsigned long long)e->c_ingress, (unsigned long long)e->c_invocations,
      (unsigned long long)e->c_batches, (unsigned long long)e->c_max_batch,
      (unsigned long long)e->c_retries, (unsigned long long)e->c_final_failures,
      (unsigned long long)e->c_missing_state, (unsigned long long)e->c_routed,
      (unsigned long long)e->c_delayed_fired, (unsigned long long)e->c_egress, e->rate,
      e->inflight, e->queued, e->n_heap - e->n_cancelled, e->n_records, e->addrs.n);
  pthread_mutex_unlock(&e->mu);
  return s;
}

char *sfl_engine_summary(sfl_engine *e) {
  pthread_mutex_lock(&e->mu);
  json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:f,s:b}", "addresses",
                        (json_int_t)e->addrs.n, "queued", (json_int_t)e->queued, "in_flight",
                        (json_int_t)e->inflight, "delayed", (json_int_t)(e->n_heap - e->n_cancelled),
                        "egress_unread", (json_int_t)e->n_records, "invocations",
                        (json_int_t)e->c_invocations, "batches", (json_int_t)e->c_batches,
                        "failed_batches", (json_int_t)e->c_final_failures, "messages_per_second",
                        e->rate, "durable", e->store != NULL);
  pthread_mutex_unlock(&e->mu);
  char *s = json_dumps(o, JSON_INDENT(2));
  json_decref(o);
  return s;
}
