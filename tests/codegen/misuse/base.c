/* Correct bodies of every method but Bank.transfer, which each misuse
 * file writes (wrongly). */
#include "misuse.h"

SF_METHOD(Account, get_balance) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Account)->balance);
  SF_END(F);
}

SF_METHOD(Account, set_frozen) {
  SF_BEGIN(F);
  SF_RETURN(F, F->p.frozen);
  SF_END(F);
}

SF_METHOD(Account, deposit) {
  SF_BEGIN(F);
  SF_STATE(Account)->balance += F->p.amount;
  SF_RETURN_VOID(F);
  SF_END(F);
}

SF_METHOD(Bank, touch) {
  SF_BEGIN(F);
  SF_AWAIT(F, dep, Account_deposit(ctx, F->p.to, 1));
  SF_RETURN_VOID(F);
  SF_END(F);
}
