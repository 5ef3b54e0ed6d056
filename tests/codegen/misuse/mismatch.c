/* A label given a call other than the one the IR declares for it
 * (the probe: 'balance' is Account.get_balance).
 * expect: await label 'balance' is declared with in the IR
 * expect: Bank_transfer__await_balance_calls_Account_get_balance
 * expect: Account_set_frozen_call
 * The first diagnostic is at the marked line (// HERE). */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  SF_AWAIT(F, balance, Account_set_frozen(ctx, F->p.from, true));  // HERE
  SF_RETURN(F, F->r.balance);
  SF_END(F);
}
