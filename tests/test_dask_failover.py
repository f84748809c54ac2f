"""A Dask worker that dies mid-sweep: its task runs again elsewhere and the numbers do not move.

A real LocalCluster (two worker processes under nannies). While the batch
runs, the test SIGKILLs the process of a worker that is running a task; the
scheduler sees the worker gone and reschedules its tasks (Dask's
`distributed.scheduler.allowed-failures`, 3 by default), the nanny starts a
fresh worker, and every replication, a pure function of (case, replication),
comes back the same as when run in this process.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time

import pytest
from helpers import make_case

from capplan.io import clean_json
from capplan.simulate import simulate_cases
from capplan.sweep import Runner, executor_for

distributed = pytest.importorskip("distributed")

REPLICATIONS = 4


def _case():
    # About 24,000 requests: most of a second per replication, long enough to be killed in.
    return make_case(
        "SYNC",
        workload={"kind": "poisson", "rate": 20, "horizon_s": 1200},
        service={"kind": "latency", "distribution": "exponential", "mean_s": 0.2},
        min_workers=1,
        max_workers=8,
        per_worker=2,
    )


def _kill_a_busy_worker(client: distributed.Client, done: threading.Event, killed: list) -> None:
    pids = client.run(os.getpid)  # worker address -> process id
    deadline = time.monotonic() + 60
    while not done.is_set() and time.monotonic() < deadline:
        busy = [addr for addr, keys in client.processing().items() if keys and addr in pids]
        if busy:
            time.sleep(0.3)  # well inside the task
            os.kill(pids[busy[0]], signal.SIGKILL)
            killed.append(busy[0])
            return
        time.sleep(0.02)


def test_a_worker_killed_mid_sweep_leaves_the_numbers_unchanged() -> None:
    case = _case()
    inline = [r.runs for r in simulate_cases([case], REPLICATIONS, records=False)]
    with (
        distributed.LocalCluster(
            n_workers=2,
            processes=True,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
            silence_logs=logging.CRITICAL,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        done, killed = threading.Event(), []
        killer = threading.Thread(target=_kill_a_busy_worker, args=(client, done, killed))
        killer.start()
        try:
            with executor_for(dask_address=cluster.scheduler_address) as ex:
                runs = [r.runs for r in simulate_cases([case], REPLICATIONS, Runner(ex), False)]
        finally:
            done.set()
            killer.join()
        assert killed, "no worker was running a task to kill"
        assert killed[0] not in client.scheduler_info()["workers"]  # that worker is gone
    assert json.dumps(clean_json(runs)) == json.dumps(clean_json(inline))
