#!/usr/bin/env bash
# bench/entity.sh - what the generated entity layer costs per invocation
# and per await round trip, vs a hand-written SDK function doing the same
# work. In-process (sf_handler_handle, no HTTP). See bench/README.md,
# "Entities: cost of the generated layer".
#
#   bench/entity.sh            5 timing runs of ~300 ms per case + callgrind
#                              (2000 / 50 iterations at batch 1 / 100), ~1 min
#   bench/entity.sh --quick    3 runs of 60 ms + callgrind with 200 / 10
#                              iterations (~15 s after the build)
#
# Options:
#   --runs R            timing runs per case, median reported (default 5)
#   --ms M              milliseconds per timing run (default 300)
#   --iters-b1 N        callgrind iterations of the batch-1 cases (2000)
#   --iters-b100 N      callgrind iterations of the batch-100 cases (50)
#   --no-callgrind      timing only
#   --build-dir DIR     (default build-entbench)
#   --skip-build
# Builds Release (-O3, plus -g so callgrind_annotate can name lines) into
# build-entbench/, only the bench_entity target. Prints the table and saves
# it, the raw lines, per-case profiles (profile.<case>.txt: Ir per iteration
# by function; tree.<case>.txt: callgrind_annotate call tree) in
# bench/results/entity-<UTC timestamp>/ (gitignored). Exits non-zero when a
# case answers wrongly or the measured loop allocates.
set -euo pipefail

here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
runs=5
ms=300
iters_b1=2000
iters_b100=50
callgrind=1
build_dir="$root/build-entbench"
skip_build=0
orig_args="$*"

usage() { sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; }
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) runs=3; ms=60; iters_b1=200; iters_b100=10; shift ;;
    --runs) runs="$2"; shift 2 ;;
    --ms) ms="$2"; shift 2 ;;
    --iters-b1) iters_b1="$2"; shift 2 ;;
    --iters-b100) iters_b100="$2"; shift 2 ;;
    --no-callgrind) callgrind=0; shift ;;
    --build-dir) build_dir="$2"; shift 2 ;;
    --skip-build) skip_build=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) echo "entity.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [ "$callgrind" = 1 ] && ! command -v valgrind >/dev/null; then
  "$root/scripts/install-deps.sh"
fi

if [ "$skip_build" = 0 ]; then
  cmake -S "$root" -B "$build_dir" -DCMAKE_BUILD_TYPE=Release \
    -DCMAKE_C_FLAGS_RELEASE="-O3 -DNDEBUG -g" \
    -DSF_BUILD_TESTS=OFF -DSF_BUILD_EXAMPLES=OFF -DSF_BUILD_BENCH=ON >/dev/null
  cmake --build "$build_dir" --target bench_entity -j"$(nproc)" >/dev/null
fi
bin="$build_dir/bench/bench_entity"
[ -x "$bin" ] || { echo "entity.sh: no $bin" >&2; exit 1; }

stamp="$(date -u +%Y%m%dT%H%M%SZ)"
out="$here/results/entity-$stamp"
mkdir -p "$out"
raw="$out/raw.txt"
: >"$raw"

{
  echo "# bench/entity.sh $orig_args ($(date -u '+%Y-%m-%d %H:%M:%S UTC'))"
  echo "# commit $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo '?')$(git -C "$root" diff --quiet -- sdk codegen bench 2>/dev/null || echo ' (+ local changes)')"
  echo "# $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "# timing: $runs runs of ~$ms ms per case, median; callgrind: $iters_b1 / $iters_b100 iterations minus 0"
} | tee "$out/header.txt"

echo "== timing" >&2
"$bin" --runs "$runs" --ms "$ms" 2>"$out/checks.txt" | tee -a "$raw" >&2
cat "$out/checks.txt" >&2

cases="hand_b1 hand_b100 add_b1 add_b100 relay_call relay_reply"
if [ "$callgrind" = 1 ]; then
  echo "== callgrind" >&2
  for c in $cases; do
    case "$c" in *_b100) n="$iters_b100" ;; *) n="$iters_b1" ;; esac
    for k in 0 "$n"; do
      f="$out/callgrind.$c.$k.out"
      valgrind --tool=callgrind --callgrind-out-file="$f" "$bin" --iters "$k" "$c" \
        >"$out/callgrind.$c.$k.stdout" 2>"$out/callgrind.$c.$k.log"
      ir="$(sed -n 's/^summary: //p' "$f")"
      m="$(sed -n 's/.*libc_mallocs=\([0-9]*\) arena_mallocs=\([0-9]*\).*/\1 \2/p' "$out/callgrind.$c.$k.stdout")"
      echo "CG name=$c iters=$k ir=$ir mallocs=${m% *} arena=${m#* }" | tee -a "$raw" >&2
    done
    # Hot spots: inclusive Ir per iteration of every function (the N run
    # minus the 0 run, / N), and the call tree of the N run (per-arc Ir
    # and call counts: Ir/call = cost of one iteration's call).
    for k in 0 "$n"; do
      callgrind_annotate --inclusive=yes --auto=no --threshold=100 "$out/callgrind.$c.$k.out" \
        >"$out/inclusive.$c.$k.txt" 2>/dev/null || true
    done
    python3 - "$out/inclusive.$c.0.txt" "$out/inclusive.$c.$n.txt" "$n" >"$out/profile.$c.txt" <<'PY'
import re, sys
def load(p):
    d = {}
    for l in open(p):
        m = re.match(r'\s*([\d,]+) \([^)]*\)\s+(.*?)(?: \[.*\])?$', l)
        if m and 'PROGRAM TOTALS' not in l:
            k = re.sub(r'^/\S*?/((sdk|bench|codegen|build[^/]*)/)', r'\1', m.group(2))
            d[k] = max(d.get(k, 0), int(m.group(1).replace(',', '')))
    return d
a, b, n = load(sys.argv[1]), load(sys.argv[2]), int(sys.argv[3])
print(f"# inclusive Ir per iteration ((Ir of {n} iterations - Ir of 0) / {n}), by function")
for v, k in sorted((((b.get(k, 0) - a.get(k, 0)) / n, k) for k in set(a) | set(b)), reverse=True):
    if v >= 20: print(f"{v:10.0f}  {k}")
PY
    callgrind_annotate --tree=calling --inclusive=yes --auto=no --threshold=100 \
      "$out/callgrind.$c.$n.out" >"$out/tree.$c.txt" 2>/dev/null || true
    rm -f "$out/callgrind.$c.0.out" "$out/inclusive.$c.0.txt" "$out/inclusive.$c.$n.txt"
  done
fi

set +e
python3 - "$raw" <<'PY' | tee "$out/table.txt"
import re, sys
rows, cg = {}, {}
for line in open(sys.argv[1]):
    kv = dict(re.findall(r'(\w+)=(\S+)', line))
    if line.startswith('CASE'):
        rows[kv['name']] = kv
    elif line.startswith('CG'):
        cg.setdefault(kv['name'], {})[int(kv['iters'])] = (int(kv['ir']), int(kv['mallocs']))
def ir_per_inv(name):
    d = cg.get(name)
    if not d or len(d) < 2: return None
    n = max(d)
    return (d[n][0] - d[0][0]) / n / int(rows[name]['invocations'])
def val(name, key):
    return float(rows[name][key]) / (1 if key != 'ns_per_req' else int(rows[name]['invocations']))
print()
hdr = f"{'case':<18}{'inv/req':>8}{'ns/inv':>8}{'cpu ns/inv':>11}{'Ir/inv':>8}{'+ns':>7}{'+cpu ns':>8}{'+Ir':>7}{'mallocs/inv':>12}{'reply B':>8}"
print(hdr); print('-' * len(hdr))
base = {'add_b1': 'hand_b1', 'add_b100': 'hand_b100'}
def fmt(x, f='{:.0f}'):
    return '-' if x is None else f.format(x)
for name in ['hand_b1', 'add_b1', 'hand_b100', 'add_b100', 'relay_call', 'relay_reply']:
    if name not in rows: continue
    r = rows[name]
    ns, cpu, ir = float(r['ns_per_inv']), float(r['cpu_ns_per_inv']), ir_per_inv(name)
    dns = dcpu = dir_ = None
    if name in base and base[name] in rows:
        b = base[name]
        dns = ns - float(rows[b]['ns_per_inv'])
        dcpu = cpu - float(rows[b]['cpu_ns_per_inv'])
        bi = ir_per_inv(b)
        dir_ = ir - bi if ir is not None and bi is not None else None
    mal = float(r['mallocs_per_inv'])
    print(f"{name:<18}{r['invocations']:>8}{ns:>8.0f}{cpu:>11.0f}{fmt(ir):>8}{fmt(dns, '{:+.0f}'):>7}{fmt(dcpu, '{:+.0f}'):>8}{fmt(dir_, '{:+.0f}'):>7}{mal:>12.3g}{r['reply_bytes']:>8}")
# one await = (relay call + relay reply) - add, all at batch 1
if all(k in rows for k in ('relay_call', 'relay_reply', 'add_b1')):
    ns = float(rows['relay_call']['ns_per_inv']) + float(rows['relay_reply']['ns_per_inv']) - float(rows['add_b1']['ns_per_inv'])
    cpu = float(rows['relay_call']['cpu_ns_per_inv']) + float(rows['relay_reply']['cpu_ns_per_inv']) - float(rows['add_b1']['cpu_ns_per_inv'])
    irs = [ir_per_inv(k) for k in ('relay_call', 'relay_reply', 'add_b1')]
    ir = None if None in irs else irs[0] + irs[1] - irs[2]
    print(f"{'await round trip':<18}{'':>8}{ns:>8.0f}{cpu:>11.0f}{fmt(ir):>8}")
    print("  (= relay_call + relay_reply - add_b1: the extra cost of one await, beyond the callee's own invocation)")
print("  ns/inv: CLOCK_MONOTONIC, median of the runs; cpu ns/inv: CLOCK_THREAD_CPUTIME_ID, median; Ir/inv: callgrind;")
print("  +ns, +cpu ns, +Ir: entity add minus the hand-written function at the same batch size")
print()
allocs = sum(int(r['libc_mallocs']) + int(r['arena_mallocs']) for r in rows.values())
cgm = sum(d[n][1] for d in cg.values() for n in d if n > 0) - sum(d[0][1] for d in cg.values() if 0 in d)
print(f"allocation: measured loops made {sum(int(r['arena_mallocs']) for r in rows.values())} arena mallocs and "
      f"{sum(int(r['libc_mallocs']) for r in rows.values())} libc malloc/calloc/realloc calls after warm-up"
      + (f"; the callgrind loops {cgm}" if cg else ''))
for n in ('add_b1', 'add_b100'):
    if n in rows:
        ns = float(rows[n]['ns_per_inv']); cpu = float(rows[n]['cpu_ns_per_inv'])
        b = base[n]
        over = ns - float(rows[b]['ns_per_inv']) if b in rows else None
        ovc = cpu - float(rows[b]['cpu_ns_per_inv']) if b in rows else None
        hi, ei = ir_per_inv(b) if b in rows else None, ir_per_inv(n)
        if hi and ei is not None:
            est = (ei - hi) * float(rows[b]['cpu_ns_per_inv']) / hi
            print(f"  {n}: +{ei - hi:.0f} Ir at this run's {float(rows[b]['cpu_ns_per_inv']) / hi:.3f} CPU ns/Ir "
                  f"(the hand-written case's) = ~{est:.0f} ns added by the entity layer")
        print(f"aim < 1 us per plain invocation ({n}): whole invocation {ns:.0f} ns wall / {cpu:.0f} ns CPU: "
              f"{'MET' if cpu < 1000 else 'NOT met'}; added by the entity layer {fmt(over, '{:+.0f}')} ns wall / "
              f"{fmt(ovc, '{:+.0f}')} ns CPU: {'MET' if ovc is not None and ovc < 1000 else 'NOT met'} (verdicts use CPU time: wall time is inflated on a loaded machine)")
sys.exit(1 if allocs else 0)
PY
status=${PIPESTATUS[0]}
set -e
cp "$out/table.txt" "$here/results/entity-$stamp.txt"
echo "saved: $out/ (table: bench/results/entity-$stamp.txt)" >&2
exit $status
