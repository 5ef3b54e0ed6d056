/*
 * kafka.c - sf-gateway's Kafka side: one idempotent producer writes each
 * Call to its entity's ingress topic (key = the entity key, value = the
 * statefun.entities/Call bytes, as a StateFun Kafka ingress with valueType
 * statefun.entities/Call expects), and one consumer reads the replies
 * topic for every call in flight (key = request id, value = the Reply
 * bytes, as the module's Kafka egress writes them).
 *
 * The consumer is assigned every partition of the replies topic at its
 * end offset, read at start-up, before the first Call can be produced
 * (until then calls get 503, so Kafka may come up after the gateway):
 * no Reply to one of our Calls can be missed, and old replies are never
 * read. It commits nothing (no consumer group state): every gateway
 * instance sees every Reply and keeps those it waits for.
 *
 * The Kafka thread (gw_kafka_loop) polls replies, delivery reports and
 * the waiters' deadlines.
 */
#include <librdkafka/rdkafka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "gateway.h"

/* Producer defaults, for latency and no duplicates (docs/gateway.md):
 * acks=all and idempotence so a Call is written once even when the
 * producer retries; linger.ms=0 so a Call leaves at once. */
static const char *const producer_defaults[][2] = {
    {"enable.idempotence", "true"},
    {"acks", "all"},
    {"linger.ms", "0"},
    {"message.timeout.ms", "30000"},
    {"socket.nagle.disable", "true"},
    {NULL, NULL}};

/* Consumer defaults: fetch.wait.max.ms bounds how long the broker holds
 * a fetch when there is nothing new, i.e. the added latency of a Reply. */
static const char *const consumer_defaults[][2] = {
    {"enable.auto.commit", "false"},  {"enable.auto.offset.store", "false"},
    {"fetch.wait.max.ms", "5"},       {"fetch.error.backoff.ms", "50"},
    {"socket.nagle.disable", "true"}, {NULL, NULL}};

const double gw_rt_bounds_ms[GW_RT_BUCKETS] = {
    1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000};

int64_t gw_now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t gw_now_ms(void) { return gw_now_us() / 1000; }

/* One round trip (Call produced -> Reply consumed) into the histogram. */
static void observe_rt(gw *g, int64_t us) {
  size_t b = 0;
  while (b < GW_RT_BUCKETS && (double)us > gw_rt_bounds_ms[b] * 1000.0) b++;
  atomic_fetch_add(&g->rt_bucket[b], 1);
  atomic_fetch_add(&g->rt_sum_us, (uint_fast64_t)(us > 0 ? us : 0));
}

static int set(rd_kafka_conf_t *conf, const char *k, const char *v) {
  char err[512];
  if (rd_kafka_conf_set(conf, k, v, err, sizeof err) == RD_KAFKA_CONF_OK)
    return 0;
  fprintf(stderr, GW_NAME ": Kafka property %s=%s: %s\n", k, v, err);
  return -1;
}

/* A client configuration: defaults, then the command line's properties. */
static rd_kafka_conf_t *make_conf(gw *g, bool consumer) {
  rd_kafka_conf_t *conf = rd_kafka_conf_new();
  const char *const(*d)[2] = consumer ? consumer_defaults : producer_defaults;
  int rc = set(conf, "bootstrap.servers", g->opt.brokers);
  rc |= set(conf, "client.id", GW_NAME);
  for (; (*d)[0] != NULL; d++) rc |= set(conf, (*d)[0], (*d)[1]);
  if (consumer) {
    char group[128];
    snprintf(group, sizeof group, GW_NAME "-%ld-%lld", (long)getpid(),
             (long long)time(NULL));
    rc |= set(conf, "group.id", group);
    rc |= set(conf, "isolation.level",
              g->read_committed ? "read_committed" : "read_uncommitted");
  }
  for (size_t i = 0; i < g->opt.n_props; i++)
    if (g->opt.props[i].consumer == consumer)
      rc |= set(conf, g->opt.props[i].key, g->opt.props[i].value);
  rd_kafka_conf_set_opaque(conf, g);
  if (rc != 0) {
    rd_kafka_conf_destroy(conf);
    return NULL;
  }
  return conf;
}

/* A failed delivery answers the call's waiters 503 and forgets the call,
 * so that a retry sends it again. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m,
                        void *opaque) {
  gw *g = opaque;
  char *rid = m->_private;
  if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && rid != NULL) {
    atomic_fetch_add(&g->n_errors, 1);
    pthread_mutex_lock(&g->table.mu);
    gw_call *c = gw_table_find(&g->table, rid);
    if (c != NULL && !c->replied) {
      while (c->waiters != NULL)
        gw_answer(g, c->waiters, 503,
                  sfc_call_error(rid,
                                 "the Call was not written to Kafka "
                                 "topic %s: %s; it was not sent, retry",
                                 rd_kafka_topic_name(m->rkt),
                                 rd_kafka_err2str(m->err)));
      gw_table_remove(&g->table, c);
    }
    pthread_mutex_unlock(&g->table.mu);
  }
  free(rid);
}

/* The partitions of the replies topic, waiting up to 15 s for it. */
static int reply_partitions(gw *g, rd_kafka_topic_partition_list_t **out) {
  const char *topic = g->opt.replies_topic;
  rd_kafka_topic_t *rkt = rd_kafka_topic_new(g->consumer, topic, NULL);
  rd_kafka_resp_err_t err = RD_KAFKA_RESP_ERR_NO_ERROR;
  int64_t end = gw_now_ms() + 15000;
  *out = NULL;
  while (*out == NULL && gw_now_ms() < end && !atomic_load(&g->stopping)) {
    const struct rd_kafka_metadata *md = NULL;
    err = rd_kafka_metadata(g->consumer, 0, rkt, &md, 2000);
    if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1 &&
        md->topics[0].err == RD_KAFKA_RESP_ERR_NO_ERROR &&
        md->topics[0].partition_cnt > 0) {
      const struct rd_kafka_metadata_topic *t = &md->topics[0];
      *out = rd_kafka_topic_partition_list_new(t->partition_cnt);
      for (int i = 0; i < t->partition_cnt; i++)
        rd_kafka_topic_partition_list_add(*out, topic, t->partitions[i].id);
    } else if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1) {
      err = md->topics[0].err;
    }
    if (md != NULL) rd_kafka_metadata_destroy(md);
    if (*out == NULL) usleep(250 * 1000);
  }
  rd_kafka_topic_destroy(rkt);
  if (*out != NULL) return 0;
  fprintf(stderr,
          GW_NAME
          ": the replies topic '%s' is not available on %s: %s "
          "(create it, e.g. deploy/local/cluster.sh start --topics "
          "%s, or give --replies-topic); calls get 503 until it "
          "is; retrying\n",
          topic, g->opt.brokers, err ? rd_kafka_err2str(err) : "no partitions",
          topic);
  return -1;
}

/* Assigns every partition at its current end: replies from now on. */
static int assign_at_end(gw *g) {
  rd_kafka_topic_partition_list_t *parts;
  if (reply_partitions(g, &parts) != 0) return -1;
  for (int i = 0; i < parts->cnt; i++) {
    int64_t lo, hi;
    rd_kafka_resp_err_t err = rd_kafka_query_watermark_offsets(
        g->consumer, parts->elems[i].topic, parts->elems[i].partition, &lo, &hi,
        10000);
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      fprintf(stderr, GW_NAME ": the end offset of %s[%d]: %s\n",
              parts->elems[i].topic, parts->elems[i].partition,
              rd_kafka_err2str(err));
      rd_kafka_topic_partition_list_destroy(parts);
      return -1;
    }
    parts->elems[i].offset = hi;
  }
  rd_kafka_resp_err_t err = rd_kafka_assign(g->consumer, parts);
  int n = parts->cnt;
  rd_kafka_topic_partition_list_destroy(parts);
  if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
    fprintf(stderr, GW_NAME ": assigning %s: %s\n", g->opt.replies_topic,
            rd_kafka_err2str(err));
    return -1;
  }
  g->reply_partitions = n;
  fprintf(stderr,
          GW_NAME
          ": replies topic %s: %d partition(s) assigned at their "
          "end (%s); taking calls\n",
          g->opt.replies_topic, n,
          g->read_committed ? "read_committed" : "read_uncommitted");
  atomic_store(&g->ready, true);
  return 0;
}

int gw_kafka_start(gw *g) {
  char err[512];
  rd_kafka_conf_t *pc = make_conf(g, false);
  rd_kafka_conf_t *cc = pc != NULL ? make_conf(g, true) : NULL;
  if (cc == NULL) {
    if (pc != NULL) rd_kafka_conf_destroy(pc);
    return -1;
  }
  rd_kafka_conf_set_dr_msg_cb(pc, on_delivery);
  g->producer = rd_kafka_new(RD_KAFKA_PRODUCER, pc, err, sizeof err);
  if (g->producer == NULL) {
    fprintf(stderr, GW_NAME ": Kafka producer: %s\n", err);
    rd_kafka_conf_destroy(pc);
    rd_kafka_conf_destroy(cc);
    return -1;
  }
  g->consumer = rd_kafka_new(RD_KAFKA_CONSUMER, cc, err, sizeof err);
  if (g->consumer == NULL) {
    fprintf(stderr, GW_NAME ": Kafka consumer: %s\n", err);
    rd_kafka_conf_destroy(cc);
    return -1;
  }
  rd_kafka_poll_set_consumer(g->consumer);
  return 0;
}

int gw_kafka_send(gw *g, const char *topic, const char *key,
                  const uint8_t *value, size_t len, const char *rid, char *err,
                  size_t err_len) {
  char *opaque = strdup(rid);
  if (opaque == NULL) {
    snprintf(err, err_len, "out of memory");
    return -1;
  }
  rd_kafka_resp_err_t e = rd_kafka_producev(
      g->producer, RD_KAFKA_V_TOPIC(topic),
      RD_KAFKA_V_KEY((void *)key, strlen(key)),
      RD_KAFKA_V_VALUE((void *)value, len),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(opaque),
      RD_KAFKA_V_END);
  if (e == RD_KAFKA_RESP_ERR_NO_ERROR) return 0;
  free(opaque);
  snprintf(err, err_len, "%s", rd_kafka_err2str(e));
  return -1;
}

/* One record of the replies topic: the Reply of a call we know, kept and
 * answered; anything else (another gateway's call, a duplicate of an
 * at-least-once egress, a forgotten call) is skipped. */
static void on_reply(gw *g, const rd_kafka_message_t *m) {
  if (m->key == NULL || m->key_len == 0 || m->key_len > SFC_CALL_MAX_REQUEST_ID)
    return;
  char rid[SFC_CALL_MAX_REQUEST_ID + 1];
  memcpy(rid, m->key, m->key_len);
  rid[m->key_len] = '\0';
  pthread_mutex_lock(&g->table.mu);
  gw_call *c = gw_table_find(&g->table, rid);
  if (c != NULL && !c->replied) {
    c->reply = malloc(m->len ? m->len : 1);
    if (c->reply != NULL) {
      memcpy(c->reply, m->payload, m->len);
      c->reply_len = m->len;
      c->replied = true;
      c->forget_ms = gw_now_ms() + g->opt.remember_ms;
      atomic_fetch_add(&g->n_replies, 1);
      observe_rt(g, gw_now_us() - c->sent_us);
      gw_answer_reply(g, c);
    }
  }
  pthread_mutex_unlock(&g->table.mu);
}

/* Answers the waits that ran out, and forgets old calls. */
static void expire(gw *g, int64_t now) {
  pthread_mutex_lock(&g->table.mu);
  for (gw_waiter *w = g->table.waiting, *next; w != NULL; w = next) {
    next = w->next;
    if (w->deadline_ms > now) continue;
    char where[600];
    snprintf(where, sizeof where,
             "its Reply will come on topic %s; retry with the header "
             "X-Request-Id: %s to get it (the Call is not sent again)",
             g->opt.replies_topic, w->rid);
    atomic_fetch_add(&g->n_timeouts, 1);
    gw_answer(g, w, 504, sfc_call_timeout(w->rid, w->wait_ms, where));
  }
  gw_table_expire(&g->table, now, g->opt.remember_max);
  pthread_mutex_unlock(&g->table.mu);
}

/* At shutdown, the waits still open are answered 503: the gateway goes,
 * the calls may still complete. */
static void answer_all_stopping(gw *g) {
  pthread_mutex_lock(&g->table.mu);
  while (g->table.waiting != NULL) {
    gw_waiter *w = g->table.waiting;
    gw_answer(
        g, w, 503,
        sfc_call_error(w->rid, GW_NAME " is stopping; the call was "
                                       "accepted and may still complete"));
  }
  pthread_mutex_unlock(&g->table.mu);
}

void *gw_kafka_loop(void *arg) {
  gw *g = arg;
  int64_t stop_at = -1;
  /* Until the replies topic is assigned, calls are refused (503): a Call
   * whose Reply we might not read is never sent. */
  while (!atomic_load(&g->stopping) && assign_at_end(g) != 0)
    for (int i = 0; i < 20 && !atomic_load(&g->stopping); i++)
      usleep(100 * 1000);
  for (;;) {
    rd_kafka_message_t *m = rd_kafka_consumer_poll(g->consumer, 20);
    if (m != NULL) {
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) on_reply(g, m);
      else if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
        fprintf(stderr, GW_NAME ": replies consumer: %s\n",
                rd_kafka_message_errstr(m));
      rd_kafka_message_destroy(m);
    }
    rd_kafka_poll(g->producer, 0);
    int64_t now = gw_now_ms();
    expire(g, now);
    if (atomic_load(&g->stopping)) {
      /* A grace period for the calls in flight, then 503 for the rest. */
      if (stop_at < 0) stop_at = now + 2000;
      pthread_mutex_lock(&g->table.mu);
      bool idle = g->table.waiting == NULL;
      pthread_mutex_unlock(&g->table.mu);
      if (idle || now >= stop_at) break;
    }
  }
  answer_all_stopping(g);
  return NULL;
}

void gw_kafka_stop(gw *g) {
  if (g->producer != NULL) {
    rd_kafka_flush(g->producer, 5000);
    rd_kafka_destroy(g->producer);
    g->producer = NULL;
  }
  if (g->consumer != NULL) {
    rd_kafka_consumer_close(g->consumer);
    rd_kafka_destroy(g->consumer);
    g->consumer = NULL;
  }
}
