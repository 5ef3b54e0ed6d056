/*
 * test_engine.c - the engine's checks that decide like Flink's transports:
 * which reply Content-Types each transport accepts (Netty's
 * containsValue(CONTENT_TYPE, APPLICATION_OCTET_STREAM, true) for async,
 * OkHttp's MediaType.equals for okhttp) and which HTTP statuses the okhttp
 * transport retries (RetryingCallback); the rate limit of sf-local's own
 * first-failure lines; and the loop's wake-up: however wake-ups and the
 * loop's taking of them interleave, a wake-up after the loop took the last
 * one makes the loop's eventfd readable; and with --data, that ingress
 * is not blocked while the loop syncs a group commit.
 */
#include <criterion/criterion.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
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

static void *run_loop(void *ud) {
  sfl_engine_run(ud);
  return NULL;
}

static int64_t send_nb_ms(sfl_engine *e, const char *id, uint64_t *gen) {
  char err[256] = "";
  int64_t t0 = sfl_mono_ms();
  sfl_result r = sfl_engine_send_nb(e, "example/greeter", id, "example/Name", "x", 1, NULL,
                                    gen, err, sizeof err);
  cr_assert_eq(r, SFL_OK, "send: %s", err);
  return sfl_mono_ms() - t0;
}

static const char durable_yaml[] =
    "kind: io.statefun.endpoints.v2/http\n"
    "spec:\n  functions: example/*\n  urlPathTemplate: http://127.0.0.1:9/statefun\n";

/* An engine on a fresh --data dir whose every sync takes delay_ms, its
 * loop running. */
typedef struct durable_env {
  sfl_config cfg;
  char dir[32];
  sfl_engine *e;
  pthread_t loop;
} durable_env;

static void durable_start(durable_env *d, const char *delay_ms) {
  char err[256] = "";
  cr_assert_eq(sfl_config_parse("m.yaml", durable_yaml, sizeof durable_yaml - 1, &d->cfg, err,
                                sizeof err),
               0, "%s", err);
  snprintf(d->dir, sizeof d->dir, "/tmp/sf-durable-XXXXXX");
  cr_assert_not_null(mkdtemp(d->dir));
  setenv("SFL_STORE_TEST_SYNC_DELAY_MS", delay_ms, 1);
  sfl_engine_options o = {.config = &d->cfg, .data_dir = d->dir, .retry_pause_ms = 60000};
  d->e = sfl_engine_new(&o, err, sizeof err);
  unsetenv("SFL_STORE_TEST_SYNC_DELAY_MS");
  cr_assert_not_null(d->e, "%s", err);
  pthread_create(&d->loop, NULL, run_loop, d->e);
}

static void durable_stop(durable_env *d) {
  sfl_engine_stop(d->e);
  pthread_join(d->loop, NULL);
  sfl_engine_free(d->e);
  sfl_config_free(&d->cfg);
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf %s", d->dir);
  cr_assert_eq(system(cmd), 0);
}

/* With --data and a slow fdatasync (the store's test hook), an ingress
 * message sent while the loop syncs the previous transaction is added at
 * once, into the next transaction, and neither counts as committed before
 * its sync. (With the sync under the engine lock the second send waited
 * for the whole sync.) */
Test(durable, ingress_is_not_blocked_while_a_commit_syncs) {
  durable_env d;
  durable_start(&d, "600");
  sfl_engine *e = d.e;
  uint64_t g1 = 0, g2 = 0;
  send_nb_ms(e, "a", &g1);
  usleep(200 * 1000); /* the loop is inside g1's 600 ms sync now */
  cr_assert_eq(sfl_engine_commit_state(e, g1), 0, "acknowledged before its sync");
  int64_t took = send_nb_ms(e, "b", &g2);
  cr_assert_lt(took, 250, "an ingress send waited %lld ms for the engine lock during a sync",
               (long long)took);
  cr_assert_gt(g2, g1, "joined the transaction that is syncing");
  cr_assert_eq(sfl_engine_commit_state(e, g2), 0);
  int64_t deadline = sfl_mono_ms() + 5000;
  while (sfl_engine_commit_state(e, g2) == 0 && sfl_mono_ms() < deadline) usleep(10 * 1000);
  cr_assert_eq(sfl_engine_commit_state(e, g1), 1);
  cr_assert_eq(sfl_engine_commit_state(e, g2), 1);
  durable_stop(&d);
}

/* An egress record produced in a transaction is not readable while that
 * transaction syncs (a crash then would undo it), and is once it has. */
Test(durable, egress_record_readable_only_after_its_sync) {
  durable_env d;
  durable_start(&d, "600");
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
  usleep(200 * 1000); /* the loop committed it and is inside its 600 ms sync */
  cr_assert_eq(sfl_engine_commit_state(e, gen), 0);
  sfl_record out;
  int64_t t0 = sfl_mono_ms();
  cr_assert_eq(sfl_engine_egress_pop(e, "example/out", "t", 0, &out), SFL_ERR_NOT_FOUND,
               "an egress record was readable before its transaction was synced");
  cr_assert_lt(sfl_mono_ms() - t0, 250, "the reader waited for the engine lock");
  cr_assert_eq(sfl_engine_egress_pop(e, "example/out", "t", 5000, &out), SFL_OK);
  cr_assert_eq(sfl_engine_commit_state(e, gen), 1);
  cr_assert_eq(out.len, 1);
  sfl_record_free(&out);
  durable_stop(&d);
}
