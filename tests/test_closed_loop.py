"""`[workload] kind = "closed"`: clients that send their next request when the last is answered."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from helpers import REPO, make_case, t_interval
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from capplan.engine import EngineConfig
from capplan.engine.records import OK, PENDING
from capplan.errors import CapplanError
from capplan.simulate import run_replication

TOKENS = {
    "context_tokens": {"distribution": "uniform", "low": 100, "high": 2000},
    "generated_tokens": {"distribution": "exponential", "mean": 100},
}
LLM = {
    "kind": "llm",
    "prefill_tokens_per_s": 8000,
    "decode_tokens_per_s": 50,
    "batching_alpha": 0.02,
    "overhead_s": 0.05,
}
LATENCY = {"kind": "latency", "distribution": "exponential", "mean_s": 2.0}
CONV = REPO / "scenarios" / "data" / "azure_llm_conv_2023.csv"  # 19,365 rows over an hour


def closed(clients: int, requests: int | None, horizon: float, **kw: object) -> dict[str, object]:
    spec = {"kind": "closed", "concurrency": clients, "horizon_s": horizon, **TOKENS, **kw}
    if requests is not None:
        spec["requests"] = requests
    return spec


@pytest.mark.parametrize(
    ("service", "endpoint_type", "clients", "requests"),
    [(LLM, "STREAMING", 12, None), (LATENCY, "SYNC", 6, None), (LATENCY, "SYNC", 6, 5500)],
)
def test_littles_law(service: dict, endpoint_type: str, clients: int, requests: int | None) -> None:
    """Throughput × mean latency = the clients in the system (Little's law, L = λW).

    In a closed loop with no think time every client always has one request out, so
    L = C while the loop is sending. λ and W are measured on the requests sent in
    [300 s, 1500 s) (all of them answered before the 2,400-s horizon), per
    replication; the 99 % Student-t interval over 8 replications must contain C.
    Without `requests` the horizon ends the loop; with 5,500 the count does (its
    last request goes out after 1,500 s, so the window sees a full loop).
    """
    case = make_case(
        endpoint_type,
        workload=closed(clients, requests, 2400.0),
        service=service,
        min_workers=2,
        max_workers=2,
        per_worker=4,
        gpu_type="nvidia-ampere-a100e",
    )
    products = []
    for rep in range(8):
        _, rec = run_replication(case, rep)
        window = (rec.arrival >= 300.0) & (rec.arrival < 1500.0)
        assert (rec.status[window] == OK).all()
        if requests is not None:  # the count ended the loop inside the horizon
            assert len(rec.arrival) == requests
            assert 1500.0 < rec.arrival.max() and (rec.status == OK).all()
        throughput = window.sum() / 1200.0
        latency = float(np.mean(rec.end[window] - rec.arrival[window]))
        products.append(throughput * latency)
    lo, hi = t_interval(products, 0.99)
    assert lo <= clients <= hi, (lo, hi, products)


def test_request_count_and_horizon() -> None:
    """`requests` in total when the horizon allows; else only what was sent by then."""
    kw = {"service": LLM, "min_workers": 1, "max_workers": 1, "per_worker": 8}
    kw["gpu_type"] = "nvidia-ampere-a100e"
    summary, rec = run_replication(make_case("STREAMING", workload=closed(5, 300, 1e6), **kw), 0)
    assert summary["requests"] == 300 == len(rec.arrival)
    assert (rec.status == OK).all()
    short_summary, short = run_replication(
        make_case("STREAMING", workload=closed(5, 300, 60.0), **kw), 0
    )
    assert 5 <= len(short.arrival) < 300
    assert short_summary["requests"] == len(short.arrival)
    assert (short.arrival < 60.0).all()
    assert (short.status == PENDING).sum() <= 5  # at most one per client at the horizon


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    clients=st.integers(1, 24),
    requests=st.integers(1, 150),
    workers=st.integers(1, 3),
    limit=st.integers(1, 6),
    horizon=st.sampled_from([30.0, 600.0]),
    llm=st.booleans(),
    until_horizon=st.booleans(),
)
def test_every_answer_sends_the_next_request(
    clients: int,
    requests: int,
    workers: int,
    limit: int,
    horizon: float,
    llm: bool,
    until_horizon: bool,
) -> None:
    """No request lost, none sent twice, and 429s (limit below the clients) count as answers:
    the sends after the first C are exactly the first answers, in time order; at most C
    requests are ever out; sent = completed + rejected + in flight; the pool stays within
    its bounds. With `requests` or without (the horizon ends the loop)."""
    total = None if until_horizon else requests
    case = make_case(
        "STREAMING" if llm else "SYNC",
        workload=closed(clients, total, horizon),
        service={**(LLM if llm else LATENCY), "concurrency_limit": limit},
        simulation={"max_retries": 1},
        min_workers=1,
        max_workers=workers,
        per_worker=2,
        gpu_type="nvidia-ampere-a100e",
    )
    summary, rec = run_replication(case, 0)
    sent = len(rec.arrival)
    cap = total if total is not None else np.inf
    first = min(clients, cap)
    assert first <= sent <= cap
    assert (rec.arrival[:first] == 0.0).all()
    assert (rec.arrival < horizon).all()
    answered = np.sort(rec.end[rec.status != PENDING])
    # Each answer sends one request until all are sent.
    assert sent == min(cap, first + len(answered))
    counts = summary["completed"] + summary["rejected"] + summary["in_flight_at_end"]
    assert summary["requests"] == sent == counts
    np.testing.assert_array_equal(np.sort(rec.arrival[first:]), answered[: sent - first])
    assert (rec.status == PENDING).sum() <= clients
    events = np.concatenate([np.ones(sent), -np.ones(len(answered))])
    times = np.concatenate([rec.arrival, answered])
    order = np.lexsort((events, times))  # at equal times the answer comes first
    assert np.cumsum(events[order]).max() <= clients
    cfg = EngineConfig.from_case(case)
    ready = rec.workers["ready_at"]
    assert len(rec.workers["id"]) >= cfg.min_workers
    for t in np.linspace(0.0, horizon, 7):
        up = (ready <= t) & (rec.workers["stop_at"] > t)
        assert up.sum() <= cfg.max_workers


@pytest.mark.parametrize("service", [LLM, LATENCY])
def test_horizon_ends_the_loop_as_a_large_request_count_would(service: dict) -> None:
    """Without `requests` the clients send until the horizon: the same run, event for event,
    as with a `requests` the horizon cuts first (sizes are drawn in blocks that do not
    depend on it, several blocks here); and the same summary without records, where the
    requests stream through in bounded memory instead of growing arrays."""
    kw = {"service": service, "min_workers": 1, "max_workers": 3, "per_worker": 4}
    kw["gpu_type"] = "nvidia-ampere-a100e"
    endpoint_type = "STREAMING" if service is LLM else "SYNC"
    open_ended = make_case(endpoint_type, workload=closed(24, None, 900.0), **kw)
    counted = make_case(endpoint_type, workload=closed(24, 10**7, 900.0), **kw)
    summary, rec = run_replication(open_ended, 1)
    assert len(rec.arrival) > 5000  # past the first blocks (1,024 + 2,048 + …)
    same_summary, same = run_replication(counted, 1)
    assert summary == same_summary
    for name in ("arrival", "start", "first_token", "end", "worker", "status", "retries"):
        np.testing.assert_array_equal(getattr(rec, name), getattr(same, name))
    streamed, _ = run_replication(open_ended, 1, records=False)
    assert streamed.keys() == summary.keys()
    for key, value in summary.items():
        assert streamed[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key


def test_streaming_keeps_retries_and_failures_of_a_closed_loop() -> None:
    """429s waiting for a retry and pods that fail hold requests across a block change:
    without records they are renumbered with the rest, and the summary is the recorded
    run's."""
    case = make_case(
        "SYNC",
        workload=closed(12, None, 10800.0),
        service={**LATENCY, "concurrency_limit": 2},
        faults={"worker_mtbf_h": 0.5},
        min_workers=2,
        max_workers=4,
        per_worker=2,
    )
    recorded, rec = run_replication(case, 0)
    assert len(rec.arrival) > 1024 + 2048 and (rec.retries > 0).sum() > 100
    assert recorded["worker_failures"] > 0 and recorded["rejected"] > 0
    streamed, _ = run_replication(case, 0, records=False)
    assert streamed.keys() == recorded.keys()
    for key, value in recorded.items():
        assert streamed[key] == pytest.approx(value, rel=1e-9, nan_ok=True), key


def test_closed_loop_is_deterministic_in_its_seed() -> None:
    kw = {"service": LATENCY, "min_workers": 1, "max_workers": 2, "per_worker": 3}
    case = make_case("SYNC", workload=closed(8, None, 600.0), **kw)
    (_, a), (_, b), (_, c) = (run_replication(case, r) for r in (0, 0, 1))
    np.testing.assert_array_equal(a.arrival, b.arrival)
    np.testing.assert_array_equal(a.end, b.end)
    assert len(a.arrival) != len(c.arrival) or not np.array_equal(a.end, c.end)


def test_streamed_closed_loop_holds_a_block_not_the_run() -> None:
    """Without records, finished requests leave the engine every time a block is used up:
    the sink gets them in parts, each at most its block plus the clients' requests in
    flight (what the engine holds), together every request the recorded run sends."""
    from capplan.engine import run_closed
    from capplan.simulate import _closed_blocks
    from capplan.workload.closed import block_lengths

    case = make_case("SYNC", workload=closed(16, None, 1800.0), service=LATENCY, per_worker=16)
    cfg = EngineConfig.from_case(case)
    parts: list[int] = []
    rec = run_closed(
        cfg,
        _closed_blocks(case, 0, cfg, records=False),
        1800.0,
        np.random.default_rng(0),
        16,
        None,
        sink=lambda arrival, *_: parts.append(len(arrival)),
    )
    _, whole = run_replication(case, 0)
    assert sum(parts) == len(whole.arrival) and len(parts) >= 4
    for part, block in zip(parts, block_lengths(), strict=False):
        assert part <= block + 16
    assert len(rec.arrival) == 0 and len(rec.workers["id"]) >= 1


def test_a_loop_that_never_waits_is_stopped_by_max_requests() -> None:
    """429s with no retries answer at once, so the clients resend at the same instant:
    without `requests` only simulation.max_requests ends that, in one clear line."""
    case = make_case(
        "SYNC",
        workload=closed(4, None, 600.0),
        service={**LATENCY, "concurrency_limit": 1},
        simulation={"max_retries": 0, "max_requests": 5000},
    )
    with pytest.raises(CapplanError, match=r"^workload\.requests: the closed loop sent 5e\+03"):
        run_replication(case, 0)


def test_loadtest_replayer_and_engine_agree_on_a_closed_loop() -> None:
    """One static worker, no limit: the endpoint's closed loop is the load-test replayer's."""
    import dataclasses

    from capplan.engine import run_endpoint
    from capplan.llm.batch import LlmParams
    from capplan.llm.loadtest import run_load

    rng = np.random.default_rng(5)
    n = 300
    prompt = rng.integers(10, 3000, n).astype(float)
    output = rng.integers(1, 400, n).astype(float)
    params = LlmParams(8000, 40, batching_alpha=0.05, overhead_s=0.05, max_num_seqs=8)
    case = make_case("STREAMING", workload={"rate": 1}, service={**LLM}, per_worker=100)
    cfg = dataclasses.replace(EngineConfig.from_case(case), llm=params, concurrency_limit=10**6)
    zero = np.zeros(n)
    rec = run_endpoint(
        cfg, zero, zero + 1, zero, 1e7, np.random.default_rng(0), (prompt, output), clients=6
    )
    alone = run_load(params, prompt, output, "closed", 6)
    np.testing.assert_allclose(rec.arrival, alone.arrival, rtol=1e-9)
    np.testing.assert_allclose(rec.end, alone.end, rtol=1e-9)


def test_token_lengths_from_a_trace_in_order() -> None:
    from capplan.workload import generate
    from capplan.workload.trace_file import load_trace

    path = REPO / "scenarios" / "data" / "azure_llm_conv_2023.csv"
    case = make_case(
        "STREAMING",
        workload={"kind": "closed", "concurrency": 3, "requests": 50, "path": str(path)},
        service=LLM,
    )
    requests = generate(case.workload, 1)
    _, context, generated = load_trace(path)
    np.testing.assert_array_equal(requests.context_tokens, context[:50])
    np.testing.assert_array_equal(requests.generated_tokens, np.maximum(generated[:50], 1))


@pytest.mark.parametrize(
    ("workload", "key"),
    [
        ({"kind": "closed", "requests": 10}, "concurrency"),
        ({"kind": "closed", "concurrency": 2, "requests": 0}, "requests"),
        ({"kind": "closed", "concurrency": 0, "requests": 10}, "concurrency"),
        ({"kind": "closed", "concurrency": 2, "requests": -1}, "requests"),
        ({"kind": "closed", "concurrency": 2, "horizon_s": 7200, "spans": [[0, 600]]}, "spans"),
    ],
)
def test_bad_closed_loop_names_the_key(workload: dict, key: str) -> None:
    with pytest.raises(CapplanError, match=rf"workload.*{key}"):
        make_case("SYNC", workload=workload)


@pytest.mark.parametrize(
    ("workload", "line"),
    [
        ({}, "workload.concurrency: kind 'closed' needs the number of clients"),
        ({"concurrency": 3, "requests": 0}, "workload.requests: Input should be greater"),
        ({"concurrency": 3, "spans": [[0, 60]]}, "workload.spans: kind 'closed' takes none"),
        (
            {"concurrency": 3, "requests": 10, "path": str(CONV), "block_s": 1e-4},
            "workload.block_s: 0.0001 s cuts the 3501.72-s window into 3.5e+07 blocks; at most",
        ),
    ],
)
def test_bad_closed_loop_in_a_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workload: dict, line: str
) -> None:
    from test_cli_recommend import write_scenario

    from capplan.cli import main

    path = write_scenario(tmp_path, workload={"kind": "closed", "rate": None, **workload})
    for command in ("simulate", "recommend"):
        assert main([command, str(path), "-q"]) == 2
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        (message,) = (out + err).strip().splitlines()
        assert line in message


def test_closed_loop_on_async_is_one_clear_error() -> None:
    case = make_case("ASYNC", workload=closed(2, 10, 100.0))
    with pytest.raises(CapplanError, match=r"^workload\.kind: 'closed' needs a SYNC"):
        run_replication(case, 0)


def test_scenario_example_and_cli(capsys: pytest.CaptureFixture[str]) -> None:
    """scenarios/loadtest.toml runs as shipped."""
    from capplan.cli import main

    scenario = str(REPO / "scenarios" / "loadtest.toml")
    assert main(["simulate", scenario, "--json", "-q"]) == 0
    out, _ = capsys.readouterr()
    assert '"requests": 2000' in out


def test_recommend_on_a_closed_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`recommend` sizes a pool for C concurrent users: a document valid against
    `capplan schema recommendation`, with no screening, no number stated as a lower
    bound (none is proven for a closed loop), the rule of thumb at C / max_workers,
    and the sensitivity at more clients; and a report folder. Seconds, not minutes."""
    import json
    import math
    import time

    import jsonschema
    from test_cli_recommend import write_scenario

    from capplan.cli import main

    clients = 6
    path = write_scenario(
        tmp_path,
        workload={"kind": "closed", "concurrency": clients, "rate": None, "horizon_s": 600},
    )
    assert main(["schema", "recommendation"]) == 0
    schema = json.loads(capsys.readouterr().out)
    started = time.perf_counter()
    assert main(["recommend", str(path), "--json", "--workers", "1"]) == 0
    elapsed = time.perf_counter() - started
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    docs = json.loads(out)
    jsonschema.validate(docs, schema)
    (doc,) = docs
    assert doc["feasible"] and doc["recommended"]["meets_slo"]
    assert doc["lower_bound_cost_per_hour"] is None and doc["search"]["pruned"] == 0
    assert all(a["lower_bound_cost_per_hour"] is None for a in doc["alternatives"])
    assert doc["screening"] is None
    thumb = doc["rule_of_thumb"]
    assert thumb["per_worker"] == math.ceil(clients / thumb["max_workers"])
    assert [s["traffic"] for s in doc["sensitivity"]] == [1.5, 2.0]
    assert all(s["metrics"]["requests"] > 0 for s in doc["sensitivity"])
    assert elapsed < 60, elapsed
    assert main(["recommend", str(path), "-q", "--workers", "1", "--out", str(tmp_path / "r")]) == 0
    report = (tmp_path / "r" / "report.md").read_text()
    assert "no proven lower bound applies" in report and "closed loop of 6 clients" in report


# ---------------------------------------------------------------- a trace's rows, resampled
_FILES = iter(range(10**9))


def write_trace(folder: Path, seconds: np.ndarray, context: np.ndarray, generated: object) -> Path:
    """An Azure-format CSV with rows at these offsets (microseconds) from one instant."""
    stamps = np.datetime64("2023-11-16T00:00:00", "us") + np.round(
        np.asarray(seconds) * 1e6
    ).astype("timedelta64[us]")
    path = folder / f"trace{next(_FILES)}.csv"
    lines = [f"{s},{c},{g}" for s, c, g in zip(stamps, context, generated, strict=True)]
    path.write_text("TIMESTAMP,ContextTokens,GeneratedTokens\n" + "\n".join(lines) + "\n")
    return path


def closed_trace(path: Path, requests: int, **kw: object) -> object:
    from capplan.scenario import WorkloadSpec

    return WorkloadSpec(kind="closed", concurrency=4, requests=requests, path=path, **kw)


def sizes(spec: object, seed: int, replication: int) -> np.ndarray:
    """(context, generated) of each request, one row per request."""
    from capplan.workload import generate

    req = generate(spec, seed, replication)  # type: ignore[arg-type]
    return np.column_stack([req.context_tokens, req.generated_tokens])


@settings(max_examples=40, deadline=None)
@given(
    rows=st.lists(
        st.tuples(st.floats(0.0, 7200.0), st.integers(0, 9000), st.integers(0, 600)),
        min_size=1,
        max_size=60,
    ),
    skip=st.integers(0, 59),
    block_s=st.floats(0.5, 2000.0),
    seed=st.integers(0, 2**32 - 1),
    replication=st.integers(1, 9),
    requests=st.integers(1, 2500),
    duration=st.none() | st.floats(0.5, 7200.0),
)
def test_resampled_rows_come_from_the_trace_and_depend_only_on_the_seed(
    tmp_path_factory: pytest.TempPathFactory,
    rows: list[tuple[float, int, int]],
    skip: int,
    block_s: float,
    seed: int,
    replication: int,
    requests: int,
    duration: float | None,
) -> None:
    """Replications >= 1 send only sizes of the trace's rows from start_s on (for
    duration_s when given; as pairs: a row's prompt goes with its own answer), the same
    for the same seed, and request j's size never depends on `requests`; replication 0
    is those rows in order, cycled; with resample "none" every replication is
    replication 0."""
    t, context, generated = (np.array(c) for c in zip(*rows, strict=True))
    path = write_trace(tmp_path_factory.getbasetemp(), t, context, generated)
    from capplan.workload.trace_file import load_trace

    at, c, g = load_trace(path)
    start_s = float(at[min(skip, len(t) - 1)])
    window = {"start_s": start_s, "block_s": block_s, "duration_s": duration}
    spec = closed_trace(path, requests, **window)
    inside = (at >= start_s) & ((at < start_s + duration) if duration else True)
    kept = np.column_stack([c, np.maximum(g, 1)])[inside]
    got = sizes(spec, seed, replication)
    assert got.shape == (requests, 2)
    assert {tuple(r) for r in got} <= {tuple(r) for r in kept}
    np.testing.assert_array_equal(got, sizes(spec, seed, replication))
    longer = closed_trace(path, requests + 1500, **window)
    np.testing.assert_array_equal(got, sizes(longer, seed, replication)[:requests])
    in_order = kept[np.arange(requests) % len(kept)]
    np.testing.assert_array_equal(sizes(spec, seed, 0), in_order)
    exact = closed_trace(path, requests, resample="none", **window)
    np.testing.assert_array_equal(sizes(exact, seed, replication), in_order)


def test_a_duration_with_no_rows_names_it(tmp_path: Path) -> None:
    path = write_trace(tmp_path, np.array([0.0, 100.0]), np.array([5, 6]), np.array([7, 8]))
    spec = closed_trace(path, 10, start_s=10.0, duration_s=20.0)
    with pytest.raises(CapplanError, match=r"^workload\.duration_s: .* no rows in \[10, 30\) s"):
        sizes(spec, 1, 0)


@settings(max_examples=60, deadline=None)
@given(
    gaps=st.lists(st.floats(0.0, 100.0), min_size=1, max_size=80),
    block_s=st.floats(0.5, 3000.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_a_bootstrap_order_is_runs_of_consecutive_rows(
    gaps: list[float], block_s: float, seed: int
) -> None:
    """Every index is a row; the order is never empty; it breaks from one row to the next
    around the circle (index + 1 mod n) only where a block starts: at most once per slot."""
    from capplan.workload.closed import bootstrap_order

    t = np.cumsum(gaps) - gaps[0]
    order = bootstrap_order(np.random.default_rng(seed), t, block_s)
    assert order.size >= 1 and order.dtype.kind == "i"
    assert ((order >= 0) & (order < len(t))).all()
    window = float(np.nextafter(t[-1], np.inf))
    slots = max(1, math.ceil(window / block_s))
    breaks = int(np.count_nonzero(np.diff(order) % len(t) != 1))
    assert breaks <= slots - 1 or len(t) == 1
    np.testing.assert_array_equal(order, bootstrap_order(np.random.default_rng(seed), t, block_s))


def test_replications_of_a_trace_loop_differ_from_the_replay_and_each_other() -> None:
    """The bundled conversation trace (19,365 rows over an hour, 300-s blocks): the first
    2,000 requests of replications 0-5 are six different sequences; replication 0 is the
    rows in order; the default is "blocks"; the seed alone fixes each replication."""
    spec = closed_trace(CONV, 2000)
    assert spec.resample == "blocks"  # type: ignore[attr-defined]
    runs = [sizes(spec, 7, r) for r in range(6)]
    from capplan.workload.trace_file import load_trace

    _, context, _ = load_trace(CONV)
    np.testing.assert_array_equal(runs[0][:, 0], context[:2000])
    for i in range(6):
        for j in range(i):
            assert not np.array_equal(runs[i], runs[j]), (i, j)
    np.testing.assert_array_equal(runs[3], sizes(spec, 7, 3))
    assert not np.array_equal(runs[3], sizes(spec, 8, 3))


def test_a_bootstrap_order_carries_the_traces_tokens_in_expectation() -> None:
    """Each row is expected once per replicate (`resample_blocks`), so the tokens of one
    pass of the order are the trace's in expectation: the 99 % Student-t interval of the
    ratio over 60 replicates (60-s blocks of the conversation trace) contains 1."""
    from capplan.workload.closed import bootstrap_order
    from capplan.workload.trace_file import load_trace

    t, context, generated = load_trace(CONV)
    rng = np.random.default_rng(11)
    ratios = []
    for _ in range(60):
        order = bootstrap_order(rng, t, 60.0)
        ratios.append((context[order].sum() + generated[order].sum()) / (context + generated).sum())
    lo, hi = t_interval(ratios, 0.99)
    assert lo <= 1.0 <= hi, (lo, hi)
    assert np.std(ratios) > 0


def test_too_many_blocks_is_refused_before_any_run() -> None:
    from capplan.workload import expected_requests

    spec = closed_trace(CONV, 100, block_s=1e-4)
    with pytest.raises(CapplanError, match=r"^workload\.block_s: .* at most 4194304"):
        expected_requests(spec)  # type: ignore[arg-type]
    assert expected_requests(closed_trace(CONV, 100, block_s=1e-4, resample="none")) == 100


@pytest.mark.parametrize("resample", ["none", "blocks"])
def test_a_closed_loop_on_a_trace_gets_a_confident_verdict(resample: str) -> None:
    """A static pool replaying 600 rows of the conversation trace to 8 clients: with
    "none" every replication is the same run, so the verdict has no interval (marked not
    confident); with the default bootstrap the replications differ and the verdict has a
    real one-sided interval (upper limit above the mean)."""
    from dataclasses import replace

    from helpers import NAME, make_scenario

    from capplan.planner.config import current_config
    from capplan.planner.evidence import evaluate
    from capplan.planner.recommendation import evidence_of
    from capplan.scenario import SloSpec
    from capplan.sweep import InlineExecutor, Runner

    scen = make_scenario(
        "STREAMING",
        workload={
            "kind": "closed",
            "concurrency": 8,
            "requests": 600,
            "path": str(CONV),
            "block_s": 120.0,
            "resample": resample,
        },
        service=LLM,
        min_workers=2,
        max_workers=2,
        per_worker=4,
        gpu_type="nvidia-ampere-a100e",
    )
    case = replace(scen.case(NAME), slo=SloSpec(ttft_p99_s=1e4))
    (ev,) = [
        evidence_of(d) for d in evaluate(Runner(InlineExecutor()), case, [current_config(case)], 3)
    ]
    check = ev.slo["ttft_p99_s"]
    if resample == "none":
        assert not ev.confident and not check.confident and check.upper == check.value
    else:
        assert ev.confident and check.confident and check.upper > check.value


def test_replication_zero_of_a_trace_loop_is_the_load_test_replayers_run(tmp_path: Path) -> None:
    """`capplan calibrate` replays a benchmark's requests in order (`run_load`, which does
    not read the workload); a closed loop on a trace of those requests, replication 0,
    with the default bootstrap on, is the same run on one static worker: the bootstrap
    touches only replications >= 1."""
    from capplan.llm.loadtest import run_load

    rng = np.random.default_rng(5)
    n = 300
    prompt = rng.integers(10, 3000, n)
    output = rng.integers(1, 400, n)
    path = write_trace(tmp_path, np.sort(rng.uniform(0.0, 900.0, n)), prompt, output)
    case = make_case(
        "STREAMING",
        workload={"kind": "closed", "concurrency": 6, "requests": n, "path": str(path)},
        service={**LLM, "max_num_seqs": 8},
        per_worker=100,
        gpu_type="nvidia-ampere-a100e",
    )
    cfg = EngineConfig.from_case(case)
    assert cfg.llm is not None
    _, rec = run_replication(case, 0)
    alone = run_load(cfg.llm, prompt.astype(float), output.astype(float), "closed", 6)
    np.testing.assert_allclose(rec.arrival, alone.arrival, rtol=1e-9)
    np.testing.assert_allclose(rec.end, alone.end, rtol=1e-9)
    _, other = run_replication(case, 1)
    assert not np.allclose(other.end, rec.end)
