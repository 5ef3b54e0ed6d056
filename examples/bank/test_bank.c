/*
 * test_bank.c - the bank's entities (bank.c) tested with the scenario of
 * <statefun/testing.h>: a transfer, a transfer whose deposit fails (by a
 * failure injected into the receiving Account, and by a frozen account)
 * and is refunded, and the sequential and parallel totals, which must
 * agree. On a failed assertion the scenario's trace is on stderr.
 */
#include <string.h>

#include "bank.h"           /* generated from bank.ir.json by sf-codegen */
#include "scenario_check.h" /* SCN_CALL and the set-up (tests/unit) */

static void setup(void) { scn_open(bank_register); }

/* Accounts a (100) and b (10) in bank "main". */
static void open_accounts(void) {
  cr_assert_eq(scn_int(SCN_CALL(Account, deposit, "a", .amount = 100)),
               100);
  cr_assert_eq(scn_int(SCN_CALL(Account, deposit, "b", .amount = 10)), 10);
  cr_assert_eq(
      scn_int(SCN_CALL(Bank, add_account, "main", .account = scn_ref("a"))), 1);
  cr_assert_eq(
      scn_int(SCN_CALL(Bank, add_account, "main", .account = scn_ref("b"))), 2);
}

static int64_t balance(const char *key) {
  return scn_int(SCN_CALL(Account, get_balance, key));
}

TestSuite(bank, .init = setup, .fini = scn_close);

Test(bank, transfer_moves_the_money) {
  open_accounts();
  sf_scenario_reply r = SCN_CALL(Bank, transfer, "main", .from = scn_ref("a"),
                                 .to = scn_ref("b"), .amount = 30);
  cr_assert(r.ok, "%s", r.error);
  cr_assert_eq(balance("a"), 70);
  cr_assert_eq(balance("b"), 40);
  cr_assert_eq(scn_int(SCN_CALL(Bank, get_transfers, "main")), 1);
}

Test(bank, failed_deposit_is_refunded) {
  open_accounts();
  cr_assert_eq(sf_scenario_fail_next(scn, "bank/Account", "b", "deposit",
                                     "b is closed"),
               SF_OK);
  sf_scenario_reply r = SCN_CALL(Bank, transfer, "main", .from = scn_ref("a"),
                                 .to = scn_ref("b"), .amount = 30);
  cr_assert_not(r.ok);
  cr_assert_str_eq(
      r.error, "transfer of 30 from a to b refused: b is closed (refunded)");
  cr_assert_eq(balance("a"), 100, "the withdrawn 30 came back");
  cr_assert_eq(balance("b"), 10);
  cr_assert_eq(scn_int(SCN_CALL(Bank, get_transfers, "main")), 0);
}

Test(bank, frozen_account_refuses_the_deposit) {
  open_accounts();
  SCN_CALL(Account, set_frozen, "b", .frozen = true);
  sf_scenario_reply r = SCN_CALL(Bank, transfer, "main", .from = scn_ref("a"),
                                 .to = scn_ref("b"), .amount = 5);
  cr_assert_not(r.ok);
  cr_assert(strstr(r.error, "account b is frozen (refunded)") != NULL, "%s", r.error);
  cr_assert_eq(balance("a"), 100);
}

Test(bank, totals_agree) {
  open_accounts();
  SCN_CALL(Bank, transfer, "main", .from = scn_ref("b"), .to = scn_ref("a"),
           .amount = 10);
  size_t before = sf_scenario_trace_count(scn);
  int64_t parallel = scn_int(SCN_CALL(Bank, total_parallel, "main"));
  /* both balances were asked for in the first step, before any answer */
  const sf_scenario_event *e = sf_scenario_trace_at(scn, before);
  cr_assert_str_eq(e->method, "total_parallel");
  cr_assert_eq(e->sent, 2, "%s", e->line);
  cr_assert_eq(e->awaiting, 1, "%s", e->line);
  cr_assert_eq(scn_int(SCN_CALL(Bank, total, "main")), parallel);
  cr_assert_eq(parallel, 110);
}
