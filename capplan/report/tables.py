"""The report's tables, built once from the typed document.

`config_table` is the one comparison table of current / rule of thumb /
recommended (or best achievable): the CLI prints it (rendered with rich) and
report.md / report.html show it, so the two always show the same rows.
"""

from __future__ import annotations

import math

from capplan.hardware import HOURS_PER_MONTH
from capplan.planner.recommendation import (
    Alternative,
    BestAchievable,
    Evidence,
    Knobs,
    Recommendation,
)
from capplan.report.blocks import Paragraph, Table
from capplan.report.text import as_number, dollars, num, percent, seconds, yes_no

CONFIG_ROWS = (
    "GPU",
    "min / max / per_worker",
    "latency p99",
    "TTFT p99",
    "error rate",
    "mean workers",
    "$ / hour",
    "$ / month",
    "meets SLO",
)


def gpu_text(cfg: Knobs | Alternative) -> str:
    return f"{cfg.gpus}× {cfg.gpu_type}" if cfg.gpu_type else "CPU only"


def knobs_text(cfg: Knobs | Alternative) -> str:
    return f"{cfg.min_workers} / {cfg.max_workers} / {cfg.per_worker}"


def metric(cfg: Evidence | BestAchievable, key: str) -> float | None:
    """A metric of a configuration: over its replications, or a searched point's one run."""
    if isinstance(cfg, Evidence):
        return cfg.metrics.value(key)
    return getattr(cfg, key, None)


def _cells(cfg: Evidence | BestAchievable | None) -> list[str]:
    if cfg is None:
        return ["–"] * len(CONFIG_ROWS)
    cost = as_number(cfg.cost_per_hour)
    meets = yes_no(cfg.meets_slo if isinstance(cfg, Evidence) else False)
    if isinstance(cfg, Evidence) and not cfg.confident:
        meets += " (not confident: no interval)"
    return [
        gpu_text(cfg),
        knobs_text(cfg),
        seconds(metric(cfg, "latency_p99_s")),
        seconds(metric(cfg, "ttft_p99_s")),
        percent(metric(cfg, "error_rate")),
        num(metric(cfg, "mean_workers")),
        dollars(cost),
        dollars(cost * HOURS_PER_MONTH, cents=False),
        meets,
    ]


def config_table(doc: Recommendation) -> Table:
    """Current, rule of thumb and the recommendation (else the best achievable), side by
    side: the rows CONFIG_ROWS, one column each; for the llm service kind, also each
    configuration's KV cache and batch limit per worker."""
    label, cfg = doc.chosen()
    columns = [("current", doc.current), ("rule of thumb", doc.rule_of_thumb), (label, cfg)]
    cells = [_cells(c) for _, c in columns]
    rows = tuple((name, *(c[i] for c in cells)) for i, name in enumerate(CONFIG_ROWS))
    if any(_engine(c) for _, c in columns):
        rows += tuple(
            (name, *(_engine(c).get(key, "–") for _, c in columns))
            for name, key in (("KV cache tokens / worker", "kv"), ("max_num_seqs", "seqs"))
        )
    return Table(("", *(name for name, _ in columns)), rows)


def _engine(cfg: Knobs | Alternative | None) -> dict[str, str]:
    """The llm serving engine's limits of a configuration, as text ({} for other kinds)."""
    if cfg is None or cfg.max_num_seqs is None:
        return {}
    kv = "unbounded" if cfg.kv_cache_tokens is None else f"{cfg.kv_cache_tokens:,.0f}"
    return {"kv": kv, "seqs": str(cfg.max_num_seqs)}


def alternatives_table(doc: Recommendation) -> Table | Paragraph:
    if not doc.alternatives:
        return Paragraph("No other GPU type was considered.")
    rows = []
    for a in doc.alternatives:
        has = a.min_workers is not None and a.cost_per_hour is not None
        cost = as_number(a.cost_per_hour)
        note = a.note
        if not has and a.lower_bound_cost_per_hour is not None:
            note += f" (proven lower bound {dollars(a.lower_bound_cost_per_hour)}/h)"
        engine = _engine(a)
        if engine:
            note = f"KV cache {engine['kv']} tokens, max_num_seqs {engine['seqs']}; {note}"
        rows.append(
            (
                gpu_text(a),
                knobs_text(a) if has else "no config",
                _alt_latency(doc, a) if has else "–",
                dollars(cost) if has else "–",
                dollars(cost * HOURS_PER_MONTH, cents=False) if has else "–",
                yes_no(a.meets_slo),
                note.strip(),
            )
        )
    return Table(
        (
            "GPU",
            "min / max / per_worker",
            "latency p99",
            "$ / hour",
            "$ / month",
            "meets SLO",
            "note",
        ),
        tuple(rows),
        ("l", "r", "r", "r", "r", "r", "l"),
    )


def _alt_latency(doc: Recommendation, alt: Alternative) -> str:
    if alt.evidence is not None:
        return seconds(alt.evidence.metrics.latency_p99_s)
    same = ("gpu_type", "gpus", "min_workers", "max_workers", "per_worker")
    for p in doc.explored:  # the search's one-replication point, if it was simulated
        if all(getattr(p, f) == getattr(alt, f) for f in same):
            return f"{seconds(p.latency_p99_s)} (1 rep.)"
    return "–"


def sensitivity_table(doc: Recommendation) -> Table | Paragraph:
    if not doc.sensitivity:
        if doc.recommended is None:
            return Paragraph("No sensitivity analysis: there is no recommendation to stress.")
        return Paragraph("No sensitivity analysis: [planner] sensitivity lists no factor.")
    rows = []
    for e in doc.sensitivity:
        m = e.metrics
        rows.append(
            (
                f"{e.traffic:g}×",
                yes_no(e.meets_slo),
                seconds(m.latency_p99_s),
                seconds(m.ttft_p99_s),
                percent(m.error_rate),
                dollars(e.cost_per_hour),
                e.note,
                dollars(e.needs.cost_per_hour) if e.needs is not None else "–",
            )
        )
    return Table(
        (
            "traffic",
            "meets SLO",
            "latency p99",
            "TTFT p99",
            "error rate",
            "$ / hour",
            "what it needs",
            "then $ / hour",
        ),
        tuple(rows),
        ("l", "r", "r", "r", "r", "r", "l", "r"),
    )


def saving_text(value: float | None) -> str:
    v = as_number(value)
    if not math.isfinite(v):
        return "–"
    return f"${v:,.0f}" if v >= 0 else f"−${-v:,.0f} (costs more)"


def config_text(cfg: Knobs) -> str:
    return f"{gpu_text(cfg)}, {cfg.min_workers}/{cfg.max_workers}/{cfg.per_worker}"


def summary_table(docs: list[Recommendation]) -> Table:
    rows = []
    for doc in docs:
        label, cfg = doc.chosen()
        cur = doc.current
        rows.append(
            (
                doc.template,
                config_text(cur),
                dollars(cur.cost_per_hour * HOURS_PER_MONTH, cents=False),
                yes_no(cur.meets_slo),
                (config_text(cfg) if cfg else "–") + ("" if doc.feasible else f" ({label})"),
                dollars(as_number(cfg.cost_per_hour) * HOURS_PER_MONTH, cents=False)
                if cfg
                else "–",
                "yes" if doc.feasible else "NO",
                saving_text(doc.saving_per_month),
            )
        )
    return Table(
        (
            "template",
            "current",
            "current $/month",
            "current meets SLO",
            "recommended",
            "recommended $/month",
            "feasible",
            "saving $/month",
        ),
        tuple(rows),
        ("l", "l", "r", "r", "l", "r", "r", "r"),
    )
