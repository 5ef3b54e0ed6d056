#!/usr/bin/env python3
"""check_dot_flow.py SF_CODEGEN SOURCE_DIR OUT_DIR - `sf-codegen --dot --src`
draws each method as its C body runs (codegen/src/flow.c).

Reads the DOT text back as a graph and checks properties of the pictures
rather than their exact text: the shopping cart's checkout (a loop of
awaits, a caught failure, a rollback loop) and add_to_basket (a loop with
a continue), and tests/codegen/flow/tricky.c (do/while, switch, else-if,
braces in comments and strings, a label the IR does not declare).
"""
import os
import re
import subprocess
import sys

NODE = re.compile(r'^\s*"([^"]+)" \[label="((?:[^"\\]|\\.)*)"(.*)\];$')
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)"(?: \[(.*)\])?;$')

failures = []


def check(ok, what):
    if not ok:
        failures.append(what)
        print("FAIL:", what)


def run(args):
    p = subprocess.run(args, capture_output=True, text=True)
    if p.returncode != 0:
        print(p.stderr)
        sys.exit(f"{' '.join(args)}: exit {p.returncode}")
    return p.stdout, p.stderr


class Graph:
    """The nodes (id -> label, attributes) and edges of one method's cluster."""

    def __init__(self, dot, method):
        self.labels, self.attrs, self.edges = {}, {}, []
        prefix = method + "/"
        for line in dot.splitlines():
            m = NODE.match(line)
            if m and m.group(1).startswith(prefix):
                self.labels[m.group(1)] = m.group(2)
                self.attrs[m.group(1)] = m.group(3)
                continue
            m = EDGE.match(line)
            if m and m.group(1).startswith(prefix):
                attrs = m.group(3) or ""
                lab = re.search(r'label="((?:[^"\\]|\\.)*)"', attrs)
                self.edges.append((m.group(1), m.group(2), lab.group(1) if lab else None,
                                   "dashed" in attrs))
        self.method = method

    def node(self, prefix, exact=False):
        """The one node whose label starts with prefix (or is it)."""
        found = [n for n, l in self.labels.items() if l == prefix or (not exact and l.startswith(prefix))]
        check(len(found) == 1, f"{self.method}: one node labelled '{prefix}...', found {found}")
        return found[0] if found else None

    def succ(self, n, solid_only=True):
        return [(b, lab) for a, b, lab, dashed in self.edges
                if a == n and not (solid_only and dashed)]

    def pred(self, n):
        return [(a, lab) for a, b, lab, dashed in self.edges if b == n]

    def reachable(self, start, without=()):
        seen, todo = {start}, [start]
        while todo:
            v = todo.pop()
            for w, _ in self.succ(v):
                if w not in seen and w not in without:
                    seen.add(w)
                    todo.append(w)
        return seen

    def on_cycle(self, a, b):
        """a and b lie on one cycle."""
        return b in self.reachable(a) and a in self.reachable(b)


def shop_checks(dot):
    g = Graph(dot, "User.checkout")
    start = "User.checkout/start"
    price, reserve = "User.checkout/await/price", "User.checkout/await/reserve"
    release = "User.checkout/await/release"
    for n in (start, price, reserve, release, "User.checkout/return"):
        check(n in g.labels, f"checkout: node {n}")
    # The reservation loop is a loop: price and reserve on one cycle, through
    # the for condition.
    loop = g.node("for (size_t)F->reserved <")
    check(g.on_cycle(price, reserve), "checkout: price and reserve on one cycle (the for loop)")
    check(g.on_cycle(loop, price), "checkout: the for condition is on the loop's cycle")
    check((price, "yes") in g.succ(loop), "checkout: the for condition's 'yes' leads to price")
    # reserve catches: drawn as such, no dashed failure edge, and the next
    # step is the decision on SF_FAILED(F).
    check("catches" in g.labels.get(reserve, ""), "checkout: reserve is drawn as catching")
    check(not [e for e in g.edges if e[0] == reserve and e[3]],
          "checkout: reserve has no dashed 'callee failed' edge")
    failed = g.node("if SF_FAILED(F)")
    check(g.succ(reserve) == [(failed, None)], f"checkout: reserve -> if SF_FAILED(F), got {g.succ(reserve)}")
    check([e for e in g.edges if e[0] == price and e[3] and e[2] == "callee failed"],
          "checkout: price (SF_AWAIT) has a dashed 'callee failed' edge")
    # The rollback is conditional: release is reachable from the start, but
    # not without passing the decision "if F->failure.len".
    decide = g.node("if F->failure.len", exact=True)
    check(release in g.reachable(start), "checkout: release reachable")
    check(release not in g.reachable(start, without={decide}),
          "checkout: release only after 'if F->failure.len' (the compensation is conditional)")
    check(not any(a == price or a == reserve for a, _ in g.pred(release)),
          "checkout: no await leads straight to release")
    # The rollback is a loop, and its exit is the failure.
    rloop = g.node("while F->reserved > 0")
    check(g.on_cycle(release, rloop), "checkout: release and 'while F->reserved > 0' on one cycle")
    exits = [b for b, lab in g.succ(rloop) if lab == "no"]
    check(len(exits) == 1 and g.labels.get(exits[0], "").startswith("fail: checkout failed"),
          f"checkout: the rollback loop's 'no' ends in 'fail: checkout failed', got {exits}")
    # The break out of the reservation loop is labelled.
    check(any(lab and lab.endswith("break") for _, _, lab, _ in g.edges),
          "checkout: the break out of the loop is labelled")
    # The happy path returns only when no failure was recorded.
    check(("User.checkout/return", "no") in g.succ(decide), "checkout: 'if F->failure.len' no -> return")

    g = Graph(dot, "User.add_to_basket")
    stock, price = "User.add_to_basket/await/stock", "User.add_to_basket/await/price"
    check(g.on_cycle(stock, price), "add_to_basket: stock and price on one cycle")
    skip = g.node("if F->r.stock <= 0")
    check(g.pred(price) == [(skip, "no")], f"add_to_basket: price only on 'stock <= 0' no, got {g.pred(price)}")
    check(any(lab == "yes, continue" for _, lab in g.succ(skip)), "add_to_basket: the continue is labelled")
    loop = g.node("for (size_t)F->i <")
    check(g.pred("User.add_to_basket/return") == [(loop, "no")],
          f"add_to_basket: returns when the loop ends, got {g.pred('User.add_to_basket/return')}")
    # Straight-line methods: start -> await -> return.
    g = Graph(dot, "User.ping_item")
    check(g.succ("User.ping_item/start") == [("User.ping_item/await/ping", None)], "ping_item: start -> ping")
    check(g.succ("User.ping_item/await/ping") == [("User.ping_item/return", None)], "ping_item: ping -> return")


def tricky_checks(dot, err):
    g = Graph(dot, "User.add_to_basket")
    stock, price = "User.add_to_basket/await/stock", "User.add_to_basket/await/price"
    do = g.node("do ... while ++F->i <")
    check((stock, "again") in g.succ(do), "tricky: do/while loops back to the first await")
    sw = g.node("switch F->r.stock")
    check((price, "default") in g.succ(sw), "tricky: switch default -> price")
    check((do, "case 0, break") in g.succ(sw), "tricky: case 0 breaks to the loop condition")
    check(not any(lab == "no case" for _, lab in g.succ(sw)), "tricky: a switch with default has no 'no case'")
    fail = g.node("fail: too \\\"expensive\\\"")
    check(fail is not None, "tricky: the SF_FAIL reason, unquoted")
    check("User.add_to_basket/await/bogus" in g.labels and
          "not in the IR" in g.labels["User.add_to_basket/await/bogus"], "tricky: undeclared label drawn as such")
    check("tricky.c:35:5: warning: await label 'bogus' is not an await of User.add_to_basket in the IR" in err,
          f"tricky: warning for the undeclared label at its place, stderr: {err}")
    check("no SF_METHOD(User, checkout) in the --src files" in err, "tricky: warning for a method without body")
    check('label="User.checkout: its awaits (the order is in the C body: --src FILE)"' in dot,
          "tricky: a method without body says its order is unknown")
    check(not re.search(r'"User\.checkout/[^"]*" -> ', dot), "tricky: a method without body has no edges")


def parallel_checks(dot):
    """Parallel awaits: calls made without waiting, joined by SF_AWAIT_CALLS."""
    g = Graph(dot, "User.checkout")
    call_reserve, join_reserve = "User.checkout/call/reserve", "User.checkout/await/reserve"
    call_release, join_release = "User.checkout/call/release", "User.checkout/await/release"
    for n in (call_reserve, join_reserve, call_release, join_release,
              "User.checkout/call/price", "User.checkout/await/price"):
        check(n in g.labels, f"parallel: node {n}")
    check("dashed" in g.attrs.get(call_reserve, ""), "parallel: a call without waiting is dashed")
    check(g.labels.get(join_reserve, "").startswith("wait for the calls"),
          "parallel: the join is drawn as waiting for the calls")
    loops = [b for b, lab in g.pred(call_reserve)]
    check(len(loops) == 1 and g.on_cycle(loops[0], call_reserve),
          "parallel: the reserve calls are made in a loop (fan-out)")
    check((join_reserve, "no") in g.succ(loops[0]) if loops else False,
          "parallel: the join comes when the fan-out loop ends")
    check("catches" in g.labels.get(join_reserve, ""), "parallel: SF_AWAIT_CALLS_CATCH catches")
    failed = g.node("if SF_FAILED(F)", exact=True)
    check(call_release not in g.reachable("User.checkout/start", without={failed}),
          "parallel: the release fan-out only on 'if SF_FAILED(F)'")
    check([e for e in g.edges if e[0] == join_release and e[3]],
          "parallel: SF_AWAIT_CALLS has the dashed failure edge")
    check(g.succ("User.checkout/call/price") == [("User.checkout/await/price", None)],
          "parallel: call price -> its join")


def main():
    sfc, src, out = sys.argv[1:4]
    os.makedirs(out, exist_ok=True)
    shop = f"{src}/examples/shopping-cart/shop.ir.json"
    dot, _ = run([sfc, "--dot", shop, "--src", f"{src}/examples/shopping-cart/cart.c"])
    with open(f"{out}/shop-flow.dot", "w") as f:
        f.write(dot)
    shop_checks(dot)
    dot, err = run([sfc, "--dot", shop, "--src", f"{src}/tests/codegen/flow/tricky.c"])
    tricky_checks(dot, err)
    dot, _ = run([sfc, "--dot", shop, "--src", f"{src}/tests/codegen/flow/parallel.c"])
    parallel_checks(dot)
    p = subprocess.run([sfc, "--check", shop, "--src", "x.c"], capture_output=True, text=True)
    check(p.returncode == 2 and "--src goes with --dot" in p.stderr, "--src without --dot is a usage error")
    p = subprocess.run([sfc, "--dot", shop, "--src", f"{out}/no-such.c"], capture_output=True, text=True)
    check(p.returncode == 1 and "no-such.c: cannot read: No such file or directory" in p.stderr, "an unreadable --src fails")
    if failures:
        sys.exit(f"\n{len(failures)} check(s) failed")
    print("dot control flow ok")


if __name__ == "__main__":
    main()
