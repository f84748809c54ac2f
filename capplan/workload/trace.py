"""``trace``: replay of an Azure LLM inference trace, thinned or superposed.

The trace knows its own window: the rows from `start_s` for `duration_s` (or
to the end), and the horizon is that window unless `horizon_s` says otherwise.
Token counts come from the rows, not from the spec's distributions.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from capplan.errors import CapplanError
from capplan.workload.draws import Requests, bin_edges, check_warmup, stream_rng
from capplan.workload.kind import Kind
from capplan.workload.trace_file import load_trace

if TYPE_CHECKING:
    from capplan.scenario import WorkloadSpec

MAX_BLOCKS = 2**22  # bootstrap blocks per window: beyond, block_s is surely a typo


class Trace(Kind):
    name = "trace"
    needs = ("path",)

    def window(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        return trace_window(self.spec)

    def window_length(self) -> float:
        """duration_s if set; else the rest of the trace, ending just past its last row."""
        if self.spec.duration_s is not None:
            self.window()  # validates start_s
            return float(self.spec.duration_s)
        t, _, _ = self.window()
        if self.spec.horizon_s is None and t.size and t[-1] == 0.0:
            # Else the window would be one float ulp (5e-324 s) long.
            raise CapplanError(
                f"workload.path: every row of {self.spec.path} from start_s on has the same "
                "TIMESTAMP, so the trace spans 0 s; set workload.duration_s or "
                "workload.horizon_s to give the replay a length"
            )
        return float(np.nextafter(t[-1], np.inf)) if t.size else 0.0

    @property
    def horizon(self) -> float:
        s = self.spec.horizon_s
        return s if s is not None else self.window_length()

    def horizon_text(self) -> str:
        return "the trace's length" if self.spec.horizon_s is None else f"{self.horizon:g} s"

    def requests(self, seed: int, replication: int) -> Requests:
        """Replay the window; rate_multiplier m thins (m < 1) or superposes (m > 1).

        m > 1: copy 0 is the window itself, then floor(m) − 1 further full copies and
        one copy thinned to m − floor(m). Each extra copy is the window *rotated*: its
        times shifted by an offset uniform on [0, window) modulo the window. Rotation
        keeps the trace's burst structure and token sizes while decorrelating the
        copies (jittering the times would instead create near-duplicate bursts). m < 1
        keeps each row with probability m. All draws use the "arrivals" stream. Beyond
        the window (horizon_s longer than it) no requests arrive: the trace does not loop.

        resample "blocks" (the default): replications 1, 2, … first replace the window
        by a circular block bootstrap of it (`resample_blocks`, "resample" stream), so
        the replications behind every confidence verdict differ in which bursts they
        hold. Replication 0 stays the exact replay: the planner's exploration and the
        report's figures show the trace as recorded.
        """
        spec = self.spec
        horizon = self.horizon
        check_warmup(spec.warmup_s, horizon)
        t, context, generated = self.window()
        window = self.window_length()
        rows = np.arange(len(t))
        if spec.resample == "blocks" and replication > 0:
            rng = stream_rng(seed, replication, "resample")
            t, rows = resample_blocks(rng, t, window, spec.block_s)
        rng = stream_rng(seed, replication, "arrivals")
        copies = trace_copies(rng, t, spec.rate_multiplier, window)
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

    def expected_draws(self) -> float:
        t, _, _ = self.window()
        if self.spec.resample == "blocks":
            check_blocks(self.window_length(), self.spec.block_s)  # checked before any run
        return len(t) * math.ceil(self.spec.rate_multiplier)  # every copy is built whole

    def mean_tokens(self) -> tuple[float, float]:
        _, context, generated = self.window()
        if len(context) == 0:
            return 0.0, 1.0
        return float(context.mean()), float(np.maximum(generated, 1).mean())

    def minute_rates(self, seed: int, replication: int) -> np.ndarray:
        """The window's counts per bin × rate_multiplier."""
        horizon = self.horizon
        edges = bin_edges(horizon)
        t, _, _ = self.window()
        counts = np.histogram(t[t < horizon], bins=edges)[0]
        return counts * self.spec.rate_multiplier / np.diff(edges)

    def rate_at(self, t: np.ndarray) -> np.ndarray:
        """The window's empirical rate in 60-s bins × rate_multiplier (0 outside [0, horizon))."""
        t = np.asarray(t, dtype=float)
        rates = self.minute_rates(0, 0)
        if rates.size == 0:
            return np.zeros(t.shape)
        idx = np.searchsorted(self.bin_edges(), t, side="right") - 1
        inside = (idx >= 0) & (idx < len(rates))
        return np.where(inside, rates[np.clip(idx, 0, len(rates) - 1)], 0.0)

    def cumulative(self, t: np.ndarray, seed: int, replication: int) -> np.ndarray:
        t = np.asarray(t, dtype=float)
        times, _, _ = self.window()
        return np.searchsorted(times, t, side="left") * self.spec.rate_multiplier

    def scaled(self, factor: float) -> WorkloadSpec:
        return self.spec.model_copy(update={"rate_multiplier": self.spec.rate_multiplier * factor})

    def describe(self) -> str:
        s = self.spec
        window = f", from {s.start_s:g} s" + (f" for {s.duration_s:g} s" if s.duration_s else "")
        boot = (
            f"; replications after the first are circular block bootstraps ({s.block_s:g}-s blocks)"
            if s.resample == "blocks"
            else "; every replication replays it exactly"
        )
        name = Path(str(s.path)).name
        return f"trace replay of {name} × {s.rate_multiplier:g}{window}{boot}"


def trace_window(spec: WorkloadSpec) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Rows with start_s <= t < start_s + duration_s, times shifted to start at 0 (the
    trace kind's window, and the rows a closed loop on a trace sends)."""
    t, context, generated = load_trace(spec.path)  # type: ignore[arg-type]
    if spec.start_s > t[-1]:
        raise CapplanError(
            f"workload.start_s: {spec.start_s:g} s is beyond the end of the trace "
            f"{spec.path} ({t[-1]:g} s)"
        )
    lo = np.searchsorted(t, spec.start_s, side="left")
    end = spec.start_s + spec.duration_s if spec.duration_s is not None else None
    hi = len(t) if end is None else np.searchsorted(t, end)
    return t[lo:hi] - spec.start_s, context[lo:hi], generated[lo:hi]


def check_blocks(window: float, block_s: float) -> int:
    """How many bootstrap blocks cut the window; too many is one error."""
    blocks = math.ceil(window / block_s)
    if blocks > MAX_BLOCKS:
        raise CapplanError(
            f"workload.block_s: {block_s:g} s cuts the {window:g}-s window into {blocks:.3g} "
            f"blocks; at most {MAX_BLOCKS}: use longer blocks"
        )
    return blocks


def resample_blocks(
    rng: np.random.Generator, t: np.ndarray, window: float, block_s: float
) -> tuple[np.ndarray, np.ndarray]:
    """A circular block bootstrap of the window (Politis & Romano 1992): (times, row index).

    The window is read as a circle (its end joins its start). It is cut into
    n = ceil(window / block_s) slots of exactly window / n seconds (block_s, or
    a little less so the slots tile the window with no short last block); each
    slot takes the requests of the arc [s, s + window / n) for a start s drawn
    uniformly on [0, window), wrapping past the end, with their spacing and
    sizes. So every replicate lasts exactly the window, and a request at any
    time of the window falls in a slot's arc with probability (window / n) /
    window each time: n slots give its expected copies exactly 1, and the
    expected request count is the trace's (nothing is cut off at the end).
    """
    n_blocks = max(1, check_blocks(window, block_s))
    if window <= 0 or t.size == 0:
        return t.copy(), np.arange(len(t))
    length = window / n_blocks
    starts = rng.uniform(0.0, window, n_blocks)
    # The window twice in a row: an arc that wraps past the end is one contiguous slice.
    twice = np.concatenate([t, t + window])
    first = np.searchsorted(twice, starts, side="left")
    sizes = np.searchsorted(twice, starts + length, side="left") - first
    # Slot by slot, the members of its arc (vectorised: one pass).
    slot = np.repeat(np.arange(n_blocks), sizes)
    within = np.arange(int(sizes.sum())) - np.repeat(np.cumsum(sizes) - sizes, sizes)
    pos = np.repeat(first, sizes) + within
    times = twice[pos] - starts[slot] + slot * length
    # Rounding must not push the last slot's requests to the window's end (they would be lost).
    times = np.minimum(times, np.nextafter(window, -np.inf))
    sort = np.argsort(times, kind="stable")
    return times[sort], (pos % len(t))[sort]


def trace_copies(
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
