/* The correct Bank.transfer: must compile without a warning. */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  SF_AWAIT(F, balance, Account_get_balance(ctx, F->p.from));
  SF_RETURN(F, F->r.balance);
  SF_END(F);
}
