/* One label awaited at two places.
 * expect: sf_await_balance_used_twice_in_this_method
 * The first diagnostic is at the marked line (// HERE). */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  SF_AWAIT(F, balance, Account_get_balance(ctx, F->p.from));
  SF_AWAIT(F, balance, Account_get_balance(ctx, F->p.from));  // HERE
  SF_RETURN(F, F->r.balance);
  SF_END(F);
}
