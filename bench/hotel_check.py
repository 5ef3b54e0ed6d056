#!/usr/bin/env python3
"""The hotel's booking guarantees after a run, read from the Reservation
entities themselves:

    hotel_check.py --url URL --data DUMP.json --bookings FILE [--bookings FILE]...
                   [--via state|call] [--min-fill F] [--quiet]

  - no hotel is booked beyond its capacity on any date (a booking holds its
    rooms from in_date to out_date, both days included, as the reference's
    overlap test counts them);
  - every booking the driver saw acknowledged is stored exactly once, with
    its dates and rooms;
  - no booking the driver saw refused is stored;
  - a booking whose answer the driver never saw (timeout, error) is stored
    at most once;
  - nothing is stored that no driver sent.

--bookings are bench/hotel_load.c's logs ("<acked|refused|unknown> <hotel>
<customer> <in> <out> <rooms>"), one per run since the data was loaded.
--data is hotel-init --dump's output (the capacities). --via state reads
sf-local's view of each entity (GET <url>/hotel/Reservation/<id>, decoded
"fields", sf-local --ir); --via call asks the entity
(POST .../Reservation/<id>/get_bookings), which works through sf-gateway
too. --min-fill F also requires some hotel to be at least F (0..1) full on
some date (a contention test proving it reached the limit).

Prints one summary line; exit 0 when every guarantee holds, 1 otherwise.
Python 3 standard library only.
"""
import argparse
import collections
import datetime
import json
import sys
import urllib.error
import urllib.request


def fetch(url, method="GET", body=None, timeout=60):
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")


def stored(args, hotel):
    """(capacity or None, [booking dicts]) of one hotel."""
    if args.via == "state":
        st, view = fetch("%s/hotel/Reservation/%s" % (args.url, hotel))
        if st == 404:  # never touched: no bookings, the default capacity
            return None, []
        if st != 200 or "fields" not in view:
            raise SystemExit("hotel_check: GET Reservation/%s: HTTP %s %.200s (sf-local --ir?)"
                             % (hotel, st, view))
        f = view["fields"]
        return f["max_capacity"], f["reservations"]
    st, ans = fetch("%s/hotel/Reservation/%s/get_bookings?wait=60" % (args.url, hotel), "POST", b"")
    if st != 200 or not ans.get("ok"):
        raise SystemExit("hotel_check: Reservation/%s.get_bookings: HTTP %s %.200s"
                         % (hotel, st, ans))
    return None, ans["result"]


def read_logs(paths):
    """customer -> (outcome, hotel, in, out, rooms); a customer id twice is
    a driver bug and stops the check."""
    sent = {}
    for path in paths:
        with open(path) as f:
            for n, line in enumerate(f, 1):
                parts = line.split()
                if len(parts) != 6 or parts[0] not in ("acked", "refused", "unknown"):
                    raise SystemExit("%s:%d: not a booking line: %r" % (path, n, line))
                outcome, hotel, cust, d_in, d_out, rooms = parts
                if cust in sent:
                    raise SystemExit("%s:%d: customer %s logged twice" % (path, n, cust))
                sent[cust] = (outcome, hotel, d_in, d_out, int(rooms))
    return sent


def days(d_in, d_out):
    a = datetime.date.fromisoformat(d_in)
    b = datetime.date.fromisoformat(d_out)
    while a <= b:
        yield a
        a += datetime.timedelta(days=1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--url", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--bookings", action="append", default=[])
    ap.add_argument("--via", choices=("state", "call"), default="state")
    ap.add_argument("--min-fill", type=float, default=0.0)
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args()
    args.url = args.url.rstrip("/")
    with open(args.data) as f:
        capacities = json.load(f)["capacities"]
    sent = read_logs(args.bookings)
    problems = []
    seen = collections.Counter()
    n_stored, max_fill, fullest = 0, 0.0, ""
    for hotel, cap in sorted(capacities.items(), key=lambda kv: int(kv[0])):
        state_cap, bookings = stored(args, hotel)
        if state_cap is not None and state_cap != cap:
            problems.append("hotel %s: capacity %s, not %s" % (hotel, state_cap, cap))
        per_day = collections.Counter()
        for b in bookings:
            n_stored += 1
            cust = b["customer_id"]
            seen[cust] += 1
            want = sent.get(cust)
            got = (hotel, b["in_date"], b["out_date"], b["number_of_rooms"])
            if want is None:
                problems.append("hotel %s: booking %s was never sent" % (hotel, b))
            elif want[1:] != got:
                problems.append("hotel %s: booking of %s is %s, the driver sent %s"
                                % (hotel, cust, got, want[1:]))
            for d in days(b["in_date"], b["out_date"]):
                per_day[d] += b["number_of_rooms"]
        for d, rooms in sorted(per_day.items()):
            if rooms > cap:
                problems.append("hotel %s: %d rooms booked on %s, capacity %d"
                                % (hotel, rooms, d, cap))
            if rooms / cap > max_fill:
                max_fill, fullest = rooms / cap, "hotel %s on %s" % (hotel, d)
    count = collections.Counter(v[0] for v in sent.values())
    unknown_stored = 0
    for cust, (outcome, hotel, *_rest) in sent.items():
        n = seen.get(cust, 0)
        if outcome == "acked" and n != 1:
            problems.append("acknowledged booking %s (hotel %s) stored %d times" % (cust, hotel, n))
        elif outcome == "refused" and n:
            problems.append("refused booking %s (hotel %s) stored %d times" % (cust, hotel, n))
        elif outcome == "unknown":
            unknown_stored += n
            if n > 1:
                problems.append("unanswered booking %s (hotel %s) stored %d times" % (cust, hotel, n))
    if max_fill < args.min_fill:
        problems.append("no hotel got to %.0f%% of its capacity on any date (fullest: %.0f%%)"
                        % (args.min_fill * 100, max_fill * 100))
    print("hotel_check: %d hotels, %d bookings stored; acked %d (each stored once: %s), "
          "refused %d (none stored: %s), unanswered %d (%d stored); fullest %.0f%% (%s): %s"
          % (len(capacities), n_stored, count["acked"],
             "no" if any("acknowledged" in p for p in problems) else "yes",
             count["refused"], "no" if any("refused booking" in p for p in problems) else "yes",
             count["unknown"], unknown_stored, max_fill * 100, fullest or "-",
             "FAILED" if problems else "OK"))
    for p in problems[:10]:
        print("  " + p)
    if len(problems) > 10:
        print("  ... and %d more" % (len(problems) - 10))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
