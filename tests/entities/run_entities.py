#!/usr/bin/env python3
"""The shopping-cart entities end to end: sf-local + the shopping-cart
example (examples/shopping-cart) as real processes, called from outside
with statefun.entities.Call envelopes (shopclient.py).

    run_entities.py --sf-local BIN --shopping-cart BIN [--seed N] [--ops N]
                    [-k NAME]... [--keep]

Tests (each with its own sf-local and function server on free ports):
  basic        every simple method, results and errors
  awaits       add_to_basket awaits each item (2 round trips per item in
               stock, 1 per item out of stock: counted on sf-local)
  checkout     success (charged, reserved, receipt, basket emptied);
               one item out of stock / balance short: the reservations
               already made are released (stock restored exactly), error
  isolation    50 concurrent deposit(1) to a User suspended in a long
               add_to_basket: queued (seen in __entity), run after it in
               arrival order, final balance exact
  chain        User.ping_item -> Item.ping_user -> User.get_balance (the
               same call chain re-enters the busy User)
  failure      a callee's failure (Item.reserve) reaches the awaiting caller
  random       >= 1000 seeded random operations, each compared with a
               single-process Python model of the same logic (quote: a
               parallel await; buy_one: pays, then fails when short or out
               of stock, the payment undone; one item is never stocked so
               that every seed fails enough of them, see
               check_workload.py)
  kill         the random run again with shop/Item on a second server
               process, SIGKILLing one of the two while calls are in
               flight and restarting it: every result still matches the
               model, no reply lost or doubled. Each kill lands while
               sf-local has a request out to the (paused) server, and
               counts only if sf-local retried after it. At least a
               quarter of the kills are inside the awaits of
               add_to_basket, quote and buy_one: the Item server is
               paused until the User is suspended in the call, then it is
               killed holding the Item calls, or the User's server is
               killed holding their answers; the others hit a method's
               first step. An attempt that finds the call already done
               kills nothing and is due again at the next op, as is a
               kill sf-local did not have to retry

Python 3 standard library only. Failures print the seed and the process
logs; the last line is "N passed, M failed" (exit 1 on failures).
"""
import argparse
import base64
import collections
import json
import os
import random
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import shopclient  # noqa: E402

sys.path.insert(0, os.path.join(REPO, "tests", "pylib"))
from sftest.checks import TestFailure, check, check_eq  # noqa: E402
from sftest.net import KeepAlive, free_port  # noqa: E402
from sftest.procs import wait_port  # noqa: E402
from sftest.sflocal import LocalEnv, run_tests  # noqa: E402

ARGS = None
DEFAULT_SEED, DEFAULT_OPS = 20240601, 1000  # CI's run


class Env(LocalEnv):
    """One test's sf-local + shopping-cart, and a client. With
    item_server, shop/Item's endpoint is a second shopping-cart process
    (items, on item_port): a test can then hold an Item call while the
    User that awaits it is suspended."""

    def __init__(self, name, item_server=False):
        super().__init__("entities", name)
        self.module = self.module_on_fn_port(
            os.path.join(REPO, "examples", "shopping-cart", "module.yaml"))
        self.items = None
        if item_server:
            self.item_port = free_port()
            self.route_items()
            self.start_items()
        self.start_fn()
        self.start_sf_local([ARGS.sf_local, "--module", self.module,
                             "--ingress-port", "0", "--egress-port", "0"])
        self.client = shopclient.ShopClient(self.ingress, self.egress, prefix=name)
        self.conns = KeepAlive()  # the state views, polled while a call runs

    def route_items(self):
        """shop/Item's endpoint in the module to item_port."""
        with open(self.module) as f:
            docs = f.read().split("\n---")
        here = "127.0.0.1:%d" % self.fn_port
        docs = [d.replace(here, "127.0.0.1:%d" % self.item_port)
                if "functions: shop/Item" in d else d for d in docs]
        check(sum(str(self.item_port) in d for d in docs) == 1, "no shop/Item endpoint")
        with open(self.module, "w") as f:
            f.write("\n---".join(docs))

    def start_fn(self):
        self.fn = self.start_server("shopping-cart", [ARGS.shopping_cart, "--listen",
                                                      "127.0.0.1:%d" % self.fn_port,
                                                      "--threads", "4"])

    def start_items(self):
        self.items = self.spawn("items", [ARGS.shopping_cart, "--listen",
                                          "127.0.0.1:%d" % self.item_port, "--threads", "4"])
        wait_port(self.item_port, self.items.p, "items", timeout=20, fail=TestFailure)

    def server_of(self, entity):
        return self.items if entity == "Item" and self.items else self.fn

    def restart(self, proc):
        (self.start_items if proc is self.items else self.start_fn)()

    def view(self, entity, key):
        st, _, data = self.conns.request(self.ingress, "GET", "/shop/%s/%s" % (
            entity, urllib.parse.quote(key, safe="")))
        return json.loads(data) if st == 200 else None


def entity_queue(view):
    """(active chain, number of queued calls) of an entity's __entity."""
    s = (view or {}).get("state", {}).get("__entity")
    if not s:
        return "", 0
    chain, queued = "", 0
    for field, _, v in shopclient.fields(base64.b64decode(s["base64"])):
        if field == 1:
            chain = bytes(v).decode()
        elif field == 3:
            queued += 1
    return chain, queued


# ---- the reference model: the same logic as cart.c, in one process ------------

class Model:
    def __init__(self):
        self.items = collections.defaultdict(lambda: {"price": 0, "stock": 0})
        self.users = collections.defaultdict(lambda: {"balance": 0, "basket": []})

    # Each returns ("ok", value) or ("err", message), as the Reply does.
    def apply(self, entity, key, method, *args):
        return getattr(self, "%s_%s" % (entity, method))(key, *args)

    def Item_set_price(self, k, price):
        if price < 0:
            return "err", "price must not be negative (got %d)" % price
        self.items[k]["price"] = price
        return "ok", None

    def Item_add_stock(self, k, qty):
        if qty <= 0:
            return "err", "qty must be positive (got %d)" % qty
        self.items[k]["stock"] += qty
        return "ok", self.items[k]["stock"]

    def Item_get_price(self, k):
        return "ok", self.items[k]["price"]

    def Item_get_stock(self, k):
        return "ok", self.items[k]["stock"]

    def Item_reserve(self, k, qty):
        it = self.items[k]
        if qty <= 0:
            return "err", "qty must be positive (got %d)" % qty
        if it["stock"] < qty:
            return "err", "item %s is out of stock (%d left, %d wanted)" % (k, it["stock"], qty)
        it["stock"] -= qty
        return "ok", True

    def Item_release(self, k, qty):
        if qty <= 0:
            return "err", "qty must be positive (got %d)" % qty
        self.items[k]["stock"] += qty
        return "ok", None

    def User_deposit(self, k, amount):
        if amount <= 0:
            return "err", "amount must be positive (got %d)" % amount
        self.users[k]["balance"] += amount
        return "ok", self.users[k]["balance"]

    def User_get_balance(self, k):
        return "ok", self.users[k]["balance"]

    def User_get_basket(self, k):
        return "ok", list(self.users[k]["basket"])

    def User_add_to_basket(self, k, items):
        total = 0
        for i in items:
            if self.items[i]["stock"] <= 0:
                continue
            total += self.items[i]["price"]
            self.users[k]["basket"].append(i)
        return "ok", total

    def User_checkout(self, k):
        u = self.users[k]
        if not u["basket"]:
            return "err", "checkout: the basket is empty"
        lines, total, failure, reserved = [], 0, "", 0
        for i in u["basket"]:
            price = self.items[i]["price"]
            st, v = self.Item_reserve(i, 1)
            if st == "err":
                failure = v
                break
            lines.append({"item": i, "qty": 1, "price": price})
            total += price
            reserved += 1
        if not failure and u["balance"] < total:
            failure = "balance %d is short of the total %d" % (u["balance"], total)
        if failure:
            for i in reversed(u["basket"][:reserved]):
                self.items[i]["stock"] += 1
            return "err", "checkout failed: " + failure
        u["balance"] -= total
        u["basket"] = []
        return "ok", {"lines": lines, "total": total, "balance": u["balance"]}

    def User_quote(self, k, items):
        return "ok", sum(self.items[i]["price"] for i in items if self.items[i]["stock"] > 0)

    def User_buy_one(self, k, item):
        # cart.c pays, then checks: an atomic method leaves no trace when it fails
        u, price = self.users[k], self.items[item]["price"]
        if u["balance"] - price < 0:
            return "err", "balance short of the price %d" % price
        st, v = self.Item_reserve(item, 1)
        if st == "err":
            return st, v
        u["balance"] -= price
        return "ok", u["balance"]


def got(reply):
    return ("ok", reply.value) if reply.ok else ("err", reply.error)


def random_op(rng, users, items):
    """One seeded random operation. The last item is never stocked
    (add_stock and release leave it out), and a third of the buy_one calls
    are for it: they pay, fail at its reserve and must be undone, in every
    seed. Drawn like the others, too few failed: under 10 in 1,000 ops for
    half of the seeds (22695, 29438, 20466 among them), and test_random's
    check that the undo ran failed by the seed alone."""
    r = rng.random()
    u, i = rng.choice(users), rng.choice(items)
    if r < 0.10:
        return ("Item", i, "set_price", rng.randint(-1, 20))
    if r < 0.24:
        return ("Item", rng.choice(items[:-1]), "add_stock", rng.randint(-1, 6))
    if r < 0.38:
        return ("User", u, "deposit", rng.randint(-2, 80))
    if r < 0.60:
        return ("User", u, "add_to_basket", [rng.choice(items) for _ in range(rng.randint(0, 3))])
    if r < 0.72:
        return ("User", u, "checkout")
    if r < 0.75:
        return ("Item", i, "reserve", rng.randint(0, 2))
    if r < 0.77:
        return ("Item", rng.choice(items[:-1]), "release", rng.randint(1, 2))
    if r < 0.83:
        return ("User", u, "quote", [rng.choice(items) for _ in range(rng.randint(0, 4))])
    if r < 0.93:
        return ("User", u, "buy_one", items[-1] if rng.random() < 1 / 3 else i)
    return rng.choice([("Item", i, "get_price"), ("Item", i, "get_stock"),
                       ("User", u, "get_balance"), ("User", u, "get_basket")])


def final_sweep(env, model, users, items):
    """Every entity's state, through the getters, against the model."""
    c = env.client
    for u in users:
        check_eq(c.value("User", u, "get_balance"), model.users[u]["balance"], "balance of " + u)
        check_eq(c.value("User", u, "get_basket"), model.users[u]["basket"], "basket of " + u)
    for i in items:
        check_eq(c.value("Item", i, "get_stock"), model.items[i]["stock"], "stock of " + i)
        check_eq(c.value("Item", i, "get_price"), model.items[i]["price"], "price of " + i)


# ---- tests --------------------------------------------------------------------------

def test_basic(env):
    c = env.client
    check_eq(c.value("Item", "book", "get_price"), 0, "default price")
    check_eq(c.value("Item", "book", "get_stock"), 0, "default stock")
    check_eq(c.value("Item", "book", "set_price", 12), None, "set_price (void)")
    check_eq(c.value("Item", "book", "get_price"), 12, "price")
    check_eq(c.value("Item", "book", "add_stock", 3), 3, "add_stock")
    check_eq(c.value("Item", "book", "add_stock", 2), 5, "add_stock again")
    check_eq(c.value("Item", "book", "reserve", 2), True, "reserve")
    check_eq(c.value("Item", "book", "get_stock"), 3, "stock after reserve")
    r = c.call("Item", "book", "reserve", 4)
    check_eq(got(r), ("err", "item book is out of stock (3 left, 4 wanted)"), "reserve too many")
    check_eq(c.value("Item", "book", "release", 2), None, "release")
    check_eq(c.value("Item", "book", "get_stock"), 5, "stock after release")
    check_eq(got(c.call("Item", "book", "add_stock", 0)), ("err", "qty must be positive (got 0)"),
             "add_stock 0")
    check_eq(got(c.call("Item", "book", "set_price", -5)),
             ("err", "price must not be negative (got -5)"), "negative price")
    check_eq(c.value("User", "ann", "get_balance"), 0, "default balance")
    check_eq(c.value("User", "ann", "deposit", 100), 100, "deposit")
    check_eq(c.value("User", "ann", "deposit", 2**40), 100 + 2**40, "deposit int64")
    check_eq(got(c.call("User", "ann", "deposit", -1)), ("err", "amount must be positive (got -1)"),
             "negative deposit")
    check_eq(c.value("User", "ann", "get_basket"), [], "empty basket")
    check_eq(got(c.call("User", "ann", "checkout")), ("err", "checkout: the basket is empty"),
             "checkout of an empty basket")
    # unicode keys travel as refs
    check_eq(c.value("Item", "caf\u00e9-\u2615", "add_stock", 1), 1, "unicode item")
    check_eq(c.value("User", "ann", "add_to_basket", ["caf\u00e9-\u2615"]), 0, "unicode ref")
    check_eq(c.value("User", "ann", "get_basket"), ["caf\u00e9-\u2615"], "unicode basket")
    # an unknown method is an error Reply, not a crash
    rid = c.new_request_id()
    body = shopclient.encode_call("nope", b"", "ext:" + rid, rid, shopclient.REPLY_EGRESS, rid)
    st, _, data = c._request(env.ingress, "PUT", "/shop/User/ann", body,
                             {"Content-Type": "application/vnd." + shopclient.CALL_TYPENAME})
    check(st == 202, "PUT: %d %s", st, data)
    r = c.receive("User", "nope", rid)
    check_eq(got(r), ("err", "shop/User has no method 'nope'"), "unknown method")
    # the state as sf-local sees it: built-in types for scalar fields
    v = env.view("User", "ann")
    check_eq(v["state"]["balance"]["value"], 100 + 2**40, "balance in the state view")
    check_eq(v["state"]["balance"]["typename"], "io.statefun.types/long", "balance typename")
    check_eq(entity_queue(v), ("", 0), "ann is idle")


def test_awaits(env):
    c = env.client
    for k, price, stock in (("a", 3, 1), ("b", 5, 2), ("c", 7, 1), ("z", 100, 0)):
        c.value("Item", k, "set_price", price)
        if stock:
            c.value("Item", k, "add_stock", stock)
    routed = env.metric("sflocal_routed_messages_total")
    check_eq(c.value("User", "u", "add_to_basket", ["a", "b", "c"]), 15, "total of a, b, c")
    # 3 items in stock: 6 awaits = 6 Calls + 6 Replies between functions
    check_eq(env.metric("sflocal_routed_messages_total") - routed, 12, "messages routed for 6 awaits")
    check_eq(c.value("User", "u", "get_basket"), ["a", "b", "c"], "basket")
    routed = env.metric("sflocal_routed_messages_total")
    check_eq(c.value("User", "u", "add_to_basket", ["z", "b", "z"]), 5, "out-of-stock z skipped")
    check_eq(env.metric("sflocal_routed_messages_total") - routed, 8, "messages routed for 4 awaits")
    check_eq(c.value("User", "u", "get_basket"), ["a", "b", "c", "b"], "basket after the second add")
    check_eq(c.value("User", "u", "add_to_basket", []), 0, "empty list")
    check_eq(entity_queue(env.view("User", "u")), ("", 0), "u is idle again")


def test_checkout(env):
    c = env.client
    for k, price, stock in (("a", 10, 5), ("b", 20, 5), ("c", 30, 1)):
        c.value("Item", k, "set_price", price)
        c.value("Item", k, "add_stock", stock)
    # success
    c.value("User", "ok", "deposit", 100)
    c.value("User", "ok", "add_to_basket", ["a", "b"])
    rec = c.value("User", "ok", "checkout")
    check_eq(rec, {"lines": [{"item": "a", "qty": 1, "price": 10},
                             {"item": "b", "qty": 1, "price": 20}],
                   "total": 30, "balance": 70}, "receipt")
    check_eq(c.value("User", "ok", "get_balance"), 70, "charged")
    check_eq(c.value("User", "ok", "get_basket"), [], "basket emptied")
    check_eq([c.value("Item", k, "get_stock") for k in "abc"], [4, 4, 1], "stock reserved")
    # one item out of stock: a, b, c reserved, the second c fails -> c, b, a released
    c.value("User", "oos", "deposit", 1000)
    c.value("User", "oos", "add_to_basket", ["a", "b", "c", "c"])
    routed = env.metric("sflocal_routed_messages_total")
    r = c.call("User", "oos", "checkout")
    check_eq(got(r), ("err", "checkout failed: item c is out of stock (0 left, 1 wanted)"),
             "checkout with c out of stock")
    # 4 prices + 4 reserves (the last one failing) + 3 releases = 11 awaits
    check_eq(env.metric("sflocal_routed_messages_total") - routed, 22, "messages of the rollback")
    check_eq([c.value("Item", k, "get_stock") for k in "abc"], [4, 4, 1], "stock restored exactly")
    check_eq(c.value("User", "oos", "get_balance"), 1000, "nothing charged")
    check_eq(c.value("User", "oos", "get_basket"), ["a", "b", "c", "c"], "basket kept")
    # balance short: everything reserved, then everything released
    c.value("User", "poor", "deposit", 25)
    c.value("User", "poor", "add_to_basket", ["a", "b"])
    r = c.call("User", "poor", "checkout")
    check_eq(got(r), ("err", "checkout failed: balance 25 is short of the total 30"),
             "checkout with a short balance")
    check_eq([c.value("Item", k, "get_stock") for k in "abc"], [4, 4, 1], "stock restored (balance)")
    check_eq(c.value("User", "poor", "get_balance"), 25, "nothing charged (balance)")
    c.value("User", "poor", "deposit", 5)
    check_eq(c.value("User", "poor", "checkout")["balance"], 0, "then it works")
    check_eq([c.value("Item", k, "get_stock") for k in "abc"], [3, 3, 1], "stock after")


def test_isolation(env):
    c = env.client
    n_items, n_callers = 200, 50
    items = ["i%03d" % k for k in range(n_items)]
    for k in items:
        c.value("Item", k, "set_price", 1)
        c.value("Item", k, "add_stock", 1)
    # The holder must still hold the user when the last deposit arrives;
    # how long 400 awaits take depends on the machine's load, so a holder
    # that finished too early is retried with a longer basket (the same
    # items repeated: add_to_basket does not consume stock).
    for attempt, repeat in enumerate((1, 4, 16)):
        if isolation_round(env, "iso%d" % attempt, items * repeat, n_callers):
            return
    raise TestFailure("add_to_basket of %d items still finished before 50 deposits "
                      "were sent: cannot observe isolation on this machine" % (n_items * 16))


def isolation_round(env, user, basket, n_callers):
    c = env.client
    holder = c.send("User", user, "add_to_basket", basket)  # 2 awaits per item
    replies, errors = {}, []
    start = threading.Barrier(n_callers + 1)
    sent = threading.Barrier(n_callers + 1)

    def caller(n):
        try:
            start.wait()
            rid = c.send("User", user, "deposit", 1, request_id="%s-dep-%d" % (user, n))
            sent.wait()
            replies[n] = c.receive("User", "deposit", rid, wait=120)
        except Exception as e:  # noqa: BLE001
            errors.append("caller %d: %r" % (n, e))
            sent.abort()

    threads = [threading.Thread(target=caller, args=(n,)) for n in range(n_callers)]
    for t in threads:
        t.start()
    start.wait()
    sent.wait()  # every deposit is in sf-local now (202)
    chain, queued = entity_queue(env.view("User", user))
    held = chain == "ext:" + holder
    max_queue = queued
    while any(t.is_alive() for t in threads):
        max_queue = max(max_queue, entity_queue(env.view("User", user))[1])
        time.sleep(0.005)
    for t in threads:
        t.join(timeout=120)
    check(not errors, "callers failed: %s", errors[:5])
    h = c.receive("User", "add_to_basket", holder, wait=120)
    check_eq(got(h), ("ok", len(basket)), "the holder's result")
    check(all(r.ok for r in replies.values()), "a deposit failed: %s",
          [r.error for r in replies.values() if not r.ok][:3])
    by_seq = sorted(replies.values(), key=lambda r: r.seq)
    check_eq([r.value for r in by_seq], list(range(1, n_callers + 1)),
             "deposit results in reply order (each saw the one before)")
    check_eq(c.value("User", user, "get_balance"), n_callers, "final balance")
    check_eq(entity_queue(env.view("User", user)), ("", 0), "idle at the end")
    if not held:
        return False  # the holder was done too soon: nothing to conclude
    check(max_queue >= 1, "no deposit was ever seen queued behind add_to_basket")
    # The holder still held the user after every deposit had arrived, so
    # none may have run before the holder finished:
    early = [r.value for r in replies.values() if r.seq < h.seq]
    check(not early, "%d deposits ran while add_to_basket was suspended", len(early))
    env.note = "%d deposits queued behind add_to_basket of %d items (up to %d seen at once), all after it" % (
        n_callers, len(basket), max_queue)
    return True


def test_chain(env):
    c = env.client
    c.value("User", "pa", "deposit", 7)
    check_eq(c.value("User", "pa", "ping_item", "book", wait=15), 7,
             "User -> Item -> User (same chain) completes")
    check_eq(entity_queue(env.view("User", "pa")), ("", 0), "pa idle afterwards")
    # and a second user pinging the same item at the same time
    c.value("User", "pb", "deposit", 9)
    ra = c.send("User", "pa", "ping_item", "book")
    rb = c.send("User", "pb", "ping_item", "book")
    check_eq(c.receive("User", "ping_item", ra).value, 7, "pa")
    check_eq(c.receive("User", "ping_item", rb).value, 9, "pb")


def test_failure(env):
    c = env.client
    c.value("Item", "x", "set_price", 4)
    c.value("Item", "x", "add_stock", 1)
    c.value("User", "f", "deposit", 50)
    c.value("User", "f", "add_to_basket", ["x"])
    check_eq(c.value("Item", "x", "reserve", 1), True, "someone else takes the last x")
    direct = c.call("Item", "x", "reserve", 1)
    check(not direct.ok, "reserve should fail")
    r = c.call("User", "f", "checkout")
    check_eq(got(r), ("err", "checkout failed: " + direct.error), "the callee's error in checkout's")
    check_eq(c.value("User", "f", "get_balance"), 50, "not charged")


AWAITING = ("add_to_basket", "quote", "buy_one")
USERS = ["u%d" % k for k in range(5)]
ITEMS = ["i%d" % k for k in range(8)]  # the last is never stocked (random_op)


def model_counts(seed, n_ops):
    """What run_random(seed, n_ops) without kills counts, from the model
    alone: that run must match the model reply by reply, so these are the
    counts of every run of it that passes."""
    rng, model = random.Random(seed), Model()
    counts = collections.Counter()
    for _ in range(n_ops):
        op = random_op(rng, USERS, ITEMS)
        counts[(op[2], model.apply(*op)[0])] += 1
    return counts


def coverage_shortfalls(counts):
    """What a random run's counts lack for test_random: each path of
    checkout and buy_one (the undo of an atomic method) and the parallel
    awaits of quote. [] when nothing."""
    out = []
    if counts[("checkout", "ok")] < 10 or counts[("checkout", "err")] < 10:
        out.append("too few checkouts either way")
    if counts[("buy_one", "ok")] < 10 or counts[("buy_one", "err")] < 10:
        out.append("too few buy_one either way (atomic undo)")
    if counts[("quote", "ok")] < 20:
        out.append("too few quotes (parallel awaits)")
    return out


def run_random(env, seed, n_ops, kill_every=0):
    """n_ops seeded random operations, each result compared with the model.
    With kill_every, about one op in kill_every is due a kill -9 of a
    function server: one made only while sf-local has a request out to it,
    and counted only if sf-local then retried. A kill that finds the call
    already done, or that sf-local did not have to retry, is due again at
    the next op; the ops themselves are the seed's alone.
    Returns (counts, [kills of the User's server, of the Item server],
    attempts that missed, kills inside a User's awaits)."""
    rng = random.Random(seed)
    krng = random.Random(seed + 1000)  # when in a call to kill: apart from the ops
    users, items = USERS, ITEMS
    model, c = Model(), env.client
    missed = in_awaits = due = 0
    killed = [0, 0]  # kills of the User's server, of the Item server
    kill_rids = []
    counts = collections.Counter()
    for step in range(n_ops):
        op = random_op(rng, users, items)
        kill = kill_every and rng.random() < 1.0 / kill_every
        if kill and op[2] not in AWAITING and rng.random() < 0.7:
            # kill inside awaits: one at a time, parallel, and one that fails
            # after its write (the write must be undone exactly once)
            user = op[1] if op[0] == "User" else rng.choice(users)
            op = rng.choice([
                ("User", user, "add_to_basket", [rng.choice(items) for _ in range(3)]),
                ("User", user, "quote", [rng.choice(items) for _ in range(4)]),
                ("User", user, "buy_one", rng.choice(items))])
        due += bool(kill)
        want = model.apply(*op)
        landed = 0
        if due:
            retries = env.metric("sflocal_retries_total")
            # mostly inside a User's awaits, else before the method's first step
            into_awaits = op[2] in AWAITING and krng.random() < 0.8
            # the call's first batch, or the Item calls it makes, wait on a
            # paused server
            (env.items if into_awaits else env.server_of(op[0])).pause()
        rid = c.send(*op)
        if due:
            if into_awaits:
                victim, landed = kill_in_await(env, op[1], rid, krng.random() < 0.5)
            else:
                victim = env.server_of(op[0])
                landed = env.kill_in_flight(victim, timeout=0.3)
            if landed:
                # the server is gone: the User's state is as at the kill
                awaiting = (op[0] == "User" and
                            entity_queue(env.view("User", op[1]))[0] == "ext:" + rid)
                of_items = victim is env.items  # before the restart replaces it
                time.sleep(krng.uniform(0, 0.05))
                env.restart(victim)
                kill_rids.append(rid)
            else:
                missed += 1
        r = c.receive(op[0], op[2], rid, wait=30)
        if landed:
            # it hit a request only if sf-local had to retry one (a reply
            # written just before the pause may still have been read)
            if env.metric("sflocal_retries_total") > retries:
                killed[of_items] += 1
                in_awaits += awaiting
                due -= 1
            else:
                missed += 1
        counts[(op[2], "ok" if r.ok else "err")] += 1
        if got(r) != want:
            raise TestFailure("seed %d, step %d: %s/%s.%s%r: expected %r, got %r" % (
                seed, step, op[0], op[1], op[2], tuple(op[3:]), want, got(r)))
    final_sweep(env, model, users, items)
    for rid in kill_rids:
        extra = c.poll_extra(rid)
        check(extra is None, "seed %d: a second reply to %s: %r", seed, rid, extra)
    return counts, killed, missed, in_awaits


def kill_in_await(env, user, rid, callee):
    """With the Item server paused and the User call `rid` sent: waits until
    the User is suspended in it (sf-local shows the call as its __entity
    chain; the Item calls it awaits are held by the paused server), then
    kills the Item server holding them (callee) or the User's server once
    the Items' answers are on their way to it, paused. Returns (the server
    killed or to resume, batches in flight at the kill: 0 when the call
    never suspended, e.g. an empty list, and nothing was killed)."""
    deadline = time.monotonic() + 2
    while entity_queue(env.view("User", user))[0] != "ext:" + rid:
        if time.monotonic() > deadline:
            env.items.resume()
            return env.items, 0
        time.sleep(0.001)
    if callee:
        return env.items, env.kill_in_flight(env.items, timeout=5)
    env.fn.pause()
    env.items.resume()  # answers the Items; their replies go to the paused User
    while env.view("User", user).get("in_flight", 0) == 0:
        if time.monotonic() > deadline + 5:
            env.fn.resume()
            return env.fn, 0
        time.sleep(0.001)
    return env.fn, env.kill_in_flight(env.fn, timeout=5)


def test_random(env):
    counts = run_random(env, ARGS.seed, ARGS.ops)[0]
    oks = sum(v for (m, s), v in counts.items() if s == "ok")
    short = coverage_shortfalls(counts)
    check(not short, "%s: %s", "; ".join(short), dict(counts))
    env.note = ("seed %d, %d ops (%d ok), checkouts %d ok / %d failed, buy_one %d ok / %d "
                "failed and undone, quote %d") % (
        ARGS.seed, ARGS.ops, oks, counts[("checkout", "ok")], counts[("checkout", "err")],
        counts[("buy_one", "ok")], counts[("buy_one", "err")], counts[("quote", "ok")])


def test_kill(env):
    n = max(ARGS.ops // 4, 100)
    counts, killed, missed, in_awaits = run_random(env, ARGS.seed + 1, n, kill_every=12)
    kills = sum(killed)
    check(kills >= 5, "only %d kills landed on calls in flight (%d found the call done)",
          kills, missed)
    check(in_awaits * 4 >= kills, "only %d of the %d kills inside a User's awaits",
          in_awaits, kills)
    check(killed[0] and killed[1], "kills of the User's and the Item server: %s", killed)
    env.note = "seed %d, %d ops, %d kills with requests in flight and retried (%d of the " \
        "User's server, %d of the Item server; %d inside a User's awaits; %d more " \
        "attempts found the call done or had nothing retried), sf-local retried %d times" % (
            ARGS.seed + 1, n, kills, killed[0], killed[1], in_awaits, missed,
            env.metric("sflocal_retries_total"))


TESTS = [("basic", test_basic), ("awaits", test_awaits), ("checkout", test_checkout),
         ("isolation", test_isolation), ("chain", test_chain), ("failure", test_failure),
         ("random", test_random), ("kill", test_kill)]


def main():
    global ARGS
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--shopping-cart", required=True)
    ap.add_argument("--seed", type=int, default=int(os.environ.get("SF_ENTITIES_SEED", DEFAULT_SEED)))
    ap.add_argument("--ops", type=int, default=DEFAULT_OPS)
    ap.add_argument("-k", action="append", default=[])
    ap.add_argument("--keep", action="store_true")
    ARGS = ap.parse_args()
    print("seed %d (rerun with --seed %d or SF_ENTITIES_SEED)" % (ARGS.seed, ARGS.seed), flush=True)
    return run_tests(TESTS, lambda name: Env(name, item_server=name == "kill"), ARGS.k,
                     ARGS.seed, ARGS.keep)

if __name__ == "__main__":
    sys.exit(main())
