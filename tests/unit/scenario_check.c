/* scenario_check.c - see scenario_check.h. */
#include "scenario_check.h"

#include <stdio.h>
#include <string.h>

sf_scenario *scn;
static sf_handler *handler;
static int next_request;

void scn_open(sf_status (*register_entities)(sf_handler *h)) {
  handler = sf_handler_new();
  cr_assert_not_null(handler);
  cr_assert_eq(register_entities(handler), SF_OK);
  scn = sf_scenario_new(handler);
  cr_assert_not_null(scn);
  next_request = 0;
}

void scn_close(void) {
  sf_scenario_free(scn);
  sf_handler_free(handler);
  scn = NULL;
  handler = NULL;
}

const char *scn_request_id(void) {
  char *rid = sf_arena_alloc(sf_scenario_arena(scn), 16);
  cr_assert_not_null(rid);
  snprintf(rid, 16, "r%d", ++next_request);
  return rid;
}

void scn_run(void) {
  sf_status st = sf_scenario_run(scn, 1000);
  if (st != SF_OK) sf_scenario_print_trace(scn, stderr);
  cr_assert_eq(st, SF_OK, "%s", sf_scenario_error(scn));
}

sf_scenario_reply scn_reply(const char *rid) {
  sf_scenario_reply r;
  sf_status st = sf_scenario_reply_of(scn, rid, &r);
  if (st != SF_OK) sf_scenario_print_trace(scn, stderr);
  cr_assert_eq(st, SF_OK, "no reply for %s", rid);
  return r;
}

int64_t scn_int(sf_scenario_reply r) {
  if (!r.ok) sf_scenario_print_trace(scn, stderr);
  cr_assert(r.ok, "failed: %s", r.error);
  int64_t v;
  cr_assert_eq(sf_scenario_result_int64(&r, &v), SF_OK);
  return v;
}

sf_ref scn_ref(const char *key) { return (sf_ref){sf_str_of(key)}; }

const sf_scenario_event *scn_find_event(const char *type, const char *key,
                                        const char *what, const char *method) {
  for (size_t i = 0; i < sf_scenario_trace_count(scn); i++) {
    const sf_scenario_event *e = sf_scenario_trace_at(scn, i);
    if (!strcmp(e->type, type) && !strcmp(e->key, key) &&
        !strcmp(e->what, what) && !strcmp(e->method, method))
      return e;
  }
  return NULL;
}
