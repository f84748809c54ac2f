"""Running batches of simulations: a grid expander plus a runner.

Every batch goes through a `concurrent.futures.Executor`: in-process for one
worker, a local process pool by default, or a Dask cluster (`capplan[dask]`).
Each task is a pure function of its arguments (seeds included), and results
come back in submission order, so numbers never depend on where or in which
order the tasks ran.

    grid = expand_grid({"endpoint_config.per_worker": [4, 8], "workload.rate_multiplier": [1, 2]})
    cases = [apply_overrides(scenario, point).case(name) for point in grid]
    with executor_for(workers=2) as ex:  # or executor_for(dask_address="tcp://host:8786")
        out = Runner(ex).map(run_replication, [(c, r) for c in cases for r in range(3)])

Dask workers must be able to import capplan and read the scenario's files
(trace CSVs) at the same paths.
"""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Executor, Future, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from capplan.errors import CapplanError

T = TypeVar("T")
R = TypeVar("R")


def expand_grid(axes: Mapping[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """Every combination of the axes' values, as dicts, in a fixed order."""
    keys = list(axes)
    return [dict(zip(keys, combo, strict=True)) for combo in itertools.product(*axes.values())]


class InlineExecutor(Executor):
    """Runs each task at submit time in this process (one worker, no pickling)."""

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        future: Future[R] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:  # the caller sees it from future.result()
            future.set_exception(exc)
        return future


def default_workers() -> int:
    return max(
        1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
    )


@contextmanager
def executor_for(workers: int | None = None, dask_address: str | None = None) -> Iterator[Executor]:
    """The executor a run asked for; closed when the block ends."""
    if dask_address:
        with _dask_executor(dask_address) as ex:
            yield ex
        return
    n = default_workers() if workers is None else workers
    if n < 1:
        raise CapplanError(f"--workers: must be >= 1, got {n}")
    if n == 1:
        yield InlineExecutor()
        return
    with ProcessPoolExecutor(max_workers=n) as ex:
        yield ex


# --dask: how long to wait for a Dask scheduler to answer before giving up, in seconds.
DASK_CONNECT_TIMEOUT_S = 10.0


@contextmanager
def _dask_executor(address: str, timeout_s: float | None = None) -> Iterator[Executor]:
    try:
        from distributed import Client
    except ImportError:
        raise CapplanError("--dask needs Dask: pip install 'capplan[dask]'") from None
    client = _dask_client(
        Client, address, DASK_CONNECT_TIMEOUT_S if timeout_s is None else timeout_s
    )
    try:
        # pure=False: every submission is its own task; Dask never merges two by their hash.
        yield client.get_executor(pure=False)
    finally:
        client.close()


def _dask_client(client_type: Any, address: str, timeout_s: float) -> Any:
    """A connected Client, or a CapplanError within `timeout_s` (plus a little slack).

    distributed's own timeout does not cover a peer that accepts and never
    answers, and a peer that answers garbage can make it raise anything (even
    MemoryError); so the connection runs in a daemon thread we stop waiting for.
    """
    box: dict[str, Any] = {}

    def connect() -> None:
        try:
            box["client"] = client_type(address, timeout=f"{timeout_s}s")
        except BaseException as exc:  # reported below as one line, whatever it is
            box["error"] = exc

    thread = threading.Thread(target=connect, name="capplan-dask-connect", daemon=True)
    thread.start()
    thread.join(timeout_s + 2.0)
    if "client" in box:
        return box["client"]
    if thread.is_alive():
        raise CapplanError(
            f"--dask {address}: no answer from a Dask scheduler within {timeout_s:g} s"
        )
    error = box.get("error")
    if isinstance(error, OSError | TimeoutError | ValueError):
        reason = " ".join(str(error).split())[:200] or type(error).__name__
    else:  # e.g. MemoryError from decoding a garbage length prefix
        reason = f"its answer is not the Dask protocol: {type(error).__name__}"
    raise CapplanError(f"--dask {address}: not a reachable Dask scheduler ({reason})")


class Progress(Protocol):
    """Told how many simulations a run will do, and when each one is done."""

    def add(self, total: int) -> None: ...

    def advance(self, n: int = 1) -> None: ...


def run_all(
    executor: Executor,
    fn: Callable[..., R],
    tasks: Iterable[tuple[Any, ...]],
    progress: Progress | None = None,
) -> list[R]:
    """fn(*task) for every task, results in task order (whatever order they finish in).

    The progress display learns the total first, then one step per finished
    task. If a task fails, the tasks not yet started are cancelled and its
    exception is raised.
    """
    tasks = list(tasks)
    if progress is not None:
        progress.add(len(tasks))
    inline = isinstance(executor, InlineExecutor)  # runs each task inside submit()
    futures: list[Future[R]] = []
    try:
        for task in tasks:
            futures.append(executor.submit(fn, *task))
            if inline:
                if futures[-1].exception() is not None:
                    break
                if progress is not None:
                    progress.advance()
        if not inline:
            for future in as_completed(futures):
                if future.cancelled() or future.exception() is not None:
                    break
                if progress is not None:
                    progress.advance()
        return [f.result() for f in futures]
    finally:
        for f in futures:
            f.cancel()  # no-op for finished tasks


@dataclass(frozen=True)
class Runner:
    """An executor and, optionally, a progress display: what a batch of runs needs."""

    executor: Executor
    progress: Progress | None = None

    def map(self, fn: Callable[..., R], tasks: Iterable[tuple[Any, ...]]) -> list[R]:
        return run_all(self.executor, fn, tasks, self.progress)

    @classmethod
    def inline(cls, progress: Progress | None = None) -> Runner:
        """Everything in this process, one task at a time."""
        return cls(InlineExecutor(), progress)
