/*
 * fuzz_entity: the SDK's entity runtime receiving Call and Reply envelopes
 * (statefun.entities/Call, /Reply) and its own bookkeeping state through
 * sf_handler_handle, for the entity Keeper of tests/codegen/gen/
 * codec.ir.json (generated at build time; every field type, an await, a
 * parallel fan-out await). One input is a conversation of up to four
 * batches: the state starts from the input (each value absent, missing or
 * arbitrary bytes, __entity and frames included), every batch carries
 * 1-3 invocations built from the input (raw Call or Reply bytes, a Call
 * of a method with fuzzed arguments, a Reply to a call the entity made in
 * an earlier batch, ok or failed, with a fuzzed result), and the state
 * mutations of each reply become the state of the next batch, as Flink
 * would apply them. Checks: no crash/leak/UB; a well-formed FromFunction
 * on success, a reason on failure.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "entities.pb-c.h"
#include "fuzz_common.h"
#include "request_reply.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- the entity's methods (what the generated header asks for) ---------- */

SF_METHOD(Keeper, put) {
  SF_BEGIN(F);
  SF_STATE(Keeper)->all = F->p.v;
  SF_STATE(Keeper)->count++;
  SF_RETURN(F, SF_STATE(Keeper)->all);
  SF_END(F);
}

/* Keeper.get, relay and gather: tests/codegen/gen/keeper_steps.c. */

/* ---- the conversation ---------------------------------------------------- */

#define N_STATE 6
static const char *const k_state[N_STATE] = {"all", "count", "names",
                                             "ratio", "tag", "__entity"};
static const char *const k_state_type[N_STATE] = {
    "codec.test.types/Keeper.all", SF_TYPENAME_INT,
    "codec.test.types/Keeper.names", SF_TYPENAME_DOUBLE,
    SF_TYPENAME_STRING, SF_TYPENAME_ENTITY_STATE};
static const char *const k_methods[] = {"put", "get", "relay", "gather",
                                        "nope"};
#define MAX_PENDING 16

typedef struct conv {
  bool sent[N_STATE];    /* in the request at all (else: missing) */
  bool has[N_STATE];     /* with a value */
  fz_buf val[N_STATE];
  char *pending[MAX_PENDING]; /* call ids of the calls the entity made */
  size_t n_pending;
  unsigned seq;
} conv;

static const sf_handler *handler(void) {
  static sf_handler *h;
  if (h == NULL) {
    h = sf_handler_new();
    FZ_CHECK(h != NULL && codec_register(h) == SF_OK);
  }
  return h;
}

static void address(fz_buf *out, const char *ns, const char *type,
                    const char *id) {
  pb_str(out, 1, ns);
  pb_str(out, 2, type);
  pb_str(out, 3, id);
}

static void typed(fz_buf *out, const char *tn, const void *p, size_t n) {
  pb_str(out, 1, tn);
  pb_uint(out, 2, 1);
  pb_lenf(out, 3, p, n);
}

/* A Reply (ok when kind has bit 4) to one of the calls the entity made. */
static void reply_to_pending(fz_reader *r, const conv *c, uint8_t kind,
                             fz_buf *arg) {
  const uint8_t *s;
  Statefun__Entities__Reply rp = STATEFUN__ENTITIES__REPLY__INIT;
  rp.call_id = c->pending[fz_u8(r) % c->n_pending];
  rp.ok = (kind & 4) != 0;
  size_t n = fz_slice(r, 255, &s);
  rp.result.data = (uint8_t *)s;
  rp.result.len = n;
  if (!rp.ok) rp.error = (char *)"fuzz failure";
  size_t len = statefun__entities__reply__get_packed_size(&rp);
  uint8_t *packed = malloc(len ? len : 1);
  FZ_CHECK(packed != NULL);
  statefun__entities__reply__pack(&rp, packed);
  typed(arg, SF_TYPENAME_REPLY, packed, len);
  free(packed);
}

/* The argument of one invocation, picked and filled from the input. */
static void argument(fz_reader *r, conv *c, uint8_t kind, fz_buf *arg) {
  const uint8_t *s;
  size_t n;
  uint8_t *packed;
  switch (kind % 4) {
  case 0: /* raw Call bytes */
    n = fz_slice(r, 255, &s);
    typed(arg, SF_TYPENAME_CALL, s, n);
    return;
  case 2: /* a Reply to a pending call (none yet: raw Reply bytes) */
    if (c->n_pending > 0) {
      reply_to_pending(r, c, kind, arg);
      return;
    }
    n = fz_slice(r, 255, &s);
    typed(arg, SF_TYPENAME_REPLY, s, n);
    return;
  case 1: /* raw Reply bytes */
    n = fz_slice(r, 255, &s);
    typed(arg, SF_TYPENAME_REPLY, s, n);
    return;
  default: { /* a Call of a method with fuzzed arguments */
    Statefun__Entities__Call call = STATEFUN__ENTITIES__CALL__INIT;
    Io__Statefun__Sdk__Reqreply__Address to =
        IO__STATEFUN__SDK__REQREPLY__ADDRESS__INIT;
    char id[32];
    snprintf(id, sizeof id, "c%u", c->seq++);
    call.method = (char *)k_methods[fz_u8(r) % 5];
    n = fz_slice(r, 255, &s);
    call.args.data = (uint8_t *)s;
    call.args.len = n;
    call.call_id = id;
    if (kind & 8) { /* from another entity, else external */
      to.namespace_ = (char *)"codec.test";
      to.type = (char *)"Keeper";
      to.id = (char *)"peer";
      call.reply_to = &to;
    } else {
      call.request_id = (char *)"rid-1";
    }
    size_t len = statefun__entities__call__get_packed_size(&call);
    packed = malloc(len ? len : 1);
    FZ_CHECK(packed != NULL);
    statefun__entities__call__pack(&call, packed);
    typed(arg, SF_TYPENAME_CALL, packed, len);
    free(packed);
    return;
  }
  }
}

static void request(fz_reader *r, conv *c, const char *id, fz_buf *req) {
  fz_buf batch = {0}, tmp = {0};
  address(&tmp, "codec.test", "Keeper", id);
  pb_msg(&batch, 1, &tmp);
  for (int k = 0; k < N_STATE; k++) {
    if (!c->sent[k]) continue;
    fz_buf pv = {0}, tv = {0};
    pb_str(&pv, 1, k_state[k]);
    if (c->has[k]) {
      typed(&tv, k_state_type[k], c->val[k].p, c->val[k].len);
      pb_msg(&pv, 2, &tv);
    }
    pb_msg(&batch, 2, &pv);
  }
  int n = 1 + fz_u8(r) % 3;
  for (int i = 0; i < n; i++) {
    fz_buf inv = {0}, arg = {0};
    uint8_t kind = fz_u8(r);
    if (kind & 16) {
      address(&tmp, "codec.test", "Keeper", "peer");
      pb_msg(&inv, 1, &tmp);
    }
    argument(r, c, kind, &arg);
    pb_msg(&inv, 2, &arg);
    pb_msg(&batch, 3, &inv);
  }
  pb_msg(req, 100, &batch);
}

/* Applies a reply as Flink would: state mutations, missing values, and
 * the call ids of the Calls the entity sent (for Replies later). */
static void apply(conv *c, const uint8_t *reply, size_t len) {
  Io__Statefun__Sdk__Reqreply__FromFunction *ff =
      io__statefun__sdk__reqreply__from_function__unpack(NULL, len, reply);
  FZ_CHECK(ff != NULL);
  if (ff->response_case ==
      IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INCOMPLETE_INVOCATION_CONTEXT) {
    for (int k = 0; k < N_STATE; k++) c->sent[k] = true; /* now declared */
  } else if (ff->response_case ==
             IO__STATEFUN__SDK__REQREPLY__FROM_FUNCTION__RESPONSE_INVOCATION_RESULT) {
    Io__Statefun__Sdk__Reqreply__FromFunction__InvocationResponse *ir =
        ff->invocation_result;
    for (size_t i = 0; i < ir->n_state_mutations; i++) {
      const Io__Statefun__Sdk__Reqreply__FromFunction__PersistedValueMutation
          *m = ir->state_mutations[i];
      for (int k = 0; k < N_STATE; k++) {
        if (strcmp(m->state_name, k_state[k]) != 0) continue;
        c->val[k].len = 0;
        c->has[k] = m->state_value != NULL && m->mutation_type != 0;
        if (c->has[k])
          fz_put(&c->val[k], m->state_value->value.data,
                 m->state_value->value.len);
      }
    }
    for (size_t i = 0; i < ir->n_outgoing_messages; i++) {
      const Io__Statefun__Sdk__Reqreply__TypedValue *a =
          ir->outgoing_messages[i]->argument;
      if (a == NULL || strcmp(a->typename_, SF_TYPENAME_CALL) != 0) continue;
      Statefun__Entities__Call *call =
          statefun__entities__call__unpack(NULL, a->value.len, a->value.data);
      FZ_CHECK(call != NULL); /* the entity's own Calls decode */
      if (c->n_pending < MAX_PENDING)
        c->pending[c->n_pending++] = strdup(call->call_id);
      statefun__entities__call__free_unpacked(call, NULL);
    }
  }
  io__statefun__sdk__reqreply__from_function__free_unpacked(ff, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  fz_reader r = {data, size};
  conv c;
  memset(&c, 0, sizeof c);
  unsigned modes = fz_u8(&r) | (unsigned)fz_u8(&r) << 8;
  for (int k = 0; k < N_STATE; k++) {
    unsigned m = (modes >> (2 * k)) & 3; /* 0, 3 absent, 1 bytes, 2 missing */
    c.sent[k] = m != 2;
    if (m == 1) {
      const uint8_t *s;
      size_t n = fz_slice(&r, 255, &s);
      c.has[k] = true;
      fz_put(&c.val[k], s, n);
    }
  }
  sf_arena *arena = fz_arena();
  for (int round = 0; round < 4 && (round == 0 || r.n > 0); round++) {
    fz_buf req = {0};
    request(&r, &c, "k1", &req);
    uint8_t *reply = NULL;
    size_t reply_len = 0;
    sf_handle_info info;
    sf_arena_reset(arena);
    sf_status st = sf_handler_handle(handler(), req.p, req.len, arena, &reply,
                                     &reply_len, &info);
    fz_buf_free(&req);
    FZ_CHECK(memchr(info.error, 0, sizeof info.error) != NULL);
    if (st == SF_OK) {
      FZ_CHECK(fz_valid_from_function(reply, reply_len));
      apply(&c, reply, reply_len);
    } else {
      FZ_CHECK(info.error[0] != 0);
    }
  }
  for (int k = 0; k < N_STATE; k++) fz_buf_free(&c.val[k]);
  for (size_t i = 0; i < c.n_pending; i++) free(c.pending[i]);
  return 0;
}
