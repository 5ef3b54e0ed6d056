/*
 * entity_bench.c - what the generated entity layer adds per invocation
 * (bench/entity.sh; README "Entities: cost of the generated layer").
 *
 *   entity_bench [--runs R] [--ms M] [CASE...]   timing: median of R runs
 *   entity_bench --iters N CASE                  N iterations of one case,
 *                                                no clock (for callgrind)
 *   entity_bench --list
 *
 * Everything is in-process: sf_handler_handle on prebuilt request bytes
 * (identical for every iteration), one warm sf_arena reset per request, no
 * HTTP. The handler serves two function types:
 *
 *   bench/Counter  the entity of entity_bench.ir.json (sf-codegen output +
 *                  the method bodies below)
 *   bench/Hand     a hand-written SDK function doing the same work as
 *                  Counter.add: read n (sf_state_get_long), add the int64
 *                  argument (a io.statefun.types/long message), write n
 *                  (sf_state_set_long), send the result as a long to the
 *                  caller's address (sf_send to "<ns>/<type>" of sf_caller,
 *                  formatted with sf_context_printf exactly as the entity
 *                  runtime formats the Reply's target).
 *
 * Cases (each one ToFunction request; state n = 5 attached, so there is
 * never a missing-state round trip):
 *
 *   hand_b1, hand_b100   bench/Hand/k, 1 or 100 invocations (long 3 from
 *                        caller bench/Counter/caller)
 *   add_b1, add_b100     bench/Counter/k, 1 or 100 invocations of a Call
 *                        envelope {method add, args {by: 3}, call_id,
 *                        chain, reply_to bench/Counter/caller} from that
 *                        caller (an entity-to-entity call), __entity
 *                        attached empty (an idle entity)
 *   relay_call           bench/Counter/r: Call relay(target k, by 3); the
 *                        method awaits Counter.add: it sends the Call to k
 *                        and suspends (its frame goes into __entity)
 *   relay_reply          bench/Counter/r with the __entity written by
 *                        relay_call: the Reply that k's add sent (obtained
 *                        by actually running that Call on k) resumes the
 *                        frame, which returns and replies to the caller
 *
 * Timing prints one line per case:
 *   CASE name=add_b1 invocations=1 req_bytes=.. reply_bytes=.. ns_per_req=..
 *        ns_per_inv=.. cpu_ns_per_inv=.. runs=.. iters=.. arena_mallocs=..
 *        libc_mallocs=.. mallocs_per_inv=..
 * ns_per_inv is CLOCK_MONOTONIC (the median of R runs), cpu_ns_per_inv
 * CLOCK_THREAD_CPUTIME_ID (median). arena_mallocs / libc_mallocs are
 * counted over all measured iterations after the warm-up; libc mallocs are
 * counted by the malloc/calloc/realloc defined below, which interpose
 * glibc's for the whole process (libstatefun and protobuf-c included) and
 * forward to __libc_malloc & co.
 *
 * --iters N runs exactly the same setup and warm-up as timing and then N
 * iterations; callgrind's Ir of `--iters N` minus that of `--iters 0`,
 * divided by N, is the instructions per request.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <statefun/entity.h>
#include <statefun/statefun.h>

#include "entities.pb-c.h"
#include "entity_bench.h"
#include "request_reply.pb-c.h"

/* ---- a libc malloc counter ---------------------------------------------------- */

extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void __libc_free(void *);

static volatile uint64_t g_mallocs; /* malloc + calloc + realloc calls */

void *malloc(size_t n);
void *calloc(size_t n, size_t m);
void *realloc(void *p, size_t n);
void free(void *p);

void *malloc(size_t n) {
  g_mallocs++;
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  g_mallocs++;
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  g_mallocs++;
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

/* ---- the entity's method bodies ----------------------------------------------- */

SF_METHOD(Counter, add) {
  SF_BEGIN(F);
  SF_STATE(Counter)->n += F->p.by;
  SF_RETURN(F, SF_STATE(Counter)->n);
  SF_END(F);
}

SF_METHOD(Counter, relay) {
  SF_BEGIN(F);
  SF_AWAIT(F, sum, Counter_add(ctx, F->p.target, F->p.by));
  SF_RETURN(F, F->r.sum);
  SF_END(F);
}

/* ---- the hand-written function -------------------------------------------------- */

static const sf_value_spec hand_n = SF_VALUE_SPEC("n", &sf_type_long);
static const sf_value_spec *const hand_specs[] = {&hand_n};

static sf_status hand_add(sf_context *ctx, const sf_message *msg, void *user) {
  (void)user;
  int64_t by, n = 0;
  sf_status st = sf_message_as_long(msg, &by);
  if (st != SF_OK) return sf_context_fail(ctx, "bench/Hand: %s", sf_strerror(st));
  st = sf_state_get_long(ctx, &hand_n, &n);
  if (st != SF_OK && st != SF_ERR_NO_VALUE) return st;
  n += by;
  st = sf_state_set_long(ctx, &hand_n, n);
  if (st != SF_OK) return st;
  const sf_address *caller = sf_caller(ctx);
  if (!caller) return sf_context_fail(ctx, "bench/Hand: no caller");
  char *tn = sf_context_printf(ctx, NULL, "%s/%s", caller->namespace_, caller->type);
  if (!tn) return SF_ERR_NOMEM;
  return sf_send(ctx, tn, caller->id, sf_value_long(ctx, n));
}

/* ---- building requests ------------------------------------------------------------- */

typedef Io__Statefun__Sdk__Reqreply__Address pb_addr;
typedef Io__Statefun__Sdk__Reqreply__TypedValue pb_tv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__PersistedValue pb_pv;
typedef Io__Statefun__Sdk__Reqreply__ToFunction__Invocation pb_inv;
typedef Io__Statefun__Sdk__Reqreply__FromFunction pb_from;

#define MAX_INV 100

typedef struct reqb {
  Io__Statefun__Sdk__Reqreply__ToFunction to;
  Io__Statefun__Sdk__Reqreply__ToFunction__InvocationBatchRequest batch;
  pb_addr target;
  pb_pv st[2], *stp[2];
  pb_tv stv[2];
  pb_inv inv[MAX_INV], *invp[MAX_INV];
  pb_tv arg[MAX_INV];
  pb_addr caller;
} reqb;

static void reqb_init(reqb *r, const char *type, const char *id) {
  memset(r, 0, sizeof(*r));
  io__statefun__sdk__reqreply__to_function__init(&r->to);
  io__statefun__sdk__reqreply__to_function__invocation_batch_request__init(&r->batch);
  io__statefun__sdk__reqreply__address__init(&r->target);
  io__statefun__sdk__reqreply__address__init(&r->caller);
  r->target.namespace_ = "bench";
  r->target.type = (char *)type;
  r->target.id = (char *)id;
  r->batch.target = &r->target;
  r->batch.state = r->stp;
  r->batch.invocations = r->invp;
  r->to.request_case = IO__STATEFUN__SDK__REQREPLY__TO_FUNCTION__REQUEST_INVOCATION;
  r->to.invocation = &r->batch;
}

/* A state; tn NULL: registered but without a value (what StateFun sends
 * for an empty state). */
static void reqb_state(reqb *r, const char *name, const char *tn, const uint8_t *v, size_t n) {
  size_t i = r->batch.n_state++;
  io__statefun__sdk__reqreply__to_function__persisted_value__init(&r->st[i]);
  r->st[i].state_name = (char *)name;
  if (tn) {
    io__statefun__sdk__reqreply__typed_value__init(&r->stv[i]);
    r->stv[i].typename_ = (char *)tn;
    r->stv[i].has_value = 1;
    r->stv[i].value.data = (uint8_t *)v;
    r->stv[i].value.len = n;
    r->st[i].state_value = &r->stv[i];
  }
  r->stp[i] = &r->st[i];
}

static void reqb_invoke(reqb *r, const char *tn, const uint8_t *v, size_t n,
                        const char *caller_type, const char *caller_id) {
  size_t i = r->batch.n_invocations++;
  io__statefun__sdk__reqreply__to_function__invocation__init(&r->inv[i]);
  io__statefun__sdk__reqreply__typed_value__init(&r->arg[i]);
  r->arg[i].typename_ = (char *)tn;
  r->arg[i].has_value = 1;
  r->arg[i].value.data = (uint8_t *)v;
  r->arg[i].value.len = n;
  r->inv[i].argument = &r->arg[i];
  r->caller.namespace_ = "bench";
  r->caller.type = (char *)caller_type;
  r->caller.id = (char *)caller_id;
  r->inv[i].caller = &r->caller;
  r->invp[i] = &r->inv[i];
}

static uint8_t *reqb_pack(reqb *r, size_t *len) {
  *len = io__statefun__sdk__reqreply__to_function__get_packed_size(&r->to);
  uint8_t *buf = malloc(*len);
  if (buf) io__statefun__sdk__reqreply__to_function__pack(&r->to, buf);
  return buf;
}

static uint8_t *dup_bytes(const void *p, size_t n) {
  uint8_t *d = malloc(n ? n : 1);
  if (d && n) memcpy(d, p, n);
  return d;
}

/* ---- cases -------------------------------------------------------------------------- */

typedef struct bcase {
  const char *name;
  uint8_t *req;
  size_t len;
  size_t invocations;
} bcase;

enum { HAND_B1, HAND_B100, ADD_B1, ADD_B100, RELAY_CALL, RELAY_REPLY, N_CASES };
static bcase cases[N_CASES] = {
    {"hand_b1", NULL, 0, 1},   {"hand_b100", NULL, 0, 100}, {"add_b1", NULL, 0, 1},
    {"add_b100", NULL, 0, 100}, {"relay_call", NULL, 0, 1},  {"relay_reply", NULL, 0, 1},
};

static sf_handler *H;
static sf_arena *A;

static void die(const char *what) {
  fprintf(stderr, "entity_bench: %s\n", what);
  exit(1);
}

/* Runs a request once on the arena and decodes the reply (malloc'd). */
static pb_from *run_once(const bcase *c, size_t *reply_len) {
  uint8_t *reply;
  sf_handle_info info;
  sf_arena_reset(A);
  sf_status st = sf_handler_handle(H, c->req, c->len, A, &reply, reply_len, &info);
  if (st != SF_OK || info.incomplete || info.invocations != c->invocations) {
    fprintf(stderr, "entity_bench: %s: %s %s (invocations %zu, incomplete %d)\n", c->name,
            sf_strerror(st), info.error, info.invocations, info.incomplete);
    exit(1);
  }
  pb_from *f = io__statefun__sdk__reqreply__from_function__unpack(NULL, *reply_len, reply);
  if (!f || f->response_case != IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT)
    die("reply is not an invocation result");
  return f;
}

static uint8_t long_n[9], long_by[9], add_args[16], relay_args[32];
static size_t long_n_len, long_by_len, add_args_len, relay_args_len;
static uint8_t *call_bufs[MAX_INV];
static size_t call_lens[MAX_INV];
static char call_ids[MAX_INV][48];
static uint8_t *book_after_call, *reply_from_k, *call_to_k;
static size_t book_after_call_len, reply_from_k_len, call_to_k_len;

static uint8_t *pack_call(const char *method, const uint8_t *args, size_t args_len,
                          const char *call_id, size_t *len) {
  Statefun__Entities__Call c = STATEFUN__ENTITIES__CALL__INIT;
  pb_addr to = IO__STATEFUN__SDK__REQREPLY__ADDRESS__INIT;
  to.namespace_ = "bench";
  to.type = "Counter";
  to.id = "caller";
  c.method = (char *)method;
  c.args.data = (uint8_t *)args;
  c.args.len = args_len;
  c.call_id = (char *)call_id;
  c.chain = (char *)call_id; /* each call is its own root chain */
  c.reply_to = &to;
  *len = statefun__entities__call__get_packed_size(&c);
  uint8_t *buf = malloc(*len);
  if (buf) statefun__entities__call__pack(&c, buf);
  return buf;
}

static void build_cases(void) {
  long_n_len = sf_encode_long(5, long_n);
  long_by_len = sf_encode_long(3, long_by);
  /* Args records with the generated encoders. */
  sf_arena *tmp = sf_arena_new(0);
  sf_wbuf w;
  sf_wbuf_init(&w, tmp);
  Counter_add_args aa = {3};
  Counter_add_args_encode(&w, &aa);
  memcpy(add_args, w.data, add_args_len = w.len);
  sf_wbuf_init(&w, tmp);
  Counter_relay_args ra = {{SF_STR("k")}, 3};
  Counter_relay_args_encode(&w, &ra);
  memcpy(relay_args, w.data, relay_args_len = w.len);
  sf_arena_free(tmp);
  for (int i = 0; i < MAX_INV; i++) {
    snprintf(call_ids[i], sizeof call_ids[i], "bench/Counter/caller#%d", i + 1);
    call_bufs[i] = pack_call("add", add_args, add_args_len, call_ids[i], &call_lens[i]);
  }

  static reqb r; /* big: not on the stack */
  for (int b = 0; b < 2; b++) {
    size_t n = b ? 100 : 1;
    reqb_init(&r, "Hand", "k");
    reqb_state(&r, "n", SF_TYPENAME_LONG, long_n, long_n_len);
    for (size_t i = 0; i < n; i++)
      reqb_invoke(&r, SF_TYPENAME_LONG, long_by, long_by_len, "Counter", "caller");
    cases[b ? HAND_B100 : HAND_B1].req = reqb_pack(&r, &cases[b ? HAND_B100 : HAND_B1].len);

    reqb_init(&r, "Counter", "k");
    reqb_state(&r, "n", SF_TYPENAME_LONG, long_n, long_n_len);
    reqb_state(&r, "__entity", NULL, NULL, 0);
    for (size_t i = 0; i < n; i++)
      reqb_invoke(&r, SF_TYPENAME_CALL, call_bufs[i], call_lens[i], "Counter", "caller");
    cases[b ? ADD_B100 : ADD_B1].req = reqb_pack(&r, &cases[b ? ADD_B100 : ADD_B1].len);
  }

  /* relay_call: Counter/r gets relay(k, 3) from the caller. */
  size_t rc_len;
  uint8_t *rc = pack_call("relay", relay_args, relay_args_len, "bench/Counter/caller#relay", &rc_len);
  reqb_init(&r, "Counter", "r");
  reqb_state(&r, "n", SF_TYPENAME_LONG, long_n, long_n_len);
  reqb_state(&r, "__entity", NULL, NULL, 0);
  reqb_invoke(&r, SF_TYPENAME_CALL, rc, rc_len, "Counter", "caller");
  cases[RELAY_CALL].req = reqb_pack(&r, &cases[RELAY_CALL].len);

  /* Run it: the outgoing Call to k and r's bookkeeping. */
  size_t rl;
  pb_from *f = run_once(&cases[RELAY_CALL], &rl);
  const Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse *res = f->invocation_result;
  if (res->n_outgoing_messages != 1 || strcmp(res->outgoing_messages[0]->target->id, "k") ||
      strcmp(res->outgoing_messages[0]->argument->typename_, SF_TYPENAME_CALL))
    die("relay_call: expected one Call to bench/Counter/k");
  call_to_k = dup_bytes(res->outgoing_messages[0]->argument->value.data,
                        call_to_k_len = res->outgoing_messages[0]->argument->value.len);
  for (size_t i = 0; i < res->n_state_mutations; i++)
    if (!strcmp(res->state_mutations[i]->state_name, "__entity") &&
        res->state_mutations[i]->state_value)
      book_after_call = dup_bytes(res->state_mutations[i]->state_value->value.data,
                                  book_after_call_len = res->state_mutations[i]->state_value->value.len);
  if (!book_after_call) die("relay_call: no __entity mutation");
  io__statefun__sdk__reqreply__from_function__free_unpacked(f, NULL);

  /* Deliver that Call to k (n = 5) like StateFun would; keep its Reply. */
  bcase k = {"k_add", NULL, 0, 1};
  reqb_init(&r, "Counter", "k");
  reqb_state(&r, "n", SF_TYPENAME_LONG, long_n, long_n_len);
  reqb_state(&r, "__entity", NULL, NULL, 0);
  reqb_invoke(&r, SF_TYPENAME_CALL, call_to_k, call_to_k_len, "Counter", "r");
  k.req = reqb_pack(&r, &k.len);
  f = run_once(&k, &rl);
  res = f->invocation_result;
  if (res->n_outgoing_messages != 1 || strcmp(res->outgoing_messages[0]->target->id, "r") ||
      strcmp(res->outgoing_messages[0]->argument->typename_, SF_TYPENAME_REPLY))
    die("k_add: expected one Reply to bench/Counter/r");
  reply_from_k = dup_bytes(res->outgoing_messages[0]->argument->value.data,
                           reply_from_k_len = res->outgoing_messages[0]->argument->value.len);
  io__statefun__sdk__reqreply__from_function__free_unpacked(f, NULL);
  free(k.req);

  /* relay_reply: r with its suspended frame gets k's Reply. */
  reqb_init(&r, "Counter", "r");
  reqb_state(&r, "n", SF_TYPENAME_LONG, long_n, long_n_len);
  reqb_state(&r, "__entity", SF_TYPENAME_ENTITY_STATE, book_after_call, book_after_call_len);
  reqb_invoke(&r, SF_TYPENAME_REPLY, reply_from_k, reply_from_k_len, "Counter", "k");
  cases[RELAY_REPLY].req = reqb_pack(&r, &cases[RELAY_REPLY].len);
  free(rc);
}

/* Decodes a long / a Reply's int64 result for the checks. */
static int64_t long_of(const pb_tv *v) {
  int64_t x = 0;
  if (sf_decode_long(v->value.data, v->value.len, &x) != SF_OK) die("bad long");
  return x;
}

static int64_t reply_result(const pb_tv *v) {
  Statefun__Entities__Reply *rp = statefun__entities__reply__unpack(NULL, v->value.len, v->value.data);
  if (!rp || !rp->ok) die("a Reply that is not ok");
  sf_rbuf r;
  sf_rbuf_init(&r, rp->result.data, rp->result.len);
  uint32_t fld;
  int wt;
  int64_t x = 0;
  while (sf_r_next(&r, &fld, &wt) == 1)
    if (fld != 1 || sf_r_int64(&r, wt, &x) != SF_OK) die("bad Result record");
  statefun__entities__reply__free_unpacked(rp, NULL);
  return x;
}

/* Checks a case's reply: the right messages and results, n's mutation;
 * prints a one-line summary. */
static size_t check_case(int ci) {
  const bcase *c = &cases[ci];
  size_t rl;
  pb_from *f = run_once(c, &rl);
  const Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse *res = f->invocation_result;
  size_t want_msgs = c->invocations;
  if (res->n_outgoing_messages != want_msgs) die("unexpected number of outgoing messages");
  for (size_t i = 0; i < res->n_outgoing_messages; i++) {
    const pb_tv *a = res->outgoing_messages[i]->argument;
    int64_t want = 5 + 3 * (int64_t)(i + 1), got;
    if (ci == HAND_B1 || ci == HAND_B100) got = long_of(a);
    else if (ci == RELAY_CALL) got = want; /* a Call, checked at build */
    else got = reply_result(a);
    if (ci == RELAY_REPLY) want = 8; /* k's n 5 + 3 */
    if (got != want) {
      fprintf(stderr, "entity_bench: %s: message %zu: %lld, expected %lld\n", c->name, i,
              (long long)got, (long long)want);
      exit(1);
    }
  }
  fprintf(stderr, "check %-11s ok: req %zu B, reply %zu B, %zu messages, mutations:", c->name,
          c->len, rl, res->n_outgoing_messages);
  for (size_t i = 0; i < res->n_state_mutations; i++)
    fprintf(stderr, " %s %s", res->state_mutations[i]->mutation_type ? "MODIFY" : "DELETE",
            res->state_mutations[i]->state_name);
  fprintf(stderr, "\n");
  io__statefun__sdk__reqreply__from_function__free_unpacked(f, NULL);
  return rl;
}

/* ---- measuring -------------------------------------------------------------------- */

static double now_ns(clockid_t clk) {
  struct timespec ts;
  clock_gettime(clk, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline void one(const bcase *c) {
  uint8_t *reply;
  size_t reply_len;
  sf_arena_reset(A);
  if (sf_handler_handle(H, c->req, c->len, A, &reply, &reply_len, NULL) != SF_OK)
    die("a measured request failed");
}

#define WARMUP 200

static int cmp_d(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

static int find_case(const char *name) {
  for (int i = 0; i < N_CASES; i++)
    if (!strcmp(cases[i].name, name)) return i;
  fprintf(stderr, "entity_bench: no case '%s' (--list)\n", name);
  exit(2);
}

int main(int argc, char **argv) {
  int runs = 5;
  double ms = 300;
  long iters = -1;
  bool want[N_CASES] = {false};
  bool any = false;
  for (int i = 1; i < argc; i++) {
    if (!strcmp(argv[i], "--runs") && i + 1 < argc) runs = atoi(argv[++i]);
    else if (!strcmp(argv[i], "--ms") && i + 1 < argc) ms = atof(argv[++i]);
    else if (!strcmp(argv[i], "--iters") && i + 1 < argc) iters = atol(argv[++i]);
    else if (!strcmp(argv[i], "--list")) {
      for (int k = 0; k < N_CASES; k++) printf("%s\n", cases[k].name);
      return 0;
    } else if (argv[i][0] == '-') {
      fprintf(stderr, "usage: entity_bench [--runs R] [--ms M] [CASE...] | --iters N CASE | --list\n");
      return 2;
    } else {
      want[find_case(argv[i])] = any = true;
    }
  }
  if (runs < 1 || runs > 99 || ms <= 0) die("bad --runs / --ms");
  if (iters >= 0 && !any) die("--iters needs a CASE");
  if (!any)
    for (int k = 0; k < N_CASES; k++) want[k] = true;

  H = sf_handler_new();
  A = sf_arena_new(0);
  if (!H || !A || entity_bench_register(H) != SF_OK ||
      sf_handler_register(H, "bench/Hand", hand_add, NULL, hand_specs, 1) != SF_OK)
    die("cannot register");
  build_cases();
  size_t reply_len[N_CASES];
  for (int k = 0; k < N_CASES; k++)
    if (want[k]) reply_len[k] = check_case(k);

  if (iters >= 0) { /* callgrind mode: identical setup, warm-up, N iterations */
    for (int k = 0; k < N_CASES; k++) {
      if (!want[k]) continue;
      for (int w = 0; w < WARMUP; w++) one(&cases[k]);
      uint64_t m0 = g_mallocs, a0 = sf_arena_mallocs(A);
      for (long n = 0; n < iters; n++) one(&cases[k]);
      printf("ITERS name=%s iters=%ld invocations=%zu libc_mallocs=%llu arena_mallocs=%llu\n",
             cases[k].name, iters, cases[k].invocations, (unsigned long long)(g_mallocs - m0),
             (unsigned long long)(sf_arena_mallocs(A) - a0));
    }
    return 0;
  }

  for (int k = 0; k < N_CASES; k++) {
    if (!want[k]) continue;
    const bcase *c = &cases[k];
    for (int w = 0; w < WARMUP; w++) one(c);
    /* Calibrate: iterations for about `ms` milliseconds per run. */
    long it = 16;
    for (;;) {
      double t0 = now_ns(CLOCK_MONOTONIC);
      for (long n = 0; n < it; n++) one(c);
      double dt = now_ns(CLOCK_MONOTONIC) - t0;
      if (dt > ms * 1e6 / 8 || it > (1L << 30)) {
        it = (long)((double)it * ms * 1e6 / (dt > 1 ? dt : 1));
        if (it < 16) it = 16;
        break;
      }
      it *= 4;
    }
    double wall[99], cpu[99];
    uint64_t m0 = g_mallocs, a0 = sf_arena_mallocs(A);
    for (int r = 0; r < runs; r++) {
      double c0 = now_ns(CLOCK_THREAD_CPUTIME_ID), w0 = now_ns(CLOCK_MONOTONIC);
      for (long n = 0; n < it; n++) one(c);
      wall[r] = (now_ns(CLOCK_MONOTONIC) - w0) / (double)it;
      cpu[r] = (now_ns(CLOCK_THREAD_CPUTIME_ID) - c0) / (double)it;
    }
    uint64_t libc = g_mallocs - m0, arena = sf_arena_mallocs(A) - a0;
    qsort(wall, (size_t)runs, sizeof(double), cmp_d);
    qsort(cpu, (size_t)runs, sizeof(double), cmp_d);
    double inv = (double)c->invocations, total = (double)it * runs * inv;
    printf("CASE name=%s invocations=%zu req_bytes=%zu reply_bytes=%zu ns_per_req=%.1f "
           "ns_per_inv=%.1f ns_min=%.1f ns_max=%.1f cpu_ns_per_inv=%.1f runs=%d iters=%ld "
           "arena_mallocs=%llu libc_mallocs=%llu mallocs_per_inv=%.6f\n",
           c->name, c->invocations, c->len, reply_len[k], wall[runs / 2], wall[runs / 2] / inv,
           wall[0] / inv, wall[runs - 1] / inv, cpu[runs / 2] / inv, runs, it,
           (unsigned long long)arena, (unsigned long long)libc, (double)libc / total);
    fflush(stdout);
  }
  sf_arena_free(A);
  sf_handler_free(H);
  return 0;
}
