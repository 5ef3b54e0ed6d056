#!/usr/bin/env python3
"""Checks OTLP/JSON trace lines (docs/tracing.md) against the rules of the
OTLP JSON encoding (opentelemetry-proto, ExportTraceServiceRequest):
one object per line with resourceSpans[].scopeSpans[].spans[]; traceId a
32- and spanId/parentSpanId 16-character hex string (parentSpanId may be
empty), neither all zeros; name a non-empty string; kind an integer 0-5;
startTimeUnixNano/endTimeUnixNano decimal integer strings (uint64 is a
string in proto3 JSON) with start <= end; attributes a list of
{key, value: {stringValue|intValue|boolValue|...}}.

    otlp_check.py FILE...    exit 0 when every line is valid, else 1 with
                             "FILE:LINE: reason" for each fault.
Importable: spans(path) -> list of span dicts, problems(path) -> list.
"""
import json
import re
import sys

HEX = re.compile(r"^[0-9a-f]+$")
UINT = re.compile(r"^[0-9]+$")
VALUE_KEYS = {"stringValue", "boolValue", "intValue", "doubleValue",
              "arrayValue", "kvlistValue", "bytesValue"}


def _id(v, n, what, empty_ok=False):
    if not isinstance(v, str):
        return "%s is not a string" % what
    if v == "" and empty_ok:
        return None
    if len(v) != n or not HEX.match(v):
        return "%s %r is not %d lower-case hex digits" % (what, v, n)
    if set(v) == {"0"}:
        return "%s is all zeros" % what
    return None


def span_problems(sp):
    out = []
    for key, n, empty in (("traceId", 32, False), ("spanId", 16, False),
                          ("parentSpanId", 16, True)):
        if key not in sp:
            if key != "parentSpanId":
                out.append("missing %s" % key)
            continue
        p = _id(sp[key], n, key, empty)
        if p:
            out.append(p)
    if not isinstance(sp.get("name"), str) or not sp.get("name"):
        out.append("name missing or empty")
    if not isinstance(sp.get("kind"), int) or not 0 <= sp["kind"] <= 5:
        out.append("kind %r is not an integer 0-5" % sp.get("kind"))
    times = []
    for key in ("startTimeUnixNano", "endTimeUnixNano"):
        v = sp.get(key)
        if not isinstance(v, str) or not UINT.match(v):
            out.append("%s %r is not a string of a decimal integer" % (key, v))
        else:
            times.append(int(v))
    if len(times) == 2 and times[0] > times[1]:
        out.append("starts after it ends")
    attrs = sp.get("attributes", [])
    if not isinstance(attrs, list):
        out.append("attributes is not a list")
        attrs = []
    for a in attrs:
        if (not isinstance(a, dict) or not isinstance(a.get("key"), str) or
                not isinstance(a.get("value"), dict) or
                len(set(a["value"]) & VALUE_KEYS) != 1):
            out.append("bad attribute %r" % (a,))
    return out


def _walk(path):
    with open(path) as f:
        for no, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                req = json.loads(line)
            except ValueError as e:
                yield no, None, "not JSON: %s" % e
                continue
            rs = req.get("resourceSpans") if isinstance(req, dict) else None
            if not isinstance(rs, list) or not rs:
                yield no, None, "no resourceSpans list"
                continue
            for r in rs:
                ss = r.get("scopeSpans") if isinstance(r, dict) else None
                if not isinstance(ss, list):
                    yield no, None, "resourceSpans[] without a scopeSpans list"
                    continue
                for s in ss:
                    spans = s.get("spans") if isinstance(s, dict) else None
                    if not isinstance(spans, list):
                        yield no, None, "scopeSpans[] without a spans list"
                        continue
                    for sp in spans:
                        if not isinstance(sp, dict):
                            yield no, None, "a span is not an object"
                            continue
                        for p in span_problems(sp):
                            yield no, sp, p
                        yield no, sp, None


def problems(path):
    return ["%s:%d: %s" % (path, no, p) for no, _, p in _walk(path) if p]


def spans(path):
    return [sp for _, sp, p in _walk(path) if p is None and sp is not None]


def origins(path):
    """{(resource service.name, scope name)} of the file's lines."""
    out = set()
    with open(path) as f:
        for line in f:
            if not line.strip():
                continue
            for r in json.loads(line).get("resourceSpans", []):
                names = [a["value"].get("stringValue") for a in
                         r.get("resource", {}).get("attributes", [])
                         if a.get("key") == "service.name"]
                for s in r.get("scopeSpans", []):
                    out.add((names[0] if names else None, s.get("scope", {}).get("name")))
    return out


def main(argv):
    bad = []
    for path in argv[1:]:
        bad += problems(path)
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
