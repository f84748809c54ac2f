"""Speed-up of a process pool on a batch of simulations (and proof the numbers don't move).

    python benchmarks/sweep.py                      # 16 replications of scenarios/chat.toml
    python benchmarks/sweep.py --replications 32 --workers 1 2 4 --repeats 5
    python benchmarks/sweep.py --dask tcp://127.0.0.1:8786   # add a Dask cluster row

Each row runs the whole batch through `capplan.simulate(..., workers=N)` (the
same code path as `capplan simulate --workers N`), timing the wall clock
including the pool's start-up; each row is repeated (rows interleaved, so a
burst of load elsewhere hits all of them) and the best and median times are
shown. Every run must produce the same per-replication summaries as the first
one; the script fails if not.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

from capplan import simulate
from capplan.io import clean_json
from capplan.scenario import load_scenario
from capplan.sweep import default_workers

REPO = Path(__file__).resolve().parents[1]


def run(scenario, replications: int, workers: int, dask: str | None) -> tuple[float, str]:
    started = time.perf_counter()
    results = simulate(scenario, replications=replications, workers=workers, dask_address=dask)
    seconds = time.perf_counter() - started
    runs = json.dumps(clean_json([r.runs for r in results]), sort_keys=True)
    return seconds, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(REPO / "scenarios" / "chat.toml"))
    parser.add_argument("--replications", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each row")
    parser.add_argument("--dask", help="also time a Dask scheduler at this address")
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)  # parsed once: the rows time only the runs
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"{scenario.name}: {args.replications} replications of "
        f"{', '.join(scenario.template_names)}; {default_workers()} cores, "
        f"load average {load:.2f}, Python {sys.version.split()[0]}"
    )
    plans = [(f"{n} worker{'s' if n > 1 else ''}", n, None) for n in args.workers]
    if args.dask:
        plans.append((f"dask {args.dask}", 1, args.dask))
    times: dict[str, list[float]] = {label: [] for label, _, _ in plans}
    reference: str | None = None
    for _ in range(args.repeats):
        for label, n, dask in plans:
            seconds, runs = run(scenario, args.replications, n, dask)
            if reference is None:
                reference = runs
            elif runs != reference:
                print(f"{label}: results differ from the first run!", file=sys.stderr)
                return 1
            times[label].append(seconds)
    best = {label: min(t) for label, t in times.items()}
    for label, t in times.items():
        print(
            f"  {label:>12}: best {best[label]:6.2f} s, median {statistics.median(t):6.2f} s "
            f"over {len(t)} runs ({args.replications / best[label]:.1f} simulations/s)"
        )
    first = plans[0][0]
    for label, _, _ in plans[1:]:
        ratio = best[first] / best[label]
        median = statistics.median(times[first]) / statistics.median(times[label])
        print(f"  speed-up {label} vs {first}: {ratio:.2f}x (best), {median:.2f}x (median)")
    print("  identical per-replication summaries in every row: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
