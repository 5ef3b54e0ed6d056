/*
 * test_cart.c - the shopping cart's entities (cart.c) tested with the
 * scenario of <statefun/testing.h>: User and Item instances in memory,
 * every call a real batch through the handler, delivered in one
 * deterministic order. A checkout that succeeds, one whose reservation is
 * refused by a failure injected into the Item (the reservations made
 * before it are released), and the parallel quote. On a failed assertion
 * the scenario's trace is on stderr.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include <statefun/testing.h>

#include "shop.h" /* generated from shop.ir.json by sf-codegen */

static sf_handler *handler;
static sf_scenario *sc;
static int next_request;

static void setup(void) {
  handler = sf_handler_new();
  cr_assert_eq(shop_register(handler), SF_OK);
  sc = sf_scenario_new(handler);
  next_request = 0;
}

static void teardown(void) {
  sf_scenario_free(sc);
  sf_handler_free(handler);
}

/* Queues Entity.method(args...) on `key`, runs the scenario to the end
 * and returns the request id. */
#define CALL(Entity, method, key, ...)                                           \
  ({                                                                             \
    const char *rid_ = request_id();                                             \
    cr_assert_eq(SF_SCENARIO_CALL(sc, Entity, method, key, rid_, __VA_ARGS__), SF_OK); \
    run();                                                                       \
    rid_;                                                                        \
  })

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

/* The reply of `rid`, which must have answered. */
static sf_scenario_reply reply_of(const char *rid) {
  sf_scenario_reply r;
  if (sf_scenario_reply_of(sc, rid, &r) != SF_OK) sf_scenario_print_trace(sc, stderr);
  cr_assert_eq(sf_scenario_reply_of(sc, rid, &r), SF_OK, "no reply for %s", rid);
  return r;
}

static int64_t result_of(const char *rid) {
  sf_scenario_reply r = reply_of(rid);
  if (!r.ok) sf_scenario_print_trace(sc, stderr);
  cr_assert(r.ok, "%s failed: %s", rid, r.error);
  int64_t v;
  cr_assert_eq(sf_scenario_result_int64(&r, &v), SF_OK);
  return v;
}

static sf_ref ref(const char *key) { return (sf_ref){sf_str_of(key)}; }

/* apple 3 (stock 1), pear 5 (stock 5), u1 with 100 and both in the basket. */
static void stock_the_shop(void) {
  CALL(Item, set_price, "apple", .price = 3);
  CALL(Item, set_price, "pear", .price = 5);
  cr_assert_eq(result_of(CALL(Item, add_stock, "apple", .qty = 1)), 1);
  cr_assert_eq(result_of(CALL(Item, add_stock, "pear", .qty = 5)), 5);
  cr_assert_eq(result_of(CALL(User, deposit, "u1", .amount = 100)), 100);
  sf_ref items[] = {ref("apple"), ref("pear")};
  const char *rid = CALL(User, add_to_basket, "u1", .items = {items, 2});
  cr_assert_eq(result_of(rid), 8, "the basket's total");
}

/* Which step delivered what: the index of the first event matching. */
static const sf_scenario_event *find_event(const char *type, const char *key,
                                           const char *what, const char *method) {
  for (size_t i = 0; i < sf_scenario_trace_count(sc); i++) {
    const sf_scenario_event *e = sf_scenario_trace_at(sc, i);
    if (!strcmp(e->type, type) && !strcmp(e->key, key) && !strcmp(e->what, what) &&
        !strcmp(e->method, method))
      return e;
  }
  return NULL;
}

TestSuite(cart, .init = setup, .fini = teardown);

Test(cart, checkout_pays_and_takes_the_stock) {
  stock_the_shop();
  const char *rid = CALL(User, checkout, "u1");
  cr_assert(reply_of(rid).ok, "%s", reply_of(rid).error);
  cr_assert_eq(result_of(CALL(User, get_balance, "u1")), 92);
  cr_assert_eq(result_of(CALL(Item, get_stock, "apple")), 0);
  cr_assert_eq(result_of(CALL(Item, get_stock, "pear")), 4);
  /* the checkout awaited each item in turn: the trace shows the user
   * suspended while the reservation ran */
  const sf_scenario_event *e = find_event("shop/User", "u1", "call", "checkout");
  cr_assert_not_null(e);
  cr_assert_eq(e->sent, 1, "%s", e->line);
  cr_assert_eq(e->awaiting, 1, "%s", e->line);
  cr_assert_not_null(find_event("shop/Item", "pear", "call", "reserve"));
}

Test(cart, injected_failure_releases_what_was_reserved) {
  stock_the_shop();
  cr_assert_eq(sf_scenario_fail_next(sc, "shop/Item", "pear", "reserve", "pear is on hold"),
               SF_OK);
  const char *rid = CALL(User, checkout, "u1");
  sf_scenario_reply r = reply_of(rid);
  cr_assert_not(r.ok);
  cr_assert_str_eq(r.error, "checkout failed: pear is on hold");
  const sf_scenario_event *e = find_event("shop/Item", "pear", "injected failure", "reserve");
  cr_assert_not_null(e);
  cr_assert(e->failed);
  cr_assert_not_null(find_event("shop/Item", "apple", "call", "release"),
                     "the apple reserved first is released");
  cr_assert_eq(result_of(CALL(Item, get_stock, "apple")), 1);
  cr_assert_eq(result_of(CALL(Item, get_stock, "pear")), 5);
  cr_assert_eq(result_of(CALL(User, get_balance, "u1")), 100);
  /* the rule fired once: the next checkout goes through */
  cr_assert(reply_of(CALL(User, checkout, "u1")).ok);
  cr_assert_eq(result_of(CALL(User, get_balance, "u1")), 92);
}

Test(cart, quote_awaits_every_item_at_once) {
  stock_the_shop();
  sf_ref items[] = {ref("apple"), ref("pear")};
  size_t before = sf_scenario_trace_count(sc);
  const char *rid = CALL(User, quote, "u1", .items = {items, 2});
  cr_assert_eq(result_of(rid), 8);
  /* four calls went out in the quote's first step, before any answer */
  const sf_scenario_event *e = sf_scenario_trace_at(sc, before);
  cr_assert_str_eq(e->method, "quote");
  cr_assert_eq(e->sent, 4, "%s", e->line);
}

Test(cart, empty_basket_checkout_fails_with_its_reason) {
  const char *rid = CALL(User, checkout, "u2");
  sf_scenario_reply r = reply_of(rid);
  cr_assert_not(r.ok);
  cr_assert_str_eq(r.error, "checkout: the basket is empty");
}
