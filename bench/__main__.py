"""Run every ``bench/bench_*.py`` (or the ones named) and print their figures.

Each module has ``main() -> None`` that prints a small table. Benchmarks measure; they do not
assert, so a slow machine gives a slow figure rather than a flaky failure.
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path


def main(argv: list[str]) -> int:
    if "--quick" in argv:  # `python -m bench widgets --quick`: 5 naive moves per widget instead of 30
        argv = [a for a in argv if a != "--quick"]
        os.environ["BENCH_QUICK"] = "1"
    if "--trace" in argv:  # `python -m bench widgets --trace`: also print every move's ms, in order
        argv = [a for a in argv if a != "--trace"]
        os.environ["BENCH_TRACE"] = "1"
    while "--only" in argv:  # `python -m bench widgets --only flows_explorer,09_pi0`: those notebooks only
        i = argv.index("--only")
        if i + 1 >= len(argv):
            print("--only: expected notebook names after it, e.g. --only flows_explorer,ot_paths_explorer",
                  file=sys.stderr)
            return 2
        os.environ["BENCH_ONLY"] = argv[i + 1]
        del argv[i:i + 2]
    available = sorted(p.stem.removeprefix("bench_") for p in Path(__file__).parent.glob("bench_*.py"))
    chosen = argv or available
    unknown = [n for n in chosen if n not in available]
    if unknown:
        print(f"unknown benchmark(s) {unknown}; available: {available}", file=sys.stderr)
        return 2
    for name in chosen:
        print(f"\n=== {name} ===", flush=True)
        start = time.perf_counter()
        importlib.import_module(f"bench.bench_{name}").main()
        print(f"({name}: {time.perf_counter() - start:.1f} s)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
