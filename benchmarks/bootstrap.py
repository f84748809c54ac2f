"""Trace bootstrap: does every replicate keep the window's length and, on average, its requests?

For the bundled Azure conversation trace (one hour), draws replications 1..N of the
default circular block bootstrap at several block lengths and prints, per block
length: the exact replay's request count, the mean count over the replicates with
its 95 % t-interval, the relative difference, the spread (standard deviation) of
the counts, and whether every replicate's horizon equals the window.

    python benchmarks/bootstrap.py [--replicates 200]
"""

from __future__ import annotations

import argparse
import math
import platform
from pathlib import Path

import numpy as np
from scipy import stats

from capplan.scenario import WorkloadSpec
from capplan.workload import generate

TRACE = Path(__file__).resolve().parents[1] / "scenarios" / "data" / "azure_llm_conv_2023.csv"
BLOCKS_S = (60.0, 120.0, 300.0, 420.0, 900.0, 1800.0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replicates", type=int, default=200)
    args = parser.parse_args()
    exact = generate(WorkloadSpec(kind="trace", path=TRACE, resample="none"), 1, 0)
    print(f"machine {platform.machine()}, Python {platform.python_version()}")
    print(f"trace {TRACE.name}: {len(exact)} requests in {exact.horizon:.0f} s")
    print("block_s  mean count [95% CI]        rel. diff   sd     horizon exact")
    for block in BLOCKS_S:
        spec = WorkloadSpec(kind="trace", path=TRACE, block_s=block)
        reps = [generate(spec, 1, r) for r in range(1, args.replicates + 1)]
        counts = np.array([len(r) for r in reps], dtype=float)
        half = stats.t.ppf(0.975, len(counts) - 1) * counts.std(ddof=1) / math.sqrt(len(counts))
        same = all(r.horizon == exact.horizon and r.arrival.max() < r.horizon for r in reps)
        print(
            f"{block:7.0f}  {counts.mean():8.1f} [{counts.mean() - half:.1f}, "
            f"{counts.mean() + half:.1f}]  {counts.mean() / len(exact) - 1:+8.2%}  "
            f"{counts.std(ddof=1):5.1f}  {same}"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
