/* SF_RETURN_VOID in a method whose IR result is int64.
 * expect: SF_RETURN_VOID(F) in a method whose IR result is not void
 * The first diagnostic is at the marked line (// HERE). */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  SF_AWAIT(F, balance, Account_get_balance(ctx, F->p.from));
  SF_RETURN_VOID(F);  // HERE
  SF_END(F);
}
