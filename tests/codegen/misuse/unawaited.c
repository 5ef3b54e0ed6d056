/* A typed call made without SF_AWAIT (its call would be dropped).
 * expect: Account_deposit
 * expect: warn_unused_result
 * The first diagnostic is at the marked line (// HERE). */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  Account_deposit(ctx, F->p.from, 5);  // HERE
  SF_RETURN(F, -1);
  SF_END(F);
}
