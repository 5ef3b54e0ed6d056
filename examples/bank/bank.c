/*
 * bank.c - the method bodies of the bank (bank.ir.json).
 *
 * sf-codegen turns bank.ir.json into bank.h / bank.c in the build
 * directory (state structs, frames, typed calls, codecs); this file is
 * what a person writes: one SF_METHOD per method of the IR.
 *
 * The rule the whole example rests on: money only moves through a
 * withdraw that is matched by exactly one deposit or one refund. Account
 * methods check before they write (a refused withdraw changes nothing);
 * Bank.transfer refunds the withdraw when the deposit is refused, so a
 * refused transfer leaves every balance as it was.
 */
#include <string.h>

#include "bank.h"

/* ======================================================================== */
/* Account: the money (key: the account id)                                 */
/* ======================================================================== */

SF_METHOD(Account, deposit) {
  SF_BEGIN(F);
  if (F->p.amount <= 0) SF_FAIL(F, "amount must be positive (got %lld)", (long long)F->p.amount);
  Account_state *acct = SF_STATE(Account);
  if (acct->frozen) SF_FAIL(F, "account %s is frozen", sf_entity_key(ctx).ptr);
  if (acct->balance > INT64_MAX - F->p.amount)
    SF_FAIL(F, "account %s: the balance would overflow", sf_entity_key(ctx).ptr);
  acct->balance += F->p.amount;
  SF_RETURN(F, acct->balance);
  SF_END(F);
}

/* Checks first, writes last: a refused withdraw must leave the balance
 * exactly as it was. */
SF_METHOD(Account, withdraw) {
  SF_BEGIN(F);
  if (F->p.amount <= 0) SF_FAIL(F, "amount must be positive (got %lld)", (long long)F->p.amount);
  Account_state *acct = SF_STATE(Account);
  if (acct->frozen) SF_FAIL(F, "account %s is frozen", sf_entity_key(ctx).ptr);
  if (acct->balance < F->p.amount)
    SF_FAIL(F, "insufficient funds in %s (balance %lld, wanted %lld)", sf_entity_key(ctx).ptr,
            (long long)acct->balance, (long long)F->p.amount);
  acct->balance -= F->p.amount;
  SF_RETURN(F, acct->balance);
  SF_END(F);
}

/* The compensation of a withdraw: ignores the freeze, since the account
 * may have been frozen between the withdraw and the refund and the money
 * must come back regardless. */
SF_METHOD(Account, refund) {
  SF_BEGIN(F);
  if (F->p.amount <= 0) SF_FAIL(F, "amount must be positive (got %lld)", (long long)F->p.amount);
  Account_state *acct = SF_STATE(Account);
  if (acct->balance > INT64_MAX - F->p.amount)
    SF_FAIL(F, "account %s: the balance would overflow", sf_entity_key(ctx).ptr);
  acct->balance += F->p.amount;
  SF_RETURN(F, acct->balance);
  SF_END(F);
}

SF_METHOD(Account, get_balance) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Account)->balance);
  SF_END(F);
}

SF_METHOD(Account, set_frozen) {
  SF_BEGIN(F);
  Account_state *acct = SF_STATE(Account);
  bool was = acct->frozen;
  acct->frozen = F->p.frozen;
  SF_RETURN(F, was);
  SF_END(F);
}

/* ======================================================================== */
/* Bank: transfers and totals (key: the bank id)                            */
/* ======================================================================== */

SF_METHOD(Bank, add_account) {
  SF_BEGIN(F);
  bank_Account_ref_list *list = &SF_STATE(Bank)->accounts;
  for (size_t i = 0; i < list->len; i++)
    if (sf_str_eq(list->items[i].key, F->p.account.key))
      SF_FAIL(F, "account %s is already in bank %s", F->p.account.key.ptr, sf_entity_key(ctx).ptr);
  if (list->len >= INT32_MAX) SF_FAIL(F, "bank %s is full", sf_entity_key(ctx).ptr);
  /* The new array lives in the request arena; the generated code writes
   * the list back because it changed. */
  sf_ref *items = sf_arena_alloc(sf_entity_arena(ctx), (list->len + 1) * sizeof *items);
  if (items == NULL) SF_FAIL(F, "out of memory");
  if (list->len) memcpy(items, list->items, list->len * sizeof *items);
  items[list->len] = F->p.account;
  list->items = items;
  list->len++;
  SF_RETURN(F, (int32_t)list->len);
  SF_END(F);
}

/* Withdraw from `from`, then deposit into `to`. A refused withdraw fails
 * the transfer (nothing moved). A refused deposit is caught: the
 * withdrawn amount is refunded to `from` and then the transfer fails, so
 * a failed transfer moves no money. Only a completed transfer counts. */
SF_METHOD(Bank, transfer) {
  SF_BEGIN(F);
  if (F->p.amount <= 0) SF_FAIL(F, "amount must be positive (got %lld)", (long long)F->p.amount);
  if (sf_str_eq(F->p.from.key, F->p.to.key))
    SF_FAIL(F, "transfer from %s to itself", F->p.from.key.ptr);

  SF_AWAIT_CATCH(F, withdraw, Account_withdraw(ctx, F->p.from, F->p.amount));
  if (SF_FAILED(F)) /* nothing moved yet: fail with the account's reason */
    SF_FAIL(F, "transfer of %lld from %s to %s refused: %s", (long long)F->p.amount,
            F->p.from.key.ptr, F->p.to.key.ptr, SF_ERROR(F));
  F->receipt.from_balance = F->r.withdraw;

  SF_AWAIT_CATCH(F, deposit, Account_deposit(ctx, F->p.to, F->p.amount));
  if (SF_FAILED(F)) {
    /* The reason is in the request arena: keep a copy in the frame, it
     * must survive the refund's await. */
    F->refusal = sf_str_printf(ctx, "%s", SF_ERROR(F));
    SF_CLEAR_ERROR(F);
    SF_AWAIT(F, refund, Account_refund(ctx, F->p.from, F->p.amount));
    SF_FAIL(F, "transfer of %lld from %s to %s refused: %s (refunded)", (long long)F->p.amount,
            F->p.from.key.ptr, F->p.to.key.ptr, F->refusal.len ? F->refusal.ptr : "deposit failed");
  }
  F->receipt.to_balance = F->r.deposit;

  Bank_state *bank = SF_STATE(Bank);
  bank->transfers++;
  F->receipt.seq = bank->transfers;
  SF_RETURN(F, F->receipt);
  SF_END(F);
}

/* Asks each of the bank's accounts for its balance, one after the other.
 * The list is read again after every await (state is reloaded per step). */
SF_METHOD(Bank, total) {
  SF_BEGIN(F);
  for (F->i = 0; (size_t)F->i < SF_STATE(Bank)->accounts.len; F->i++) {
    SF_AWAIT(F, balance, Account_get_balance(ctx, SF_STATE(Bank)->accounts.items[F->i]));
    F->sum += F->r.balance;
  }
  SF_RETURN(F, F->sum);
  SF_END(F);
}

/* The same sum with one parallel await: a call per account (nothing
 * waits between them), then one suspension until all have answered. The
 * results are in F->r.balances.items[i], by the index each call was made
 * with. No C local crosses the await. */
SF_METHOD(Bank, total_parallel) {
  SF_BEGIN(F);
  for (size_t i = 0; i < SF_STATE(Bank)->accounts.len; i++)
    SF_CALL_AT(F, balances, i, Account_get_balance(ctx, SF_STATE(Bank)->accounts.items[i]));
  SF_AWAIT_CALLS(F, balances);
  int64_t sum = 0;
  for (size_t i = 0; i < F->r.balances.len; i++) sum += F->r.balances.items[i];
  SF_RETURN(F, sum);
  SF_END(F);
}

SF_METHOD(Bank, get_transfers) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Bank)->transfers);
  SF_END(F);
}

SF_METHOD(Bank, get_accounts) {
  SF_BEGIN(F);
  SF_RETURN(F, SF_STATE(Bank)->accounts);
  SF_END(F);
}
