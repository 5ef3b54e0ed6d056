/*
 * test_engine.c - the engine's checks that decide like Flink's transports:
 * which reply Content-Types each transport accepts (Netty's
 * containsValue(CONTENT_TYPE, APPLICATION_OCTET_STREAM, true) for async,
 * OkHttp's MediaType.equals for okhttp) and which HTTP statuses the okhttp
 * transport retries (RetryingCallback); the rate limit of sf-local's own
 * first-failure lines; and the loop's wake-up: however wake-ups and the
 * loop's taking of them interleave, a wake-up after the loop took the last
 * one makes the loop's eventfd readable; with --data, that ingress
 * is not blocked while the loop syncs a group commit; and that a batch of
 * topic records is accepted all or none.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine.h"
#include "engine_impl.h"

static bool ok1(sfl_transport t, const char *v) {
  const char *vals[] = {v};
  return sfl_reply_content_type_ok(t, vals, v ? 1 : 0);
}

Test(content_type, async_is_a_token_in_any_header_ignoring_case) {
  const sfl_transport A = SFL_TRANSPORT_ASYNC;
  cr_expect(ok1(A, "application/octet-stream"));
  cr_expect(ok1(A, "Application/Octet-Stream"));
  cr_expect(ok1(A, "  application/octet-stream\t"));
  cr_expect(ok1(A, "text/plain, application/octet-stream"));
  cr_expect(ok1(A, "application/octet-stream,text/plain"));
  cr_expect(!ok1(A, "application/octet-stream; charset=utf-8"));
  cr_expect(!ok1(A, "application/octet-streamx"));
  cr_expect(!ok1(A, "xapplication/octet-stream"));
  cr_expect(!ok1(A, "application/json"));
  cr_expect(!ok1(A, ""));
  cr_expect(!ok1(A, NULL));
  const char *two[] = {"text/plain", "application/octet-stream"};
  cr_expect(sfl_reply_content_type_ok(A, two, 2), "any of several headers");
}

Test(content_type, okhttp_is_the_last_header_exactly) {
  const sfl_transport O = SFL_TRANSPORT_OKHTTP;
  cr_expect(ok1(O, "application/octet-stream"));
  cr_expect(ok1(O, " application/octet-stream "), "header values are trimmed");
  cr_expect(!ok1(O, "Application/Octet-Stream"), "MediaType.equals is exact");
  cr_expect(!ok1(O, "application/octet-stream; charset=utf-8"));
  cr_expect(!ok1(O, "application/octet-stream;charset=utf-8"));
  cr_expect(!ok1(O, "text/plain, application/octet-stream"));
  cr_expect(!ok1(O, NULL));
  const char *last_good[] = {"text/plain", "application/octet-stream"};
  const char *last_bad[] = {"application/octet-stream", "text/plain"};
  cr_expect(sfl_reply_content_type_ok(O, last_good, 2));
  cr_expect(!sfl_reply_content_type_ok(O, last_bad, 2), "only the last header counts");
}

Test(okhttp, retried_statuses) {
  const long retried[] = {408, 409, 420, 429, 499, 500, 502, 503, 504, 599};
  const long final[] = {300, 304, 400, 401, 403, 404, 405, 410, 415, 422, 451, 498};
  for (size_t i = 0; i < sizeof retried / sizeof *retried; i++)
    cr_expect(sfl_okhttp_retries_status(retried[i]), "%ld is retried", retried[i]);
  for (size_t i = 0; i < sizeof final / sizeof *final; i++)
    cr_expect(!sfl_okhttp_retries_status(final[i]), "%ld fails at once", final[i]);
}

/* sf-local logs a batch's first failure at once (engine_failures.c), at
 * most 5 lines a second in all and one per address per 10 s. */

Test(first_failure, five_lines_a_second_then_the_next_second) {
  eng_ff_limit g = {0, 0};
  for (int i = 0; i < 5; i++)
    cr_expect_eq(eng_ff_decide(&g, 0, 100000), ENG_FF_LOG, "line %d", i + 1);
  cr_expect_eq(eng_ff_decide(&g, 0, 100500), ENG_FF_LATER, "a 6th line in the same second");
  cr_expect_eq(eng_ff_decide(&g, 0, 100999), ENG_FF_LATER);
  cr_expect_eq(eng_ff_decide(&g, 0, 101000), ENG_FF_LOG, "the next second");
}

Test(first_failure, one_line_per_address_per_ten_seconds) {
  eng_ff_limit g = {0, 0};
  cr_expect_eq(eng_ff_decide(&g, 0, 100000), ENG_FF_LOG);
  cr_expect_eq(eng_ff_decide(&g, 100000, 105000), ENG_FF_QUIET, "logged 5 s ago");
  cr_expect_eq(eng_ff_decide(&g, 100000, 109999), ENG_FF_QUIET);
  cr_expect_eq(eng_ff_decide(&g, 100000, 110000), ENG_FF_LOG, "logged 10 s ago");
}

/* ---- the loop's wake-up ------------------------------------------------------------ */

static bool wake_readable(sfl_engine *e) {
  struct pollfd p = {.fd = e->wakefd, .events = POLLIN};
  return poll(&p, 1, 0) == 1;
}

static void *wake_often(void *ud) {
  sfl_engine *e = ud;
  for (int i = 0; i < 300000; i++) eng_wakeup(e);
  __atomic_store_n(&e->stop, 1, __ATOMIC_RELEASE);
  return NULL;
}

/* The front's threads wake the loop while the loop takes wake-ups, as
 * fast as both can; then one more wake-up must reach the loop. (With the
 * flag cleared before the read, a wake-up landing between the two was lost
 * and every later one skipped: the loop slept until its 1 s timeout.) */
Test(wakeup, never_lost_under_races) {
  sfl_engine *e = calloc(1, sizeof *e);
  cr_assert_not_null(e);
  e->epfd = e->wakefd = -1;
  cr_assert_eq(eng_http_init(e), 0);
  for (int round = 0; round < 5; round++) {
    e->stop = 0;
    pthread_t t;
    pthread_create(&t, NULL, wake_often, e);
    while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE))
      if (wake_readable(e)) eng_wake_consume(e);
    pthread_join(t, NULL);
    if (wake_readable(e)) eng_wake_consume(e);
    cr_assert(!wake_readable(e));
    eng_wakeup(e);
    cr_assert(wake_readable(e), "round %d: a wake-up after the last one taken was lost", round);
    eng_wake_consume(e);
  }
  eng_http_free(e);
  free(e);
}

/* ---- the group commit's sync runs without the engine lock ------------------------ */

/* The store's sync hook holds every sync shut until the test opens it, so
 * "while the loop syncs" is a state the test waits for and keeps, not a
 * window it hopes to hit with a sleep (a fixed 200 ms sleep failed under
 * load: the loop had not reached its commit yet). */
typedef struct sync_gate {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int started; /* syncs that reached the hook */
  bool open;
} sync_gate;

static void gate_hook(void *ud) {
  sync_gate *g = ud;
  pthread_mutex_lock(&g->mu);
  g->started++;
  pthread_cond_broadcast(&g->cv);
  while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
  pthread_mutex_unlock(&g->mu);
}

static void gate_open(sync_gate *g) {
  pthread_mutex_lock(&g->mu);
  g->open = true;
  pthread_cond_broadcast(&g->cv);
  pthread_mutex_unlock(&g->mu);
}

/* Generous: these bounds are only reached when the test fails. */
enum { GATE_WAIT_MS = 20000 };

static void deadline_in(struct timespec *ts, int ms) {
  clock_gettime(CLOCK_REALTIME, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (long)(ms % 1000) * 1000000;
  if (ts->tv_nsec >= 1000000000) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000;
  }
}

/* Waits until the loop's sync number n is held in the hook. */
static bool gate_wait_started(sync_gate *g, int n) {
  struct timespec ts;
  deadline_in(&ts, GATE_WAIT_MS);
  pthread_mutex_lock(&g->mu);
  int rc = 0;
  while (g->started < n && rc == 0) rc = pthread_cond_timedwait(&g->cv, &g->mu, &ts);
  bool ok = g->started >= n;
  pthread_mutex_unlock(&g->mu);
  return ok;
}

/* A call made on a thread of its own, so that the test can tell "it
 * returned while the sync was held" from "it waited for the sync" without
 * hanging when it waits. */
typedef struct side_call {
  void (*fn)(struct side_call *);
  sfl_engine *e;
  uint64_t gen;
  sfl_result res;
  bool done;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  pthread_t t;
} side_call;

static void *side_run(void *ud) {
  side_call *c = ud;
  c->fn(c);
  pthread_mutex_lock(&c->mu);
  c->done = true;
  pthread_cond_broadcast(&c->cv);
  pthread_mutex_unlock(&c->mu);
  return NULL;
}

/* Starts fn on its thread and answers whether it returned within
 * GATE_WAIT_MS while the sync stays held. If it did not, opens the gate so
 * that it can finish; either way it has finished when this returns. */
static bool side_returns_while_held(side_call *c, sync_gate *g) {
  pthread_mutex_init(&c->mu, NULL);
  pthread_cond_init(&c->cv, NULL);
  pthread_create(&c->t, NULL, side_run, c);
  struct timespec ts;
  deadline_in(&ts, GATE_WAIT_MS);
  pthread_mutex_lock(&c->mu);
  int rc = 0;
  while (!c->done && rc == 0) rc = pthread_cond_timedwait(&c->cv, &c->mu, &ts);
  bool done = c->done;
  pthread_mutex_unlock(&c->mu);
  if (!done) gate_open(g);
  pthread_join(c->t, NULL);
  pthread_cond_destroy(&c->cv);
  pthread_mutex_destroy(&c->mu);
  return done;
}

static void *run_loop(void *ud) {
  sfl_engine_run(ud);
  return NULL;
}

static void send_nb(sfl_engine *e, const char *id, uint64_t *gen) {
  char err[256] = "";
  sfl_result r = sfl_engine_send_nb(e, "example/greeter", id, "example/Name", "x", 1, NULL,
                                    gen, err, sizeof err);
  cr_assert_eq(r, SFL_OK, "send: %s", err);
}

static const char durable_yaml[] =
    "kind: io.statefun.endpoints.v2/http\n"
    "spec:\n  functions: example/*\n  urlPathTemplate: http://127.0.0.1:9/statefun\n";

/* An engine on a fresh --data dir whose every sync waits at the gate; its
 * loop is started by durable_run. The test puts its first transaction in
 * before that, so the loop's first sync is that transaction's (a loop
 * already running may sync a transaction of its own first: a fresh store's
 * schema rows are synced by the first commit). */
typedef struct durable_env {
  sfl_config cfg;
  char dir[32];
  sfl_engine *e;
  pthread_t loop;
  sync_gate gate;
} durable_env;

static void durable_start(durable_env *d) {
  char err[256] = "";
  cr_assert_eq(sfl_config_parse("m.yaml", durable_yaml, sizeof durable_yaml - 1, &d->cfg, err,
                                sizeof err),
               0, "%s", err);
  snprintf(d->dir, sizeof d->dir, "/tmp/sf-durable-XXXXXX");
  cr_assert_not_null(mkdtemp(d->dir));
  sfl_engine_options o = {.config = &d->cfg, .data_dir = d->dir, .retry_pause_ms = 60000};
  d->e = sfl_engine_new(&o, err, sizeof err);
  cr_assert_not_null(d->e, "%s", err);
  pthread_mutex_init(&d->gate.mu, NULL);
  pthread_cond_init(&d->gate.cv, NULL);
  d->gate.started = 0;
  d->gate.open = false;
  sfl_store_set_sync_hook(d->e->store, gate_hook, &d->gate);
}

static void durable_run(durable_env *d) {
  pthread_create(&d->loop, NULL, run_loop, d->e);
}

static void durable_stop(durable_env *d) {
  gate_open(&d->gate);
  sfl_engine_stop(d->e);
  pthread_join(d->loop, NULL);
  sfl_engine_free(d->e);
  sfl_config_free(&d->cfg);
  pthread_cond_destroy(&d->gate.cv);
  pthread_mutex_destroy(&d->gate.mu);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf %s", d->dir);
  cr_assert_eq(system(cmd), 0);
}

/* Waits (bounded) until transaction gen counts as committed. */
static void wait_committed(sfl_engine *e, uint64_t gen) {
  int64_t deadline = sfl_mono_ms() + GATE_WAIT_MS;
  while (sfl_engine_commit_state(e, gen) == 0 && sfl_mono_ms() < deadline) usleep(10 * 1000);
  cr_assert_eq(sfl_engine_commit_state(e, gen), 1, "transaction %llu never committed",
               (unsigned long long)gen);
}

static void send_b(side_call *c) {
  char err[256] = "";
  c->res = sfl_engine_send_nb(c->e, "example/greeter", "b", "example/Name", "x", 1, NULL,
                              &c->gen, err, sizeof err);
}

/* With --data, an ingress message sent while the loop syncs the previous
 * transaction (held open by the hook) is added at once, into the next
 * transaction, and neither counts as committed before its sync. (With the
 * sync under the engine lock the second send waited for the whole sync.) */
Test(durable, ingress_is_not_blocked_while_a_commit_syncs) {
  durable_env d;
  durable_start(&d);
  sfl_engine *e = d.e;
  uint64_t g1 = 0;
  send_nb(e, "a", &g1);
  durable_run(&d);
  cr_assert(gate_wait_started(&d.gate, 1), "the loop never started syncing g1");
  /* Nothing here takes the engine lock before the side call has shown
   * that the sync leaves it free. */
  side_call c = {.fn = send_b, .e = e};
  cr_assert(side_returns_while_held(&c, &d.gate),
            "an ingress send waited for the engine lock during a sync");
  cr_assert_eq(c.res, SFL_OK);
  cr_assert_gt(c.gen, g1, "joined the transaction that is syncing");
  cr_assert_eq(sfl_engine_commit_state(e, g1), 0, "acknowledged before its sync");
  cr_assert_eq(sfl_engine_commit_state(e, c.gen), 0);
  gate_open(&d.gate);
  wait_committed(e, c.gen);
  cr_assert_eq(sfl_engine_commit_state(e, g1), 1);
  durable_stop(&d);
}

static void pop_now(side_call *c) {
  sfl_record out;
  c->res = sfl_engine_egress_pop(c->e, "example/out", "t", 0, &out);
  if (c->res == SFL_OK) sfl_record_free(&out);
}

/* An egress record produced in a transaction is not readable while that
 * transaction syncs (a crash then would undo it), and is once it has. */
Test(durable, egress_record_readable_only_after_its_sync) {
  durable_env d;
  durable_start(&d);
  sfl_engine *e = d.e;
  record *rec = calloc(1, sizeof *rec);
  cr_assert_not_null(rec);
  rec->r.egress_id = strdup("example/out");
  rec->r.topic = strdup("t");
  rec->r.key = strdup("");
  rec->r.typename = strdup("example/V");
  rec->r.value = malloc(1);
  rec->r.value[0] = 'v';
  rec->r.len = 1;
  pthread_mutex_lock(&e->mu);
  eng_txn_begin(e);
  rec->r.seq = ++e->seq;
  uint64_t gen = e->txn_gen;
  eng_record_add(e, rec, true);
  eng_wakeup(e);
  pthread_mutex_unlock(&e->mu);
  durable_run(&d);
  cr_assert(gate_wait_started(&d.gate, 1), "the loop never started syncing the record");
  side_call c = {.fn = pop_now, .e = e};
  cr_assert(side_returns_while_held(&c, &d.gate), "the reader waited for the engine lock");
  cr_assert_eq(sfl_engine_commit_state(e, gen), 0);
  cr_assert_eq(c.res, SFL_ERR_NOT_FOUND,
               "an egress record was readable before its transaction was synced");
  gate_open(&d.gate);
  sfl_record out;
  cr_assert_eq(sfl_engine_egress_pop(e, "example/out", "t", GATE_WAIT_MS, &out), SFL_OK);
  cr_assert_eq(sfl_engine_commit_state(e, gen), 1);
  cr_assert_eq(out.len, 1);
  sfl_record_free(&out);
  durable_stop(&d);
}

/* ---- batches of topic records -------------------------------------------- */

static const char batch_yaml[] =
    "kind: io.statefun.endpoints.v2/http\n"
    "spec:\n  functions: example/*\n  urlPathTemplate: http://127.0.0.1:9/statefun\n"
    "  maxNumBatchRequests: 2\n"
    "---\n"
    "kind: io.statefun.kafka.v1/ingress\n"
    "spec:\n  id: example/in\n  address: 127.0.0.1:9092\n  consumerGroupId: g\n"
    "  topics:\n    - topic: t\n      valueType: example/Name\n"
    "      targets:\n        - example/greeter\n";

static sfl_result send_batch(sfl_engine *e, const char *keys, const char *idem, char *err,
                             size_t err_len) {
  sfl_topic_record recs[8];
  char one[8][2];
  size_t n = 0;
  for (const char *k = keys; *k && n < 8; k++, n++) {
    one[n][0] = *k == '_' ? '\0' : *k;
    one[n][1] = '\0';
    recs[n] = (sfl_topic_record){one[n], "v", 1};
  }
  uint64_t gen = 1;
  sfl_result r = sfl_engine_send_topic_batch_nb(e, "t", recs, n, idem, &gen, err, err_len);
  cr_assert_eq(gen, 0, "no store, nothing to wait for");
  return r;
}

static size_t queued(sfl_engine *e, const char *id) {
  char key[64];
  snprintf(key, sizeof key, "example/greeter/%s", id);
  addr *a = sfl_map_get(&e->addrs, key);
  return a ? a->queued : 0;
}

/* No loop runs, so every accepted message stays in its mailbox, and the
 * limit of 2 waiting messages per address (maxNumBatchRequests) decides. */
Test(batch, all_or_nothing) {
  sfl_config cfg;
  char err[256] = "";
  cr_assert_eq(sfl_config_parse("m.yaml", batch_yaml, sizeof batch_yaml - 1, &cfg, err,
                                sizeof err),
               0, "%s", err);
  sfl_engine_options o = {.config = &cfg, .retry_pause_ms = 60000, .max_queued_bytes = 1000};
  sfl_engine *e = sfl_engine_new(&o, err, sizeof err);
  cr_assert_not_null(e, "%s", err);

  cr_assert_eq(send_batch(e, "ab", NULL, err, sizeof err), SFL_OK, "%s", err);
  cr_assert_eq(queued(e, "a"), 1);
  cr_assert_eq(queued(e, "b"), 1);
  /* an address with nothing waiting takes any share, as Flink would */
  cr_assert_eq(send_batch(e, "ccc", NULL, err, sizeof err), SFL_OK, "%s", err);
  cr_assert_eq(queued(e, "c"), 3);
  /* b has room for one more: a batch with two for b is refused whole,
   * and d (first in it, with room) gets nothing either */
  cr_assert_eq(send_batch(e, "dbb", NULL, err, sizeof err), SFL_ERR_BUSY);
  cr_assert(strstr(err, "example/greeter/b has 1 messages waiting") != NULL, "%s", err);
  cr_assert_eq(queued(e, "d"), 0);
  cr_assert_eq(queued(e, "b"), 1);
  /* a record without a key is named, and nothing of the batch is kept */
  cr_assert_eq(send_batch(e, "d_", NULL, err, sizeof err), SFL_ERR_BAD_REQUEST);
  cr_assert(strstr(err, "record 2:") != NULL, "%s", err);
  cr_assert_eq(queued(e, "d"), 0);
  /* the idempotency key covers the whole batch */
  cr_assert_eq(send_batch(e, "de", "k1", err, sizeof err), SFL_OK, "%s", err);
  cr_assert_eq(send_batch(e, "de", "k1", err, sizeof err), SFL_DUPLICATE);
  cr_assert_eq(queued(e, "d"), 1);
  cr_assert_eq(queued(e, "e"), 1);
  cr_assert_eq(e->c_ingress, 7);
  /* more bytes than sf-local may hold at all: no wait helps */
  uint64_t gen;
  char big[2000] = {0};
  sfl_topic_record rec = {"f", big, sizeof big};
  cr_assert_eq(sfl_engine_send_topic_batch_nb(e, "t", &rec, 1, NULL, &gen, err, sizeof err),
               SFL_ERR_TOO_LARGE);
  cr_assert(strstr(err, "--max-queued-bytes 1000") != NULL, "%s", err);
  /* a single send too (it was refused as busy, to be retried forever) */
  cr_assert_eq(sfl_engine_send_nb(e, "example/greeter", "f", "example/Name", big, sizeof big,
                                  NULL, &gen, err, sizeof err),
               SFL_ERR_TOO_LARGE);
  /* unknown topics and empty batches */
  cr_assert_eq(sfl_engine_send_topic_batch_nb(e, "nope", NULL, 0, NULL, &gen, err, sizeof err),
               SFL_ERR_NO_TOPIC);
  cr_assert_eq(sfl_engine_send_topic_batch_nb(e, "t", NULL, 0, NULL, &gen, err, sizeof err),
               SFL_OK);
  cr_assert_eq(e->c_ingress, 7);
  sfl_engine_free(e);
  sfl_config_free(&cfg);
}
