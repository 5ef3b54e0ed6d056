/* Every failure a function can cause at run time, as its user reads it:
 * the exact reason sf_handler_handle gives (the server's HTTP 500 body and
 * log line; tests/server/test_http.c checks those carry it unchanged).
 * Each names the function type, the id, what failed and the fix. The
 * texts live in sdk/src/status.c. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <string.h>

#include "support.h"

static const sf_type profile_t = SF_TYPE_JSON("bank.types/Profile");
static const sf_value_spec s_count = SF_VALUE_SPEC("count", &sf_type_int);
static const sf_value_spec *const specs[] = {&s_count};

typedef sf_status (*body_fn)(sf_context *ctx, const sf_message *msg);
static sf_status trampoline(sf_context *ctx, const sf_message *msg, void *u) {
  return ((body_fn)u)(ctx, msg);
}

/* Runs `body` as bank/account "a1" on one message (`tn` + bytes, or a
 * message with no value when `data` is NULL); state "count" holds the
 * bytes `count` when given, else nothing. The arena is limited to `limit`
 * bytes (0: none). Returns the reason. */
static char g_reason[sizeof(((sf_handle_info *)0)->error)];
static sf_status run_in(body_fn body, const char *tn, const void *data, size_t len,
                        const void *count, size_t count_len, size_t limit) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "bank/account", trampoline, (void *)body, specs, 1),
               SF_OK);
  tf_req *r = tf_req_new("bank", "account", "a1");
  if (count)
    tf_req_state(r, "count", SF_TYPENAME_INT, count, count_len);
  else
    tf_req_state(r, "count", NULL, NULL, 0);
  tf_req_invoke(r, tn, data, len, NULL, NULL, NULL);
  size_t n;
  uint8_t *buf = tf_req_pack(r, &n);
  sf_arena *arena = sf_arena_new(limit);
  uint8_t *reply;
  size_t reply_len;
  sf_handle_info info;
  sf_status st = sf_handler_handle(h, buf, n, arena, &reply, &reply_len, &info);
  memcpy(g_reason, info.error, sizeof g_reason);
  sf_arena_free(arena);
  free(buf);
  tf_req_free(r);
  sf_handler_free(h);
  return st;
}
static sf_status run(body_fn body, const char *tn, const void *data, size_t len) {
  return run_in(body, tn, data, len, NULL, 0, 0);
}
#define PREFIX "function bank/account (id a1) failed at invocation 1 of 1: "
#define STRING_HI "\x0a\x02hi" /* StringWrapper "hi" */

/* ---- messages ------------------------------------------------------------ */

static sf_status read_int(sf_context *ctx, const sf_message *msg) {
  int32_t n;
  sf_status st = sf_message_as_int(msg, &n);
  if (st != SF_OK) return st;
  return sf_state_set_int(ctx, &s_count, n);
}
Test(reasons, message_of_another_type) {
  cr_assert_eq(run(read_int, SF_TYPENAME_STRING, STRING_HI, 4), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "the message is io.statefun.types/string, read as "
                   "io.statefun.types/int: test sf_message_is_int(msg) first, or "
                   "send it io.statefun.types/int");
}

Test(reasons, message_without_a_value) {
  cr_assert_eq(run(read_int, SF_TYPENAME_INT, NULL, 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "the message (io.statefun.types/int) carries no value: test "
                   "msg->value.has_value first, or send it with a value");
}

Test(reasons, message_bytes_that_do_not_decode) {
  /* Field 1 as a fixed32 cut short. */
  cr_assert_eq(run(read_int, SF_TYPENAME_INT, "\x0d\x01", 2), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "the message's 2 bytes are not a valid io.statefun.types/int: "
                   "fix the sender's encoding");
}

static sf_status read_json(sf_context *ctx, const sf_message *msg) {
  json_t *j;
  sf_status st = sf_message_as_json(ctx, msg, &profile_t, &j);
  return st;
}
Test(reasons, message_that_is_not_json) {
  cr_assert_eq(run(read_json, "bank.types/Profile", "{\"a\":", 5), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "the message's 5 bytes are not a valid bank.types/Profile "
                   "(JSON: unexpected token near end of file at line 1 column 5): fix "
                   "the sender's encoding");
}

/* A message tested for one type and handled does not hide the failure
 * that comes after it: the last reason is the batch's. */
static sf_status handled_then_state(sf_context *ctx, const sf_message *msg) {
  int32_t n;
  if (sf_message_as_int(msg, &n) != SF_OK) n = 0; /* handled */
  static const sf_value_spec other = SF_VALUE_SPEC("other", &sf_type_int);
  return sf_state_set_int(ctx, &other, n);
}
Test(reasons, a_handled_failure_does_not_hide_the_real_one) {
  cr_assert_eq(run(handled_then_state, SF_TYPENAME_STRING, STRING_HI, 4),
               SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "state 'other' is not declared by bank/account: add its spec "
                   "to the specs given to sf_handler_register");
}

/* ---- state --------------------------------------------------------------- */

static sf_status bump(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  int32_t n;
  sf_status st = sf_state_get_int(ctx, &s_count, &n);
  if (st != SF_OK) return st;
  return sf_state_set_int(ctx, &s_count, n + 1);
}
Test(reasons, state_bytes_that_do_not_decode) {
  cr_assert_eq(run_in(bump, SF_TYPENAME_INT, "", 0, "\x0d\x01\x02", 3, 0),
               SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "state 'count' holds 3 bytes that are not a valid "
                   "io.statefun.types/int: clear it, or fix the code that wrote it");
}

Test(reasons, state_without_a_value_returned_as_it_is) {
  cr_assert_eq(run(bump, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "returned SF_ERR_NO_VALUE (no value) with no reason: a state or "
                   "message it read held no value; read state with "
                   "sf_state_get_*_or(ctx, &spec, default), or test sf_state_has "
                   "first");
}

/* ---- encoding ------------------------------------------------------------ */

static sf_status bad_utf8(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_send(ctx, "bank/audit", "a1", sf_value_string(ctx, "\xff\xfe", 2));
}
Test(reasons, string_that_is_not_utf8) {
  cr_assert_eq(run(bad_utf8, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "sf_value_string: the 2 bytes given are not UTF-8, which "
                   "io.statefun.types/string must be: convert the text, or send "
                   "bytes as a raw type (SF_TYPE_RAW with sf_value_bytes)");
}

static sf_status null_json(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_send(ctx, "bank/audit", "a1", sf_value_json(ctx, &profile_t, NULL));
}
Test(reasons, json_value_that_is_null) {
  cr_assert_eq(run(null_json, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "sf_value_json: no JSON value (NULL) for bank.types/Profile: "
                   "pass a json_t, e.g. json_null() for JSON null");
}

static sf_status json_of_raw(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  static const sf_type raw_t = SF_TYPE_RAW("bank.types/Blob");
  json_t *j = json_object();
  sf_value v = sf_value_json(ctx, &raw_t, j);
  json_decref(j);
  return sf_send(ctx, "bank/audit", "a1", v);
}
Test(reasons, json_value_of_a_type_that_is_not_json) {
  cr_assert_eq(run(json_of_raw, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "sf_value_json: bank.types/Blob is not a JSON type: declare it "
                   "with SF_TYPE_JSON(\"bank.types/Blob\")");
}

/* ---- memory, unknown functions, failures without a reason ----------------- */

static sf_status hog(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  char big[4096];
  memset(big, 'x', sizeof big);
  for (int i = 0; i < 64; i++) { /* 256 KiB of values in a 128 KiB arena */
    sf_status st = sf_send(ctx, "bank/audit", "a1", sf_value_string(ctx, big, sizeof big));
    if (st != SF_OK) return st;
  }
  return SF_OK;
}
Test(reasons, full_arena) {
  cr_assert_eq(run_in(hog, SF_TYPENAME_INT, "", 0, NULL, 0, 128 * 1024), SF_ERR_NOMEM);
  cr_assert_str_eq(g_reason,
                   "function bank/account (id a1): the request needs more than its "
                   "memory limit of 131072 bytes: raise the limit (sf_server_main: "
                   "--max-body; the limit is 8 x it, at least 64 MiB), or keep the "
                   "batch's state and messages smaller");
}

static sf_status plain_status(sf_context *ctx, const sf_message *msg) {
  (void)ctx, (void)msg;
  return SF_ERR_INVALID_ARGUMENT;
}
Test(reasons, status_returned_without_a_reason) {
  cr_assert_eq(run(plain_status, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX
                   "returned SF_ERR_INVALID_ARGUMENT (invalid argument) with no "
                   "reason: return sf_context_fail(ctx, \"...\") to say why");
}

Test(reasons, unknown_function_type) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "bank/account", trampoline, (void *)bump, specs, 1),
               SF_OK);
  cr_assert_eq(sf_handler_register(h, "bank/audit", trampoline, (void *)bump, NULL, 0),
               SF_OK);
  tf_req *r = tf_req_new("bank", "acount", "a1");
  tf_req_invoke_int(r, 1);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_ERR_UNKNOWN_FUNCTION);
  cr_assert_str_eq(info.error,
                   "unknown function type bank/acount (address bank/acount/a1): "
                   "this server serves bank/account, bank/audit: register it with "
                   "sf_handler_register, or fix the functions pattern of the "
                   "module.yaml endpoint that sends it here");
  tf_req_free(r);
  sf_handler_free(h);
}

/* docs/json.md, "When it goes wrong": its function's answer to a Visit
 * whose text is not JSON. */
static const sf_type visit_t = SF_TYPE_JSON("example.types/Visit");
static sf_status visit(sf_context *ctx, const sf_message *msg, void *u) {
  (void)u;
  json_t *v;
  return sf_message_as_json(ctx, msg, &visit_t, &v);
}
Test(reasons, docs_json_md_visit_that_is_not_json) {
  sf_handler *h = sf_handler_new();
  cr_assert_eq(sf_handler_register(h, "example.fns/profile", visit, NULL, NULL, 0), SF_OK);
  tf_req *r = tf_req_new("example.fns", "profile", "ann");
  const char *body = "{\"page\": /home}";
  tf_req_invoke(r, "example.types/Visit", body, strlen(body), NULL, NULL, NULL);
  tf_from *f;
  sf_handle_info info;
  cr_assert_eq(tf_run(h, r, &f, &info), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(info.error,
                   "function example.fns/profile (id ann) failed at invocation 1 of 1: "
                   "the message's 15 bytes are not a valid example.types/Visit (JSON: "
                   "invalid token near '/' at line 1 column 10): fix the sender's encoding");
  tf_req_free(r);
  sf_handler_free(h);
}

/* ---- sends, delays and egress --------------------------------------------- */

static sf_status bad_delay(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_send_after(ctx, -5, NULL, "bank/audit", "a1", sf_value_int(ctx, 1));
}
static sf_status bad_token(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_cancel_delayed(ctx, "");
}
static sf_status bad_target(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_send(ctx, "audit", "a1", sf_value_int(ctx, 1));
}
static sf_status no_topic(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_egress_kafka(ctx, "bank.io/out", "", "k", "v", 1);
}
static sf_status bad_egress(sf_context *ctx, const sf_message *msg) {
  (void)msg;
  return sf_egress_kafka(ctx, "out", "t", "k", "v", 1);
}
Test(reasons, sends_delays_and_egress) {
  cr_assert_eq(run(bad_delay, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX "sf_send_after: negative delay -5 ms: pass 0 or more");
  cr_assert_eq(run(bad_token, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX "sf_cancel_delayed: empty cancellation token: pass "
                   "the token the message was sent with (sf_send_after)");
  cr_assert_eq(run(bad_target, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX "sf_send: target 'audit': typename is not of the form "
                   "namespace/name: pass a function type as \"namespace/name\"");
  cr_assert_eq(run(no_topic, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX "sf_egress_kafka: no topic: pass a non-empty one");
  cr_assert_eq(run(bad_egress, SF_TYPENAME_INT, "", 0), SF_ERR_FUNCTION_FAILED);
  cr_assert_str_eq(g_reason, PREFIX "sf_egress: egress 'out': typename is not of the form "
                   "namespace/name: pass the egress id as module.yaml declares it "
                   "(\"namespace/name\")");
}
