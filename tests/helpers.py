"""Small builders shared by the engine, API and CLI tests.

`template_dict` makes one SGP model template (the shape of
scenarios/templates/example.json, trimmed to what the simulator reads);
`make_case` turns it plus workload/service/simulation tables into a validated
scenario Case through the public `build_scenario`, exactly as a TOML file would.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from scipy import stats

from capplan.engine import EngineRecord
from capplan.scenario import Case, Scenario, build_scenario
from capplan.simulate import run_replication
from capplan.template_files import templates_from_page_dicts
from capplan.templates import ModelTemplate

REPO = Path(__file__).resolve().parents[1]
SCENARIOS = REPO / "scenarios"
NAME = "tpl"


# ---------------------------------------------------------------- templates & scenarios
def template_dict(
    endpoint_type: str = "SYNC",
    *,
    name: str = NAME,
    min_workers: int = 1,
    max_workers: int = 1,
    per_worker: int = 1,
    readiness_delay_s: int = 0,
    high_priority: bool = False,
    gpu_type: str = "nvidia-ampere-a10",
    gpus: int = 1,
) -> dict[str, Any]:
    """One SGP model template as the list endpoint returns it."""
    return {
        "name": name,
        "id": f"mt_{name}",
        "endpoint_type": endpoint_type,
        "model_type": "GENERIC",
        "vendor_configuration": {
            "vendor": "LAUNCH",
            "bundle_config": {
                "registry": "example.invalid",
                "image": "model",
                "tag": "1",
                "readiness_initial_delay_seconds": readiness_delay_s,
            },
            "endpoint_config": {
                "cpus": 4,
                "memory": "16Gi",
                "storage": "16Gi",
                "gpus": gpus,
                "gpu_type": gpu_type,
                "min_workers": min_workers,
                "max_workers": max_workers,
                "per_worker": per_worker,
                "endpoint_type": endpoint_type,
                "high_priority": high_priority,
            },
        },
    }


def make_template(endpoint_type: str = "SYNC", **kw: Any) -> ModelTemplate:
    return templates_from_page_dicts(template_dict(endpoint_type, **kw), "test")[0]


def scenario_dict(
    workload: Mapping[str, Any],
    service: Mapping[str, Any] | None = None,
    simulation: Mapping[str, Any] | None = None,
    seed: int = 1,
    faults: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A parsed scenario TOML (templates are passed to build_scenario separately)."""
    raw: dict[str, Any] = {"name": "test", "seed": seed, "workload": dict(workload)}
    raw["service"] = dict(
        service or {"kind": "latency", "distribution": "exponential", "mean_s": 1.0}
    )
    if simulation:
        raw["simulation"] = dict(simulation)
    if faults:
        raw["faults"] = dict(faults)
    return raw


def make_scenario(
    endpoint_type: str = "SYNC",
    *,
    workload: Mapping[str, Any],
    service: Mapping[str, Any] | None = None,
    simulation: Mapping[str, Any] | None = None,
    seed: int = 1,
    base_dir: Path = REPO,
    faults: Mapping[str, Any] | None = None,
    **template_kw: Any,
) -> Scenario:
    tpl = make_template(endpoint_type, **template_kw)
    raw = scenario_dict(workload, service, simulation, seed, faults)
    return build_scenario(raw, base_dir=base_dir, templates=(tpl,))


def make_case(endpoint_type: str = "SYNC", **kw: Any) -> Case:
    return make_scenario(endpoint_type, **kw).case(NAME)


def run(case: Case, replication: int = 0) -> tuple[dict[str, float], EngineRecord]:
    return run_replication(case, replication)


def write_piecewise(path: Path, steps: list[tuple[float, float]]) -> Path:
    """A `time_s,rate` CSV for the piecewise workload kind."""
    path.write_text("time_s,rate\n" + "".join(f"{t},{r}\n" for t, r in steps))
    return path


# ---------------------------------------------------------------- theory
def erlang_c(c: int, offered: float) -> float:
    """P(wait) in M/M/c with offered load a = λ/μ < c (Erlang B recursion, then C)."""
    b = 1.0
    for k in range(1, c + 1):
        b = offered * b / (k + offered * b)
    rho = offered / c
    return b / (1.0 - rho * (1.0 - b))


def mmc_mean_wait(c: int, lam: float, mu: float) -> float:
    """Mean time in queue of M/M/c FCFS: C(c, a) / (cμ − λ)."""
    return erlang_c(c, lam / mu) / (c * mu - lam)


def t_interval(values: np.ndarray | list[float], level: float = 0.99) -> tuple[float, float]:
    """Student-t interval for the mean of independent observations."""
    x = np.asarray(values, dtype=float)
    half = stats.t.ppf(0.5 + level / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    return float(x.mean() - half), float(x.mean() + half)


# ---------------------------------------------------------------- the gateway's retry rule
def retry_schedule(
    max_retries: int = 8,
    base: float = 1.2,
    min_wait: float = 1.0,
    max_wait: float = 5.0,
    timeout: float = 10.0,
) -> list[float]:
    """Elapsed times (from arrival) of every attempt of a request that always fails.

    tenacity: wait_exponential(multiplier=1, min, max, exp_base) waits
    clamp(base ** (n - 1)) after failed attempt n; stop_after_attempt(max_retries + 1)
    | stop_after_delay(timeout) is checked after each failed attempt.
    """
    times = [0.0]
    while True:
        n = len(times)  # number of the attempt that just failed
        if n >= max_retries + 1 or times[-1] >= timeout:
            return times
        times.append(times[-1] + min(max(base ** (n - 1), min_wait), max_wait))


def same_values(a: Any, b: Any) -> bool:
    """Equality for summaries: NaN equals NaN, dicts and lists compared item by item."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_values(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(same_values(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


# ---------------------------------------------------------------- record analysis
def max_overlap(begin: np.ndarray, end: np.ndarray) -> int:
    """Most intervals [begin, end) open at once (an end at t comes before a begin at t)."""
    if len(begin) == 0:
        return 0
    times = np.concatenate([begin, end])
    steps = np.concatenate([np.ones(len(begin)), -np.ones(len(end))])
    order = np.lexsort((steps, times))
    return int(np.cumsum(steps[order]).max())


def service_intervals(rec: EngineRecord) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(worker, start, end) of every request that started; still running = until the horizon."""
    started = ~np.isnan(rec.start)
    end = np.where(np.isnan(rec.end), rec.horizon, rec.end)
    return rec.worker[started], rec.start[started], end[started]


def step_integral(times: np.ndarray, values: np.ndarray, lo: float, hi: float) -> float:
    """∫_lo^hi of the right-continuous step function that takes values[i] from times[i]."""
    t = np.asarray(times, dtype=float)
    v = np.asarray(values, dtype=float)
    nxt = np.append(t[1:], np.inf)
    a = np.clip(t, lo, hi)
    b = np.clip(nxt, lo, hi)
    return float(np.sum(v * (b - a)))
