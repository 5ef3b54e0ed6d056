/* A C local read after an await (a local does not survive it: only F
 * does). GCC: -Wmaybe-uninitialized, clang: -Wuninitialized (both in -Wall).
 * expect: 'before'
 * expect: uninitialized
 * The first diagnostic is at the marked line (// HERE). */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  int64_t before = F->p.amount;
  SF_AWAIT(F, balance, Account_get_balance(ctx, F->p.from));
  SF_RETURN(F, before + F->r.balance);  // HERE
  SF_END(F);
}
