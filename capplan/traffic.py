"""The shape of a step-rate series (a piecewise `time_s,rate` file): peak, mean, busiest hour.

Each row's rate holds until the next row; the last row holds for the series'
median step (one step of a file written by `capplan traffic fetch`; an hour if
there is one row), so the series covers [time_s[0], time_s[-1] + step).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

HOUR_S = 3600.0


@dataclass(frozen=True)
class TrafficShape:
    """Summary of a step rate; rates in requests/s, times in seconds of the file."""

    rows: int
    start_s: float
    end_s: float
    peak: float
    peak_at_s: float
    mean: float
    peak_to_mean: float
    busiest_window_s: float  # one hour, or the whole series if it is shorter
    busiest_start_s: float
    busiest_mean: float
    requests: float  # expected requests over the series: the integral of the rate

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _edges(times: np.ndarray) -> np.ndarray:
    step = float(np.median(np.diff(times))) if times.size > 1 else HOUR_S
    return np.append(times, times[-1] + step)


def _cumulative(edges: np.ndarray, rates: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Λ(t) = ∫ rate from edges[0] to t, for t within [edges[0], edges[-1]]."""
    area = np.concatenate(([0.0], np.cumsum(np.diff(edges) * rates)))
    i = np.clip(np.searchsorted(edges, t, side="right") - 1, 0, rates.size - 1)
    return area[i] + rates[i] * (t - edges[i])


def busiest_window(times: np.ndarray, rates: np.ndarray, width: float) -> tuple[float, float]:
    """(start, mean rate) of the `width`-second window with the most requests.

    The window integral of a step function is piecewise linear in the window's
    start, with kinks only where the start or the end crosses a step edge, so
    its maximum is at one of those starts: checking them all is exact.
    """
    edges = _edges(times)
    width = min(width, edges[-1] - edges[0])
    last = edges[-1] - width
    starts = np.clip(np.concatenate((edges, edges - width)), edges[0], last)
    area = _cumulative(edges, rates, starts + width) - _cumulative(edges, rates, starts)
    best = int(np.argmax(area))
    return float(starts[best]), float(area[best] / width) if width > 0 else float(rates[0])


def traffic_shape(times: np.ndarray, rates: np.ndarray) -> TrafficShape:
    """Peak, time-weighted mean, peak-to-mean and the busiest hour of a step rate."""
    edges = _edges(times)
    total = float(np.sum(np.diff(edges) * rates))
    span = float(edges[-1] - edges[0])
    mean = total / span
    peak_row = int(np.argmax(rates))
    width = min(HOUR_S, span)
    start, busiest = busiest_window(times, rates, width)
    return TrafficShape(
        rows=int(times.size),
        start_s=float(edges[0]),
        end_s=float(edges[-1]),
        peak=float(rates[peak_row]),
        peak_at_s=float(times[peak_row]),
        mean=mean,
        peak_to_mean=float(rates[peak_row]) / mean if mean > 0 else float("nan"),
        busiest_window_s=width,
        busiest_start_s=start,
        busiest_mean=busiest,
        requests=total,
    )


def traffic_figure(times: np.ndarray, rates: np.ndarray, title: str = "") -> Figure:
    """The step rate over hours, its mean, and the busiest hour shaded."""
    shape = traffic_shape(times, rates)
    edges = _edges(times)
    fig = Figure(figsize=(9, 3.2), layout="constrained")
    ax = fig.add_subplot()
    hours = edges / HOUR_S
    ax.stairs(rates, hours, color="#1f77b4", linewidth=0.8, label="rate")
    ax.axhline(shape.mean, color="#7f7f7f", linestyle="--", linewidth=0.8, label="mean")
    lo = shape.busiest_start_s / HOUR_S
    ax.axvspan(
        lo, lo + shape.busiest_window_s / HOUR_S, color="#d62728", alpha=0.15, label="busiest hour"
    )
    ax.set_xlabel("hours since the start of the file")
    ax.set_ylabel("requests / s")
    ax.set_ylim(bottom=0)
    ax.set_title(title or f"peak {shape.peak:.3g}/s, mean {shape.mean:.3g}/s")
    ax.legend(loc="upper right", fontsize="small")
    return fig


def load_rate_file(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """(times, rates) of a piecewise `time_s,rate` CSV, checked by the workload's own rules."""
    from capplan.workload import load_piecewise

    return load_piecewise(path)
