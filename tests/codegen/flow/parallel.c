/*
 * parallel.c - User.checkout written with parallel awaits, for sf-codegen's
 * C scanner (tests/codegen/check_dot_flow.py): a fan-out of reserve calls
 * in a loop joined by SF_AWAIT_CALLS_CATCH, a conditional fan-out of
 * release calls on failure, then two calls joined at once. Only scanned,
 * never compiled.
 */
SF_METHOD(User, checkout) {
  SF_BEGIN(F);
  for (F->reserved = 0; (size_t)F->reserved < BASKET_LEN; F->reserved++)
    SF_CALL_AT(F, reserve, F->reserved, Item_reserve(ctx, ITEM(F->reserved), 1));
  SF_AWAIT_CALLS_CATCH(F, reserve);
  if (SF_FAILED(F)) {
    for (F->reserved = 0; (size_t)F->reserved < BASKET_LEN; F->reserved++)
      if (!SF_FAILED_AT_I(F, reserve, F->reserved))
        SF_CALL_AT(F, release, F->reserved, Item_release(ctx, ITEM(F->reserved), 1));
    SF_AWAIT_CALLS(F, release);
    SF_FAIL(F, "checkout failed, reservations released");
  }
  SF_CALL(F, price, Item_get_price(ctx, ITEM(0)));
  SF_AWAIT_CALLS(F, price);
  SF_RETURN(F, F->receipt);
  SF_END(F);
}
