/*
 * scenario_check.h - Criterion tests of generated entities on the scenario
 * of <statefun/testing.h>, without the set-up each test would repeat: one
 * handler and scenario per test, calls that run the scenario to the end
 * and fail the test (with the scenario's trace on stderr) when a batch
 * fails, a call gets no reply, or a result that must be ok is not.
 * Used by the examples' entity tests (examples/bank/test_bank.c,
 * examples/shopping-cart/test_cart.c) and tests/codegen/gen.
 *
 *   static void setup(void) { scn_open(shop_register); }
 *   TestSuite(cart, .init = setup, .fini = scn_close);
 *   Test(cart, deposit) {
 *     sf_scenario_reply r = SCN_CALL(User, deposit, "u1", .amount = 5);
 *     cr_assert_eq(scn_int(r), 5);
 *   }
 */
#ifndef SF_SCENARIO_CHECK_H
#define SF_SCENARIO_CHECK_H

#include <criterion/criterion.h>
#include <stdint.h>

#include <statefun/entity.h>
#include <statefun/testing.h>

/* The current test's scenario (scn_open .. scn_close). */
extern sf_scenario *scn;

/* A new handler with the entities `register_entities` adds (the generated
 * <prefix>_register) and a scenario on it; fails the test if either
 * cannot be made. */
void scn_open(sf_status (*register_entities)(sf_handler *h));
/* Frees the scenario and its handler (a Criterion .fini). */
void scn_close(void);

/* "r1", "r2", ...: a request id unique within the test (scenario memory). */
const char *scn_request_id(void);
/* Runs the scenario until no message is left; fails the test if a batch
 * failed or messages were left after 1000 steps. */
void scn_run(void);
/* The reply to request `rid`; fails the test if it got none. */
sf_scenario_reply scn_reply(const char *rid);
/* The int result (field 1) of a reply that must be ok. */
int64_t scn_int(sf_scenario_reply r);
/* A ref to the instance with `key` (the string is not copied). */
sf_ref scn_ref(const char *key);
/* The first step of the trace that matches all four, or NULL. */
const sf_scenario_event *scn_find_event(const char *type, const char *key,
                                        const char *what, const char *method);

/* Queues Entity.method(args...) on `key` under a fresh request id, runs
 * the scenario to the end and evaluates to the reply (sf_scenario_reply). */
#define SCN_CALL(Entity, method, key, ...)                          \
  __extension__({                                                   \
    const char *scn_rid_ = scn_request_id();                        \
    cr_assert_eq(SF_SCENARIO_CALL(scn, Entity, method, key, scn_rid_, \
                                  __VA_ARGS__),                     \
                 SF_OK);                                            \
    scn_run();                                                      \
    scn_reply(scn_rid_);                                            \
  })

#endif
