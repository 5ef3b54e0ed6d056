#!/usr/bin/env python3
"""The hotel's /search traced (docs/tracing.md): the hotel application on
sf-local (tests/hotel/run_hotel.py's Env: data loaded by hotel-init), the
hotel server with --trace-out; one Frontend.search with a traceparent,
then `sf-local --trace` must show search -> Search.nearby (-> Geo.nearby,
Rate.get_rates) -> the parallel Reservation.check_availability calls ->
Profile.get_profiles, each under its await, in that order, and the reply.

    run_hotel_trace.py --sf-local BIN --hotel BIN --hotel-init BIN
"""
import argparse
import json
import os
import re
import subprocess
import sys
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "hotel"))
sys.path.insert(0, HERE)
import run_hotel  # noqa: E402
import otlp_check  # noqa: E402
from sftest.checks import check, check_eq  # noqa: E402

TRACE = "5c0ffee0000000000000000000000a11"


class TracedEnv(run_hotel.Env):
    def start_hotel(self):
        self.trace_out = os.path.join(self.dir, "hotel.otlp.jsonl")
        self.hotel = self.start_server("hotel", [run_hotel.ARGS.hotel, "--listen",
                                                 "127.0.0.1:%d" % self.fn_port, "--threads", "2",
                                                 "--trace-out", self.trace_out])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sf-local", required=True)
    ap.add_argument("--hotel", required=True)
    ap.add_argument("--hotel-init", required=True)
    args = ap.parse_args()
    run_hotel.ARGS = args
    env = TracedEnv("trace")
    try:
        url = "%s/hotel/Frontend/f-0/search?wait=30" % env.url
        body = {"in_date": "2015-04-09", "out_date": "2015-04-10", "lat": 38.0235,
                "lon": -122.095, "partition": 0}
        req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "traceparent": "00-%s-00000000000000aa-01" % TRACE})
        with urllib.request.urlopen(req, timeout=60) as r:
            check_eq(r.status, 200, "search")
            tp = r.headers.get("traceparent", "")
            ans = json.loads(r.read())
        check(ans.get("ok") and ans.get("result"), "search found nothing: %s", ans)
        check(tp.startswith("00-%s-" % TRACE), "answer traceparent %r", tp)
        bad = otlp_check.problems(env.trace_out)
        check(not bad, "OTLP faults: %s", bad[:5])
        p = subprocess.run([args.sf_local, "--trace", TRACE, "--trace-in", env.trace_out],
                           capture_output=True, text=True, timeout=30)
        check_eq(p.returncode, 0, "sf-local --trace (%s)" % p.stderr)
        print(p.stdout)
        names = [re.sub(r"^[|`\- ]*", "", ln).split(" [")[0] for ln in p.stdout.splitlines()[1:]]
        first = names.index
        order = [first("hotel/Frontend.search"), first("await hotel/Search.nearby"),
                 first("hotel/Search.nearby"), first("hotel/Geo.nearby"),
                 first("hotel/Rate.get_rates"), first("await hotel/Reservation.check_availability"),
                 first("hotel/Reservation.check_availability"), first("await hotel/Profile.get_profiles"),
                 first("hotel/Profile.get_profiles")]
        check_eq(order, sorted(order), "search's path in order")
        check(names.count("hotel/Reservation.check_availability") ==
              names.count("await hotel/Reservation.check_availability") > 1,
              "one availability check per hotel found, each under its await")
        check_eq(p.stdout.splitlines()[-1].lstrip("`- ").split("  ")[0], "reply ok",
                 "search's reply last")
        print("PASS hotel_search_trace")
        return 0
    except Exception as e:  # noqa: BLE001
        print("FAIL hotel_search_trace: %s" % e)
        return 1
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
