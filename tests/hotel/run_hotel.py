#!/usr/bin/env python3
"""The hotel application (examples/hotel) on sf-local: each endpoint's
answers against a Python re-implementation of the reference logic
(reference.py) on the same generated data, and the booking guarantees
after bounded load runs (bench/hotel_check.py).

    run_hotel.py --sf-local BIN --hotel BIN --hotel-init BIN --hotel-load BIN
                 [-k NAME]... [--seed N] [--keep]

Each test starts its own sf-local (--ir examples/hotel/hotel.ir.json) and
hotel server on free ports, and loads the data with hotel-init:

  functional   reservations first (hotels near the search area, up to 120
               rooms each, so some fill up), each answer and then every
               hotel's stored bookings compared with the model; then
               searches (whose availability now matters), recommendations
               by dis/rate/price and logins with right and wrong
               passwords, each answer compared with the model; bad input
               (an unknown requirement, a bad date) answered 422
  mix          the reference mix at 150 requests/s for 6 s through
               hotel_load: no errors, then the booking guarantees, read
               both from sf-local's state view and through
               Reservation.get_bookings
  contention   only reservations, 300/s for 4 s over 3 hotels with up to
               40 rooms each, 64 connections: some hotel must fill to at
               least 90 % on some date, and still none beyond capacity
  kill         the mix with reservations over 3 hotels while the hotel
               server is kill -9'ed twice and restarted, each time while
               sf-local has requests out to it; every request still
               answered (sf-local retries), and the guarantees hold
  init_first   hotel-init started a second before sf-local: it retries
               until sf-local answers and loads everything

Python 3 standard library only. The last line is "N passed, M failed"
(exit 1 on failures).
"""
import argparse
import json
import os
import random
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
IR = os.path.join(REPO, "examples", "hotel", "hotel.ir.json")
CHECK = os.path.join(REPO, "bench", "hotel_check.py")
sys.path.insert(0, os.path.join(REPO, "tests", "pylib"))
sys.path.insert(0, HERE)
from sftest.checks import check, check_eq  # noqa: E402
from sftest.net import free_port  # noqa: E402
from sftest.sflocal import LocalEnv, run_tests  # noqa: E402
from reference import Hotel  # noqa: E402

ARGS = None


class Env(LocalEnv):
    """One test's sf-local + hotel server with the data loaded."""

    def __init__(self, name):
        super().__init__("hotel", name)
        self.module = self.module_on_fn_port(os.path.join(REPO, "examples", "hotel", "module.yaml"))
        self.start_hotel()
        self.dump = os.path.join(self.dir, "data.json")
        self.run([ARGS.hotel_init, "--dump", self.dump])
        if name == "init_first":
            self.init_first()
        else:
            self.start_sf_local(self.sf_local_argv(0))
            self.url = "http://127.0.0.1:%d" % self.ingress
            self.run([ARGS.hotel_init, "--url", self.url])
        with open(self.dump) as f:
            self.data = json.load(f)

    def sf_local_argv(self, ingress_port):
        return [ARGS.sf_local, "--module", self.module, "--ir", IR, "--ingress-port",
                str(ingress_port), "--egress-port", "0"] + self.sf_local_args()

    def init_first(self):
        """hotel-init started a second before sf-local, as a script that
        does not wait for it would: it must keep retrying the refused
        connections until sf-local answers, then load everything."""
        self.url = "http://127.0.0.1:%d" % free_port()
        init = subprocess.Popen([ARGS.hotel_init, "--url", self.url],
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        time.sleep(1.0)
        if init.poll() is not None:
            check(False, "hotel-init gave up before sf-local started (exit %d):\n%s",
                  init.returncode, init.stdout.read().decode("utf-8", "replace")[-2000:])
        self.start_sf_local(self.sf_local_argv(int(self.url.rsplit(":", 1)[1])))
        out, _ = init.communicate(timeout=120)
        check(init.returncode == 0, "hotel-init exited %d:\n%s", init.returncode,
              out.decode("utf-8", "replace")[-2000:])

    def sf_local_args(self):
        """More sf-local options (a subclass's, e.g. --trace-out)."""
        return []

    def start_hotel(self):
        self.hotel = self.start_server("hotel", [ARGS.hotel, "--listen",
                                                 "127.0.0.1:%d" % self.fn_port, "--threads", "2"])

    def run(self, argv, timeout=120):
        """Runs a tool to completion; its output, or a failure with it."""
        r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           timeout=timeout)
        out = r.stdout.decode("utf-8", "replace")
        check(r.returncode == 0, "%s exited %d:\n%s", " ".join(argv), r.returncode, out[-4000:])
        return out

    def call(self, method, args, entity="Frontend", key="f-0"):
        """POST an entity call: (HTTP status, answer JSON)."""
        url = "%s/hotel/%s/%s/%s?wait=30" % (self.url, entity, key, method)
        req = urllib.request.Request(url, data=json.dumps(args).encode(), method="POST",
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    def fields(self, entity, key):
        """sf-local's decoded state of an entity; None if never touched."""
        try:
            with urllib.request.urlopen("%s/hotel/%s/%s" % (self.url, entity, key)) as r:
                return json.loads(r.read())["fields"]
        except urllib.error.HTTPError as e:
            check(e.code == 404, "GET %s/%s: HTTP %d", entity, key, e.code)
            return None

    def value(self, method, args, **kw):
        st, ans = self.call(method, args, **kw)
        check(st == 200 and ans.get("ok"), "%s(%s): HTTP %d %s", method, args, st, ans)
        return ans["result"]

    def check_bookings(self, logs, *extra):
        for via in ("state", "call"):
            out = self.run([sys.executable, CHECK, "--url", self.url, "--data", self.dump,
                            "--via", via] + sum([["--bookings", b] for b in logs], []) + list(extra))
            print("  [%s] %s" % (via, out.strip().splitlines()[0]))

    def load(self, *args):
        out = self.run([ARGS.hotel_load, "--url", self.url] + list(args), timeout=300)
        print("  " + "\n  ".join(ln for ln in out.splitlines() if not ln.startswith("RESULT")))
        return out


# ---- request parameters as the reference workload draws them ---------------

def stay(rnd):
    d_in = rnd.randint(9, 23)
    d_out = rnd.randint(d_in + 1, 24)
    return "2015-04-%02d" % d_in, "2015-04-%02d" % d_out


def position(rnd):
    return (round(38.0235 + (rnd.randint(0, 481) - 240.5) / 1000.0, 4),
            round(-122.095 + (rnd.randint(0, 325) - 157.0) / 1000.0, 4))


# ---- the tests ---------------------------------------------------------------

def test_functional(env):
    rnd = random.Random(ARGS.seed)
    model = Hotel(env.data)
    users = sorted(env.data["users"])
    # Hotels that searches around the centre find (they have rate plans),
    # plus two others; filled with large bookings so some refuse.
    near = model.search_nearby(38.0235, -122.095)
    check(near, "no hotel with a rate plan near the centre: the data changed?")
    hotels = sorted(set(near) | {"1", "2"})
    booked = refused = 0
    for k in range(160):
        user = rnd.choice(users)
        pw = env.data["users"][user] + ("x" if rnd.randint(0, 2) == 0 else "")
        hotel = rnd.choice(hotels)
        d_in, d_out = stay(rnd)
        rooms = rnd.randint(1, 120)
        args = {"username": user, "password": pw, "hotel_id": hotel,
                "customer_name": "%s.%d" % (user, k), "in_date": d_in, "out_date": d_out,
                "number_of_rooms": rooms}
        want = model.reserve(user, pw, hotel, args["customer_name"], d_in, d_out, rooms)
        check_eq(env.value("reserve", args), want, "reserve %s" % args)
        booked += want
        refused += not want
    check(booked > 20 and refused > 20, "reservations: %d booked, %d refused: too few of one",
          booked, refused)
    for hotel in env.data["capacities"]:
        want = model.bookings[hotel]
        check_eq(env.value("get_bookings", {}, entity="Reservation", key=hotel), want,
                 "bookings of hotel %s (get_bookings)" % hotel)
        fields = env.fields("Reservation", hotel)
        check_eq(fields["reservations"] if fields else [], want,
                 "bookings of hotel %s (sf-local's state view)" % hotel)
    counts = {"search": 0, "non-empty search": 0, "recommend": 0, "login": 0}
    for _ in range(150):
        d_in, d_out = stay(rnd)
        lat, lon = position(rnd)
        args = {"in_date": d_in, "out_date": d_out, "lat": lat, "lon": lon,
                "partition": rnd.randint(0, 79)}
        want = model.search(d_in, d_out, lat, lon)
        check_eq(env.value("search", args), want, "search %s" % args)
        counts["search"] += 1
        counts["non-empty search"] += bool(want)
    check(counts["non-empty search"] > 50, "only %d searches found hotels", counts["non-empty search"])
    for req in ("dis", "rate", "price"):
        for _ in range(40):
            lat, lon = position(rnd)
            args = {"requirement": req, "lat": lat, "lon": lon, "partition": rnd.randint(0, 79)}
            want = model.frontend_recommend(req, lat, lon)
            check(want, "the model recommends nothing for %s", args)
            check_eq(env.value("recommend", args), want, "recommend %s" % args)
            counts["recommend"] += 1
    for _ in range(60):
        user = rnd.choice(users)
        pw = env.data["users"][user] + ("x" if rnd.randint(0, 2) == 0 else "")
        args = {"username": user, "password": pw}
        check_eq(env.value("login", args), model.login(user, pw), "login %s" % args)
        counts["login"] += 1
    check_eq(env.value("login", {"username": "nobody", "password": ""}), False, "login of nobody")
    # Far from every hotel: nothing found, nothing failed.
    check_eq(env.value("search", {"in_date": "2015-04-10", "out_date": "2015-04-11",
                                  "lat": 0.0, "lon": 0.0, "partition": 0}), [], "search at 0,0")
    for method, args, what in (
            ("recommend", {"requirement": "cheap", "lat": 38.0, "lon": -122.0, "partition": 0},
             "requirement must be dis, rate or price"),
            ("search", {"in_date": "2015-4-10", "out_date": "2015-04-11", "lat": 38.0,
                        "lon": -122.0, "partition": 0}, "in_date is not a YYYY-MM-DD date"),
            ("search", {"in_date": "2015-04-12", "out_date": "2015-04-11", "lat": 38.0,
                        "lon": -122.0, "partition": 0}, "out_date is before in_date")):
        st, ans = env.call(method, args)
        check(st == 422 and what in ans.get("error", ""), "%s %s: expected 422 '%s', got %d %s",
              method, args, what, st, ans)
    print("  %d reservations (%d booked, %d refused), %s; bad input answered 422"
          % (booked + refused, booked, refused, counts))


def test_mix(env):
    log = os.path.join(env.dir, "bookings.txt")
    env.load("--rate", "150", "--duration", "6", "--seed", str(ARGS.seed), "--bookings", log)
    env.check_bookings([log])


def test_contention(env):
    log = os.path.join(env.dir, "bookings.txt")
    env.load("--endpoint", "reserve", "--rate", "300", "--duration", "4", "--hotels", "3",
             "--rooms-max", "40", "--connections", "64", "--seed", str(ARGS.seed),
             "--bookings", log)
    env.check_bookings([log], "--min-fill", "0.9")


def test_kill(env):
    log = os.path.join(env.dir, "bookings.txt")
    driver = subprocess.Popen(
        [ARGS.hotel_load, "--url", env.url, "--rate", "200", "--duration", "6", "--hotels", "3",
         "--rooms-max", "40", "--timeout", "30", "--seed", str(ARGS.seed), "--bookings", log],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    out = []
    reader = threading.Thread(target=lambda: out.append(driver.stdout.read()))
    reader.start()
    retries = env.metric("sflocal_retries_total")
    in_flight = []
    for pause in (1.5, 2.0):  # kills at about 1.5 s and 3.8 s into the 6 s run
        time.sleep(pause)
        in_flight.append(env.kill_in_flight(env.hotel))  # only with requests out to it
        check(in_flight[-1] > 0, "kill %d: no request was in flight on the hotel server",
              len(in_flight))
        time.sleep(0.3)
        env.start_hotel()
    driver.wait(timeout=120)
    retried = env.metric("sflocal_retries_total") - retries
    check(retried >= len(in_flight), "sf-local retried %d times after %d kills", retried,
          len(in_flight))
    env.note = "kill -9 with %s batches in flight, sf-local retried %d times" % (
        " and ".join(map(str, in_flight)), retried)
    reader.join()
    text = out[0].decode("utf-8", "replace")
    print("  " + "\n  ".join(ln for ln in text.splitlines() if not ln.startswith("RESULT")))
    check(driver.returncode == 0, "hotel_load exited %d across the kills", driver.returncode)
    # The mix's few reservations are not enough to fill anything: a second,
    # reservation-only run over the same hotels after the kills.
    log2 = os.path.join(env.dir, "bookings2.txt")
    env.load("--endpoint", "reserve", "--rate", "200", "--duration", "3", "--hotels", "3",
             "--rooms-max", "40", "--seed", str(ARGS.seed + 1), "--bookings", log2)
    env.check_bookings([log, log2], "--min-fill", "0.9")


def test_init_first(env):
    """The data hotel-init loaded while sf-local was starting is there."""
    check_eq(env.value("login", {"username": "TUDelft_8", "password": "8888888888"}),
             True, "a user's login")
    check_eq(env.fields("Reservation", "39")["max_capacity"], 200, "hotel 39's capacity")


TESTS = [("functional", test_functional), ("mix", test_mix), ("contention", test_contention),
         ("kill", test_kill), ("init_first", test_init_first)]


def main():
    global ARGS
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for tool in ("sf-local", "hotel", "hotel-init", "hotel-load"):
        ap.add_argument("--" + tool, required=True)
    ap.add_argument("-k", action="append", default=[], help="run only these tests")
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--keep", action="store_true", help="keep the test directories")
    ARGS = ap.parse_args()
    return run_tests(TESTS, Env, ARGS.k, ARGS.seed, ARGS.keep)


if __name__ == "__main__":
    sys.exit(main())
