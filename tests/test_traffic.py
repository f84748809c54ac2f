"""`capplan traffic fetch|show` against a real HTTP server on 127.0.0.1 speaking the
Prometheus HTTP API (GET /api/v1/query_range, the response and error envelopes
documented at https://prometheus.io/docs/prometheus/latest/querying/api/).
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from capplan import prometheus
from capplan.cli import main
from capplan.scenario import WorkloadSpec
from capplan.traffic import busiest_window, load_rate_file, traffic_shape
from capplan.workload import rate_at

TOKEN = "prom-tok-5e1c9a7b3d2f4e6a"  # must never show up in output or files
START = 1_793_577_600  # 2026-11-02T00:00:00Z
DAY = 86_400


def diurnal(t: float) -> float:
    """A request rate with a daily peak at 14:00 UTC."""
    return 20 + 10 * math.cos(2 * math.pi * (t - START - 14 * 3600) / DAY)


@dataclass
class FakeProm:
    """What the fake Prometheus answers; tests change the fields and read `requests`."""

    rate: Callable[[float], float] = diurnal
    series: int = 1
    drop: set[int] = field(default_factory=set)  # step indexes with no sample
    mode: str = "normal"  # normal | error_json | status_text | delay | echo | not_json
    values: dict[int, str] = field(default_factory=dict)  # step index -> raw value
    warnings: list[str] = field(default_factory=list)
    requests: list[dict[str, Any]] = field(default_factory=list)
    url: str = ""

    def answer(self, query: dict[str, str]) -> tuple[int, object]:
        start, end, step = (float(query[k]) for k in ("start", "end", "step"))
        count = int(round((end - start) / step)) + 1
        times = [start + i * step for i in range(count)]
        result = []
        for s in range(self.series):
            values = []
            for t in times:
                k = int(round((t - START) / step))
                if k in self.drop:
                    continue
                values.append([t, self.values.get(k, repr(self.rate(t) * (1 + s)))])
            if values:
                metric = {"destination_workload": f"launch-endpoint-id-end-{s}"}
                result.append({"metric": metric if self.series > 1 else {}, "values": values})
        body: dict[str, Any] = {
            "status": "success",
            "data": {"resultType": "matrix", "result": result},
        }
        if self.warnings:
            body["warnings"] = self.warnings
        return 200, body


def _handler(fake: FakeProm) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            url = urlsplit(self.path)
            query = {k: v[0] for k, v in parse_qs(url.query).items()}
            auth = self.headers.get("Authorization")
            fake.requests.append({"path": url.path, "query": query, "auth": auth})
            if url.path != "/api/v1/query_range":
                return self._send(404, {"status": "error", "error": "not found"})
            if auth != f"Bearer {TOKEN}":
                return self._send(401, "Unauthorized", raw=True)
            if fake.mode == "error_json":
                err = 'parse error at char 5: unexpected "}"'
                return self._send(400, {"status": "error", "errorType": "bad_data", "error": err})
            if fake.mode == "echo":  # a careless proxy echoing the header back
                return self._send(502, {"status": "error", "error": f"upstream saw {auth}"})
            if fake.mode == "status_text":
                return self._send(503, "<html>service unavailable</html>", raw=True)
            if fake.mode == "not_json":
                return self._send(200, "<html>grafana login</html>", raw=True)
            if fake.mode == "delay":
                time.sleep(1.0)
            self._send(*fake.answer(query))

        def _send(self, code: int, body: object, raw: bool = False) -> None:
            data = (body if raw else json.dumps(body)).encode()  # type: ignore[union-attr]
            self.send_response(code)
            self.send_header("content-type", "text/html" if raw else "application/json")
            self.send_header("content-length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
            pass

    return Handler


class QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is expected


@pytest.fixture
def prom(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProm]:
    fake = FakeProm()
    server = QuietServer(("127.0.0.1", 0), _handler(fake))
    fake.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    monkeypatch.setenv("PROM_TOKEN", TOKEN)
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()


QUERY = 'sum(rate(istio_requests_total{destination_workload="launch-endpoint-id-end-0"}[1m]))'


def fetch(fake: FakeProm, out: Path, *extra: str, days: float = 1, step: str = "60s") -> int:
    argv = [
        "traffic", "fetch", "--prometheus", fake.url, "--query", QUERY,
        "--start", "2026-11-02T00:00:00Z", "--end", str(START + int(days * DAY)),
        "--step", step, "--header", "Authorization=Bearer ${PROM_TOKEN}", "--out", str(out),
        *extra,
    ]  # fmt: skip
    return main(argv)


def outputs(capsys: pytest.CaptureFixture[str], *files: Path) -> tuple[str, str]:
    captured = capsys.readouterr()
    assert TOKEN not in captured.out + captured.err
    assert "Traceback" not in captured.err
    for path in files:
        if path.exists():
            assert TOKEN not in path.read_text()
    return captured.out, captured.err


def one_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> str:
    """The single stderr line of a failed fetch, after checking nothing was written."""
    _, err = outputs(capsys)
    assert err.count("\n") == 1 and err.startswith("capplan: error: ")
    assert list(tmp_path.iterdir()) == []  # no file, no temp file
    return err


# ---------------------------------------------------------------- fetch
def test_fetch_writes_a_piecewise_csv_the_workload_reads(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "day.csv"
    assert fetch(prom, out) == 0
    _, err = outputs(capsys, out)
    assert f"wrote 1441 steps to {out}" in err and "warning" not in err
    assert prom.requests[0]["query"]["query"] == QUERY
    assert prom.requests[0]["query"]["step"] == "60"
    assert prom.requests[0]["auth"] == f"Bearer {TOKEN}"
    times, rates = load_rate_file(out)
    assert np.array_equal(times, np.arange(1441) * 60.0)
    assert np.array_equal(rates, [diurnal(START + t) for t in times])  # exact round trip
    # A scenario reads it: at 14:00 the rate is the series' peak, at 02:00 its trough.
    spec = WorkloadSpec(kind="piecewise", path=out, horizon_s=DAY)
    assert rate_at(spec, np.array([14 * 3600.0, 2 * 3600.0])).tolist() == [30.0, 10.0]
    assert [p.name for p in tmp_path.iterdir()] == ["day.csv"]


def test_long_range_is_fetched_in_windows_prometheus_accepts(
    prom: FakeProm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert fetch(prom, tmp_path / "one.csv") == 0
    monkeypatch.setattr(prometheus, "POINTS_PER_QUERY", 500)
    prom.requests.clear()
    assert fetch(prom, tmp_path / "windows.csv") == 0
    windows = [(float(r["query"]["start"]), float(r["query"]["end"])) for r in prom.requests]
    assert len(windows) == 3  # 1441 steps in 500 + 500 + 441
    assert windows[0][0] == START and windows[-1][1] == START + DAY
    assert all(b[0] - a[1] == 60 for a, b in zip(windows, windows[1:], strict=False))
    assert (tmp_path / "one.csv").read_text() == (tmp_path / "windows.csv").read_text()


def test_gaps_keep_the_previous_rate_with_a_warning(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prom.drop = {0, 1, 2, 100, 101, 500}
    out = tmp_path / "gaps.csv"
    assert fetch(prom, out) == 0
    _, err = outputs(capsys, out)
    warnings = [line for line in err.splitlines() if line.startswith("capplan: warning: ")]
    assert len(warnings) == 2
    assert "3 of 1438 steps had no sample (first at 2026-11-02T01:40:00Z)" in warnings[0]
    assert "no sample before 2026-11-02T00:03:00Z" in warnings[1] and "time_s=180" in warnings[1]
    times, rates = load_rate_file(out)
    assert times[0] == 180 and times.size == 1438
    by_time = dict(zip(times.tolist(), rates.tolist(), strict=True))
    assert by_time[100 * 60] == by_time[101 * 60] == by_time[99 * 60] == diurnal(START + 99 * 60)
    assert by_time[500 * 60] == diurnal(START + 499 * 60)
    assert by_time[502 * 60] == diurnal(START + 502 * 60)


def test_server_warnings_are_passed_on(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prom.warnings = ["PromQL info: metric might not be a counter"]
    assert fetch(prom, tmp_path / "w.csv") == 0
    _, err = outputs(capsys)
    assert "capplan: warning: Prometheus: PromQL info: metric might not be a counter" in err


def test_env_header_value_form(
    prom: FakeProm, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PROM_AUTH", f"Bearer {TOKEN}")
    argv = [
        "traffic", "fetch", "--prometheus", prom.url + "/", "--query", QUERY,
        "--start", str(START), "--end", str(START + 3600), "--step", "5m",
        "--header", "Authorization=env:PROM_AUTH", "--header", "X-Scope-OrgID=tenant-1",
        "--out", str(tmp_path / "h.csv"),
    ]  # fmt: skip
    assert main(argv) == 0
    assert prom.requests[0]["auth"] == f"Bearer {TOKEN}"
    assert prom.requests[0]["query"]["step"] == "300"
    assert load_rate_file(tmp_path / "h.csv")[0].size == 13


# ---------------------------------------------------------------- server trouble
def test_several_series_are_named(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prom.series = 5
    assert fetch(prom, tmp_path / "x.csv") == 2
    err = one_error(capsys, tmp_path)
    assert "the query returned 5 series (" in err
    assert '{destination_workload="launch-endpoint-id-end-0"}' in err
    assert 'end-2"} and 2 more); it must return one' in err


def test_error_json_is_one_line(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prom.mode = "error_json"
    assert fetch(prom, tmp_path / "x.csv") == 2
    err = one_error(capsys, tmp_path)
    assert err.strip() == (
        f"capplan: error: Prometheus at {prom.url} rejected the query (HTTP 400, bad_data): "
        'parse error at char 5: unexpected "}"'
    )


def test_secret_echoed_by_the_server_is_scrubbed(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    prom.mode = "echo"
    assert fetch(prom, tmp_path / "x.csv") == 2
    err = one_error(capsys, tmp_path)
    assert "upstream saw ***" in err and "Bearer" not in err


@pytest.mark.parametrize(
    ("mode", "says"),
    [
        ("status_text", "failed on GET /api/v1/query_range (HTTP 503"),
        ("not_json", "answered /api/v1/query_range with non-JSON"),
    ],
)
def test_bad_answers(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str], mode: str, says: str
) -> None:
    prom.mode = mode
    assert fetch(prom, tmp_path / "x.csv") == 2
    assert says in one_error(capsys, tmp_path)


def test_wrong_credentials(
    prom: FakeProm,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PROM_TOKEN", "prom-wrong-token")
    assert fetch(prom, tmp_path / "x.csv") == 2
    err = one_error(capsys, tmp_path)
    assert "refused the credentials (HTTP 401); check --header" in err
    assert "prom-wrong-token" not in err


def test_timeout(prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prom.mode = "delay"
    assert fetch(prom, tmp_path / "x.csv", "--timeout", "0.2") == 2
    assert f"Prometheus at {prom.url} timed out after 0.2s" in one_error(capsys, tmp_path)


def test_server_down(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{probe.getsockname()[1]}"
    argv = [
        "traffic", "fetch", "--prometheus", closed, "--query", "up", "--start", str(START),
        "--end", str(START + 600), "--out", str(tmp_path / "x.csv"),
    ]  # fmt: skip
    assert main(argv) == 2
    assert f"cannot reach Prometheus at {closed}" in one_error(capsys, tmp_path)


def test_failure_keeps_the_old_file(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "keep.csv"
    out.write_text("time_s,rate\n0,1\n")
    prom.mode = "error_json"
    assert fetch(prom, out) == 2
    assert out.read_text() == "time_s,rate\n0,1\n"
    assert [p.name for p in tmp_path.iterdir()] == ["keep.csv"]


# ---------------------------------------------------------------- bad input
def test_no_data(prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    prom.drop = set(range(2000))
    assert fetch(prom, tmp_path / "x.csv") == 2
    err = one_error(capsys, tmp_path)
    assert "the query returned no data from 2026-11-02T00:00:00Z to 2026-11-03T00:00:00Z" in err


@pytest.mark.parametrize(("raw", "shown"), [("NaN", "NaN"), ("-0.5", "-0.5"), ("+Inf", "+Inf")])
def test_bad_values(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str], raw: str, shown: str
) -> None:
    prom.values = {30: raw, 31: raw}
    assert fetch(prom, tmp_path / "x.csv") == 2
    err = one_error(capsys, tmp_path)
    assert f"the rate at 2026-11-02T00:30:00Z is {shown}: a request rate must be a finite" in err
    assert "(2 such samples)" in err


@pytest.mark.parametrize(
    ("change", "says"),
    [
        ({"--step": "7s"}, "--step 7s does not divide the range of 86400s"),
        ({"--end": "2026-11-01T00:00:00Z"}, "--start 2026-11-02T00:00:00Z must be before --end"),
        ({"--end": str(START)}, "must be before --end"),
        (
            {"--end": str(START + 3650 * DAY), "--step": "1s"},
            "--start/--end/--step: 315,360,001 points (315,360,000s at 1s), at most 1,000,000",
        ),
        ({"--step": "0s"}, "--step '0s': must be at least 1ms"),
        ({"--step": "1 minute"}, "--step '1 minute': must be a duration such as 60s"),
        ({"--start": "2026-11-02T00:00:00"}, "give the time zone"),
        ({"--start": "yesterday"}, "--start 'yesterday': must be Unix seconds or an RFC 3339"),
        ({"--prometheus": "prom:9090"}, "must be an http:// or https:// URL"),
        ({"--prometheus": "http://u:p@prom:9090"}, "put credentials in --header, not in the URL"),
        (
            {"--header": "Authorization=env:NOPE_UNSET"},
            "environment variable NOPE_UNSET is not set",
        ),
        ({"--header": "Bad Name=1"}, "must be KEY=VALUE with a header name as KEY"),
    ],
)
def test_bad_arguments(
    prom: FakeProm,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: dict[str, str],
    says: str,
) -> None:
    options = {
        "--prometheus": prom.url,
        "--query": QUERY,
        "--start": "2026-11-02T00:00:00Z",
        "--end": str(START + DAY),
        "--step": "60s",
        "--header": "Authorization=Bearer ${PROM_TOKEN}",
        "--out": str(tmp_path / "x.csv"),
    }
    options.update(change)
    assert main(["traffic", "fetch", *(x for pair in options.items() for x in pair)]) == 2
    assert says in one_error(capsys, tmp_path)
    assert prom.requests == []  # refused before asking the server


# ---------------------------------------------------------------- show
def test_show_prints_the_shape_and_plots(
    prom: FakeProm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    busy = START + 3 * DAY + 14 * 3600  # Thursday's peak hour carries 5 req/s more
    prom.rate = lambda t: diurnal(t) + (5.0 if busy <= t < busy + 3600 else 0.0)
    out = tmp_path / "week.csv"
    assert fetch(prom, out, days=7) == 0
    capsys.readouterr()
    png = tmp_path / "week.png"
    assert main(["traffic", "show", str(out), "--out", str(png)]) == 0
    text = capsys.readouterr().out
    assert "10081 rows over 168 h" in text
    assert "peak          35 req/s at time_s=309600" in text
    assert "busiest hour  34.89 req/s mean from time_s=309600 to 313200" in text
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert main(["traffic", "show", str(out), "--json"]) == 0
    shape = json.loads(capsys.readouterr().out)
    assert shape["busiest_start_s"] == 309600 and shape["rows"] == 10081
    # The mean of the step rate: each row holds one minute, the last one included.
    rates = load_rate_file(out)[1]
    assert shape["mean"] == pytest.approx(float(rates.mean()), rel=1e-12)
    assert shape["peak_to_mean"] == pytest.approx(35 / rates.mean(), rel=1e-12)
    assert shape["busiest_mean"] == pytest.approx(float(rates[5160:5220].mean()), rel=1e-12)


def test_show_bad_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("time_s,rate\n0,1\n60,-2\n")
    assert main(["traffic", "show", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"capplan: error: {bad}: row 3, column rate: must be >= 0"


@settings(max_examples=60, deadline=None)
@given(
    rates=st.lists(st.floats(0, 100, allow_nan=False), min_size=2, max_size=40),
    step=st.sampled_from([60.0, 300.0, 900.0]),
    width=st.sampled_from([600.0, 3600.0]),
)
def test_busiest_window_beats_every_grid_start(
    rates: list[float], step: float, width: float
) -> None:
    times = np.arange(len(rates)) * step
    r = np.array(rates)
    start, mean = busiest_window(times, r, width)
    span = len(rates) * step
    w = min(width, span)
    fine = np.arange(0, span - w + 1e-9, 10.0)  # every 10 s start, brute force

    def area(a: float) -> float:
        t = np.arange(a, a + w, 1.0) + 0.5  # midpoint rule, exact for steps on whole seconds
        return float(r[np.minimum((t // step).astype(int), r.size - 1)].sum())

    assert 0 <= start <= span - w + 1e-9
    assert mean * w == pytest.approx(area(start), rel=1e-9, abs=1e-6)
    assert mean * w >= max(area(a) for a in fine) - 1e-6
    shape = traffic_shape(times, r)
    assert shape.peak == max(rates) and shape.mean == pytest.approx(float(np.mean(r)))


def test_single_row_lasts_an_hour() -> None:
    shape = traffic_shape(np.array([120.0]), np.array([4.0]))
    assert (shape.start_s, shape.end_s, shape.mean, shape.busiest_mean) == (120, 3720, 4, 4)
