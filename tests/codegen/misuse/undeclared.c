/* A label the IR does not declare for this method.
 * expect: 'bal'
 * expect: Bank_transfer__awaits_declared_in_misuse_ir_json
 * The first diagnostic is at the marked line (// HERE). */
#include "base.c"

SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  SF_AWAIT(F, bal, Account_get_balance(ctx, F->p.from));  // HERE
  SF_RETURN(F, 0);
  SF_END(F);
}
