#!/usr/bin/env python3
"""A closed loop sent to the horizon: memory without records does not grow with it.

    python benchmarks/closed.py            # 1 and 7 days without records, 1 day with
    python benchmarks/closed.py _case DAYS RECORDS   # one case (RECORDS 0 or 1)

The scenario: 32 clients (`[workload] kind = "closed"`, no `requests`) on a
static SYNC pool of 4 workers × per_worker 8, latency exponential with mean
2 s, so about 16 requests/s. Each case runs in its own process, so its peak
RSS is its own.
"""

from __future__ import annotations

import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CASES = [(1, False), (7, False), (1, True)]


def case(days: float, records: bool) -> str:
    sys.path.insert(0, str(ROOT / "tests"))
    from helpers import make_case

    from capplan.simulate import run_replication

    scenario = make_case(
        "SYNC",
        workload={"kind": "closed", "concurrency": 32, "horizon_s": days * 86400},
        service={"kind": "latency", "distribution": "exponential", "mean_s": 2.0},
        min_workers=4,
        max_workers=4,
        per_worker=8,
        simulation={"max_requests": 1e9},
    )
    started = time.perf_counter()
    summary, _ = run_replication(scenario, 0, records=records)
    wall = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    n = int(summary["requests"])
    return (
        f"| {days:g} day{'s' if days > 1 else ''}, records {'kept' if records else 'off'} "
        f"| {n:,} | {rss:.0f} MiB | {wall:.1f} | {n / wall:,.0f} |"
    )


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "_case":
        print(case(float(sys.argv[2]), sys.argv[3] == "1"))
        return
    print("| case | requests | peak RSS | wall s | requests/s |")
    print("|---|---|---|---|---|")
    for days, records in CASES:
        argv = [sys.executable, __file__, "_case", str(days), "1" if records else "0"]
        print(subprocess.run(argv, check=True, capture_output=True, text=True).stdout.strip())


if __name__ == "__main__":
    main()
