/*
 * test_bank.c - the bank's entities (bank.c) tested with the scenario of
 * <statefun/testing.h>: a transfer, a transfer whose deposit fails (by a
 * failure injected into the receiving Account, and by a frozen account)
 * and is refunded, and the sequential and parallel totals, which must
 * agree. On a failed assertion the scenario's trace is on stderr.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <statefun/testing.h>

#include "bank.h" /* generated from bank.ir.json by sf-codegen */

static sf_handler *handler;
static sf_scenario *sc;
static int next_request;

static void setup(void) {
  handler = sf_handler_new();
  cr_assert_eq(bank_register(handler), SF_OK);
  sc = sf_scenario_new(handler);
  next_request = 0;
}

static void teardown(void) {
  sf_scenario_free(sc);
  sf_handler_free(handler);
}

static const char *request_id(void) {
  char *rid = sf_arena_alloc(sf_scenario_arena(sc), 16);
  snprintf(rid, 16, "r%d", ++next_request);
  return rid;
}

static void run(void) {
  sf_status st = sf_scenario_run(sc, 1000);
  if (st != SF_OK) sf_scenario_print_trace(sc, stderr);
  cr_assert_eq(st, SF_OK, "%s", sf_scenario_error(sc));
}

/* Queues Entity.method(args...) on `key`, runs the scenario to the end
 * and returns the reply. */
#define CALL(Entity, method, key, ...)                                                  \
  ({                                                                                    \
    const char *rid_ = request_id();                                                    \
    cr_assert_eq(SF_SCENARIO_CALL(sc, Entity, method, key, rid_, __VA_ARGS__), SF_OK);  \
    run();                                                                              \
    sf_scenario_reply r_;                                                               \
    cr_assert_eq(sf_scenario_reply_of(sc, rid_, &r_), SF_OK, "no reply for %s", rid_); \
    r_;                                                                                 \
  })

static int64_t value_of(sf_scenario_reply r) {
  if (!r.ok) sf_scenario_print_trace(sc, stderr);
  cr_assert(r.ok, "failed: %s", r.error);
  int64_t v;
  cr_assert_eq(sf_scenario_result_int64(&r, &v), SF_OK);
  return v;
}

static sf_ref ref(const char *key) { return (sf_ref){sf_str_of(key)}; }

/* Accounts a (100) and b (10) in bank "main". */
static void open_accounts(void) {
  cr_assert_eq(value_of(CALL(Account, deposit, "a", .amount = 100)), 100);
  cr_assert_eq(value_of(CALL(Account, deposit, "b", .amount = 10)), 10);
  cr_assert_eq(value_of(CALL(Bank, add_account, "main", .account = ref("a"))), 1);
  cr_assert_eq(value_of(CALL(Bank, add_account, "main", .account = ref("b"))), 2);
}

static int64_t balance(const char *key) { return value_of(CALL(Account, get_balance, key)); }

TestSuite(bank, .init = setup, .fini = teardown);

Test(bank, transfer_moves_the_money) {
  open_accounts();
  sf_scenario_reply r = CALL(Bank, transfer, "main", .from = ref("a"), .to = ref("b"), .amount = 30);
  cr_assert(r.ok, "%s", r.error);
  cr_assert_eq(balance("a"), 70);
  cr_assert_eq(balance("b"), 40);
  cr_assert_eq(value_of(CALL(Bank, get_transfers, "main")), 1);
}

Test(bank, failed_deposit_is_refunded) {
  open_accounts();
  cr_assert_eq(sf_scenario_fail_next(sc, "bank/Account", "b", "deposit", "b is closed"), SF_OK);
  sf_scenario_reply r = CALL(Bank, transfer, "main", .from = ref("a"), .to = ref("b"), .amount = 30);
  cr_assert_not(r.ok);
  cr_assert_str_eq(r.error, "transfer of 30 from a to b refused: b is closed (refunded)");
  cr_assert_eq(balance("a"), 100, "the withdrawn 30 came back");
  cr_assert_eq(balance("b"), 10);
  cr_assert_eq(value_of(CALL(Bank, get_transfers, "main")), 0);
}

Test(bank, frozen_account_refuses_the_deposit) {
  open_accounts();
  CALL(Account, set_frozen, "b", .frozen = true);
  sf_scenario_reply r = CALL(Bank, transfer, "main", .from = ref("a"), .to = ref("b"), .amount = 5);
  cr_assert_not(r.ok);
  cr_assert(strstr(r.error, "account b is frozen (refunded)") != NULL, "%s", r.error);
  cr_assert_eq(balance("a"), 100);
}

Test(bank, totals_agree) {
  open_accounts();
  CALL(Bank, transfer, "main", .from = ref("b"), .to = ref("a"), .amount = 10);
  size_t before = sf_scenario_trace_count(sc);
  int64_t parallel = value_of(CALL(Bank, total_parallel, "main"));
  /* both balances were asked for in the first step, before any answer */
  const sf_scenario_event *e = sf_scenario_trace_at(sc, before);
  cr_assert_str_eq(e->method, "total_parallel");
  cr_assert_eq(e->sent, 2, "%s", e->line);
  cr_assert_eq(e->awaiting, 1, "%s", e->line);
  cr_assert_eq(value_of(CALL(Bank, total, "main")), parallel);
  cr_assert_eq(parallel, 110);
}
