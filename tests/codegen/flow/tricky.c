/*
 * tricky.c - method bodies for the shopping cart's IR written the hard way
 * for sf-codegen's C scanner (tests/codegen/check_dot_flow.py): do/while,
 * switch, else-if, braces in comments and strings, preprocessor lines, a
 * label the IR does not declare. Only scanned, never compiled.
 */
#include "shop.h"
#define NOT_A_BRACE {

SF_METHOD(User, add_to_basket); /* a declaration: not a body */

SF_METHOD(User, add_to_basket) {
  SF_BEGIN(F);
  /* } a brace in a comment */
  const char *s = "} { ;";
  (void)s;
  F->i = 0;
  do {
    SF_AWAIT(F, stock, Item_get_stock(ctx, F->p.items.items[F->i]));
    switch (F->r.stock) {
    case 0:
      break;
    default:
#if 1
      SF_AWAIT(F, price, Item_get_price(ctx, F->p.items.items[F->i]));
#endif
      F->total += F->r.price;
    }
  } while (++F->i < (int32_t)F->p.items.len);
  if (F->total > 100) {
    SF_FAIL(F, "too \"expensive\": %lld", (long long)F->total);
  } else if (F->total == 0) {
    SF_RETURN(F, 0);
  } else {
    SF_AWAIT(F, bogus, Item_get_price(ctx, F->p.items.items[0]));
  }
  SF_RETURN(F, F->total);
  SF_END(F);
}
