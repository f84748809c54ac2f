"""Planner benchmark: how long a real recommendation takes, and how close to the bound it is.

One chat template (llama-3-8b-chat from scenarios/templates/example.json) on
the bundled one-hour Azure LLM conversation trace, all seven GPU types, a p99
latency SLO and a p99 time-to-first-token SLO: scenarios/chat.toml with
`[planner] gpu_types` set to every type. Runs `recommend(..., workers=2)` and
prints the wall time (target < 60 s on 2 cores), the recommended cost against
the fluid lower bound (target ratio <= 1.5), and beside them the SGP docs'
rule of thumb and the template's current configuration.

    python benchmarks/planner.py            # from the repository root
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path
from typing import Any

from capplan.hardware import GPU_TYPES
from capplan.planner import recommend
from capplan.scenario import apply_overrides, load_scenario

ROOT = Path(__file__).resolve().parent.parent
SCENARIO = ROOT / "scenarios" / "chat.toml"
TIME_TARGET_S = 60.0
RATIO_TARGET = 1.5


def describe(cfg: dict[str, Any] | None) -> str:
    if not cfg:
        return "–"
    m = cfg.get("metrics", {})
    return (
        f"{cfg['gpus']}× {cfg['gpu_type']} min {cfg['min_workers']} max {cfg['max_workers']} "
        f"per_worker {cfg['per_worker']}: ${cfg['cost_per_hour']:.2f}/h, "
        f"p99 latency {m.get('latency_p99_s', float('nan')):.1f} s, "
        f"p99 TTFT {m.get('ttft_p99_s', float('nan')):.2f} s, "
        f"errors {m.get('error_rate', float('nan')):.2%}, "
        f"SLO {'met' if cfg.get('meets_slo') else 'MISSED'}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="process pool size (default 2)")
    args = parser.parse_args()

    scen = apply_overrides(load_scenario(SCENARIO), {"planner.gpu_types": list(GPU_TYPES)})
    started = time.perf_counter()
    (doc,) = recommend(scen, workers=args.workers)
    wall = time.perf_counter() - started

    rec, bound = doc["recommended"], doc["lower_bound_cost_per_hour"]
    s = doc["search"]
    machine = f"{platform.machine()}, {os.cpu_count()} cores"
    print(f"machine      {machine}, Python {platform.python_version()}")
    print(
        f"scenario     {SCENARIO.relative_to(ROOT)} ({doc['template']}), {len(GPU_TYPES)} GPU types"
    )
    print(
        f"search       {s['candidates']} candidates, {s['screened_out']} screened out, "
        f"{s['pruned']} pruned by bound, {s['simulations']} simulations"
    )
    ok_time = wall < TIME_TARGET_S
    print(
        f"wall         {wall:.1f} s (target < {TIME_TARGET_S:g} s: {'ok' if ok_time else 'MISSED'})"
    )
    print(f"recommended  {describe(rec)}")
    estimate = doc["fluid_estimate_cost_per_hour"]
    print(f"lower bound  ${bound:.2f}/h (proven; fluid estimate ${estimate:.2f}/h)")
    if rec:
        ratio = rec["cost_per_hour"] / bound
        verdict = "ok" if ratio <= RATIO_TARGET else "MISSED"
        print(f"cost ratio   {ratio:.2f} × the bound (target <= {RATIO_TARGET:g}: {verdict})")
    else:
        print(f"infeasible   {doc.get('why')}")
    print(f"rule of thumb {describe(doc['rule_of_thumb'])}")
    print(f"current      {describe(doc['current'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
