"""Arrival times and request sizes, drawn up front as numpy arrays.

Every random quantity comes from its own stream, seeded per (scenario seed,
replication, stream name), so two candidate configurations simulated with the
same seed and replication see exactly the same requests (common random numbers)
and adding a draw to one stream never shifts another.

Kinds (see `WorkloadSpec`):

- ``poisson``: homogeneous, exponential gaps.
- ``diurnal``: λ(t) = base + (peak − base)·(1 + cos(2π (t − peak_at)/period))/2, by thinning.
- ``piecewise``: a step rate read from a ``time_s,rate`` CSV, by thinning.
- ``mmpp``: Markov-modulated Poisson: exponential sojourns in phases, starting in phase 0.
- ``trace``: replay of an Azure LLM inference trace, thinned or superposed.

Synthetic kinds draw token counts from the spec's ``context_tokens`` /
``generated_tokens`` distributions; when absent they are 1000 prompt tokens and
100 output tokens for every request (deterministic).
"""

from __future__ import annotations

import functools
import math
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from capplan.errors import CapplanError

if TYPE_CHECKING:
    from capplan.distributions import Dist
    from capplan.scenario import WorkloadSpec

BIN_S = 60.0  # minute bins for minute_rates: the fluid bound's resolution
DEFAULT_CONTEXT_TOKENS = 1000.0
DEFAULT_GENERATED_TOKENS = 100.0
TRACE_COLUMNS = ("TIMESTAMP", "ContextTokens", "GeneratedTokens")
PIECEWISE_COLUMNS = ("time_s", "rate")


@dataclass(frozen=True, slots=True)
class Requests:
    """One replication's requests, sorted by arrival time."""

    arrival: np.ndarray  # float64 seconds from 0, ascending, all < horizon
    context_tokens: np.ndarray  # int64 >= 0: prompt tokens
    generated_tokens: np.ndarray  # int64 >= 1: output tokens
    horizon: float  # simulated seconds
    warmup: float  # seconds excluded from summaries

    def __post_init__(self) -> None:
        n = len(self.arrival)
        if len(self.context_tokens) != n or len(self.generated_tokens) != n:
            raise ValueError("Requests: arrival and token arrays must have the same length")

    def __len__(self) -> int:
        return len(self.arrival)


# ---------------------------------------------------------------- random streams
def stream_rng(seed: int, replication: int, stream: str) -> np.random.Generator:
    """An independent, reproducible generator for one named stream.

    crc32 rather than hash(): Python salts str hashes per process, which would
    make results depend on where a run executes.
    """
    key = zlib.crc32(stream.encode("utf-8"))
    return np.random.default_rng(np.random.SeedSequence([seed, replication, key]))


# ---------------------------------------------------------------- public API
def generate(spec: WorkloadSpec, seed: int, replication: int = 0) -> Requests:
    """The requests of one replication: identical for identical (spec, seed, replication)."""
    if spec.kind == "trace":
        return _generate_trace(spec, seed, replication)
    horizon = spec.horizon
    _check_warmup(spec, horizon)
    arrival = _synthetic_arrivals(spec, horizon, seed, replication)
    sizes = stream_rng(seed, replication, "sizes")
    context, generated = _draw_tokens(spec, sizes, len(arrival))
    return Requests(arrival, context, generated, horizon, spec.warmup_s)


def scale_traffic(spec: WorkloadSpec, factor: float) -> WorkloadSpec:
    """The same workload with every rate multiplied by `factor` (what-if traffic growth)."""
    if factor <= 0:
        raise CapplanError(f"traffic multiplier: must be > 0, got {factor}")
    if spec.kind == "poisson":
        update: dict[str, object] = {"rate": spec.rate * factor}  # type: ignore[operator]
    elif spec.kind == "diurnal":
        update = {"base_rate": spec.base_rate * factor, "peak_rate": spec.peak_rate * factor}  # type: ignore[operator]
    elif spec.kind == "mmpp":
        update = {"rates": tuple(r * factor for r in spec.rates)}  # type: ignore[union-attr]
    else:  # trace and piecewise scale through their multiplier
        update = {"rate_multiplier": spec.rate_multiplier * factor}
    return spec.model_copy(update=update)


def rate_at(spec: WorkloadSpec, t: np.ndarray) -> np.ndarray:
    """Expected arrival rate λ(t), requests/s.

    trace: the window's empirical rate in 60-s bins × rate_multiplier (0 outside
    [0, horizon)); mmpp: the stationary mean rate (the phase is random).
    """
    t = np.asarray(t, dtype=float)
    if spec.kind == "poisson":
        return np.full(t.shape, float(spec.rate))  # type: ignore[arg-type]
    if spec.kind == "diurnal":
        return _diurnal_rate(spec, t)
    if spec.kind == "piecewise":
        return _StepRate.from_spec(spec).at(t)
    if spec.kind == "mmpp":
        return np.full(t.shape, _mmpp_mean_rate(spec))
    rates = minute_rates(spec)
    if rates.size == 0:
        return np.zeros(t.shape)
    idx = np.searchsorted(_bin_edges(trace_horizon(spec)), t, side="right") - 1
    inside = (idx >= 0) & (idx < len(rates))
    return np.where(inside, rates[np.clip(idx, 0, len(rates) - 1)], 0.0)


def minute_rates(spec: WorkloadSpec, seed: int = 0, replication: int = 0) -> np.ndarray:
    """Expected requests/s in each 60-s bin over the horizon (the last bin may be shorter).

    Analytic for poisson, diurnal and piecewise (the mean of λ over the bin).
    trace: the window's counts per bin × rate_multiplier. mmpp: the realised
    phase path of (seed, replication) — the rate λ averaged over the bin given
    which phases the chain visited, so bursts show (its arrivals are still random).
    """
    horizon = trace_horizon(spec) if spec.kind == "trace" else spec.horizon
    edges = _bin_edges(horizon)
    width = np.diff(edges)
    if spec.kind == "trace":
        t, _, _ = _trace_window(spec)
        counts = np.histogram(t[t < horizon], bins=edges)[0]
        return counts * spec.rate_multiplier / width
    return np.diff(_cumulative_rate(spec, edges, seed, replication)) / width


def minute_bins(
    spec: WorkloadSpec, seed: int = 0, replication: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """(bin edges, minute_rates): the rates together with the bins they average over."""
    horizon = trace_horizon(spec) if spec.kind == "trace" else spec.horizon
    return _bin_edges(horizon), minute_rates(spec, seed, replication)


def peak_rate(spec: WorkloadSpec, seed: int = 0) -> float:
    """The highest minute rate, requests/s (0 for an empty horizon)."""
    rates = minute_rates(spec, seed)
    return float(rates.max()) if rates.size else 0.0


def mean_tokens(spec: WorkloadSpec) -> tuple[float, float]:
    """Mean (context, generated) tokens per request: the trace window's, or the Dists'.

    For synthetic kinds this ignores rounding to whole tokens (a fraction of a token).
    """
    if spec.kind == "trace":
        _, context, generated = _trace_window(spec)
        if len(context) == 0:
            return 0.0, 1.0
        return float(context.mean()), float(np.maximum(generated, 1).mean())
    ctx = spec.context_tokens.expected if spec.context_tokens else DEFAULT_CONTEXT_TOKENS
    gen = spec.generated_tokens.expected if spec.generated_tokens else DEFAULT_GENERATED_TOKENS
    return float(ctx), max(float(gen), 1.0)


def trace_horizon(spec: WorkloadSpec) -> float:
    """Simulated seconds of a trace workload: horizon_s if set, else the window length."""
    return spec.horizon_s if spec.horizon_s is not None else _window_length(spec)


# ---------------------------------------------------------------- helpers
def _check_warmup(spec: WorkloadSpec, horizon: float) -> None:
    if spec.warmup_s >= horizon:
        raise CapplanError(
            f"workload.warmup_s: must be < the horizon ({horizon:g} s), got {spec.warmup_s:g}"
        )


def _bin_edges(horizon: float) -> np.ndarray:
    """0, 60, 120, … , horizon. A last bin shorter than 1 s joins the one before: a
    single trace arrival in a sliver of a bin would otherwise read as a huge rate."""
    if horizon <= 0:
        return np.zeros(1)
    edges = np.arange(0.0, horizon, BIN_S)
    if len(edges) > 1 and horizon - edges[-1] < 1.0:
        edges = edges[:-1]
    return np.append(edges, horizon)


def _draw_tokens(
    spec: WorkloadSpec, rng: np.random.Generator, n: int
) -> tuple[np.ndarray, np.ndarray]:
    context = _sample_tokens(spec.context_tokens, DEFAULT_CONTEXT_TOKENS, rng, n, low=0)
    generated = _sample_tokens(spec.generated_tokens, DEFAULT_GENERATED_TOKENS, rng, n, low=1)
    return context, generated


def _sample_tokens(
    dist: Dist | None, default: float, rng: np.random.Generator, n: int, low: int
) -> np.ndarray:
    values = dist.sample(rng, n) if dist is not None else np.full(n, default)
    # Every request produces at least one output token (an EOS still costs a decode step).
    return np.maximum(np.rint(values), low).astype(np.int64)


def _synthetic_arrivals(
    spec: WorkloadSpec, horizon: float, seed: int, replication: int
) -> np.ndarray:
    rng = stream_rng(seed, replication, "arrivals")
    if spec.kind == "poisson":
        return poisson_times(rng, float(spec.rate), horizon)  # type: ignore[arg-type]
    if spec.kind == "diurnal":
        return _thin(rng, float(spec.peak_rate), horizon, lambda t: _diurnal_rate(spec, t))  # type: ignore[arg-type]
    if spec.kind == "piecewise":
        step = _StepRate.from_spec(spec)
        return _thin(rng, step.max_before(horizon), horizon, step.at)
    phases = stream_rng(seed, replication, "phases")
    return _mmpp_arrivals(_MmppPath.draw(spec, phases, horizon), rng)


def poisson_times(rng: np.random.Generator, rate: float, horizon: float) -> np.ndarray:
    """Homogeneous Poisson arrivals on [0, horizon): cumulative sums of exponential gaps.

    Gaps are drawn in chunks sized to cover the horizon with high probability, so
    the usual case is one draw and one cumsum.
    """
    if rate <= 0 or horizon <= 0:
        return np.zeros(0)
    mean_n = rate * horizon
    chunk = int(mean_n + 6 * math.sqrt(mean_n) + 16)
    parts: list[np.ndarray] = []
    last = 0.0
    while last < horizon:
        times = last + np.cumsum(rng.exponential(1.0 / rate, chunk))
        parts.append(times)
        last = float(times[-1])
    times = np.concatenate(parts)
    return times[: np.searchsorted(times, horizon, side="left")]


def _thin(
    rng: np.random.Generator,
    rate_max: float,
    horizon: float,
    rate_fn: Callable[[np.ndarray], np.ndarray],
) -> np.ndarray:
    """Lewis–Shedler thinning: keep a rate_max-Poisson point t with probability λ(t)/rate_max."""
    candidates = poisson_times(rng, rate_max, horizon)
    if candidates.size == 0:
        return candidates
    keep = rng.uniform(0.0, rate_max, candidates.size) < rate_fn(candidates)
    return candidates[keep]


# ---------------------------------------------------------------- diurnal
def _diurnal_rate(spec: WorkloadSpec, t: np.ndarray) -> np.ndarray:
    base, peak = float(spec.base_rate), float(spec.peak_rate)  # type: ignore[arg-type]
    phase = 2 * np.pi * (np.asarray(t, dtype=float) - spec.peak_at_s) / spec.period_s
    return base + (peak - base) * (1 + np.cos(phase)) / 2


def _diurnal_cumulative(spec: WorkloadSpec, t: np.ndarray) -> np.ndarray:
    """∫_0^t λ(u) du, closed form."""
    base, peak = float(spec.base_rate), float(spec.peak_rate)  # type: ignore[arg-type]
    w = 2 * np.pi / spec.period_s
    sine = np.sin(w * (t - spec.peak_at_s)) - np.sin(w * (0 - spec.peak_at_s))
    return (base + peak) / 2 * t + (peak - base) / 2 * sine / w


def _cumulative_rate(spec: WorkloadSpec, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
    """Λ(t) = ∫_0^t λ: the expected count up to each t (mmpp: given its realised phases)."""
    if spec.kind == "poisson":
        return float(spec.rate) * t  # type: ignore[arg-type]
    if spec.kind == "diurnal":
        return _diurnal_cumulative(spec, t)
    if spec.kind == "piecewise":
        return _StepRate.from_spec(spec).cumulative(t)
    rng = stream_rng(seed, replication, "phases")
    return _MmppPath.draw(spec, rng, spec.horizon).cumulative(t)


# ---------------------------------------------------------------- piecewise
@dataclass(frozen=True, slots=True)
class _StepRate:
    """A step function: rates[i] holds on [times[i], times[i+1]); 0 before times[0]."""

    times: np.ndarray
    rates: np.ndarray

    @classmethod
    def from_spec(cls, spec: WorkloadSpec) -> _StepRate:
        path = Path(spec.path)  # type: ignore[arg-type]
        times, rates = _load_piecewise(str(path), _mtime(path))
        return cls(times, rates * spec.rate_multiplier)

    def at(self, t: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.times, t, side="right") - 1
        return np.where(idx >= 0, self.rates[np.maximum(idx, 0)], 0.0)

    def max_before(self, horizon: float) -> float:
        active = self.rates[self.times < horizon]
        return float(active.max()) if active.size else 0.0

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        seg = np.diff(self.times) * self.rates[:-1]
        area = np.concatenate(([0.0], np.cumsum(seg)))  # Λ at each step start
        idx = np.searchsorted(self.times, t, side="right") - 1
        safe = np.maximum(idx, 0)
        inside = area[safe] + self.rates[safe] * (t - self.times[safe])
        return np.where(idx >= 0, inside, 0.0)


@functools.lru_cache(maxsize=32)
def _load_piecewise(path: str, mtime_ns: int) -> tuple[np.ndarray, np.ndarray]:
    """(times, rates) of a `time_s,rate` CSV; mtime_ns in the key so edits are re-read."""
    table = _read_csv(path, PIECEWISE_COLUMNS)
    times = _numeric_column(table, "time_s", path)
    rates = _numeric_column(table, "rate", path)
    _check_piecewise(times, rates, path)
    return _readonly(times), _readonly(rates)


def _check_piecewise(times: np.ndarray, rates: np.ndarray, path: str) -> None:
    if times.size == 0:
        raise CapplanError(f"{path}: no rows; need at least one `time_s,rate` row")
    bad = np.flatnonzero(times < 0)
    if bad.size:
        raise CapplanError(f"{path}: row {bad[0] + 2}, column time_s: must be >= 0")
    bad = np.flatnonzero(rates < 0)
    if bad.size:
        raise CapplanError(f"{path}: row {bad[0] + 2}, column rate: must be >= 0")
    bad = np.flatnonzero(np.diff(times) <= 0)
    if bad.size:
        raise CapplanError(
            f"{path}: row {bad[0] + 3}, column time_s: must be greater than the row before"
        )


# ---------------------------------------------------------------- mmpp
def _mmpp_mean_rate(spec: WorkloadSpec) -> float:
    rates = np.asarray(spec.rates, dtype=float)
    durations = np.asarray(spec.mean_durations_s, dtype=float)
    # Uniform choice among the other phases makes the jump chain's stationary law
    # uniform, so the time spent in phase i is proportional to its mean sojourn.
    return float((rates * durations).sum() / durations.sum())


@dataclass(frozen=True, slots=True)
class _MmppPath:
    """The modulating chain's realisation: phase segments covering [0, horizon)."""

    starts: np.ndarray  # segment start times, starts[0] = 0
    ends: np.ndarray  # segment ends, ends[-1] = horizon
    rates: np.ndarray  # arrival rate in each segment

    @classmethod
    def draw(cls, spec: WorkloadSpec, rng: np.random.Generator, horizon: float) -> _MmppPath:
        """Start in phase 0; each sojourn is exponential with the phase's mean; the next
        phase is uniform among the others (with two phases they alternate)."""
        rates = np.asarray(spec.rates, dtype=float)
        durations = np.asarray(spec.mean_durations_s, dtype=float)
        phases, ends = _phase_segments(rng, durations, horizon)
        starts = np.concatenate(([0.0], ends[:-1]))
        return cls(starts, ends, rates[phases])

    def cumulative(self, t: np.ndarray) -> np.ndarray:
        area = np.concatenate(([0.0], np.cumsum((self.ends - self.starts) * self.rates)))
        idx = np.clip(np.searchsorted(self.ends, t, side="right"), 0, len(self.ends) - 1)
        return area[idx] + self.rates[idx] * (np.minimum(t, self.ends[idx]) - self.starts[idx])


def _phase_segments(
    rng: np.random.Generator, durations: np.ndarray, horizon: float
) -> tuple[np.ndarray, np.ndarray]:
    """(phase of each segment, segment end times), the last end clipped to horizon."""
    m = len(durations)
    if m == 1 or horizon <= 0:
        return np.zeros(1, dtype=np.int64), np.array([max(horizon, 0.0)])
    chunk = int(horizon / durations.mean() * 1.2) + 16
    phase_parts: list[np.ndarray] = []
    end_parts: list[np.ndarray] = []
    phase, clock = 0, 0.0
    while clock < horizon:
        # Jumps of 1..m-1 modulo m: the next phase is uniform among the others.
        jumps = rng.integers(1, m, chunk)
        phases = (phase + np.concatenate(([0], np.cumsum(jumps[:-1])))) % m
        ends = clock + np.cumsum(rng.exponential(1.0, chunk) * durations[phases])
        phase_parts.append(phases)
        end_parts.append(ends)
        phase, clock = int((phases[-1] + jumps[-1]) % m), float(ends[-1])
    phases, ends = np.concatenate(phase_parts), np.concatenate(end_parts)
    n = int(np.searchsorted(ends, horizon, side="left")) + 1
    phases, ends = phases[:n], ends[:n].copy()
    ends[-1] = horizon
    return phases, ends


def _mmpp_arrivals(path: _MmppPath, rng: np.random.Generator) -> np.ndarray:
    """Given the phases, a Poisson count per segment, placed uniformly within it."""
    lengths = path.ends - path.starts
    counts = rng.poisson(path.rates * lengths)
    offsets = rng.uniform(0.0, 1.0, int(counts.sum())) * np.repeat(lengths, counts)
    times = np.sort(np.repeat(path.starts, counts) + offsets)
    # Guard the open end: start + u·length can round up to the segment end.
    return times[times < path.ends[-1]]


# ---------------------------------------------------------------- trace
def load_trace(path: str | Path) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(seconds since the first row, context tokens, generated tokens) of an Azure LLM CSV.

    Cached per (path, modification time); the arrays are read-only because they are shared.
    """
    p = Path(path)
    return _load_trace(str(p), _mtime(p))


@functools.lru_cache(maxsize=8)
def _load_trace(path: str, mtime_ns: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    table = _read_csv(path, TRACE_COLUMNS)
    stamps = pd.to_datetime(table["TIMESTAMP"], format="ISO8601", errors="coerce")
    _fail_on_missing(stamps.isna().to_numpy(), path, "TIMESTAMP", "a timestamp")
    context = _numeric_column(table, "ContextTokens", path)
    generated = _numeric_column(table, "GeneratedTokens", path)
    for name, col in (("ContextTokens", context), ("GeneratedTokens", generated)):
        _fail_on_missing((col < 0) | (col != np.floor(col)), path, name, "an integer >= 0")
    if len(table) == 0:
        raise CapplanError(f"{path}: no rows")
    ns = stamps.to_numpy().astype("datetime64[ns]").astype(np.int64)
    seconds = (ns - ns.min()) / 1e9
    order = np.argsort(seconds, kind="stable")  # tolerate an unsorted file
    return (
        _readonly(seconds[order]),
        _readonly(context[order].astype(np.int64)),
        _readonly(generated[order].astype(np.int64)),
    )


def _trace_window(spec: WorkloadSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with start_s <= t < start_s + duration_s, times shifted to start at 0."""
    t, context, generated = load_trace(spec.path)  # type: ignore[arg-type]
    if spec.start_s > t[-1]:
        raise CapplanError(
            f"workload.start_s: {spec.start_s:g} s is beyond the end of the trace "
            f"{spec.path} ({t[-1]:g} s)"
        )
    lo = np.searchsorted(t, spec.start_s, side="left")
    hi = len(t) if spec.duration_s is None else np.searchsorted(t, spec.start_s + spec.duration_s)
    return t[lo:hi] - spec.start_s, context[lo:hi], generated[lo:hi]


def _window_length(spec: WorkloadSpec) -> float:
    """duration_s if set; else the rest of the trace, ending just past its last row."""
    if spec.duration_s is not None:
        _trace_window(spec)  # validates start_s
        return float(spec.duration_s)
    t, _, _ = _trace_window(spec)
    return float(np.nextafter(t[-1], np.inf)) if t.size else 0.0


def _generate_trace(spec: WorkloadSpec, seed: int, replication: int) -> Requests:
    """Replay the window; rate_multiplier m thins (m < 1) or superposes (m > 1).

    m > 1: copy 0 is the window itself, then floor(m) − 1 further full copies and one
    copy thinned to m − floor(m). Each extra copy is the window *rotated*: its times
    shifted by an offset uniform on [0, window) modulo the window. Rotation keeps
    the trace's burst structure and token sizes while decorrelating the copies
    (jittering the times would instead create near-duplicate bursts). m < 1 keeps
    each row with probability m. All draws use the "arrivals" stream. Beyond the
    window (horizon_s longer than it) no requests arrive: the trace does not loop.
    """
    horizon = trace_horizon(spec)
    _check_warmup(spec, horizon)
    t, context, generated = _trace_window(spec)
    window = _window_length(spec)
    rows = np.arange(len(t))
    if spec.resample == "blocks" and replication > 0:
        t, rows = _resample_blocks(
            stream_rng(seed, replication, "resample"), t, window, spec.block_s
        )
    rng = stream_rng(seed, replication, "arrivals")
    copies = _trace_copies(rng, t, spec.rate_multiplier, window)
    idx = rows[np.concatenate([c[1] for c in copies])]
    times = np.concatenate([c[0] for c in copies])
    order = np.argsort(times, kind="stable")
    times, idx = times[order], idx[order]
    keep = times < horizon
    return Requests(
        times[keep],
        context[idx[keep]],
        np.maximum(generated[idx[keep]], 1),
        horizon,
        spec.warmup_s,
    )


def _resample_blocks(
    rng: np.random.Generator, t: np.ndarray, window: float, block_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """A block bootstrap of the window: (times, row index), sorted.

    The window is cut into consecutive blocks of block_s; each slot of a new
    window of the same length takes a block drawn with replacement, keeping
    its requests' spacing and sizes. Replications then differ in which bursts
    they contain, so their spread is a real confidence interval, while
    replication 0 stays the exact replay.
    """
    n_blocks = max(1, math.ceil(window / block_s))
    source = rng.integers(0, n_blocks, n_blocks)
    block_of = np.minimum((t // block_s).astype(np.int64), n_blocks - 1)
    order = np.argsort(block_of, kind="stable")
    bounds = np.searchsorted(block_of[order], np.arange(n_blocks + 1))
    times, rows = [], []
    for slot, src in enumerate(source):
        members = order[bounds[src] : bounds[src + 1]]
        times.append(t[members] - src * block_s + slot * block_s)
        rows.append(members)
    times_all, rows_all = np.concatenate(times), np.concatenate(rows)
    keep = times_all < window
    sort = np.argsort(times_all[keep], kind="stable")
    return times_all[keep][sort], rows_all[keep][sort]


def _trace_copies(
    rng: np.random.Generator, t: np.ndarray, m: float, window: float
) -> list[tuple[np.ndarray, np.ndarray]]:
    """(times, row index) of each copy of the window, per the multiplier m."""
    rows = np.arange(len(t))
    full = math.floor(m)
    frac = m - full
    copies = [(t, rows)] if full >= 1 else []
    for _ in range(1, full):
        copies.append((_rotate(rng, t, window), rows))
    if frac > 0:
        keep = rng.uniform(0.0, 1.0, len(t)) < frac
        # The first copy is never rotated, so m < 1 thins the replay in place.
        times = _rotate(rng, t, window) if full >= 1 else t
        copies.append((times[keep], rows[keep]))
    return copies


def _rotate(rng: np.random.Generator, t: np.ndarray, window: float) -> np.ndarray:
    if window <= 0:
        return t.copy()
    return np.mod(t + rng.uniform(0.0, window), window)


# ---------------------------------------------------------------- CSV helpers
def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError as exc:
        raise CapplanError(f"{path}: cannot read file ({exc.strerror or exc})") from None


def _read_csv(path: str, columns: tuple[str, ...]) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, dtype=str, skipinitialspace=True, keep_default_na=False)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CapplanError(f"{path}: cannot read CSV ({exc})") from None
    header = tuple(str(c).strip() for c in table.columns)
    if header != columns:
        raise CapplanError(
            f"{path}: row 1: header must be {','.join(columns)}, got {','.join(header)}"
        )
    table.columns = list(columns)
    return table


def _numeric_column(table: pd.DataFrame, column: str, path: str) -> np.ndarray:
    values = pd.to_numeric(table[column].str.strip(), errors="coerce").to_numpy(dtype=float)
    _fail_on_missing(~np.isfinite(values), path, column, "a number")
    return values


def _fail_on_missing(bad: np.ndarray, path: str, column: str, what: str) -> None:
    rows = np.flatnonzero(bad)
    if rows.size:
        # +2: one for the header line, one because file rows count from 1.
        raise CapplanError(f"{path}: row {rows[0] + 2}, column {column}: must be {what}")


def _readonly(a: np.ndarray) -> np.ndarray:
    a = np.ascontiguousarray(a)
    a.setflags(write=False)
    return a


__all__ = [
    "Requests",
    "generate",
    "load_trace",
    "mean_tokens",
    "minute_rates",
    "peak_rate",
    "poisson_times",
    "rate_at",
    "stream_rng",
    "trace_horizon",
]
