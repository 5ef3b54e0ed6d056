/* SF_RETURN(F, value) in a method whose IR result is void.
 * expect: SF_RETURN(F, value) in a method whose IR result is void
 * The first diagnostic is at the marked line (// HERE). */
#include "misuse.h"

SF_METHOD(Account, deposit) {
  SF_BEGIN(F);
  SF_RETURN(F, 1);  // HERE
  SF_END(F);
}
