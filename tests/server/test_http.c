/*
 * test_http.c - the server over real loopback HTTP, in-process: each test
 * starts a server on a free port (sf_server_start, port 0) serving the
 * greeter plus two test functions, and talks to it with libcurl.
 */
#include <criterion/criterion.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <statefun/server.h>
#include <statefun/statefun.h>

#include "client.h"
#include "greet.h"

#define RESULT_CASE \
  IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT
#define INCOMPLETE_CASE \
  IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT
#define KAFKA_TYPENAME \
  "type.googleapis.com/io.statefun.sdk.egress.KafkaProducerRecord"

/* ---- test functions ------------------------------------------------------ */

/* test.fns/fail: always fails, naming the address. */
static sf_status fail_fn(sf_context *ctx, const sf_message *msg, void *ud) {
  return sf_context_fail(ctx, "deliberate failure for %s", sf_self(ctx)->id);
}

/* test.fns/slow: takes 400 ms, so that a request stays in flight. */
static sf_status slow_fn(sf_context *ctx, const sf_message *msg, void *ud) {
  struct timespec ts = {0, 400 * 1000 * 1000};
  nanosleep(&ts, NULL);
  return SF_OK;
}

/* test.fns/hog: asks its arena for 80 MiB, more than the server's cap for
 * any body limit up to 8 MiB (the cap is 8 x the limit, at least 64 MiB). */
static sf_status hog_fn(sf_context *ctx, const sf_message *msg, void *ud) {
  void *p = sf_arena_alloc(sf_context_arena(ctx), (size_t)80 << 20);
  return p == NULL ? SF_ERR_NOMEM : SF_OK;
}

/* test.fns/strict: reads its message as an int (the requests here carry a
 * string), returning the SDK's status as it is. */
static sf_status strict_fn(sf_context *ctx, const sf_message *msg, void *ud) {
  int32_t n;
  return sf_message_as_int(msg, &n);
}

/* ---- fixture ------------------------------------------------------------- */

static int g_loud; /* servers started from now on log to stderr */

static sf_handler *g_handler;
static sf_server *g_server;
static char g_base[64]; /* http://127.0.0.1:PORT */
static char g_url[96];  /* g_base + /statefun */

static sf_server *start_server(size_t max_body, const char *prefix) {
  sf_server_options o;
  memset(&o, 0, sizeof o);
  o.host = "127.0.0.1";
  o.port = 0;
  o.threads = 4;
  o.max_body = max_body;
  o.path_prefix = prefix;
  o.quiet = !g_loud;
  sf_status st = SF_OK;
  char err[256] = "";
  sf_server *s = sf_server_start(g_handler, &o, &st, err, sizeof err);
  cr_assert_not_null(s, "sf_server_start failed: %s (%s)", err, sf_strerror(st));
  cr_assert_neq(sf_server_port(s), 0);
  snprintf(g_base, sizeof g_base, "http://127.0.0.1:%u", sf_server_port(s));
  snprintf(g_url, sizeof g_url, "%s/statefun", g_base);
  return s;
}

static void setup_handler(void) {
  g_handler = sf_handler_new();
  cr_assert_not_null(g_handler);
  cr_assert_eq(greeter_register(g_handler), SF_OK);
  cr_assert_eq(sf_handler_register(g_handler, "test.fns/fail", fail_fn, NULL,
                                   NULL, 0),
               SF_OK);
  cr_assert_eq(sf_handler_register(g_handler, "test.fns/slow", slow_fn, NULL,
                                   NULL, 0),
               SF_OK);
  cr_assert_eq(sf_handler_register(g_handler, "test.fns/hog", hog_fn, NULL,
                                   NULL, 0),
               SF_OK);
  cr_assert_eq(sf_handler_register(g_handler, "test.fns/strict", strict_fn, NULL,
                                   NULL, 0),
               SF_OK);
}

static void setup(void) {
  curl_global_init(CURL_GLOBAL_DEFAULT);
  setup_handler();
  g_server = start_server(0, NULL);
}

static void teardown(void) {
  sf_server_stop(g_server);
  g_server = NULL;
  sf_handler_free(g_handler);
  g_handler = NULL;
  curl_global_cleanup();
}

TestSuite(http, .init = setup, .fini = teardown, .timeout = 60);

/* POSTs a greet request and returns the reply (caller frees). */
static http_reply post_greet(const char *url, const char *id, size_t n,
                             state_kind kind, int32_t seen) {
  size_t len = 0;
  uint8_t *req = wire_request("greeter.fns/greet", id, n, kind, seen, &len);
  http_reply r;
  cr_assert(http_request(NULL, "POST", url, req, len, false, &r),
            "transport failed: %s", curl_easy_strerror(r.curl));
  free(req);
  return r;
}

static const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *
find_mutation(const Result *res, const char *name) {
  for (size_t i = 0; i < res->n_state_mutations; i++)
    if (strcmp(res->state_mutations[i]->state_name, name) == 0)
      return res->state_mutations[i];
  return NULL;
}

/* ---- the StateFun endpoint ----------------------------------------------- */

Test(http, valid_request_gets_200_and_a_correct_reply) {
  http_reply r = post_greet(g_url, "Alice", 1, STATE_EMPTY, 0);
  cr_assert_eq(r.code, 200, "status %ld: %s", r.code, r.body);
  cr_assert_str_eq(r.content_type, "application/octet-stream");
  FromFunction *from = wire_reply(&r);
  cr_assert_not_null(from, "reply is not a FromFunction");
  cr_assert_eq(from->response_case, RESULT_CASE);
  const Result *res = from->invocation_result;

  const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation *m =
      find_mutation(res, "seen");
  cr_assert_not_null(m, "no mutation of seen");
  cr_assert_eq(m->mutation_type,
               IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__PERSISTED_VALUE_MUTATION__MUTATION_TYPE__MODIFY);
  int32_t seen = 0;
  cr_assert(wire_int(m->state_value, &seen));
  cr_assert_eq(seen, 1);

  cr_assert_eq(res->n_outgoing_egresses, 1);
  const Io__Statefun__Sdk__Reqreply__FromFunction__EgressMessage *e =
      res->outgoing_egresses[0];
  cr_assert_str_eq(e->egress_namespace, "greeter.io");
  cr_assert_str_eq(e->egress_type, "greetings");
  cr_assert_str_eq(e->argument->typename_, KAFKA_TYPENAME);
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *rec =
      io__statefun__sdk__egress__kafka_producer_record__unpack(
          NULL, e->argument->value.len, e->argument->value.data);
  cr_assert_not_null(rec);
  cr_assert_str_eq(rec->topic, "greetings");
  cr_assert_str_eq(rec->key, "Alice");
  char value[256];
  snprintf(value, sizeof value, "%.*s", (int)rec->value_bytes.len,
           (const char *)rec->value_bytes.data);
  cr_assert(strstr(value, "Alice") != NULL && strstr(value, "1") != NULL,
            "greeting: %s", value);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(rec, NULL);

  cr_assert_eq(res->n_delayed_invocations, 1);
  const Io__Statefun__Sdk__Reqreply__FromFunction__DelayedInvocation *d =
      res->delayed_invocations[0];
  cr_assert_eq(d->delay_in_ms, 60000);
  cr_assert_not(d->is_cancellation_request);
  cr_assert_str_eq(d->cancellation_token, "remind-Alice");
  cr_assert_str_eq(d->target->namespace_, "greeter.fns");
  cr_assert_str_eq(d->target->type, "greet");
  cr_assert_str_eq(d->target->id, "Alice");
  wire_reply_free(from);
  http_reply_free(&r);
}

Test(http, missing_state_round_trip) {
  /* Flink knows no state yet: the reply asks for it, runs nothing. */
  http_reply r = post_greet(g_url, "Bob", 1, STATE_ABSENT, 0);
  cr_assert_eq(r.code, 200, "status %ld: %s", r.code, r.body);
  FromFunction *from = wire_reply(&r);
  cr_assert_not_null(from);
  cr_assert_eq(from->response_case, INCOMPLETE_CASE);
  const Io__Statefun__Sdk__Reqreply__FromFunction__IncompleteInvocationContext
      *ctx = from->incomplete_invocation_context;
  cr_assert_eq(ctx->n_missing_values, 1);
  cr_assert_str_eq(ctx->missing_values[0]->state_name, "seen");
  cr_assert_str_eq(ctx->missing_values[0]->type_typename,
                   "io.statefun.types/int");
  if (ctx->missing_values[0]->expiration_spec != NULL)
    cr_assert_eq(ctx->missing_values[0]->expiration_spec->mode,
                 IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__EXPIRATION_SPEC__EXPIRE_MODE__NONE);
  wire_reply_free(from);
  http_reply_free(&r);

  /* The same invocation again, now with the (empty) state, then once more
   * with the value the first reply wrote. */
  bool has = false;
  int32_t seen = 0;
  cr_assert_eq(wire_visit(NULL, g_url, "Bob", 1, &has, &seen), 200);
  cr_assert(has);
  cr_assert_eq(seen, 1);
  cr_assert_eq(wire_visit(NULL, g_url, "Bob", 1, &has, &seen), 200);
  cr_assert_eq(seen, 2);
}

Test(http, second_visit_cancels_the_reminder) {
  http_reply r = post_greet(g_url, "Carol", 1, STATE_INT, 1);
  cr_assert_eq(r.code, 200);
  FromFunction *from = wire_reply(&r);
  cr_assert_not_null(from);
  cr_assert_eq(from->response_case, RESULT_CASE);
  const Result *res = from->invocation_result;
  cr_assert_eq(res->n_delayed_invocations, 1);
  cr_assert(res->delayed_invocations[0]->is_cancellation_request);
  cr_assert_str_eq(res->delayed_invocations[0]->cancellation_token,
                   "remind-Carol");
  wire_reply_free(from);
  http_reply_free(&r);
}

Test(http, batch_of_1000_invocations_carries_state_through) {
  http_reply r = post_greet(g_url, "Dave", 1000, STATE_EMPTY, 0);
  cr_assert_eq(r.code, 200, "status %ld: %s", r.code, r.body);
  FromFunction *from = wire_reply(&r);
  cr_assert_not_null(from);
  cr_assert_eq(from->response_case, RESULT_CASE);
  const Result *res = from->invocation_result;
  int32_t seen = 0;
  cr_assert(wire_int(find_mutation(res, "seen")->state_value, &seen));
  cr_assert_eq(seen, 1000);
  cr_assert_eq(res->n_outgoing_egresses, 1000);
  /* First visit schedules, second cancels. */
  cr_assert_eq(res->n_delayed_invocations, 2);
  cr_assert_not(res->delayed_invocations[0]->is_cancellation_request);
  cr_assert(res->delayed_invocations[1]->is_cancellation_request);
  Io__Statefun__Sdk__Egress__KafkaProducerRecord *rec =
      io__statefun__sdk__egress__kafka_producer_record__unpack(
          NULL, res->outgoing_egresses[999]->argument->value.len,
          res->outgoing_egresses[999]->argument->value.data);
  cr_assert_not_null(rec);
  char value[256];
  snprintf(value, sizeof value, "%.*s", (int)rec->value_bytes.len,
           (const char *)rec->value_bytes.data);
  cr_assert(strstr(value, "1000") != NULL, "last greeting: %s", value);
  io__statefun__sdk__egress__kafka_producer_record__free_unpacked(rec, NULL);
  wire_reply_free(from);
  http_reply_free(&r);
}

Test(http, body_of_20_mib_gets_413) {
  size_t len = (size_t)20 * 1024 * 1024;
  char *big = malloc(len);
  cr_assert_not_null(big);
  memset(big, 'x', len);
  http_reply r;
  bool ok = http_request(NULL, "POST", g_url, big, len, false, &r);
  free(big);
  /* The server answers before reading the body; curl may or may not have
   * managed to read the reply before the connection closed under it. */
  if (ok) {
    cr_assert_eq(r.code, 413, "status %ld: %s", r.code, r.body);
    cr_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
    cr_assert(strstr(r.body, "exceeds the limit") != NULL, "body: %s", r.body);
  } else {
    cr_assert_eq(r.curl, CURLE_SEND_ERROR, "transport: %s",
                 curl_easy_strerror(r.curl));
  }
  http_reply_free(&r);

  /* The server is still fine. */
  http_reply h;
  char url[128];
  snprintf(url, sizeof url, "%s/health", g_base);
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &h));
  cr_assert_eq(h.code, 200);
  http_reply_free(&h);
}

Test(http, chunked_body_over_the_limit_gets_413) {
  sf_server_stop(g_server);
  g_server = start_server(1024, NULL);
  size_t len = 64 * 1024;
  char *big = malloc(len);
  memset(big, 'x', len);
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, big, len, true, &r),
            "transport: %s", curl_easy_strerror(r.curl));
  free(big);
  cr_assert_eq(r.code, 413, "status %ld: %s", r.code, r.body);
  cr_assert(strstr(r.body, "1024") != NULL, "body: %s", r.body);
  http_reply_free(&r);
}

Test(http, body_exactly_at_the_limit_is_accepted) {
  size_t len = 0;
  uint8_t *req = wire_request("greeter.fns/greet", "Erin", 1, STATE_EMPTY, 0,
                              &len);
  sf_server_stop(g_server);
  g_server = start_server(len, NULL);
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, req, len, false, &r));
  cr_assert_eq(r.code, 200, "status %ld: %s", r.code, r.body);
  http_reply_free(&r);
  /* One byte more (an unknown field would still parse; it must not get
   * that far). */
  uint8_t *more = malloc(len + 1);
  memcpy(more, req, len);
  more[len] = 0;
  cr_assert(http_request(NULL, "POST", g_url, more, len + 1, false, &r) ||
            r.curl == CURLE_SEND_ERROR);
  if (r.curl == CURLE_OK) cr_assert_eq(r.code, 413);
  http_reply_free(&r);
  free(more);
  free(req);
}

Test(http, garbage_gets_400_with_a_reason) {
  const char *junk = "this is not a protobuf message at all";
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, junk, strlen(junk), false, &r));
  cr_assert_eq(r.code, 400, "status %ld: %s", r.code, r.body);
  cr_assert_str_eq(r.content_type, "text/plain; charset=utf-8");
  cr_assert_gt(r.len, 1, "400 without a reason");
  http_reply_free(&r);
}

Test(http, truncated_protobuf_gets_400) {
  size_t len = 0;
  uint8_t *req = wire_request("greeter.fns/greet", "Frank", 3, STATE_INT, 5,
                              &len);
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, req, len - 7, false, &r));
  free(req);
  cr_assert_eq(r.code, 400, "status %ld: %s", r.code, r.body);
  cr_assert_gt(r.len, 1);
  http_reply_free(&r);
}

Test(http, empty_body_gets_400) {
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, "", 0, false, &r));
  cr_assert_eq(r.code, 400, "status %ld: %s", r.code, r.body);
  http_reply_free(&r);
}

Test(http, unknown_function_gets_404_naming_it) {
  size_t len = 0;
  uint8_t *req = wire_request("nope.fns/missing", "x", 1, STATE_ABSENT, 0, &len);
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, req, len, false, &r));
  free(req);
  cr_assert_eq(r.code, 404, "status %ld: %s", r.code, r.body);
  cr_assert(strstr(r.body, "nope.fns/missing") != NULL, "body: %s", r.body);
  http_reply_free(&r);
}

/* What a failing function's user sees: the SDK's reason (function type,
 * id, what failed, the fix), exactly, as the 500, 413 or 404 body and as
 * the server's log line. */
static void log_to_file(FILE **f) {
  *f = tmpfile();
  cr_assert_not_null(*f);
  fflush(stderr);
  cr_assert_neq(dup2(fileno(*f), 2), -1);
}
static void expect_logged(FILE *f, const char *line) {
  fflush(stderr);
  char buf[4096] = "";
  rewind(f);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  cr_assert(strstr(buf, line) != NULL, "log: %s\nwant: %s", buf, line);
}

/* POSTs one invocation of `fn` for `id`: the answer must be `code` with
 * the body `want` and a newline, and the log (unless NULL) must have the
 * line. */
static void expect_reason(FILE *log, const char *fn, const char *id, long code,
                          const char *want) {
  size_t len = 0;
  uint8_t *req = wire_request(fn, id, 1, STATE_ABSENT, 0, &len);
  http_reply r;
  cr_assert(http_request(NULL, "POST", g_url, req, len, false, &r));
  free(req);
  cr_assert_eq(r.code, code, "status %ld: %s", r.code, r.body);
  cr_assert_eq(r.len, strlen(want) + 1, "body: %s", r.body);
  cr_assert(memcmp(r.body, want, strlen(want)) == 0, "body: %s", r.body);
  http_reply_free(&r);
  if (log == NULL) return;
  char line[640];
  snprintf(line, sizeof line, "statefun: %s\n", want);
  expect_logged(log, line);
}

/* test.fns/hog's reason with the cap of start_server(1 MiB, ...). */
static const char HOG_REASON[] =
    "function test.fns/hog (id Hal): the request needs more than its "
    "memory limit of 67108864 bytes: raise the limit (sf_server_main: "
    "--max-body; the limit is 8 x it, at least 64 MiB), or keep the "
    "batch's state and messages smaller";

Test(http, failing_function_gets_500_and_the_server_keeps_serving) {
  for (int i = 0; i < 3; i++)
    expect_reason(NULL, "test.fns/fail", "Gina", 500,
                  "function test.fns/fail (id Gina) failed at invocation 1 of 1: "
                  "deliberate failure for Gina");
  bool has = false;
  int32_t seen = 0;
  cr_assert_eq(wire_visit(NULL, g_url, "Gina", 1, &has, &seen), 200);
  cr_assert_eq(seen, 1);
}

/* A request whose processing needs more memory than the arena cap gets 413
 * naming the cap (not a bare 500 "out of memory"), and the server keeps
 * serving. */
Test(http, request_over_the_arena_cap_gets_413_naming_it) {
  sf_server_stop(g_server);
  g_server = start_server((size_t)1 << 20, NULL); /* cap: 64 MiB */
  expect_reason(NULL, "test.fns/hog", "Hal", 413, HOG_REASON);
  bool has = false;
  int32_t seen = 0;
  cr_assert_eq(wire_visit(NULL, g_url, "Hal", 1, &has, &seen), 200);
}

Test(http, failure_body_and_log_line_are_the_reason) {
  FILE *log;
  log_to_file(&log);
  sf_server_stop(g_server);
  g_loud = 1;
  g_server = start_server((size_t)1 << 20, NULL);
  expect_reason(log, "test.fns/strict", "Ida", 500,
                "function test.fns/strict (id Ida) failed at invocation 1 of 1: the "
                "message is io.statefun.types/string, read as io.statefun.types/int: "
                "test sf_message_is_int(msg) first, or send it io.statefun.types/int");
  expect_reason(log, "test.fns/hog", "Hal", 413, HOG_REASON);
  expect_reason(log, "test.fns/strictt", "Ida", 404,
                "unknown function type test.fns/strictt (address test.fns/strictt/Ida): "
                "this server serves greeter.fns/greet, test.fns/fail, test.fns/slow, "
                "test.fns/hog, test.fns/strict: register it with sf_handler_register, or "
                "fix the functions pattern of the module.yaml endpoint that sends it here");
  fclose(log);
}

/* Each of the n paths (under g_base) serves a greeting: HTTP 200. */
static void expect_served(const char *const *paths, size_t n) {
  for (size_t i = 0; i < n; i++) {
    char url[160];
    snprintf(url, sizeof url, "%s%s", g_base, paths[i]);
    bool has = false;
    int32_t seen = 0;
    cr_assert_eq(wire_visit(NULL, url, "Hank", 1, &has, &seen), 200, "%s", paths[i]);
  }
}

/* By default every path is the function endpoint (module.yaml URLs such as
 * http://host:8000 work); /health and /metrics stay what they are. */
Test(http, any_path_works_by_default) {
  const char *paths[] = {"/statefun", "/statefun/greet", "/statefun/a/b/c",
                         "/", "/statefunx", "/other/statefun", "/greeter.fns/greet"};
  expect_served(paths, sizeof paths / sizeof *paths);
  http_reply r;
  char url[160];
  snprintf(url, sizeof url, "%s/health", g_base);
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 200);
  http_reply_free(&r);
  snprintf(url, sizeof url, "%s/metrics", g_base);
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 200);
  http_reply_free(&r);
  snprintf(url, sizeof url, "%s/", g_base);
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 405); /* a function path, which only takes POST */
  http_reply_free(&r);
}

/* --path-prefix restricts: only the prefix and what is under it. */
Test(http, prefix_and_any_subpath_work) {
  sf_server_stop(g_server);
  g_server = start_server(0, "/statefun");
  const char *paths[] = {"/statefun", "/statefun/greet", "/statefun/a/b/c"};
  expect_served(paths, sizeof paths / sizeof *paths);
  const char *not_ours[] = {"/statefunx", "/", "/other/statefun"};
  for (size_t i = 0; i < 3; i++) {
    char url[160];
    snprintf(url, sizeof url, "%s%s", g_base, not_ours[i]);
    size_t len = 0;
    uint8_t *req = wire_request("greeter.fns/greet", "x", 1, STATE_EMPTY, 0, &len);
    http_reply r;
    cr_assert(http_request(NULL, "POST", url, req, len, false, &r));
    free(req);
    cr_assert_eq(r.code, 404, "%s: %ld", not_ours[i], r.code);
    http_reply_free(&r);
  }
}

Test(http, custom_path_prefix) {
  sf_server_stop(g_server);
  g_server = start_server(0, "/fn/");
  char url[160];
  snprintf(url, sizeof url, "%s/fn/greet", g_base);
  bool has = false;
  int32_t seen = 0;
  cr_assert_eq(wire_visit(NULL, url, "Ivy", 1, &has, &seen), 200);
  cr_assert_eq(wire_visit(NULL, g_url, "Ivy", 1, &has, &seen), 404);
}

Test(http, get_and_put_on_the_prefix_get_405) {
  http_reply r;
  cr_assert(http_request(NULL, "GET", g_url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 405);
  cr_assert_str_eq(r.allow, "POST");
  http_reply_free(&r);
  cr_assert(http_request(NULL, "PUT", g_url, "abc", 3, false, &r));
  cr_assert_eq(r.code, 405);
  cr_assert_str_eq(r.allow, "POST");
  http_reply_free(&r);
  char url[160];
  snprintf(url, sizeof url, "%s/greet", g_url);
  cr_assert(http_request(NULL, "DELETE", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 405);
  http_reply_free(&r);
}

Test(http, health_is_ok) {
  char url[160];
  snprintf(url, sizeof url, "%s/health", g_base);
  http_reply r;
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 200);
  cr_assert_str_eq(r.body, "ok");
  http_reply_free(&r);
  cr_assert(http_request(NULL, "POST", url, "x", 1, false, &r));
  cr_assert_eq(r.code, 405);
  http_reply_free(&r);
}

/* With a path prefix, a path outside it is unknown (by default every path
 * is the function endpoint: a GET there gets 405, see above). */
Test(http, unknown_path_gets_404) {
  sf_server_stop(g_server);
  g_server = start_server(0, "/statefun");
  char url[160];
  snprintf(url, sizeof url, "%s/nothing-here", g_base);
  http_reply r;
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 404);
  http_reply_free(&r);
}

/* The value of the sample `line_prefix` ("name{labels}") in `text`. */
static long long metric(const char *text, const char *line_prefix) {
  size_t n = strlen(line_prefix);
  for (const char *p = text; p != NULL && *p != '\0';) {
    if (strncmp(p, line_prefix, n) == 0 && p[n] == ' ') return atoll(p + n + 1);
    p = strchr(p, '\n');
    if (p != NULL) p++;
  }
  return -1;
}

Test(http, metrics_count_requests) {
  /* 1 missing-state reply, 3 batches with 1+1+2 invocations, 1 failure,
   * 1 unknown function. */
  http_reply r = post_greet(g_url, "Jo", 1, STATE_ABSENT, 0);
  cr_assert_eq(r.code, 200);
  http_reply_free(&r);
  bool has = false;
  int32_t seen = 0;
  cr_assert_eq(wire_visit(NULL, g_url, "Jo", 1, &has, &seen), 200);
  cr_assert_eq(wire_visit(NULL, g_url, "Jo", 1, &has, &seen), 200);
  cr_assert_eq(wire_visit(NULL, g_url, "Kim", 2, &has, &seen), 200);
  size_t len = 0;
  uint8_t *req = wire_request("test.fns/fail", "x", 1, STATE_ABSENT, 0, &len);
  cr_assert(http_request(NULL, "POST", g_url, req, len, false, &r));
  http_reply_free(&r);
  free(req);
  req = wire_request("nope.fns/none", "x", 1, STATE_ABSENT, 0, &len);
  cr_assert(http_request(NULL, "POST", g_url, req, len, false, &r));
  http_reply_free(&r);
  free(req);

  char url[160];
  snprintf(url, sizeof url, "%s/metrics", g_base);
  cr_assert(http_request(NULL, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.code, 200);
  cr_assert(strncmp(r.content_type, "text/plain", 10) == 0);
  const char *t = r.body;
  cr_assert_eq(metric(t, "statefun_batches_total{function=\"greeter.fns/greet\"}"), 4, "%s", t);
  cr_assert_eq(metric(t, "statefun_invocations_total{function=\"greeter.fns/greet\"}"), 4, "%s", t);
  cr_assert_eq(metric(t, "statefun_missing_state_replies_total{function=\"greeter.fns/greet\"}"), 1, "%s", t);
  cr_assert_eq(metric(t, "statefun_failures_total{function=\"greeter.fns/greet\"}"), 0, "%s", t);
  cr_assert_eq(metric(t, "statefun_failures_total{function=\"test.fns/fail\"}"), 1, "%s", t);
  cr_assert_eq(metric(t, "statefun_batch_duration_seconds_count{function=\"greeter.fns/greet\"}"), 4, "%s", t);
  cr_assert_eq(metric(t, "statefun_batch_duration_seconds_bucket{function=\"greeter.fns/greet\",le=\"+Inf\"}"), 4, "%s", t);
  cr_assert(strstr(t, "statefun_batch_duration_seconds_sum{function=\"greeter.fns/greet\"}") != NULL);
  cr_assert(strstr(t, "# TYPE statefun_batch_duration_seconds histogram") != NULL);
  cr_assert_eq(metric(t, "statefun_http_requests_total{code=\"200\"}"), 4, "%s", t);
  cr_assert_eq(metric(t, "statefun_http_requests_total{code=\"500\"}"), 1, "%s", t);
  cr_assert_eq(metric(t, "statefun_http_requests_total{code=\"404\"}"), 1, "%s", t);
  cr_assert_eq(metric(t, "statefun_unknown_function_requests_total"), 1, "%s", t);
  http_reply_free(&r);
}

Test(http, keep_alive_reuses_the_connection) {
  CURL *curl = curl_easy_init();
  bool has = false;
  int32_t seen = 0;
  size_t len = 0;
  uint8_t *req = wire_request("greeter.fns/greet", "Liz", 1, STATE_EMPTY, 0, &len);
  http_reply r;
  cr_assert(http_request(curl, "POST", g_url, req, len, false, &r));
  cr_assert_eq(r.code, 200);
  cr_assert_eq(r.num_connects, 1);
  http_reply_free(&r);
  cr_assert(http_request(curl, "POST", g_url, req, len, false, &r));
  cr_assert_eq(r.code, 200);
  cr_assert_eq(r.num_connects, 0, "second request opened a new connection");
  http_reply_free(&r);
  /* Also across endpoints, and after an error reply. */
  char url[160];
  snprintf(url, sizeof url, "%s/health", g_base);
  cr_assert(http_request(curl, "GET", url, NULL, 0, false, &r));
  cr_assert_eq(r.num_connects, 0);
  http_reply_free(&r);
  cr_assert(http_request(curl, "POST", g_url, "junk", 4, false, &r));
  cr_assert_eq(r.code, 400);
  cr_assert_eq(r.num_connects, 0);
  http_reply_free(&r);
  cr_assert_eq(wire_visit(curl, g_url, "Liz", 1, &has, &seen), 200);
  free(req);
  curl_easy_cleanup(curl);
}

/* A loopback connection to the test server. */
static int connect_server(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert_geq(fd, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons(sf_server_port(g_server));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

/* A client that sends part of a request and hangs up (FIN) must not leave
 * its connection behind until the idle timeout: libmicrohttpd 0.9.75's
 * epoll mode misses that FIN (issue 13), which is why the server polls. */
Test(http, half_closed_incomplete_request_is_closed_at_once) {
  int fd = connect_server();
  static const char part[] =
      "POST /statefun HTTP/1.1\r\nHost: 127.0.0.1\r\n"
      "Content-Length: 100\r\n\r\nabc";
  cr_assert_eq(send(fd, part, sizeof part - 1, 0), (ssize_t)(sizeof part - 1));
  cr_assert_eq(shutdown(fd, SHUT_WR), 0);
  /* The server closes its side: EOF within 2 s (the idle timeout is 60). */
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  bool eof = false;
  char buf[512];
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    if (ms >= 2000 || poll(&p, 1, (int)(2000 - ms)) <= 0) break;
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n <= 0) {
      eof = true;
      break;
    }
  }
  close(fd);
  cr_assert(eof, "the server kept a half-closed connection open for 2 s");
}

/* Sends a POST of the greeter's request with an X-Pad header of `pad`
 * bytes on `fd`, then, with `hang_up`, its FIN (shutdown(SHUT_WR)), and
 * returns the status of the reply (0: none). */
static int post_padded_fin(int fd, size_t pad, bool hang_up) {
  size_t len = 0;
  uint8_t *body = wire_request("greeter.fns/greet", "Pad", 1, STATE_EMPTY, 0, &len);
  size_t cap = pad + len + 256;
  char *req = malloc(cap);
  int n = snprintf(req, cap,
                   "POST /statefun HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/octet-stream\r\n"
                   "Content-Length: %zu\r\nX-Pad: ",
                   len);
  memset(req + n, 'a', pad);
  size_t used = (size_t)n + pad;
  memcpy(req + used, "\r\n\r\n", 4);
  memcpy(req + used + 4, body, len);
  used += 4 + len;
  bool sent = send(fd, req, used, 0) == (ssize_t)used;
  if (sent && hang_up) sent = shutdown(fd, SHUT_WR) == 0;
  free(req);
  free(body);
  if (!sent) return 0;
  /* The reply's head and body (a few hundred bytes) in one read or two. */
  char buf[4096];
  size_t got = 0;
  while (got < 12) {
    struct pollfd p = {fd, POLLIN, 0};
    if (poll(&p, 1, 2000) <= 0) break;
    ssize_t r = recv(fd, buf + got, sizeof buf - got, 0);
    if (r <= 0) break;
    got += (size_t)r;
  }
  int code = 0;
  if (got >= 12) sscanf(buf, "HTTP/1.1 %d", &code);
  /* Drain the rest of a 200 so that the next request reads its own. */
  struct pollfd p = {fd, POLLIN, 0};
  while (code == 200 && poll(&p, 1, 100) > 0 && recv(fd, buf, sizeof buf, 0) > 0) {
  }
  return code;
}

static int post_padded(int fd, size_t pad) { return post_padded_fin(fd, pad, false); }

/* A client that sends a whole request and then its FIN (half-closes, as
 * `nc -N` does) gets its answer: only incomplete requests are dropped at a
 * hang-up (guard.c). */
Test(http, half_closed_complete_request_is_answered) {
  for (int i = 0; i < 50; i++) {
    int fd = connect_server();
    cr_assert_eq(post_padded_fin(fd, 0, true), 200, "request %d", i);
    close(fd);
  }
}

/* Each connection's memory (12 KiB, server.c) holds a request head of up
 * to about 11 KiB, reused request after request; a larger head gets 431
 * (README, "The server"). */
Test(http, head_of_10_kib_is_served_and_one_of_13_kib_gets_431) {
  int fd = connect_server();
  cr_assert_eq(post_padded(fd, 10000), 200);
  cr_assert_eq(post_padded(fd, 10000), 200, "the second request on the connection");
  close(fd);
  fd = connect_server();
  cr_assert_eq(post_padded(fd, 13000), 431);
  close(fd);
}

#define N_CLIENTS 8
#define N_VISITS 40

typedef struct client_run {
  int index;
  int ok;
  int32_t seen;
} client_run;

static void *client_thread(void *arg) {
  client_run *run = arg;
  CURL *curl = curl_easy_init();
  char id[32];
  snprintf(id, sizeof id, "user-%d", run->index);
  bool has = false;
  int32_t seen = 0;
  for (int i = 0; i < N_VISITS; i++)
    if (wire_visit(curl, g_url, id, 1, &has, &seen) == 200) run->ok++;
  run->seen = seen;
  curl_easy_cleanup(curl);
  return NULL;
}

Test(http, concurrent_clients) {
  pthread_t threads[N_CLIENTS];
  client_run runs[N_CLIENTS];
  for (int i = 0; i < N_CLIENTS; i++) {
    runs[i] = (client_run){i, 0, 0};
    cr_assert_eq(pthread_create(&threads[i], NULL, client_thread, &runs[i]), 0);
  }
  for (int i = 0; i < N_CLIENTS; i++) pthread_join(threads[i], NULL);
  for (int i = 0; i < N_CLIENTS; i++) {
    cr_assert_eq(runs[i].ok, N_VISITS, "client %d: %d ok", i, runs[i].ok);
    cr_assert_eq(runs[i].seen, N_VISITS, "client %d: seen %d", i, runs[i].seen);
  }
}

typedef struct slow_call {
  long code;
  FromFunction *from;
} slow_call;

static void *slow_thread(void *arg) {
  slow_call *call = arg;
  size_t len = 0;
  uint8_t *req = wire_request("test.fns/slow", "z", 1, STATE_ABSENT, 0, &len);
  http_reply r;
  http_request(NULL, "POST", g_url, req, len, false, &r);
  call->code = r.code;
  if (r.code == 200) call->from = wire_reply(&r);
  http_reply_free(&r);
  free(req);
  return NULL;
}

Test(http, stop_drains_requests_in_flight) {
  slow_call call = {0, NULL};
  pthread_t t;
  cr_assert_eq(pthread_create(&t, NULL, slow_thread, &call), 0);
  struct timespec ts = {0, 150 * 1000 * 1000};
  nanosleep(&ts, NULL); /* the slow function is running now */
  sf_server_stop(g_server);
  g_server = NULL;
  pthread_join(t, NULL);
  cr_assert_eq(call.code, 200, "in-flight request got %ld", call.code);
  cr_assert_not_null(call.from);
  /* No effects: the SDK answers with an empty FromFunction. */
  cr_assert_eq(call.from->response_case,
               IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE__NOT_SET);
  wire_reply_free(call.from);
  /* And the port is closed. */
  http_reply r;
  cr_assert_not(http_request(NULL, "POST", g_url, "x", 1, false, &r));
  http_reply_free(&r);
}

Test(http, port_in_use_is_a_clear_error) {
  sf_server_options o;
  memset(&o, 0, sizeof o);
  o.host = "127.0.0.1";
  o.port = sf_server_port(g_server);
  o.quiet = !g_loud;
  sf_status st = SF_OK;
  char err[256] = "";
  sf_server *s = sf_server_start(g_handler, &o, &st, err, sizeof err);
  cr_assert_null(s);
  cr_assert_eq(st, SF_ERR_IO);
  cr_assert(strstr(err, "in use") != NULL, "error: %s", err);
}

Test(http, bad_options_are_rejected) {
  sf_server_options o;
  memset(&o, 0, sizeof o);
  o.path_prefix = "no-slash";
  o.quiet = !g_loud;
  sf_status st = SF_OK;
  char err[256] = "";
  cr_assert_null(sf_server_start(g_handler, &o, &st, err, sizeof err));
  cr_assert_eq(st, SF_ERR_INVALID_ARGUMENT);
  cr_assert(strstr(err, "prefix") != NULL, "error: %s", err);
  cr_assert_null(sf_server_start(NULL, &o, &st, NULL, 0));
  cr_assert_eq(st, SF_ERR_INVALID_ARGUMENT);
  o.path_prefix = NULL;
  o.host = "no-such-host.invalid";
  cr_assert_null(sf_server_start(g_handler, &o, &st, err, sizeof err));
  cr_assert(strstr(err, "no-such-host.invalid") != NULL, "error: %s", err);
  sf_server_stop(NULL); /* a no-op */
  cr_assert_eq(sf_server_port(NULL), 0);
}
