"""Speed-up of a process pool on a batch of simulations (and proof the numbers don't move).

    python benchmarks/sweep.py                      # 16 replications of scenarios/chat.toml
    python benchmarks/sweep.py --replications 32 --workers 1 2 4 --repeats 5
    python benchmarks/sweep.py --dask tcp://127.0.0.1:8786   # add a Dask cluster row
    python benchmarks/sweep.py --workers --local-cluster 1 2 --replications 2 --repeats 1 \
        --scenario scenarios/embedding_diurnal.toml --set workload.horizon_s=604800 ...
                                                    # the week on LocalClusters (README)
    python benchmarks/week.py --write-only /tmp/week
    python benchmarks/sweep.py --recommend --workers --local-cluster 1 2 --repeats 1 \
        --scenario /tmp/week/week.toml            # the 7-day recommend on LocalClusters

Each row runs the whole batch through `capplan.simulate(..., workers=N)` (the
same code path as `capplan simulate --workers N`), timing the wall clock
including the pool's start-up; each row is repeated (rows interleaved, so a
burst of load elsewhere hits all of them) and the best and median times are
shown. Every run must produce the same per-replication summaries as the first
one; the script fails if not. With --recommend each row is one whole
`capplan.planner.recommend(..., workers=N)` instead, and every row must give
the same recommendation documents (less the wall-clock `search.seconds`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import pickle
import statistics
import sys
import time
from pathlib import Path

from capplan import simulate
from capplan.io import clean_json
from capplan.planner import recommend
from capplan.scenario import apply_overrides, load_scenario, parse_overrides
from capplan.sweep import default_workers

REPO = Path(__file__).resolve().parents[1]


def run_recommend(scenario, workers: int, dask: str | None) -> tuple[float, str]:
    """One whole `recommend()`; the documents less their wall-clock field."""
    started = time.perf_counter()
    docs = recommend(scenario, workers=workers, dask_address=dask)
    seconds = time.perf_counter() - started
    plain = [d.model_dump(mode="json") for d in docs]
    for d in plain:
        d["search"].pop("seconds", None)  # the only field that depends on the machine
    return seconds, json.dumps(plain, sort_keys=True)


def run(
    scenario, replications: int, workers: int, dask: str | None, overrides: dict
) -> tuple[float, str]:
    started = time.perf_counter()
    results = simulate(
        scenario,
        replications=replications,
        workers=workers,
        dask_address=dask,
        overrides=overrides,
        records=False,  # as `capplan simulate` without --out: bounded memory per task
    )
    seconds = time.perf_counter() - started
    runs = json.dumps(clean_json([r.runs for r in results]), sort_keys=True)
    return seconds, runs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--scenario", default=str(REPO / "scenarios" / "chat.toml"))
    parser.add_argument("--replications", type=int, default=16)
    parser.add_argument("--workers", type=int, nargs="*", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=3, help="runs of each row")
    parser.add_argument("--dask", help="also time a Dask scheduler at this address")
    parser.add_argument(
        "--local-cluster",
        type=int,
        nargs="*",
        default=[],
        metavar="N",
        help="also time a Dask LocalCluster of N worker processes (1 thread each)",
    )
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    parser.add_argument(
        "--recommend",
        action="store_true",
        help="time a whole `recommend` of the scenario instead of its replications",
    )
    args = parser.parse_args(argv)

    scenario = load_scenario(args.scenario)  # parsed once: the rows time only the runs
    overrides = parse_overrides(args.set)
    if args.recommend:
        scenario, overrides = apply_overrides(scenario, overrides), {}
    case = apply_overrides(scenario, overrides).cases()[0]
    print(f"each task ships {len(pickle.dumps((case, 0, False)))} bytes (case, replication)")
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    batch = "a whole recommend" if args.recommend else f"{args.replications} replications"
    print(
        f"{scenario.name}: {batch} of "
        f"{', '.join(scenario.template_names)}; {default_workers()} cores, "
        f"load average {load:.2f}, Python {sys.version.split()[0]}"
    )
    plans = [(f"{n} worker{'s' if n > 1 else ''}", n, None) for n in args.workers]
    if args.dask:
        plans.append((f"dask {args.dask}", 1, args.dask))
    with contextlib.ExitStack() as clusters:
        for n in args.local_cluster:
            address = clusters.enter_context(local_cluster(n))
            plans.append((f"LocalCluster {n}", 1, address))
        return measure(scenario, args, plans, overrides)


@contextlib.contextmanager
def local_cluster(workers: int):
    from distributed import LocalCluster

    with LocalCluster(
        n_workers=workers,
        threads_per_worker=1,
        processes=True,
        dashboard_address=None,
        silence_logs=logging.ERROR,
    ) as cluster:
        yield cluster.scheduler_address


def measure(scenario, args, plans, overrides) -> int:
    times: dict[str, list[float]] = {label: [] for label, _, _ in plans}
    reference: str | None = None
    for _ in range(args.repeats):
        for label, n, dask in plans:
            if args.recommend:
                seconds, runs = run_recommend(scenario, n, dask)
            else:
                seconds, runs = run(scenario, args.replications, n, dask, overrides)
            if reference is None:
                reference = runs
            elif runs != reference:
                print(f"{label}: results differ from the first run!", file=sys.stderr)
                return 1
            times[label].append(seconds)
    best = {label: min(t) for label, t in times.items()}
    for label, t in times.items():
        rate = "" if args.recommend else f" ({args.replications / best[label]:.1f} simulations/s)"
        print(
            f"  {label:>12}: best {best[label]:6.2f} s, median {statistics.median(t):6.2f} s "
            f"over {len(t)} runs{rate}"
        )
    first = plans[0][0]
    for label, _, _ in plans[1:]:
        ratio = best[first] / best[label]
        median = statistics.median(times[first]) / statistics.median(times[label])
        print(f"  speed-up {label} vs {first}: {ratio:.2f}x (best), {median:.2f}x (median)")
    what = "recommendation documents" if args.recommend else "per-replication summaries"
    print(f"  identical {what} in every row: yes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
