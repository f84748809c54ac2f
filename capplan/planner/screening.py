"""Multi-fidelity search: explore on the busiest windows, confirm on the whole horizon.

On a long horizon (a week of production traffic) most candidates can be
judged on the hours that matter. The planner then explores (the static and
min/max searches, every one-replication probe) on a *screening case*: the
case with `[workload] spans` set to the `screen_windows` busiest windows of
`screen_window_s` (`busiest_windows`), each simulated after
`screen_warmup_s` of the traffic that precedes it. Only the finalists are
confirmed, with fresh replications, on the whole horizon; the current
configuration, the rule of thumb and the sensitivity are simulated on the
whole horizon too.

Which windows. The expected arrival rate is known per minute
(`minute_rates`: analytic for poisson, diurnal and piecewise, the realised
phase path for mmpp, the counts for a trace). The windows are the `k`
non-overlapping stretches of `L` seconds with the most expected requests,
chosen greedily (the busiest first, then the busiest that does not overlap
it, …), all after the workload's own warm-up, then put in time order.

The autoscaler state carried in. Each window starts with the state the whole
run would have there, reached by simulating the traffic before it: the
window's warm-up is the `W` seconds of real traffic that precede it (same
requests as the full run, `capplan.workload.spans`), uncounted, and the
state at the end of each piece carries into the next piece's warm-up. The
alternative, a state computed by a cheap whole-horizon run, would cost a
pass over the week per candidate, which is what screening avoids. Why W =
1 h gets the state right: from an endpoint just deployed (the first piece
starts with min_workers ready, as a full run does at t = 0), scaling up to
the pool the traffic needs takes the HPA's doubling per 15-s sync plus a
cold start (node provisioning 5–15 min, model load, 120 s readiness delay);
from the larger pool of an earlier, busier window, the HPA scales down after
its 300-s stabilisation window (no scale-down rate limit) and drained pods
leave within their grace period (600 s sync); the Celery autoscaler keeps
the highest wanted count of the last 600 s. Each is well inside an hour, and
the HPA's metric forgets the past after its 2-minute window, so after W the
pool and the queue follow the traffic as in the full run. When two windows
are closer than W, the warm-up is the gap itself and the state is exactly
the full run's.

Why a screened pass is let through. A screening run's percentiles are read
at the whole horizon's level (`tail_level`): the spans' percentile at
100 − (100 − p)·N/n, with N requests counted over the whole horizon and n in
the windows (counted on the draws). It is a lower bound of the whole run's
p-th percentile whenever the windows' requests see the latencies they see in
the full run (the proof is in `capplan.workload.spans`). So a configuration
that meets a percentile target on the whole horizon meets it on the screen;
the error budget is relaxed the same way (errors in the windows are at most
the whole run's, over n instead of N requests: budget × N/n). Every
configuration recommended is confirmed on the whole horizon with fresh
replications.

Near ties, and why they are confirmed together. The exploring runs' cost
outside the windows is an estimate (`whole_horizon_cost`), and confirmation
works down the passes by it, stopping once the next estimate is not below the
cheapest confirmed cost. Two passes whose whole-horizon costs differ by less
than the estimate's error can swap places, and the one really cheaper was
then never confirmed. So when the rounds end, every pass not yet confirmed
whose *lower bound* LB on cost is below the cheapest confirmed cost B is
confirmed, all in one batch (`near_ties`), and the pick is the cheapest by
confirmed cost. LB is the windows' measured billed workers with min_workers
outside them (`cost_lower_per_hour`; the HPA and the Celery autoscaler never
bill fewer than min_workers). Confirming can only lower B, so one batch
leaves every unconfirmed pass with LB ≥ B. Failures in that batch are not
bumped (the rounds already walked the bumps), which keeps the extra runs to
the passes that really are near the best.

The argument. Confirmation is the same computation in both searches (the
whole horizon, replications 1..R, the same seeds), so a configuration's
confirmed cost and verdict do not depend on screening. Let P be the
configuration full simulation picks, C* its confirmed cost, and B the
screened search's cheapest confirmed cost at the end (∞ if none). (The
current configuration and the rule of thumb are judged on the same runs in
both modes and may be the pick in either (`cheapest_confirmed`): they lower
both sides alike, so the fallback test may count them in B, and the
argument below carries over to the final picks.) Suppose
P is one of the screened search's passes and B > C*. P was confirmed: had it
not been, LB(P) ≥ B > C*, against the assumption below. It meets the SLO (the
same runs as in the full search), so B ≤ C*: a contradiction. Hence B ≤ C*:
screening picks P or a configuration confirmed no dearer. The one assumption:
LB(P) ≤ C*, i.e. replication 0's billed workers inside the windows (given the
state carried in) exceed the confirming replications' average there by less
than P's pool exceeds min_workers outside them. It holds exactly for a fixed
pool (min = max, LB = cost) and for an autoscaled one unless replication 0 is
much busier in the windows than replications 1..R while the pool sits at
min_workers everywhere else.

When the screen was wrong: the fallback. The screen is lenient by design, so
the screened staircase can find smaller pools that pass on the windows and
fail on the whole horizon, and stop early on their estimated cost
(`capplan.planner.search.autoscaled_search` stops at the min_workers whose
bare cost reaches the cheapest pass); then P may never be explored, and the
bumps (at most `max_bumps` rounds) need not climb back to it. Two generated
two-hour ASYNC scenarios picked 12 % and 36 % dearer that way
(tests/test_screening.py). So when any pass explored on the windows fails its
whole-horizon confirmation (`Search.refuted`), `plan_template` runs the search
again on the whole horizon, the same computation as with screening off, and
its pick is exactly P; the document says so (`fell_back`, with what screening
cost in place of what it saved).

When the search stopped on an estimate: the fallback too. The screened
search's stopping rules compare with the cheapest pass's *estimated*
whole-horizon cost: a candidate whose proven bound reaches it is pruned
(`capplan.planner.search.kept`), and a staircase stops at the min_workers
whose bare cost m × price reaches it (`autoscaled_search`). An estimate below
the pass's true cost stops too early. So each stop records a lower bound on
the cost of every pool it skipped (the proven bound; m × price, since a pool
never bills fewer than min_workers), and when any of them is below B, the
cheapest confirmed cost, the planner falls back as well
(`fallback_reason`).

The guarantee, with both fallbacks. Assume (i) a configuration that passes
replication 0 on the whole horizon passes it on the screen (above); (ii) the
searches' own premises: passing is monotone in min_workers and in
max_workers, and fewer than `stable_workers` never pass; (iii) at a fixed
min_workers, more max_workers never bill fewer workers; (iv) LB(Q) ≤ Q's
confirmed cost (above). Full simulation explores every pass it confirms on
replication 0 of the whole horizon (the search and the bumps alike), so P
passed there, and by (i) passes the screen. Either a stop skipped P: then it
recorded a bound ≤ C*, and without a fallback that bound is ≥ B. Or the
screened search explored a pass Q of P's candidate that costs no more than P
on every replication: when P's min_workers m is below the screened static
pool's size M, the staircase reached m (no stop skipped it) and, by (i) and
(ii), its smallest passing max_workers there is at most P's, so by (iii)
Q = (m, that max) bills no more; when m ≥ M, Q = (M, M) bills exactly M ≤ m
workers. Q was confirmed and met the SLO (B ≤ cost(Q) ≤ C*), or failed (a
refuted pass: the planner falls back), or was never confirmed, and then
LB(Q) ≥ B (near ties) and LB(Q) ≤ cost(Q) ≤ C* by (iv). So without a
fallback B ≤ C*: screening picks P or a configuration confirmed no dearer on
the same replications; with one, the pick is exactly P.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from capplan.planner.config import Config
from capplan.scenario import Case, PlannerSpec
from capplan.workload import horizon, minute_bins

# Screen automatically when the horizon is longer than one day ([planner] screening = "auto").
SCREEN_ABOVE_S = 86400.0
# Screening must simulate at most this share of the horizon, else it saves too little.
MAX_FRACTION = 0.5


@dataclass(frozen=True)
class Screening:
    """The case the search explores on, and what it covers."""

    case: Case
    windows: tuple[tuple[float, float], ...]
    warmup_s: float
    fraction: float  # seconds a screening run simulates / seconds of the whole horizon
    tail_ratio: float  # expected requests counted on the whole horizon / in the windows


def busiest_windows(case: Case, length_s: float, count: int) -> list[tuple[float, float]]:
    """The `count` non-overlapping windows of `length_s` (whole minutes) with the most
    expected requests, after the workload's warm-up, in time order."""
    edges, rates = minute_bins(case.workload, case.seed)
    requests = rates * np.diff(edges)
    width = max(1, int(round(length_s / 60.0)))
    first = int(np.searchsorted(edges, case.workload.warmup_s, side="left"))
    if len(requests) - first < width:
        return []
    cum = np.concatenate(([0.0], np.cumsum(requests)))
    totals = cum[width:] - cum[:-width]  # window starting at bin i
    totals[:first] = -np.inf
    chosen: list[int] = []
    for _ in range(count):
        i = int(np.argmax(totals))
        if not np.isfinite(totals[i]):
            break
        chosen.append(i)
        totals[max(0, i - width + 1) : i + width] = -np.inf  # windows overlapping i
    return [(float(edges[i]), float(edges[min(i + width, len(edges) - 1)])) for i in sorted(chosen)]


def screening_for(case: Case, planner: PlannerSpec) -> Screening | None:
    """The screening case for this template, or None to explore on the whole horizon."""
    whole = horizon(case.workload)
    mode = planner.screening
    if mode == "off" or (mode == "auto" and whole <= SCREEN_ABOVE_S):
        return None
    windows = busiest_windows(case, planner.screen_window_s, planner.screen_windows)
    if not windows:
        return None
    spec = case.workload.model_copy(
        update={"spans": tuple(windows), "span_warmup_s": planner.screen_warmup_s}
    )
    simulated = _simulated_seconds(windows, planner.screen_warmup_s)
    fraction = simulated / whole
    if mode == "auto" and fraction > MAX_FRACTION:
        return None
    ratio = _expected_ratio(case, windows)
    slo = case.slo.model_copy(update={"max_error_rate": min(1.0, case.slo.max_error_rate * ratio)})
    screened = replace(case, workload=spec, slo=slo)
    return Screening(screened, tuple(windows), planner.screen_warmup_s, fraction, ratio)


def _simulated_seconds(windows: list[tuple[float, float]], warmup_s: float) -> float:
    total, prev = 0.0, 0.0
    for a, b in windows:
        total += b - max(a - warmup_s, prev)
        prev = b
    return total


def _expected_ratio(case: Case, windows: list[tuple[float, float]]) -> float:
    """Expected requests counted on the whole horizon per request counted in the windows."""
    edges, rates = minute_bins(case.workload, case.seed)
    requests = rates * np.diff(edges)
    counted = float(requests[edges[:-1] >= case.workload.warmup_s].sum())
    inside = sum(float(requests[(edges[:-1] >= a) & (edges[:-1] < b)].sum()) for a, b in windows)
    return max(1.0, counted / inside) if inside > 0 else 1.0


def lower_bounds(explored: list[tuple[Config, dict]]) -> dict[Config, float]:
    """Each explored configuration's lower bound on its whole-horizon cost per hour:
    the spans' measured cost, min_workers outside them (`whole_horizon_cost`)."""
    return {c: s.get("cost_lower_per_hour", s["cost_per_hour"]) for c, s in explored}


def near_ties(
    todo: dict[str, list[tuple[Config, float]]], lower: dict[Config, float], best: float
) -> list[Config]:
    """The passes not yet confirmed whose lower bound is below `best`, the cheapest
    confirmed cost: taken off `todo` (per GPU type, in place) to be confirmed together.
    Why this keeps the full simulation's pick: the module docstring."""
    taken: list[Config] = []
    for items in todo.values():
        ties = [c for c, _ in items if lower[c] < best]
        items[:] = [(c, cost) for c, cost in items if lower[c] >= best]
        taken.extend(ties)
    return taken


def fallback_reason(refuted: int, skipped: list[float], best: float) -> str | None:
    """Why the screened search must run again on the whole horizon (None: it need not),
    given its refuted passes, the lower bounds of what it skipped on cost, and `best`,
    its cheapest confirmed cost (∞: none). The argument: the module docstring."""
    if refuted:
        return f"{refuted} pass{'es' if refuted > 1 else ''} there failed on the whole horizon"
    below = sum(bound < best for bound in skipped)
    if below:
        return (
            f"the search stopped on an estimated cost before {below} part"
            f"{'s' if below > 1 else ''} of the space whose cost bound is below the pick's"
        )
    return None


def screening_doc(
    screen: Screening | None, explored: int, why: str | None = None
) -> dict[str, Any] | None:
    """What the recommendation says about screening: the windows and what it saved
    (when it fell back, `why`, and what it cost: its exploring runs, on top of a whole
    search)."""
    if screen is None:
        return None
    fell_back = why is not None
    saved = explored * ((-screen.fraction) if fell_back else (1.0 - screen.fraction))
    hours = ", ".join(f"{a / 3600:.1f}–{b / 3600:.1f} h" for a, b in screen.windows)
    if fell_back:
        note = (
            f"explored first on the {len(screen.windows)} busiest windows ({hours}); {why}, "
            "so the search ran again on the whole horizon and the pick is what it found "
            "(screening cost about "
            f"{-saved:.1f} whole-horizon simulations here instead of saving any)"
        )
    else:
        note = (
            f"explored on the {len(screen.windows)} busiest windows ({hours}), each after "
            f"{screen.warmup_s:g} s of the traffic before it: {explored} one-replication runs "
            f"of {screen.fraction:.1%} of the horizon each, about {saved:.1f} whole-horizon "
            "simulations saved; the finalists, the current configuration, the rule of "
            "thumb and the sensitivity were simulated on the whole horizon"
        )
    return {
        "windows_s": [list(w) for w in screen.windows],
        "warmup_s": screen.warmup_s,
        "simulated_fraction": round(screen.fraction, 4),
        "tail_ratio": round(screen.tail_ratio, 3),
        "explored_simulations": explored,
        "full_simulations_saved": round(saved, 1),
        "fell_back": fell_back,
        "note": note,
    }
