/*
 * test_cart.c - the shopping cart's entities (cart.c) tested with the
 * scenario of <statefun/testing.h>: User and Item instances in memory,
 * every call a real batch through the handler, delivered in one
 * deterministic order. A checkout that succeeds, one whose reservation is
 * refused by a failure injected into the Item (the reservations made
 * before it are released), and the parallel quote. On a failed assertion
 * the scenario's trace is on stderr.
 */
#include <string.h>

#include "scenario_check.h" /* SCN_CALL and the set-up (tests/unit) */
#include "shop.h"           /* generated from shop.ir.json by sf-codegen */

static void setup(void) { scn_open(shop_register); }

/* apple 3 (stock 1), pear 5 (stock 5), u1 with 100 and both in the basket. */
static void stock_the_shop(void) {
  SCN_CALL(Item, set_price, "apple", .price = 3);
  SCN_CALL(Item, set_price, "pear", .price = 5);
  cr_assert_eq(scn_int(SCN_CALL(Item, add_stock, "apple", .qty = 1)), 1);
  cr_assert_eq(scn_int(SCN_CALL(Item, add_stock, "pear", .qty = 5)), 5);
  cr_assert_eq(scn_int(SCN_CALL(User, deposit, "u1", .amount = 100)), 100);
  sf_ref items[] = {scn_ref("apple"), scn_ref("pear")};
  sf_scenario_reply r =
      SCN_CALL(User, add_to_basket, "u1", .items = {items, 2});
  cr_assert_eq(scn_int(r), 8, "the basket's total");
}

TestSuite(cart, .init = setup, .fini = scn_close);

Test(cart, checkout_pays_and_takes_the_stock) {
  stock_the_shop();
  sf_scenario_reply r = SCN_CALL(User, checkout, "u1");
  cr_assert(r.ok, "%s", r.error);
  cr_assert_eq(scn_int(SCN_CALL(User, get_balance, "u1")), 92);
  cr_assert_eq(scn_int(SCN_CALL(Item, get_stock, "apple")), 0);
  cr_assert_eq(scn_int(SCN_CALL(Item, get_stock, "pear")), 4);
  /* the checkout awaited each item in turn: the trace shows the user
   * suspended while the reservation ran */
  const sf_scenario_event *e =
      scn_find_event("shop/User", "u1", "call", "checkout");
  cr_assert_not_null(e);
  cr_assert_eq(e->sent, 1, "%s", e->line);
  cr_assert_eq(e->awaiting, 1, "%s", e->line);
  cr_assert_not_null(scn_find_event("shop/Item", "pear", "call", "reserve"));
}

Test(cart, injected_failure_releases_what_was_reserved) {
  stock_the_shop();
  cr_assert_eq(sf_scenario_fail_next(scn, "shop/Item", "pear", "reserve",
                                     "pear is on hold"),
               SF_OK);
  sf_scenario_reply r = SCN_CALL(User, checkout, "u1");
  cr_assert_not(r.ok);
  cr_assert_str_eq(r.error, "checkout failed: pear is on hold");
  const sf_scenario_event *e =
      scn_find_event("shop/Item", "pear", "injected failure", "reserve");
  cr_assert_not_null(e);
  cr_assert(e->failed);
  cr_assert_not_null(scn_find_event("shop/Item", "apple", "call", "release"),
                     "the apple reserved first is released");
  cr_assert_eq(scn_int(SCN_CALL(Item, get_stock, "apple")), 1);
  cr_assert_eq(scn_int(SCN_CALL(Item, get_stock, "pear")), 5);
  cr_assert_eq(scn_int(SCN_CALL(User, get_balance, "u1")), 100);
  /* the rule fired once: the next checkout goes through */
  cr_assert(SCN_CALL(User, checkout, "u1").ok);
  cr_assert_eq(scn_int(SCN_CALL(User, get_balance, "u1")), 92);
}

Test(cart, quote_awaits_every_item_at_once) {
  stock_the_shop();
  sf_ref items[] = {scn_ref("apple"), scn_ref("pear")};
  size_t before = sf_scenario_trace_count(scn);
  cr_assert_eq(scn_int(SCN_CALL(User, quote, "u1", .items = {items, 2})), 8);
  /* four calls went out in the quote's first step, before any answer */
  const sf_scenario_event *e = sf_scenario_trace_at(scn, before);
  cr_assert_str_eq(e->method, "quote");
  cr_assert_eq(e->sent, 4, "%s", e->line);
}

Test(cart, empty_basket_checkout_fails_with_its_reason) {
  sf_scenario_reply r = SCN_CALL(User, checkout, "u2");
  cr_assert_not(r.ok);
  cr_assert_str_eq(r.error, "checkout: the basket is empty");
}
