/*
 * engine_egress.c - egress records: what each kind of egress accepts (a
 * Kafka egress KafkaProducerRecords, a Kinesis egress KinesisEgressRecords,
 * the playground egress EgressRecords, the reply egress anything), decoded
 * as Flink's serializers would, and kept per topic for the front to pop.
 */
#define _GNU_SOURCE
#include "engine_impl.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A record's notification held back until its transaction is synced (a
 * Reply's waiter looks for its topic when woken, and the record is not
 * readable before). */
struct pending_note {
  char *egress_id, *topic;
  uint64_t gen;
};

static void notify_record(sfl_engine *e, const record *rec) {
  if (!e->on_change) return;
  if (!e->store || rec->gen <= e->committed_gen) {
    e->on_change(e->on_change_ctx, rec->r.egress_id, rec->r.topic);
    return;
  }
  if (e->n_notes == e->cap_notes) {
    size_t cap = e->cap_notes ? 2 * e->cap_notes : 16;
    struct pending_note *n = realloc(e->notes, cap * sizeof *n);
    if (!n) return; /* the waiter finds it at its deadline or next change */
    e->notes = n;
    e->cap_notes = cap;
  }
  struct pending_note *n = &e->notes[e->n_notes];
  n->egress_id = strdup(rec->r.egress_id);
  n->topic = strdup(rec->r.topic);
  n->gen = rec->gen;
  if (n->egress_id && n->topic) {
    e->n_notes++;
  } else {
    free(n->egress_id);
    free(n->topic);
  }
}

void eng_notify_synced(sfl_engine *e) {
  size_t keep = 0;
  for (size_t i = 0; i < e->n_notes; i++) {
    struct pending_note *n = &e->notes[i];
    if (n->gen > e->committed_gen) {
      e->notes[keep++] = *n;
      continue;
    }
    if (e->on_change) e->on_change(e->on_change_ctx, n->egress_id, n->topic);
    free(n->egress_id);
    free(n->topic);
  }
  e->n_notes = keep;
}

void eng_record_add(sfl_engine *e, record *rec, bool persist) {
  topic_q *q = sfl_map_get(&e->topics, rec->r.topic);
  if (!q) {
    q = calloc(1, sizeof(*q));
    if (!q) return;
    sfl_map_put(&e->topics, rec->r.topic, q);
  }
  if (persist)
    STORE(sfl_store_egress_put(e->store, rec->r.seq, rec->r.egress_id, rec->r.topic,
                               rec->r.key, rec->r.typename, rec->r.value, rec->r.len));
  rec->next = NULL;
  rec->gen = e->in_txn ? e->txn_gen : 0;
  if (q->tail)
    q->tail->next = rec;
  else
    q->head = rec;
  q->tail = rec;
  q->n++;
  e->n_records++;
  e->held_bytes += rec->r.len;
  pthread_cond_broadcast(&e->egress_cv);
  notify_record(e, rec);
}

void sfl_record_free(sfl_record *r) {
  if (!r) return;
  free(r->egress_id);
  free(r->topic);
  free(r->key);
  free(r->typename);
  free(r->value);
  memset(r, 0, sizeof(*r));
}

/* ---- egress records: what each kind of egress accepts ---------------------------- */

void eng_egress_rec_free(egress_rec *r) {
  free(r->topic);
  free(r->key);
  free(r->value);
  memset(r, 0, sizeof(*r));
}

static int egress_rec_set(egress_rec *r, const char *topic, const char *key,
                          const uint8_t *value, size_t len) {
  r->topic = strdup(topic);
  r->key = strdup(key);
  r->value = malloc(len ? len : 1);
  if (r->value && len) memcpy(r->value, value, len);
  r->len = len;
  if (r->topic && r->key && r->value) return 0;
  eng_egress_rec_free(r);
  return -1;
}

/* The module's egress with that namespace and type; NULL when undeclared. */
static const sfl_egress *egress_find(const sfl_config *cfg, const char *ns, const char *type) {
  size_t nl = strlen(ns);
  for (size_t k = 0; k < cfg->n_egresses; k++) {
    const char *id = cfg->egresses[k].id;
    if (strncmp(id, ns, nl) == 0 && id[nl] == '/' && strcmp(id + nl + 1, type) == 0)
      return &cfg->egresses[k];
  }
  return NULL;
}

static bool is_reply_egress(const char *ns, const char *type) {
  size_t rl = strlen(ns);
  return strncmp(SFL_REPLY_EGRESS, ns, rl) == 0 && SFL_REPLY_EGRESS[rl] == '/' &&
         strcmp(&SFL_REPLY_EGRESS[rl + 1], type) == 0;
}

static int decode_kafka(addr *a, size_t i, const pb_tv *v, egress_rec *out) {
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *k =
      io__statefun__sdk__egress__kafka_producer_record__unpack(NULL, v->value.len, v->value.data);
  if (!k || !k->topic[0]) {
    if (k) io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);
    return eng_reject(a, "egress record %zu: malformed KafkaProducerRecord (or no topic)", i);
  }
  int rc = egress_rec_set(out, k->topic, k->key, k->value_bytes.data, k->value_bytes.len);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(k, NULL);
  return rc == 0 ? 0 : eng_reject(a, "out of memory");
}

static int decode_kinesis(addr *a, size_t i, const pb_tv *v, egress_rec *out) {
  Io__Statefun__Sdk__Egress__KinesisEgressRecord *k =
      io__statefun__sdk__egress__kinesis_egress_record__unpack(NULL, v->value.len, v->value.data);
  if (!k || !k->stream[0]) {
    if (k) io__statefun__sdk__egress__kinesis_egress_record__free_unpacked(k, NULL);
    return eng_reject(a, "egress record %zu: malformed KinesisEgressRecord (or no stream)", i);
  }
  int rc = egress_rec_set(out, k->stream, k->partition_key, k->value_bytes.data,
                          k->value_bytes.len);
  io__statefun__sdk__egress__kinesis_egress_record__free_unpacked(k, NULL);
  return rc == 0 ? 0 : eng_reject(a, "out of memory");
}

/* A scalar JSON field of a playground EgressRecord as Jackson reads it into
 * a String: strings as they are, numbers and booleans as their text;
 * malloc'd, NULL when absent, null or not a scalar. */
static char *json_scalar_text(const json_t *j) {
  if (json_is_string(j)) return strndup(json_string_value(j), json_string_length(j));
  if (json_is_integer(j)) return sfl_strfmt("%lld", (long long)json_integer_value(j));
  if (json_is_real(j)) return sfl_strfmt("%.17g", json_real_value(j));
  if (json_is_boolean(j)) return strdup(json_is_true(j) ? "true" : "false");
  return NULL;
}

/*
 * The playground egress (PlaygroundEgress in the playground's
 * statefun-playground-entrypoint): a TypedValue of type
 * io.statefun.playground/EgressRecord holding the JSON object
 * {"topic": ..., "payload": ...}, read with a default Jackson ObjectMapper
 * (other keys fail), to one of the egress's `topics`; the payload's UTF-8
 * bytes are the record. Anything else fails the job there.
 */
static int decode_playground(addr *a, size_t i, const sfl_egress *eg, const pb_tv *v,
                             egress_rec *out) {
  if (strcmp(v->typename_, SFL_PLAYGROUND_EGRESS_RECORD) != 0)
    return eng_reject(a, "egress record %zu to %s: the playground egress takes only values of "
                      "type " SFL_PLAYGROUND_EGRESS_RECORD " (JSON {\"topic\":...,\"payload\":...}), "
                      "got %s (Flink: \"Received unexpected value\")",
                      i, eg->id, v->typename_[0] ? v->typename_ : "a value without a type");
  json_error_t jerr;
  json_t *o = json_loadb((const char *)v->value.data, v->value.len, 0, &jerr);
  if (!json_is_object(o)) {
    json_decref(o);
    return eng_reject(a, "egress record %zu to %s: the EgressRecord is not a JSON object (%s)", i,
                      eg->id, o ? "another JSON value" : jerr.text);
  }
  const char *key;
  json_t *val;
  json_object_foreach(o, key, val) {
    if (strcmp(key, "topic") != 0 && strcmp(key, "payload") != 0) {
      int rc = eng_reject(a, "egress record %zu to %s: unknown field '%s' in the EgressRecord "
                          "(only topic and payload; Flink's JSON reader fails on it too)",
                          i, eg->id, key);
      json_decref(o);
      return rc;
    }
  }
  char *topic = json_scalar_text(json_object_get(o, "topic"));
  char *payload = json_scalar_text(json_object_get(o, "payload"));
  json_decref(o);
  bool listed = false;
  for (size_t t = 0; topic && t < eg->n_topics; t++)
    if (strcmp(eg->topics[t], topic) == 0) listed = true;
  int rc = 0;
  if (!listed)
    rc = eng_reject(a, "egress record %zu to %s: topic %s is not in the egress's topics in "
                    "module.yaml (Flink: \"Message was targeted to unknown topic %s.\")",
                    i, eg->id, topic ? topic : "(none)", topic ? topic : "null");
  else if (!payload)
    rc = eng_reject(a, "egress record %zu to %s: the EgressRecord has no payload string (Flink "
                    "fails on a null payload)", i, eg->id);
  else if (egress_rec_set(out, topic, "", (const uint8_t *)payload, strlen(payload)) != 0)
    rc = eng_reject(a, "out of memory");
  free(topic);
  free(payload);
  return rc;
}

/*
 * Decodes egress message i as its egress takes it: a Kafka egress only
 * KafkaProducerRecords, a Kinesis egress only KinesisEgressRecords (as
 * Flink's GenericKafkaEgressSerializer / GenericKinesisEgressSerializer,
 * with their messages), the playground egress only EgressRecords. The
 * reserved SFL_REPLY_EGRESS takes anything (Kafka and Kinesis records are
 * unpacked). -1 with the reason in a->last_error.
 */
int eng_egress_decode(sfl_engine *e, addr *a, size_t i,
                      const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *m,
                      egress_rec *out) {
  memset(out, 0, sizeof(*out));
  static const pb_tv none = IO__STATEFUN__SDK__REQREPLY__TYPED_VALUE__INIT;
  const pb_tv *v = m->argument ? m->argument : &none;
  const sfl_egress *eg = egress_find(e->cfg, m->egress_namespace, m->egress_type);
  bool is_kafka = strcmp(v->typename_, SF_TYPENAME_KAFKA_RECORD) == 0;
  bool is_kinesis = strcmp(v->typename_, SF_TYPENAME_KINESIS_RECORD) == 0;
  if (!eg) {
    /* The reserved egress (engine.h) always exists: the HTTP front reads
     * entity Replies from it. */
    if (!is_reply_egress(m->egress_namespace, m->egress_type))
      return eng_reject(a, "egress record to %s/%s: no such egress in the module",
                        m->egress_namespace, m->egress_type);
    if (is_kafka) return decode_kafka(a, i, v, out);
    if (is_kinesis) return decode_kinesis(a, i, v, out);
    return egress_rec_set(out, "", "", v->value.data, v->value.len) == 0
               ? 0 : eng_reject(a, "out of memory");
  }
  switch (eg->kind) {
  case SFL_KAFKA:
    if (!is_kafka)
      return eng_reject(a, "egress record %zu to %s (a Kafka egress) has type %s: The generic Kafka "
                        "egress expects only messages of type " SFL_JAVA_KAFKA_RECORD
                        " (typename " SF_TYPENAME_KAFKA_RECORD ")",
                        i, eg->id, v->typename_[0] ? v->typename_ : "(none)");
    return decode_kafka(a, i, v, out);
  case SFL_KINESIS:
    if (!is_kinesis)
      return eng_reject(a, "egress record %zu to %s (a Kinesis egress) has type %s: The generic "
                        "Kinesis egress expects only messages of type " SFL_JAVA_KINESIS_RECORD
                        " (typename " SF_TYPENAME_KINESIS_RECORD ")",
                        i, eg->id, v->typename_[0] ? v->typename_ : "(none)");
    return decode_kinesis(a, i, v, out);
  case SFL_PLAYGROUND:
    return decode_playground(a, i, eg, v, out);
  }
  return eng_reject(a, "egress record %zu: unknown egress kind", i);
}

/*
 * Whether the token of delayed entry i of a reply is pending when entry i
 * is applied. Flink applies a reply's delayed entries in order
 * (RequestReplyFunction -> DelaySink), so the last earlier entry of this
 * reply with the same token decides (a cancel clears it, a send sets it);
 * without one, the token table as it stands.
 */
