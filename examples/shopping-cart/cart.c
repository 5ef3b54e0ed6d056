/*
 * cart.c - the method bodies of the shopping cart (shop.ir.json).
 *
 * sf-codegen turns shop.ir.json into shop.h / shop.c (the records, the
 * state structs, the frames, the typed calls, the wire codecs); this file
 * is everything a person writes: one SF_METHOD per method of the IR.
 *
 * Reminders (docs/entities.md):
 *   - F is the method's frame: parameters in F->p, the IR's locals as
 *     members of F, each await's result in F->r.<label>.
 *   - Only F survives an await. C locals do not (the frame is stored in the
 *     entity's StateFun state while it waits, and the next step runs in a
 *     later invocation, maybe in another process). SF_STATE(E) is reloaded
 *     on every step, so read it again after an await.
 *   - Memory comes from the request arena (sf_entity_arena): no free().
 *     Text: sf_str_printf(ctx, fmt, ...) gives an sf_str there; a frame
 *     member (a string local) keeps it across awaits.
 */
#include <string.h>

#include "shop.h"

/* ======================================================================== */
/* Item: price and stock of one article (key: the item id)                  */
/* ======================================================================== */

SF_METHOD(Item, set_price) {
  SF_BEGIN(F);
  if (F->p.price < 0) SF_FAIL(F, "price must not be negative (got %lld)", (long long)F->p.price);
  SF_STATE(Item)->price = F->p.price;
  SF_RETURN_VOID(F);
  SF_END(F);
}

SF_METHOD(Item, add_stock) {
  SF_BEGIN(F);
  if (F->p.qty <= 0) SF_FAIL(F, "qty must be positive (got %d)", (int)F->p.qty);
  Item_state *item = SF_STATE(Item);
  if (item->stock > INT32_MAX - F->p.qty) SF_FAIL(F, "stock would overflow");
  item->stock += F->p.qty;
  SF_RETURN(F, item->stock);
  SF_END(F);
}

SF_METHOD(Item, get_price) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Item)->price);
  SF_END(F);
}

SF_METHOD(Item, get_stock) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Item)->stock);
  SF_END(F);
}

/* Takes qty from the stock, or fails: the failure travels back to the
 * awaiting caller (User.checkout catches it and rolls back). */
SF_METHOD(Item, reserve) {
  SF_BEGIN(F);
  Item_state *item = SF_STATE(Item);
  if (F->p.qty <= 0) SF_FAIL(F, "qty must be positive (got %d)", (int)F->p.qty);
  if (item->stock < F->p.qty)
    SF_FAIL(F, "item %s is out of stock (%d left, %d wanted)", sf_entity_key(ctx).ptr,
            (int)item->stock, (int)F->p.qty);
  item->stock -= F->p.qty;
  SF_RETURN(F, true);
  SF_END(F);
}

SF_METHOD(Item, release) {
  SF_BEGIN(F);
  if (F->p.qty <= 0) SF_FAIL(F, "qty must be positive (got %d)", (int)F->p.qty);
  SF_STATE(Item)->stock += F->p.qty;
  SF_RETURN_VOID(F);
  SF_END(F);
}

/* Calls back into the user that called us (User.ping_item): the call
 * chain User -> Item -> User is let into the busy User. */
SF_METHOD(Item, ping_user) {
  SF_BEGIN(F);
  SF_AWAIT(F, balance, User_get_balance(ctx, F->p.user));
  SF_RETURN(F, F->r.balance);
  SF_END(F);
}

/* ======================================================================== */
/* User: balance and basket of one customer (key: the user name)            */
/* ======================================================================== */

SF_METHOD(User, deposit) {
  SF_BEGIN(F);
  if (F->p.amount <= 0) SF_FAIL(F, "amount must be positive (got %lld)", (long long)F->p.amount);
  User_state *user = SF_STATE(User);
  user->balance += F->p.amount;
  SF_RETURN(F, user->balance);
  SF_END(F);
}

SF_METHOD(User, get_balance) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(User)->balance);
  SF_END(F);
}

SF_METHOD(User, get_basket) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(User)->basket);
  SF_END(F);
}

/* Appends an item to the basket (the new array lives in the request arena;
 * the basket is written back because the step changed it). */
static bool basket_append(sf_entity_ctx *ctx, sf_ref item) {
  shop_Item_ref_list *basket = &SF_STATE(User)->basket;
  sf_ref *items = sf_arena_alloc(sf_entity_arena(ctx), (basket->len + 1) * sizeof *items);
  if (items == NULL) return false;
  if (basket->len) memcpy(items, basket->items, basket->len * sizeof *items);
  items[basket->len] = item;
  basket->items = items;
  basket->len++;
  return true;
}

/* For every item: await its stock; when it is in stock, await its price
 * and put it in the basket. Two awaits per item in stock, one otherwise.
 * The user is busy meanwhile: other calls to it wait in its queue. */
SF_METHOD(User, add_to_basket) {
  SF_BEGIN(F);
  for (F->i = 0; (size_t)F->i < F->p.items.len; F->i++) {
    SF_AWAIT(F, stock, Item_get_stock(ctx, F->p.items.items[F->i]));
    if (F->r.stock <= 0) continue; /* out of stock: skipped */
    SF_AWAIT(F, price, Item_get_price(ctx, F->p.items.items[F->i]));
    F->total += F->r.price;
    if (!basket_append(ctx, F->p.items.items[F->i])) SF_FAIL(F, "out of memory");
  }
  SF_RETURN(F, F->total);
  SF_END(F);
}

/* Adds a line (one of the item, at its price) to the receipt. */
static bool receipt_append(sf_entity_ctx *ctx, Receipt *receipt, sf_ref item, int64_t price) {
  shop_Line_list *lines = &receipt->lines;
  Line *copy = sf_arena_alloc(sf_entity_arena(ctx), (lines->len + 1) * sizeof *copy);
  if (copy == NULL) return false;
  if (lines->len) memcpy(copy, lines->items, lines->len * sizeof *copy);
  copy[lines->len] = (Line){.item = item, .qty = 1, .price = price};
  lines->items = copy;
  lines->len++;
  receipt->total += price;
  return true;
}

/* The basket item at index i (state is reloaded after every await). */
#define BASKET_ITEM(i) (SF_STATE(User)->basket.items[(i)])

/* Reserves one of every basket item, in order, noting its price; then
 * charges the balance and empties the basket. When a reservation fails
 * (the item's error is caught) or the balance is short, releases the
 * reservations already made, last first, and fails with the reason. */
SF_METHOD(User, checkout) {
  SF_BEGIN(F);
  if (SF_STATE(User)->basket.len == 0) SF_FAIL(F, "checkout: the basket is empty");

  /* 1. Reserve: items 0..reserved-1 are reserved. */
  for (F->reserved = 0; (size_t)F->reserved < SF_STATE(User)->basket.len; F->reserved++) {
    SF_AWAIT(F, price, Item_get_price(ctx, BASKET_ITEM(F->reserved)));
    SF_AWAIT_CATCH(F, reserve, Item_reserve(ctx, BASKET_ITEM(F->reserved), 1));
    if (SF_FAILED(F)) {
      F->failure = sf_str_printf(ctx, "%s", SF_ERROR(F));
      if (F->failure.ptr == NULL) SF_FAIL(F, "out of memory");
      SF_CLEAR_ERROR(F);
      break;
    }
    if (!receipt_append(ctx, &F->receipt, BASKET_ITEM(F->reserved), F->r.price))
      SF_FAIL(F, "out of memory");
  }

  /* 2. Pay. */
  if (F->failure.len == 0 && SF_STATE(User)->balance < F->receipt.total) {
    F->failure = sf_str_printf(ctx, "balance %lld is short of the total %lld",
                               (long long)SF_STATE(User)->balance, (long long)F->receipt.total);
    if (F->failure.ptr == NULL) SF_FAIL(F, "out of memory");
  }

  /* 3. On failure: roll back, last reservation first. */
  if (F->failure.len) {
    while (F->reserved > 0) {
      F->reserved--;
      SF_AWAIT(F, release, Item_release(ctx, BASKET_ITEM(F->reserved), 1));
    }
    SF_FAIL(F, "checkout failed: %s", F->failure.ptr);
  }

  User_state *user = SF_STATE(User);
  user->balance -= F->receipt.total;
  user->basket.len = 0;
  F->receipt.balance = user->balance;
  SF_RETURN(F, F->receipt);
  SF_END(F);
}

/* Calls Item.ping_user, which calls our get_balance while we wait: the
 * same call chain, so it is let in (another caller would be queued). */
SF_METHOD(User, ping_item) {
  SF_BEGIN(F);
  SF_AWAIT(F, ping, Item_ping_user(ctx, F->p.item, (sf_ref){sf_entity_key(ctx)}));
  SF_RETURN(F, F->r.ping);
  SF_END(F);
}

/* The total price of the items in stock. Every item is asked for its
 * price and its stock at once (fan_out labels: one call per index), and the
 * method resumes when all have answered. */
SF_METHOD(User, quote) {
  SF_BEGIN(F);
  for (F->i = 0; (size_t)F->i < F->p.items.len; F->i++) {
    SF_CALL_AT(F, prices, F->i, Item_get_price(ctx, F->p.items.items[F->i]));
    SF_CALL_AT(F, stocks, F->i, Item_get_stock(ctx, F->p.items.items[F->i]));
  }
  SF_AWAIT_CALLS(F, prices);
  F->total = 0;
  for (size_t k = 0; k < F->r.prices.len; k++)
    if (F->r.stocks.items[k] > 0) F->total += F->r.prices.items[k];
  SF_RETURN(F, F->total);
  SF_END(F);
}

/* Pays first, checks after: a method is atomic, so when the balance turns
 * out short, or the item's reserve fails (out of stock), the payment is
 * undone with the failure (docs/entities.md, "Failures and state"). */
SF_METHOD(User, buy_one) {
  SF_BEGIN(F);
  SF_AWAIT(F, price, Item_get_price(ctx, F->p.item));
  User_state *user = SF_STATE(User);
  user->balance -= F->r.price;
  if (user->balance < 0)
    SF_FAIL(F, "balance short of the price %lld", (long long)F->r.price);
  SF_AWAIT(F, reserve, Item_reserve(ctx, F->p.item, 1));
  SF_RETURN(F, SF_STATE(User)->balance);
  SF_END(F);
}
