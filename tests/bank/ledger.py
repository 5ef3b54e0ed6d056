"""The bank example's workload and its bookkeeping, shared by the sf-local
driver (tests/bank/run_bank.py) and the real-Flink one
(tests/e2e/run_e2e_bank.py): what to send, and what the answers imply.

Plan: seeded accounts with initial balances, each listed in one of several
banks, and transfers between random accounts through random banks (so one
account takes part in transfers of several banks at once). Amounts are
drawn so that some transfers overdraw.

Ledger: the answers. A transfer is acknowledged (ok, with a Receipt) or
refused, and a refusal must be one of the three the example can give:

  overdraft     the withdraw found the balance short: nothing moved
  from_frozen   the source was frozen: nothing moved
  to_frozen     the destination was frozen: the withdraw was refunded

From the acknowledged transfers alone the ledger computes every account's
balance (initial + acknowledged credits - acknowledged debits): if a
refused transfer left a trace, or an acknowledged one was applied twice
or not at all, some account differs. verify() compares what the entities
report with that and with the initial sum (money is conserved), and each
bank's transfer counter, receipt numbers and totals (the looping one and
the parallel one) with its acknowledgements.
"""
import collections
import random
import re

from sftest.checks import TestFailure

# The refusals of examples/bank/bank.c, by what they mean.
_REFUSED = re.compile(r"^transfer of (\d+) from (\S+) to (\S+) refused: (.*)$")
_KINDS = [
    ("to_frozen", re.compile(r"^account (\S+) is frozen \(refunded\)$"), "to"),
    ("from_frozen", re.compile(r"^account (\S+) is frozen$"), "from"),
    ("overdraft", re.compile(r"^insufficient funds in (\S+) \(balance (\d+), wanted (\d+)\)$"),
     "from"),
]


class Plan:
    """What one run sends: accounts, their banks and initial balances, the
    transfers (index, bank, from, to, amount), all from one seed."""

    def __init__(self, seed, n_accounts, n_banks, n_transfers, prefix="r"):
        rng = random.Random(seed)
        self.seed = seed
        self.accounts = ["%s-acct-%03d" % (prefix, i) for i in range(n_accounts)]
        self.banks = ["%s-bank-%d" % (prefix, i) for i in range(n_banks)]
        self.home = {a: self.banks[i % n_banks] for i, a in enumerate(self.accounts)}
        self.initial = {a: rng.randint(50, 400) for a in self.accounts}
        self.transfers = []
        for i in range(n_transfers):
            src, dst = rng.sample(self.accounts, 2)
            self.transfers.append((i, rng.choice(self.banks), src, dst, rng.randint(1, 160)))

    def members(self, bank):
        return [a for a in self.accounts if self.home[a] == bank]

    def initial_sum(self):
        return sum(self.initial.values())


def classify(transfer, error):
    """The kind of a refusal of transfer (i, bank, from, to, amount), or
    None when the message is not one the example gives for it."""
    _, _, src, dst, amount = transfer
    m = _REFUSED.match(error or "")
    if not m or (int(m.group(1)), m.group(2), m.group(3)) != (amount, src, dst):
        return None
    for kind, pat, who in _KINDS:
        k = pat.match(m.group(4))
        if k and k.group(1) == (src if who == "from" else dst):
            if kind == "overdraft" and not int(k.group(2)) < int(k.group(3)) == amount:
                return None
            return kind
    return None


class Ledger:
    def __init__(self, plan):
        self.plan = plan
        self.answers = {}  # transfer index -> (ok, receipt or error)
        self.kinds = collections.Counter()
        self.unexpected = []

    def record(self, transfer, ok, value):
        i = transfer[0]
        if i in self.answers:
            self.unexpected.append("transfer %d answered twice: %r, then %r"
                                   % (i, self.answers[i], (ok, value)))
            return
        self.answers[i] = (ok, value)
        if ok:
            self.kinds["acknowledged"] += 1
            if not (isinstance(value, dict) and value.get("from_balance", -1) >= 0
                    and value.get("to_balance", -1) >= transfer[4]):
                self.unexpected.append("transfer %d: receipt %r" % (i, value))
            return
        kind = classify(transfer, value)
        if kind is None:
            self.unexpected.append("transfer %d %r: unexpected refusal %r" % (i, transfer, value))
        else:
            self.kinds[kind] += 1

    def refused(self):
        return sum(v for k, v in self.kinds.items() if k != "acknowledged")

    def expected_balances(self):
        bal = dict(self.plan.initial)
        for t in self.plan.transfers:
            ok, _ = self.answers.get(t[0], (False, None))
            if ok:
                bal[t[2]] -= t[4]
                bal[t[3]] += t[4]
        return bal

    def acknowledged_by_bank(self):
        out = collections.defaultdict(list)
        for t in self.plan.transfers:
            ok, receipt = self.answers.get(t[0], (False, None))
            if ok:
                out[t[1]].append(receipt["seq"])
        return out

    def verify(self, balances, bank_transfers, bank_totals, parallel_totals):
        """balances {account: balance}, bank_transfers {bank:
        get_transfers}, bank_totals {bank: total} and parallel_totals
        {bank: total_parallel} as the entities report them after the run.
        Raises TestFailure naming every difference."""
        plan, bad = self.plan, list(self.unexpected)
        missing = [t[0] for t in plan.transfers if t[0] not in self.answers]
        if missing:
            bad.append("%d transfers have no answer (e.g. %s)" % (len(missing), missing[:5]))
        want = self.expected_balances()
        for a in plan.accounts:
            if balances.get(a) != want[a]:
                bad.append("account %s: balance %r, want %d (initial %d + acknowledged "
                           "credits - debits)" % (a, balances.get(a), want[a], plan.initial[a]))
        total = sum(v for v in balances.values() if isinstance(v, int))
        if total != plan.initial_sum():
            bad.append("money not conserved: the balances add up to %d, initially %d"
                       % (total, plan.initial_sum()))
        acked = self.acknowledged_by_bank()
        for b in plan.banks:
            seqs = sorted(acked.get(b, []))
            if seqs != list(range(1, len(seqs) + 1)):
                bad.append("bank %s: receipt numbers %s are not 1..%d (a transfer counted "
                           "twice or lost)" % (b, _ranges(seqs), len(seqs)))
            if bank_transfers.get(b) != len(seqs):
                bad.append("bank %s: get_transfers %r, but %d transfers were acknowledged"
                           % (b, bank_transfers.get(b), len(seqs)))
            members = sum(want[a] for a in plan.members(b))
            if bank_totals.get(b) != members:
                bad.append("bank %s: total %r, want %d" % (b, bank_totals.get(b), members))
            if parallel_totals.get(b) != members:
                bad.append("bank %s: total_parallel %r, want %d"
                           % (b, parallel_totals.get(b), members))
        if sum(v for v in bank_totals.values() if isinstance(v, int)) != plan.initial_sum():
            bad.append("money not conserved: the banks' totals add up to %d, initially %d"
                       % (sum(bank_totals.values()), plan.initial_sum()))
        if bad:
            raise TestFailure("%d problem(s):\n  %s" % (len(bad), "\n  ".join(bad[:25])))

    def summary(self):
        k = self.kinds
        return ("%d transfers: %d acknowledged, %d refused (%d overdraft, %d source frozen, "
                "%d destination frozen and refunded); money %d before and after"
                % (len(self.plan.transfers), k["acknowledged"], self.refused(), k["overdraft"],
                   k["from_frozen"], k["to_frozen"], self.plan.initial_sum()))


def _ranges(xs):
    if len(xs) > 12:
        return "[%s ... %s] (%d)" % (", ".join(map(str, xs[:6])), ", ".join(map(str, xs[-3:])),
                                     len(xs))
    return str(xs)
