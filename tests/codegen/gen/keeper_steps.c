/*
 * keeper_steps.c - the step functions of codec.ir.json's Keeper that do
 * not check anything themselves: get, relay (one await) and gather (a
 * parallel fan-out await plus one more call). Shared by test_gen_codec.c
 * and fuzz/fuzz_entity.c, which each add their own Keeper.put and compile
 * this file against their own generated codec.h.
 */
#include "codec.h"

/* gather calls at most this many callees: a fuzzed list may be long. */
#define KEEPER_GATHER_MAX 8

SF_METHOD(Keeper, get) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Keeper)->all);
  SF_END(F);
}

SF_METHOD(Keeper, relay) {
  SF_BEGIN(F);
  SF_AWAIT(F, got, Keeper_get(ctx, F->p.to));
  F->got = F->r.got;
  SF_RETURN(F, F->got.mr);
  SF_END(F);
}

/* Keeper.get on each callee (fan_out label `each`) and once more on the
 * first (`count`), then the join; an empty list has no first callee, so
 * it makes no call and answers 0. */
SF_METHOD(Keeper, gather) {
  SF_BEGIN(F);
  if (F->p.to.len == 0) SF_RETURN(F, 0);
  for (F->i = 0; (size_t)F->i < F->p.to.len && F->i < KEEPER_GATHER_MAX; F->i++)
    SF_CALL_AT(F, each, F->i, Keeper_get(ctx, F->p.to.items[F->i]));
  SF_CALL(F, count, Keeper_get(ctx, F->p.to.items[0]));
  SF_AWAIT_CALLS(F, each);
  SF_RETURN(F, (int32_t)F->r.each.len);
  SF_END(F);
}
