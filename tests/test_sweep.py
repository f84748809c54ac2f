"""Batches of simulations: the grid expander, the runner, and executor independence.

The same batch run in-process, on a local process pool and on a real Dask
cluster (two worker processes on loopback) must give identical numbers, in
task order, whatever order the tasks finish in.
"""

from __future__ import annotations

import json
import logging
import math
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

import pytest

from capplan.cli import main
from capplan.compare import compare
from capplan.errors import CapplanError
from capplan.io import clean_json
from capplan.planner import recommend
from capplan.scenario import apply_overrides, load_scenario
from capplan.simulate import simulate, simulate_cases
from capplan.sweep import InlineExecutor, Runner, executor_for, expand_grid, run_all

REPO = Path(__file__).resolve().parents[1]
EXAMPLE_TEMPLATES = REPO / "scenarios" / "templates" / "example.json"

TINY = """
name = "tiny"
seed = 3

[templates]
path = "{templates}"
names = ["bge-embed"]

[workload]
kind = "poisson"
rate = 20.0
horizon_s = 600
warmup_s = 120

[service]
kind = "latency"
distribution = "lognormal"
median_s = 0.15
p99_s = 0.5
scales_with = "compute"
batching_alpha = 0.1
cold_start = {{ distribution = "uniform", low = 20, high = 60 }}

[slo]
latency_p95_s = 0.4
max_error_rate = 0.01

[planner]
gpu_types = ["nvidia-tesla-t4", "nvidia-ampere-a10"]
per_worker = [4, 8]
replications = 2
"""

# A batch with scale-up, scale-to-zero (KEDA) and random cold starts in it.
GRID = {
    "endpoint_config.per_worker": [2, 8],
    "endpoint_config.min_workers": [0, 1],
    "endpoint_config.max_workers": [6],
    "workload.warmup_s": [0.0],  # count the cold starts of the first scale-up
}
REPLICATIONS = 3


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("sweep") / "tiny.toml"
    path.write_text(TINY.format(templates=EXAMPLE_TEMPLATES.as_posix()))
    return path


def _cases(scenario: Path) -> list:
    scen = load_scenario(scenario)
    return [apply_overrides(scen, point).case("bge-embed") for point in expand_grid(GRID)]


def _batch(scenario: Path, runner: Runner) -> list[list[dict]]:
    """Per-replication summaries of every grid point."""
    return [r.runs for r in simulate_cases(_cases(scenario), REPLICATIONS, runner)]


def _canonical(value: object) -> str:
    """JSON with NaN as null and the planner's wall-clock seconds removed."""

    def strip(v: object) -> object:
        if isinstance(v, dict):
            return {k: strip(x) for k, x in v.items() if k != "seconds"}
        if isinstance(v, list):
            return [strip(x) for x in v]
        return v

    return json.dumps(strip(clean_json(value)), sort_keys=True)


@pytest.fixture(scope="module")
def local_results(tiny: Path) -> dict[str, str]:
    """In-process and process-pool results, computed before any Dask cluster starts
    (so the pool never forks a process that runs the cluster's threads)."""
    with ProcessPoolExecutor(max_workers=2) as pool:
        out = {
            "batch_inline": _canonical(_batch(tiny, Runner(InlineExecutor()))),
            "batch_pool": _canonical(_batch(tiny, Runner(pool))),
        }
    out["recommend_inline"] = _canonical(recommend(tiny, workers=1))
    out["recommend_pool"] = _canonical(recommend(tiny, workers=2))
    return out


@pytest.fixture(scope="module")
def dask_address(local_results: dict[str, str]):
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        processes=True,
        threads_per_worker=1,
        host="127.0.0.1",
        dashboard_address=None,
        silence_logs=logging.ERROR,
    )
    try:
        yield cluster.scheduler_address
    finally:
        cluster.close()


# ---------------------------------------------------------------- expand_grid
def test_expand_grid_is_every_combination_in_a_fixed_order() -> None:
    grid = expand_grid({"a": [1, 2], "b": ["x", "y", "z"]})
    assert len(grid) == 6
    assert grid[0] == {"a": 1, "b": "x"}
    assert grid[1] == {"a": 1, "b": "y"}  # the last axis varies fastest
    assert grid[-1] == {"a": 2, "b": "z"}
    assert expand_grid({"a": [1, 2], "b": ["x", "y", "z"]}) == grid


def test_expand_grid_edge_cases() -> None:
    assert expand_grid({}) == [{}]
    assert expand_grid({"a": []}) == []
    assert expand_grid({"a": (3,)}) == [{"a": 3}]


# ---------------------------------------------------------------- run_all
def _sleepy(i: int, delay: float) -> int:
    time.sleep(delay)
    return i * i


def _fails(i: int) -> int:
    if i == 2:
        raise ValueError(f"task {i} failed")
    return i


class Recording:
    def __init__(self) -> None:
        self.total = 0
        self.done = 0

    def add(self, total: int) -> None:
        self.total += total

    def advance(self, n: int = 1) -> None:
        self.done += n


@pytest.mark.parametrize("kind", ["threads", "processes"])
def test_results_come_back_in_task_order_whatever_finishes_first(kind: str) -> None:
    # Earlier tasks sleep longer, so they finish last.
    tasks = [(i, 0.05 * (6 - i)) for i in range(6)]
    pool = ThreadPoolExecutor(4) if kind == "threads" else ProcessPoolExecutor(2)
    progress = Recording()
    with pool:
        finished: list[int] = []
        futures = [pool.submit(_sleepy, *t) for t in tasks]
        for f in futures:
            f.add_done_callback(lambda f: finished.append(f.result()))
        assert [f.result() for f in futures] == [i * i for i in range(6)]
        assert run_all(pool, _sleepy, tasks, progress) == [i * i for i in range(6)]
    if kind == "threads":
        assert finished != sorted(finished)  # completion order really was shuffled
    assert (progress.total, progress.done) == (6, 6)


def test_inline_runner_counts_progress_one_task_at_a_time() -> None:
    progress = Recording()
    seen: list[tuple[int, int]] = []

    def task(i: int) -> int:
        seen.append((progress.total, progress.done))
        return i

    assert Runner.inline(progress).map(task, [(i,) for i in range(3)]) == [0, 1, 2]
    assert seen == [(3, 0), (3, 1), (3, 2)]  # the total is known before the first runs


@pytest.mark.parametrize("workers", [1, 2])
def test_a_failing_task_raises_its_own_error(workers: int) -> None:
    with executor_for(workers) as ex, pytest.raises(ValueError, match="task 2 failed"):
        run_all(ex, _fails, [(i,) for i in range(5)])


def test_executor_for_rejects_bad_arguments() -> None:
    with pytest.raises(CapplanError, match="--workers"), executor_for(0):
        pass
    with pytest.raises(CapplanError, match="--dask"), executor_for(dask_address="tcp://"):
        pass


# ---------------------------------------------------------------- same numbers everywhere
def test_process_pool_gives_the_inline_numbers(local_results: dict[str, str]) -> None:
    assert local_results["batch_pool"] == local_results["batch_inline"]
    assert local_results["recommend_pool"] == local_results["recommend_inline"]
    runs = json.loads(local_results["batch_inline"])
    assert len(runs) == 4 and all(len(r) == REPLICATIONS for r in runs)
    # The batch is not trivial: replications differ, and some cold starts happened.
    assert len({json.dumps(r) for r in runs[0]}) == REPLICATIONS
    assert sum(rep["cold_starts"] for r in runs for rep in r) > 0


def test_dask_cluster_gives_the_inline_numbers(
    tiny: Path, local_results: dict[str, str], dask_address: str
) -> None:
    with executor_for(dask_address=dask_address) as ex:
        progress = Recording()
        assert _canonical(_batch(tiny, Runner(ex, progress))) == local_results["batch_inline"]
        assert progress.done == progress.total == 4 * REPLICATIONS
    docs = recommend(tiny, dask_address=dask_address)
    assert _canonical(docs) == local_results["recommend_inline"]
    assert docs[0].recommended is not None


def test_dask_results_keep_task_order(dask_address: str) -> None:
    tasks = [(i, 0.1 * (4 - i)) for i in range(5)]
    with executor_for(dask_address=dask_address) as ex:
        assert run_all(ex, _sleepy, tasks) == [i * i for i in range(5)]
        with pytest.raises(ValueError, match="task 2 failed"):
            run_all(ex, _fails, [(i,) for i in range(4)])


def test_simulate_and_compare_agree_across_executors(tiny: Path, dask_address: str) -> None:
    kw = {"replications": 2, "overrides": {"endpoint_config.per_worker": 2}}
    inline = simulate(tiny, **kw)[0]
    dask = simulate(tiny, dask_address=dask_address, **kw)[0]
    assert _canonical(inline.runs) == _canonical(dask.runs)
    assert _canonical(inline.summary) == _canonical(dask.summary)
    assert inline.requests.equals(dask.requests)
    variants = [{"endpoint_config.min_workers": 2}]
    a = compare(tiny, base={"endpoint_config.per_worker": 2}, variants=variants, replications=2)
    b = compare(
        tiny,
        base={"endpoint_config.per_worker": 2},
        variants=variants,
        replications=2,
        dask_address=dask_address,
    )
    assert _canonical(a.to_dict()) == _canonical(b.to_dict())


def test_simulate_cli_workers_give_the_same_json(tiny: Path, capsys) -> None:
    args = ["simulate", str(tiny), "--replications", "2", "--json", "--quiet"]
    assert main(args) == 0
    one = json.loads(capsys.readouterr().out)
    assert main([*args, "--workers", "2"]) == 0
    two = json.loads(capsys.readouterr().out)
    assert one == two
    assert not math.isnan(one[0]["latency_p95_s"])


# ---------------------------------------------------------------- --dask at the wrong service
@pytest.fixture
def fake_scheduler():
    """A TCP server on 127.0.0.1 that accepts and then stays silent, or answers garbage."""
    import socket
    import threading

    def start(garbage: bool) -> str:
        server = socket.socket()
        server.bind(("127.0.0.1", 0))
        server.listen()
        servers.append(server)

        def serve() -> None:
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                held.append(conn)
                if garbage:
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi" * 8)

        threading.Thread(target=serve, daemon=True).start()
        return f"tcp://127.0.0.1:{server.getsockname()[1]}"

    servers: list = []
    held: list = []
    yield start
    for s in [*held, *servers]:
        s.close()


@pytest.mark.parametrize("garbage", [False, True], ids=["silent", "garbage"])
def test_dask_at_a_service_that_is_not_a_scheduler_fails_in_time(
    fake_scheduler, garbage: bool
) -> None:
    import time

    from capplan.sweep import _dask_executor

    address = fake_scheduler(garbage)
    started = time.monotonic()
    with pytest.raises(CapplanError, match=f"--dask {address}: .*Dask"):
        with _dask_executor(address, timeout_s=1.0):
            pass
    assert time.monotonic() - started < 1.0 + 2.0 + 5.0  # the timeout, the slack, imports
