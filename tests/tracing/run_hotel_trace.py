#!/usr/bin/env python3
"""The hotel's /search traced (docs/tracing.md): the hotel application on
sf-local (tests/hotel/run_hotel.py's Env: data loaded by hotel-init), the
hotel server and sf-local both with --trace-out; one Frontend.search with
a traceparent, then `sf-local --trace` on both files must show sf-local's
request span over search -> Search.nearby (-> Geo.nearby,
Rate.get_rates) -> the parallel Reservation.check_availability calls ->
Profile.get_profiles, each under its await, in that order, and the reply;
beside each invocation under its await, sf-local's hop that delivered it
(with its wait and HTTP attempt), and each Reply's hop under its reply.

    run_hotel_trace.py --sf-local BIN --hotel BIN --hotel-init BIN
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
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

    def sf_local_args(self):
        self.sfl_trace = os.path.join(self.dir, "sf-local.otlp.jsonl")
        return ["--trace-out", self.sfl_trace]


def tree(sf_local, files):
    """`sf-local --trace` of TRACE over the files: (output, span count)."""
    argv = [sf_local, "--trace", TRACE]
    for f in files:
        argv += ["--trace-in", f]
    p = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    check_eq(p.returncode, 0, "sf-local --trace (%s)" % p.stderr)
    return p.stdout, int(re.match(r"trace \S+ \((\d+) spans\)", p.stdout).group(1))


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
        bad = otlp_check.problems(env.trace_out) + otlp_check.problems(env.sfl_trace)
        check(not bad, "OTLP faults: %s", bad[:5])
        # every message of the trace went through sf-local: one hop per
        # invocation of the function server's spans and one per Reply sent
        # to an entity (all but search's own, which goes to the front)
        fn_spans = [x for x in otlp_check.spans(env.trace_out) if x["traceId"] == TRACE]
        invocations = sum(1 for x in fn_spans if x["name"].startswith("hotel/") and
                          not x["name"].endswith("(resumed)"))
        replies = sum(1 for x in fn_spans if x["name"] == "reply") - 1
        deadline = time.time() + 10
        while True:
            sl_spans = [x for x in otlp_check.spans(env.sfl_trace) if x["traceId"] == TRACE]
            hops = [x for x in sl_spans if x["name"].startswith("sf-local call ") or
                    x["name"].startswith("sf-local reply to ")]
            if len(hops) >= invocations + replies or time.time() > deadline:
                break
            time.sleep(0.1)
        check_eq(len(hops), invocations + replies,
                 "sf-local's hops (%d calls, %d replies)" % (invocations, replies))
        for h in hops:
            kids = [x for x in sl_spans if x["parentSpanId"] == h["spanId"]]
            posts = sorted((x for x in kids if x["name"].startswith("POST")),
                           key=lambda x: int(x["startTimeUnixNano"]))
            check(sum(1 for x in kids if x["name"] == "queued") == 1 and posts and
                  "status" not in posts[-1], "%s: its wait and attempts: %s", h["name"],
                  [x["name"] for x in kids])
        out, n = tree(args.sf_local, [env.trace_out, env.sfl_trace])
        print(out)
        check_eq(n, len(fn_spans) + len(sl_spans), "spans in the tree: both files'")
        lines = out.splitlines()
        check_eq(lines[1].split("  ")[0], "sf-local POST /hotel/Frontend/f-0/search",
                 "sf-local's request span at the root")
        names = [re.sub(r"^[|`\- ]*", "", ln).split(" [")[0] for ln in lines[1:]]
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
        check(names.count("sf-local call hotel/Reservation.check_availability") ==
              names.count("hotel/Reservation.check_availability"),
              "a hop of sf-local's for each availability check")
        # under each await: sf-local's hop of that Call beside the invocation
        sl_spans = [x for x in otlp_check.spans(env.sfl_trace) if x["traceId"] == TRACE]
        for aw in (x for x in fn_spans if x["name"].startswith("await ")):
            kids = sorted(x["name"] for x in fn_spans + sl_spans
                          if x["parentSpanId"] == aw["spanId"])
            callee = aw["name"][len("await "):]
            check_eq(kids, [callee, "sf-local call " + callee], "under " + aw["name"])
        check_eq(lines[-1].lstrip("`- ").split("  ")[0], "reply ok", "search's reply last")
        print("PASS hotel_search_trace")
        return 0
    except Exception as e:  # noqa: BLE001
        print("FAIL hotel_search_trace: %s" % e)
        return 1
    finally:
        env.close()


if __name__ == "__main__":
    sys.exit(main())
