"""The shopping cart's entity calls over HTTP, as JSON in and JSON out,
for any runtime behind the URL: sf-gateway in front of Flink
(tests/e2e/run_e2e_gateway.py) and sf-gateway's own checks without Kafka
(run_gateway_fast.py). The calls and the answers asserted are those of
sf-local's test (tests/integration/run_entities_json.py): a client must not
tell the runtimes apart.

A `Client` posts to 127.0.0.1:port and decodes the JSON answer.
"""
import json
import os
import socket
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "pylib"))
from sftest.checks import check, check_eq  # noqa: E402
from sftest.net import request_once  # noqa: E402


class Client:
    def __init__(self, port, timeout=60.0):
        self.port = port
        self.timeout = timeout

    def call(self, path, args=None, headers=None, raw=None):
        """POST path with args as JSON (or raw bytes): (status, JSON)."""
        body = raw if raw is not None else (
            None if args is None else json.dumps(args).encode())
        st, data = request_once(self.port, "POST", path, body, headers,
                                timeout=self.timeout)
        try:
            return st, json.loads(data)
        except ValueError:
            raise AssertionError("%s: HTTP %d, not JSON: %r" % (path, st, data[:200]))

    def ok(self, path, args, want):
        st, j = self.call(path, args)
        check_eq((st, j.get("ok"), j.get("result")), (200, True, want), path)
        check(isinstance(j.get("request_id"), str), "%s: no request_id in %r", path, j)
        return j


def shopping(c):
    c.ok("/shop/Item/apple/set_price", {"price": 30}, None)
    c.ok("/shop/Item/apple/add_stock", {"qty": 5}, 5)
    c.ok("/shop/Item/pear/set_price", {"price": 12}, None)
    c.ok("/shop/Item/pear/add_stock", {"qty": 1}, 1)
    c.ok("/shop/User/alice/add_to_basket", {"items": ["apple", "pear"]}, 42)
    c.ok("/shop/User/alice/get_basket", None, ["apple", "pear"])
    c.ok("/shop/User/alice/deposit", {"amount": 100}, 100)
    c.ok("/shop/User/alice/checkout", None,
         {"lines": [{"item": "apple", "qty": 1, "price": 30},
                    {"item": "pear", "qty": 1, "price": 12}],
          "total": 42, "balance": 58})
    c.ok("/shop/Item/pear/get_stock", {}, 0)
    st, j = c.call("/shop/User/alice/checkout")
    check_eq((st, j["ok"]), (422, False), "empty checkout")
    check("empty" in j["error"], "checkout error: %r", j)
    c.ok("/shop/User/alice/get_balance", None, 58)
    c.ok("/shop/User/alice/get_basket", None, [])


def out_of_stock_rolls_back(c):
    c.ok("/shop/Item/fig/set_price", {"price": 7}, None)
    c.ok("/shop/Item/fig/add_stock", {"qty": 1}, 1)
    c.ok("/shop/Item/kiwi/set_price", {"price": 9}, None)
    c.ok("/shop/Item/kiwi/add_stock", {"qty": 1}, 1)
    c.ok("/shop/User/bob/add_to_basket", {"items": ["fig", "kiwi"]}, 16)
    c.ok("/shop/Item/kiwi/reserve", {"qty": 1}, True)  # kiwi gone
    c.ok("/shop/User/bob/deposit", {"amount": 50}, 50)
    st, j = c.call("/shop/User/bob/checkout")
    check_eq((st, j["ok"]), (422, False), "checkout without kiwi")
    c.ok("/shop/Item/fig/get_stock", None, 1)  # released again
    c.ok("/shop/User/bob/get_balance", None, 50)


# (path, body, status, error or None, call): answered before anything is
# sent, word for word as sf-local answers them. `call`: the entity-call
# form {"ok":false,"error":...}; else the plain {"error":...} of a path
# that is no entity address at all. %(Entity)s / %(entities)s: the names
# the IR lists.
BAD_REQUESTS = [
    ("/shop/User/alice/add_to_basket", b'{"items":["a",3]}', 400,
     "User.add_to_basket: argument 'items'[1]: expected a string "
     "(ref<Item> key), got 3", True),
    ("/shop/User/alice/add_to_basket", b"{}", 400,
     "User.add_to_basket: missing argument 'items' (list<ref<Item>>)", True),
    ("/shop/User/alice/deposit", b'{"amount":1,"x":2}', 400,
     "User.deposit: unknown argument \"x\" (method deposit has amount)", True),
    ("/shop/Item/apple/add_stock", b'{"qty":4294967296}', 400,
     "Item.add_stock: argument 'qty': 4294967296 is out of range for "
     "int32 (-2147483648 to 2147483647)", True),
    ("/shop/User/alice/deposit", b'{"amount":', 400,
     "the body is not JSON (line 1, column 10): unexpected token near end "
     "of file", True),
    ("/shop/User/alice/deposit", b'\xff\xfe', 400, None, True),
    ("/shop/User/alice/deposit", b'"5"', 400,
     "User.deposit: the arguments must be a JSON object of the parameters "
     "({\"amount\": ...}), got \"5\"", True),
    ("/shop/User/alice/nope", b"", 404,
     "entity shop/User has no method 'nope' (methods: %(User)s)", True),
    ("/shop/Cart/alice/get", b"", 404,
     "no entity 'Cart' in the IR of namespace shop (entities: %(entities)s)",
     True),
    ("/shop/User/alice", b"{}", 404,
     "shop/User is an entity: POST /shop/User/alice/<method> with the JSON "
     "arguments (methods: %(User)s), or PUT a raw message", True),
    ("/shop/User//deposit", b"{}", 400,
     "an entity call is POST /shop/User/<key>/<method>: expected "
     "/<namespace>/<type>/<id> (empty id)", True),
    ("/shop/User/alice/dep%zzosit", b"{}", 400,
     "bad percent-encoding in the method name", True),
    ("/shop/User/al%zzice/deposit", b"{}", 400,
     "bad percent-encoding in the path (or %%00)", False),
    ("/shop/User/a%01b/deposit", b"{}", 400,
     "the id contains control characters", False),
    ("/sh%01op/User/k/deposit", b"{}", 400,
     "the namespace contains control characters", False),
    ("/shop/User", b"{}", 400, "expected /<namespace>/<type>/<id> (no id)",
     False),
]


def ir_names(ir_path):
    """The names a 404 lists, from the IR file: {"entities": "Item, User",
    "<Entity>": "<its methods>"}."""
    with open(ir_path) as f:
        ir = json.load(f)
    names = {"entities": ", ".join(e["name"] for e in ir["entities"])}
    for e in ir["entities"]:
        names[e["name"]] = ", ".join(m["name"] for m in e.get("methods", []))
    return names


def bad_requests(c, max_body, ir_path):
    names = ir_names(ir_path)
    for path, body, want_st, want_err, call in BAD_REQUESTS:
        st, j = c.call(path, raw=body)
        check_eq((st, j.get("ok")), (want_st, False if call else None),
                 "%s %r" % (path, body))
        check("request_id" not in j, "%s: a request id before sending: %r", path, j)
        if want_err is not None:
            check_eq(j.get("error"), want_err % names, "%s %r" % (path, body))
    st, j = c.call("/shop/User/alice/get_balance", headers={"X-Request-Id": "bad id"})
    check_eq(st, 400, "bad X-Request-Id")
    st, j = c.call("/shop/User/alice/get_balance?wait=abc")
    check_eq((st, j.get("error")),
             (400, "bad ?wait= (seconds, e.g. 5 or 0.5; at most 60)"), "bad wait")
    st, j = c.call("/shop/User/alice/get_balance",
                   headers={"X-Idempotency-Key": "x" * 300})
    check_eq(st, 400, "long X-Idempotency-Key")
    # a body over the limit: refused before it is read
    with socket.create_connection(("127.0.0.1", c.port), timeout=10) as s:
        s.sendall(b"POST /shop/User/alice/deposit HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: %d\r\n\r\n" % (max_body + 1))
        head = s.recv(4096)
    check(head.startswith(b"HTTP/1.1 413"), "huge body: %r", head[:100])
    # ... and a chunked one (no Content-Length) over the limit: 413
    st, data = request_once(c.port, "POST", "/shop/User/alice/deposit",
                            body=iter([b"{", b" " * (max_body + 10), b"}"]))
    check_eq(st, 413, "chunked body over the limit")


def concurrent_deposits(c, key, n=40):
    errors = []

    def one():
        try:
            st, j = c.call("/shop/User/%s/deposit" % key, {"amount": 1})
            if st != 200:
                errors.append((st, j))
        except Exception as e:  # noqa: BLE001
            errors.append(e)

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    check_eq(errors, [], "concurrent deposits")
    c.ok("/shop/User/%s/get_balance" % key, None, n)
