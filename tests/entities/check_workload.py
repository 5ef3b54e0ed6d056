#!/usr/bin/env python3
"""The random workload of run_entities.py on its model alone, over many
seeds: each 1,000-op run (random_op, as test_random sends it) must reach
every path that test_random requires (coverage_shortfalls: checkout and
buy_one both ways, quotes). test_random compares the real processes with
the model reply by reply, so a seed whose model run falls short fails
test_random by the seed alone: before the never-stocked item, half of all
seeds did (too few buy_one failures; 22695, 29438 and 20466 were seen).

    check_workload.py [--seeds N]

Seeds 0..N-1, those three and the default; no processes, about a second.
The last line is "N passed, M failed".
"""
import argparse
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_entities as R  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=300)
    args = ap.parse_args()
    seeds = list(range(args.seeds)) + [22695, 29438, 20466, R.DEFAULT_SEED]
    failed = 0
    for seed in seeds:
        counts = R.model_counts(seed, R.DEFAULT_OPS)
        short = R.coverage_shortfalls(counts)
        if short:
            failed += 1
            print("FAIL seed %d: %s: %s" % (seed, "; ".join(short), dict(counts)))
    print("%d passed, %d failed" % (len(seeds) - failed, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
