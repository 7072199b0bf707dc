"""Alternate the shared read-only maps and whoosh3's copying storage on one kept index, block by block.

bench/search.py times each storage in one stretch; on a large index the first stretch also pays
for faulting the index into the page cache. Alternating blocks of rounds shows that warm-up
apart from the steady state.

Run: .venv/bin/python bench/search_alternate.py WORKDIR/whoosh-150000 [--blocks 4] [--rounds 5]
(the index folder that `bench/search.py --workdir WORKDIR` keeps).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import time
from pathlib import Path

_SPEC = importlib.util.spec_from_file_location("bench_search", Path(__file__).with_name("search.py"))
assert _SPEC is not None and _SPEC.loader is not None
bench_search = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(bench_search)  # its queries, percentiles and the whoosh3 baseline


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("index", type=Path, help="an index folder kept by bench/search.py --workdir")
    parser.add_argument("--blocks", type=int, default=4, help="blocks per storage (default 4)")
    parser.add_argument("--rounds", type=int, default=5, help="passes over the 20-query mix per block (default 5)")
    args = parser.parse_args()
    shared = bench_search.EssayIndex(args.index)
    copies = bench_search.WhooshCopies(args.index)
    runs = {"shared maps": shared.search, "whoosh3 copies": copies.search}
    for run in runs.values():
        run("số")  # open the readers outside the timing
    every: dict[str, list[float]] = {name: [] for name in runs}
    for block in range(1, args.blocks + 1):
        for name, run in runs.items():
            samples = []
            for _ in range(args.rounds):
                for query in bench_search.QUERIES:
                    start = time.perf_counter()
                    run(query)
                    samples.append(time.perf_counter() - start)
            every[name] += samples
            p50, p95 = bench_search.percentiles(samples)
            print(f"block {block} {name:15s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
                  f"load average {os.getloadavg()[0]:.1f}", flush=True)
    for name, samples in every.items():
        p50, p95 = bench_search.percentiles(samples)
        print(f"all blocks {name:15s} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms ({len(samples)} samples)")


if __name__ == "__main__":
    main()
