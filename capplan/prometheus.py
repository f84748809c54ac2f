"""Read a request-rate series from Prometheus (GET /api/v1/query_range) as a step rate.

The result feeds a scenario's ``kind = "piecewise"`` workload: row i of the CSV
says the rate from ``time_s[i]`` until the next row. Prometheus answers with one
sample per step where the series has data; a step with no sample keeps the
previous rate (a warning says how many), and steps before the first sample are
left out, so the piecewise rate is 0 there.

Headers may carry credentials. Their values are read from the environment
(``env:NAME`` for the whole value, ``${NAME}`` inside one) so they never sit on
a command line, and every resolved value is scrubbed from every message.
"""

from __future__ import annotations

import json
import math
import os
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from capplan.errors import CapplanError

# Prometheus refuses a range query above 11,000 points per series
# (prometheus/web/api/v1/api.go: "exceeded maximum resolution of 11,000 points").
POINTS_PER_QUERY = 10_000
# A cap on the whole series: 1 M steps is 11.6 days at 1 s or 1.9 years at 1 min,
# a 20 MB CSV; beyond it the request is almost surely a mistake in --step.
MAX_POINTS = 1_000_000
DEFAULT_TIMEOUT_S = 30.0
_PATH = "/api/v1/query_range"
_UNITS_S = {
    "ms": 0.001,
    "s": 1.0,
    "m": 60.0,
    "h": 3600.0,
    "d": 86400.0,
    "w": 604800.0,
    "y": 31536000.0,
}
_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)")
_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class RangeQuery:
    """One validated query_range request: times in Unix seconds, step in seconds."""

    url: str
    query: str
    start: float
    end: float
    step: float
    headers: tuple[tuple[str, str], ...] = ()
    secrets: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT_S

    @property
    def points(self) -> int:
        return round((self.end - self.start) / self.step) + 1


@dataclass(frozen=True)
class RateSeries:
    """The fetched series on the step grid: seconds since --start and requests/s."""

    time_s: np.ndarray
    rate: np.ndarray
    warnings: tuple[str, ...]


# ---------------------------------------------------------------- input
def parse_time(text: str, option: str) -> float:
    """Unix seconds, or an RFC 3339 time with its zone (2026-11-02T00:00:00Z)."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        seconds = _rfc3339(value, text, option)
    if not math.isfinite(seconds) or seconds < 0:
        raise CapplanError(f"{option} {text!r}: must be a finite time after 1970")
    return seconds


def _rfc3339(value: str, text: str, option: str) -> float:
    try:
        when = datetime.fromisoformat(value.replace("z", "Z"))
    except ValueError:
        raise CapplanError(
            f"{option} {text!r}: must be Unix seconds or an RFC 3339 time such as "
            "2026-11-02T00:00:00Z"
        ) from None
    if when.tzinfo is None:
        raise CapplanError(f"{option} {text!r}: give the time zone (e.g. a trailing Z for UTC)")
    return when.timestamp()


def parse_step(text: str) -> float:
    """A Prometheus duration (60s, 1m, 1h30m) or plain seconds, > 0."""
    value = text.strip()
    try:
        seconds = float(value)
    except ValueError:
        parts = _DURATION.findall(value)
        if not parts or "".join(n + u for n, u in parts) != value:
            raise CapplanError(
                f"--step {text!r}: must be a duration such as 60s, 5m or 1h, or seconds"
            ) from None
        seconds = sum(float(n) * _UNITS_S[u] for n, u in parts)
    if not math.isfinite(seconds) or seconds < 0.001:
        raise CapplanError(f"--step {text!r}: must be at least 1ms")
    return seconds


def resolve_headers(
    pairs: list[str], environ: dict[str, str] | None = None
) -> tuple[dict[str, str], list[str]]:
    """KEY=VALUE pairs; VALUE ``env:NAME`` or text with ``${NAME}`` reads the environment.

    Returns the headers and the secrets to scrub: every value read from the
    environment and every header value built from one.
    """
    env = os.environ if environ is None else environ
    headers: dict[str, str] = {}
    secrets: list[str] = []
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not re.fullmatch(r"[A-Za-z0-9!#$%&'*+.^_`|~-]+", key):
            raise CapplanError(
                f"--header {key or pair[:20]!r}: must be KEY=VALUE with a header name as KEY"
            )
        names = [value[4:]] if value.startswith("env:") else _ENV_REF.findall(value)
        missing = [n for n in names if not env.get(n)]
        if missing:
            raise CapplanError(f"--header {key}: environment variable {missing[0]} is not set")
        if value.startswith("env:"):
            value = env[value[4:]]
        else:
            value = _ENV_REF.sub(lambda m: env[m.group(1)], value)
        if "\n" in value or "\r" in value:
            raise CapplanError(f"--header {key}: the value must be one line")
        headers[key] = value
        if names:
            secrets += [value, *(env[n] for n in names)]
    return headers, secrets


def check_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise CapplanError(f"--prometheus {url!r}: must be an http:// or https:// URL")
    if parts.username or parts.password:
        # A URL is printed in messages; credentials belong in --header (read from env).
        raise CapplanError("--prometheus: put credentials in --header, not in the URL")
    return url.rstrip("/")


def check_range(query: RangeQuery) -> None:
    """Start before end, a step that divides the range, and a bounded number of points."""
    if query.start >= query.end:
        raise CapplanError(f"--start {_iso(query.start)} must be before --end {_iso(query.end)}")
    span_ms = round((query.end - query.start) * 1000)
    step_ms = round(query.step * 1000)
    if span_ms % step_ms:
        raise CapplanError(
            f"--step {query.step:g}s does not divide the range of {span_ms / 1000:g}s "
            f"from --start to --end (use a step that does, e.g. 60s for whole minutes)"
        )
    points = span_ms // step_ms + 1
    if points > MAX_POINTS:
        raise CapplanError(
            f"--start/--end/--step: {points:,} points ({span_ms / 1000:,.0f}s at "
            f"{query.step:g}s), at most {MAX_POINTS:,}: use a coarser --step"
        )


# ---------------------------------------------------------------- fetch
def fetch_rate_series(query: RangeQuery) -> RateSeries:
    """The query's one series on the step grid, in windows Prometheus accepts."""
    check_range(query)
    secrets = [s for s in query.secrets if s]
    times: list[np.ndarray] = []
    values: list[np.ndarray] = []
    warnings: list[str] = []
    labels: dict[str, Any] | None = None
    for lo, hi in _windows(query):
        body = _get(query, lo, hi, secrets)
        warnings += [f"Prometheus: {_scrub(str(w), secrets)}" for w in body.get("warnings", [])]
        found = _one_series(body, query, lo, hi, labels)
        if found is None:
            continue
        labels, t, v = found
        times.append(t)
        values.append(v)
    if not times:
        raise CapplanError(
            f"Prometheus at {query.url}: the query returned no data from {_iso(query.start)} "
            f"to {_iso(query.end)}; check the query, its labels and the time range"
        )
    return _on_grid(query, np.concatenate(times), np.concatenate(values), warnings)


def _windows(query: RangeQuery) -> list[tuple[float, float]]:
    """Consecutive [lo, hi] sub-ranges of at most POINTS_PER_QUERY steps, sharing no step."""
    out = []
    n = query.points
    for first in range(0, n, POINTS_PER_QUERY):
        last = min(first + POINTS_PER_QUERY, n) - 1
        out.append((query.start + first * query.step, query.start + last * query.step))
    return out


def _get(query: RangeQuery, lo: float, hi: float, secrets: list[str]) -> dict[str, Any]:
    params = {
        "query": query.query,
        "start": f"{lo:.3f}",
        "end": f"{hi:.3f}",
        "step": f"{query.step:g}",
    }
    url = f"{query.url}{_PATH}?{urllib.parse.urlencode(params)}"
    request = urllib.request.Request(
        url, headers={"Accept": "application/json", **dict(query.headers)}
    )
    where = f"Prometheus at {query.url}"
    try:
        with urllib.request.urlopen(request, timeout=query.timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as exc:
        raise CapplanError(_scrub(_http_error(exc, where), secrets)) from None
    except TimeoutError:
        raise CapplanError(f"{where} timed out after {query.timeout:g}s") from None
    except urllib.error.URLError as exc:
        if isinstance(exc.reason, TimeoutError):
            raise CapplanError(f"{where} timed out after {query.timeout:g}s") from None
        reason = getattr(exc.reason, "strerror", None) or exc.reason
        raise CapplanError(_scrub(f"cannot reach {where}: {reason}", secrets)) from None
    except (OSError, ValueError) as exc:  # reset connection, bad chunked body, odd URL
        raise CapplanError(_scrub(f"cannot read from {where}: {exc}", secrets)) from None
    body = _json(raw, where)
    if body.get("status") != "success":
        raise CapplanError(_scrub(_api_error(body, where, None), secrets))
    return body


def _json(raw: bytes, where: str) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except ValueError:
        raise CapplanError(
            f"{where} answered {_PATH} with non-JSON (is this Prometheus?)"
        ) from None
    if not isinstance(body, dict):
        raise CapplanError(f"{where} answered {_PATH} without a JSON object (is this Prometheus?)")
    return body


def _http_error(exc: urllib.error.HTTPError, where: str) -> str:
    if exc.code in (401, 403):
        return f"{where} refused the credentials (HTTP {exc.code}); check --header"
    try:
        body = json.loads(exc.read())
    except (ValueError, OSError):
        body = None
    if isinstance(body, dict) and "error" in body:
        return _api_error(body, where, exc.code)
    return f"{where} failed on GET {_PATH} (HTTP {exc.code} {exc.reason})"


def _api_error(body: dict[str, Any], where: str, code: int | None) -> str:
    # The API's error envelope: {"status": "error", "errorType": "bad_data", "error": "..."}.
    kind = body.get("errorType", "error")
    http = f"HTTP {code}, " if code is not None else ""
    return f"{where} rejected the query ({http}{kind}): {_one_line(body.get('error', body))}"


def _one_series(
    body: dict[str, Any], query: RangeQuery, lo: float, hi: float, labels: dict[str, Any] | None
) -> tuple[dict[str, Any], np.ndarray, np.ndarray] | None:
    data = body.get("data")
    where = f"Prometheus at {query.url}"
    if not isinstance(data, dict) or not isinstance(data.get("result"), list):
        raise CapplanError(f"{where}: answer has no data.result list (is this Prometheus?)")
    if data.get("resultType") != "matrix":
        raise CapplanError(
            f"{where}: expected a range vector (matrix), got {data.get('resultType')!r}"
        )
    result = data["result"]
    if not result:
        return None
    if len(result) == 1 and labels is not None and (result[0].get("metric") or {}) != labels:
        result = [{"metric": labels}, *result]  # a different series in a later window
    if len(result) > 1:
        names = [_labels(s.get("metric")) for s in result[:3]]
        more = f" and {len(result) - 3} more" if len(result) > 3 else ""
        raise CapplanError(
            f"{where}: the query returned {len(result)} series ({', '.join(names)}{more}); "
            "it must return one: aggregate it, e.g. sum(rate(...))"
        )
    return result[0].get("metric") or {}, *_samples(result[0], where)


def _samples(series: dict[str, Any], where: str) -> tuple[np.ndarray, np.ndarray]:
    pairs = series.get("values")
    try:
        times = np.array([float(p[0]) for p in pairs], dtype=float)
        values = np.array([float(p[1]) for p in pairs], dtype=float)
    except (TypeError, ValueError, IndexError):
        raise CapplanError(f'{where}: a sample is not a [time, "value"] pair') from None
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if bad.size:
        i = bad[0]
        raise CapplanError(
            f"{where}: the rate at {_iso(times[i])} is {pairs[i][1]}: a request rate must be a "
            f"finite number >= 0 ({bad.size} such samples)"
        )
    return times, values


def _on_grid(
    query: RangeQuery, times: np.ndarray, values: np.ndarray, warnings: list[str]
) -> RateSeries:
    index = np.rint((times - query.start) / query.step).astype(np.int64)
    if np.any(np.abs(index * query.step + query.start - times) > 1e-3) or np.any(
        (index < 0) | (index >= query.points)
    ):
        raise CapplanError(f"Prometheus at {query.url}: sample times are off the --step grid")
    grid = np.full(query.points, np.nan)
    grid[index] = values
    first = int(index.min())
    grid = grid[first:]
    missing = np.isnan(grid)
    if missing.any():
        # Forward fill: each missing step keeps the last rate seen.
        last = np.maximum.accumulate(np.where(missing, 0, np.arange(grid.size)))
        grid = grid[last]
        warnings.append(
            f"{int(missing.sum())} of {grid.size} steps had no sample (first at "
            f"{_iso(query.start + (first + int(np.argmax(missing))) * query.step)}); "
            "each keeps the previous step's rate"
        )
    if first:
        warnings.append(
            f"no sample before {_iso(query.start + first * query.step)}: the file starts "
            f"at time_s={first * query.step:g}, and the rate before it is 0"
        )
    time_s = (first + np.arange(grid.size)) * query.step
    return RateSeries(time_s, grid, tuple(warnings))


def write_csv(path: Any, series: RateSeries) -> None:
    """`time_s,rate` rows; rates written round-trip exact (shortest repr)."""
    with open(path, "w", encoding="utf-8") as out:
        out.write("time_s,rate\n")
        for t, r in zip(series.time_s.tolist(), series.rate.tolist(), strict=True):
            out.write(f"{t:.15g},{r!r}\n")


# ---------------------------------------------------------------- text
def _labels(metric: object) -> str:
    if not isinstance(metric, dict) or not metric:
        return "{}"
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(metric.items())) + "}"


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _one_line(value: object, limit: int = 200) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _scrub(text: str, secrets: list[str]) -> str:
    for secret in sorted(secrets, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text
