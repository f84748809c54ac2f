"""What a report says, as a list of plain blocks; markdown.py and html.py render them.

Keeping the content apart from the two formats means report.md and
report.html always say the same thing. Text is plain (no markup): each
renderer escapes it for its own format.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from capplan.hardware import (
    GPU_CATALOG,
    HOURS_PER_MONTH,
    TENSOR_PARALLEL_EFFICIENCY,
)
from capplan.planner import SENSITIVITY
from capplan.report.figures import as_number, chosen, gpu_rows
from capplan.scenario import Case, Scenario, ServiceSpec, WorkloadSpec


# ---------------------------------------------------------------- blocks
@dataclass(frozen=True)
class Heading:
    level: int
    text: str
    anchor: str = ""


@dataclass(frozen=True)
class Paragraph:
    text: str
    note: bool = False  # a side remark (rendered smaller / in italics)


@dataclass(frozen=True)
class Bullets:
    items: tuple[str, ...]


@dataclass(frozen=True)
class Code:
    text: str


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    # "l" or "r" per column; the first column is left-aligned labels by default.
    align: tuple[str, ...] = field(default=())

    def alignment(self) -> tuple[str, ...]:
        return self.align or ("l",) + ("r",) * (len(self.header) - 1)


@dataclass(frozen=True)
class Image:
    path: str  # relative to the report folder: figures/<name>.png
    alt: str
    caption: str


Block = Heading | Paragraph | Bullets | Code | Table | Image


# ---------------------------------------------------------------- formatting


def num(value: Any, digits: int = 3) -> str:
    """A number to `digits` significant digits; missing/NaN as '–'."""
    v = as_number(value)
    if math.isnan(v):
        return "–"
    if math.isinf(v):
        return "∞"
    return f"{v:.{digits}g}" if abs(v) < 10**digits else f"{v:,.0f}"


def seconds(value: Any) -> str:
    text = num(value)
    return text if text in ("–", "∞") else f"{text} s"


def dollars(value: Any, cents: bool = True) -> str:
    v = as_number(value)
    if not math.isfinite(v):
        return "–"
    return f"${v:,.2f}" if cents else f"${v:,.0f}"


def price_text(value: float) -> str:
    """$/hour with at least 2 and at most 4 decimals: $1.00, $0.6071."""
    text = f"{value:,.4f}".rstrip("0")
    whole, _, frac = text.partition(".")
    return f"${whole}.{frac.ljust(2, '0')}"


def percent(value: Any) -> str:
    v = as_number(value)
    return "–" if math.isnan(v) else f"{v:.2%}"


def yes_no(value: Any) -> str:
    return "–" if value is None else ("yes" if value else "NO")


def slug(name: str) -> str:
    """A file-name-safe, anchor-safe form of a template name."""
    s = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return s or "template"


def plain(markup: str) -> str:
    """Rich console markup ([bold], [red], [/]) stripped to plain text."""
    from rich.text import Text

    try:
        return Text.from_markup(markup).plain
    except Exception:  # not valid markup after all: drop anything tag-shaped
        return re.sub(r"\[/?[a-z ]*\]", "", markup)


def verdict(doc: Mapping[str, Any]) -> str:
    """The CLI's verdict paragraph, without its rich markup."""
    from capplan.cli.recommend_cmd import verdict as rich_verdict

    try:
        return plain(rich_verdict(dict(doc)))
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        # A document with missing numbers (e.g. a zero or unknown lower bound).
        rec = doc.get("recommended")
        if rec is None:
            return f"No configuration meets the SLO. {doc.get('why', '')}".strip()
        return (
            f"Run {doc['template']} on {rec.get('gpus')}× {rec.get('gpu_type')} with "
            f"min_workers {rec['min_workers']}, max_workers {rec['max_workers']}, "
            f"per_worker {rec['per_worker']}: {dollars(rec.get('cost_per_hour'))}/h."
        )


# ---------------------------------------------------------------- the report
def build(
    scenario: Scenario,
    docs: Sequence[Mapping[str, Any]],
    images: Mapping[str, Mapping[str, str]],
    command: str,
    version: str,
) -> list[Block]:
    """Every block of the report: header, summary, assumptions, one section per template.

    images: {template: {figure name: relative path}}.
    """
    blocks: list[Block] = [
        Heading(1, f"capplan recommendation: {scenario.name}"),
        Paragraph(
            f"Scenario {_scenario_file(scenario)}, {len(docs)} template(s), capplan {version}. "
            "Every number below comes from a discrete-event simulation of the Launch "
            "autoscaler under the assumptions listed in this report; change an assumption "
            "in the scenario file and re-run the command to see its effect."
        ),
        Heading(2, "Reproduce", "reproduce"),
        Paragraph("Run this from the same working directory to regenerate this report:"),
        Code(command),
        Heading(2, "Summary", "summary"),
        _summary_table(docs),
    ]
    blocks += _assumptions(scenario, docs, command, version)
    for doc in docs:
        blocks += _template_section(
            scenario.case(doc["template"]), doc, images.get(doc["template"], {})
        )
    return blocks


def _scenario_file(scenario: Scenario) -> str:
    return str(scenario.path) if scenario.path is not None else f"{scenario.name!r} (in memory)"


def _summary_table(docs: Sequence[Mapping[str, Any]]) -> Table:
    rows = []
    for doc in docs:
        label, cfg = chosen(doc)
        cur = doc["current"]
        rows.append(
            (
                doc["template"],
                _config_text(cur),
                dollars(as_number(cur.get("cost_per_hour")) * HOURS_PER_MONTH, cents=False),
                yes_no(cur.get("meets_slo")),
                (_config_text(cfg) if cfg else "–")
                + ("" if doc.get("feasible") else f" ({label})"),
                dollars(as_number(cfg.get("cost_per_hour")) * HOURS_PER_MONTH, cents=False)
                if cfg
                else "–",
                "yes" if doc.get("feasible") else "NO",
                _saving(doc.get("saving_per_month")),
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


def _saving(value: Any) -> str:
    v = as_number(value)
    if not math.isfinite(v):
        return "–"
    return f"${v:,.0f}" if v >= 0 else f"−${-v:,.0f} (costs more)"


def _config_text(cfg: Mapping[str, Any]) -> str:
    gpu = f"{cfg.get('gpus')}× {cfg.get('gpu_type')}" if cfg.get("gpus") else "CPU only"
    return f"{gpu}, {cfg['min_workers']}/{cfg['max_workers']}/{cfg['per_worker']}"


# ---------------------------------------------------------------- assumptions
def _gpu_types_used(docs: Sequence[Mapping[str, Any]]) -> list[str]:
    used: set[str] = set()
    for doc in docs:
        configs = [doc.get("current"), doc.get("rule_of_thumb"), doc.get("best_achievable")]
        configs += gpu_rows(doc) + list(doc.get("explored") or [])
        used |= {c["gpu_type"] for c in configs if c and c.get("gpu_type")}
    return [name for name in GPU_CATALOG if name in used]


def _assumptions(
    scenario: Scenario, docs: Sequence[Mapping[str, Any]], command: str, version: str
) -> list[Block]:
    prices = scenario.prices
    price_rows = []
    for name in _gpu_types_used(docs):
        price = prices.gpu_per_hour[name]
        default = GPU_CATALOG[name].price_per_hour
        source = "default (public on-demand ballpark)" if price == default else "scenario [costs]"
        spec = GPU_CATALOG[name]
        price_rows.append(
            (
                name,
                price_text(price),
                source,
                f"{spec.memory_gb:g}",
                f"{spec.fp16_tflops:,.0f}",
                f"{spec.bandwidth_gbs:,.0f}",
            )
        )
    sim = scenario.simulation
    planner = scenario.planner
    gpu_types = (
        ", ".join(planner.gpu_types) if planner.gpu_types else "every type that holds the model"
    )
    blocks: list[Block] = [
        Heading(2, "Assumptions", "assumptions"),
        Paragraph(
            "These are inputs, not measurements: prices are ASSUMPTIONS (public on-demand "
            "ballparks unless the scenario's [costs] table overrides them), and speeds of GPU "
            "types other than the reference GPU are derived by ratios (prefill ∝ FP16 "
            "throughput, decode ∝ memory bandwidth)."
        ),
        Table(
            (
                "GPU type",
                "$/GPU-hour (assumption)",
                "source",
                "memory GB",
                "FP16 TFLOPS",
                "bandwidth GB/s",
            ),
            tuple(price_rows),
            ("l", "r", "l", "r", "r", "r"),
        ),
        Bullets(
            (
                f"CPU price (assumption): ${prices.cpu_per_hour:g} per vCPU-hour; memory price "
                f"(assumption): ${prices.memory_gib_per_hour:g} per GiB-hour.",
                f"Month = {HOURS_PER_MONTH} hours.",
                f"Tensor-parallel efficiency (assumption): {TENSOR_PARALLEL_EFFICIENCY:g} of "
                "the speed kept per doubling of GPUs, when a model is spread over more GPUs.",
                f"Seed {scenario.seed}; planner replications {planner.replications} per "
                "confirmed configuration (candidates are explored with 1); SLO judged on the "
                "upper end of each percentile's confidence interval. Figures show "
                "replication 0.",
                f"Planner grid: per_worker {', '.join(map(str, planner.per_worker))}; GPU types "
                f"{gpu_types}; max_workers cap {planner.max_workers_cap}; GPU count may change "
                f"to fit the model: {'yes' if planner.change_gpu_count else 'no'}; sensitivity at "
                f"{', '.join(f'{f:g}×' for f in SENSITIVITY)} traffic.",
                f"Simulation: autoscaler {sim.autoscaler}; gateway retries {sim.max_retries} "
                f"(backoff base {sim.retry_backoff_base:g}, wait {sim.retry_min_wait_s:g}–"
                f"{sim.retry_max_wait_s:g} s, timeout {sim.gateway_timeout_s:g} s); drain grace "
                f"{sim.drain_grace_sync_s:g} s sync / {sim.drain_grace_async_s:g} s async; async "
                f"concurrency cap {sim.async_concurrency_cap}; readiness probe period "
                f"{sim.readiness_probe_period_s:g} s.",
                f"capplan version {version}.",
                f"Reproduce: {command}",
            )
        ),
    ]
    return blocks


def _workload_text(w: WorkloadSpec) -> str:
    if w.kind == "poisson":
        what = f"Poisson arrivals at {w.rate:g} requests/s"
    elif w.kind == "diurnal":
        what = (
            f"diurnal sine from {w.base_rate:g} to {w.peak_rate:g} requests/s, period "
            f"{w.period_s:g} s, peak at {w.peak_at_s:g} s"
        )
    elif w.kind == "mmpp":
        phases = ", ".join(
            f"{r:g}/s for ~{d:g} s"
            for r, d in zip(w.rates or (), w.mean_durations_s or (), strict=True)
        )
        what = f"bursty MMPP with phases {phases}"
    elif w.kind == "trace":
        window = f", from {w.start_s:g} s" + (f" for {w.duration_s:g} s" if w.duration_s else "")
        what = f"trace replay of {Path(str(w.path)).name} × {w.rate_multiplier:g}{window}"
    else:
        what = f"piecewise rate from {Path(str(w.path)).name} × {w.rate_multiplier:g}"
    horizon = (
        "the trace's length" if w.horizon_s is None and w.kind == "trace" else f"{w.horizon:g} s"
    )
    tokens = ""
    if w.context_tokens is not None or w.generated_tokens is not None:
        ctx = w.context_tokens.describe() if w.context_tokens else "–"
        gen = w.generated_tokens.describe() if w.generated_tokens else "–"
        tokens = f"; prompt tokens {ctx}, output tokens {gen}"
    return f"{what}; horizon {horizon}, warm-up {w.warmup_s:g} s excluded{tokens}"


def _service_text(s: ServiceSpec) -> str:
    if s.kind == "tokens":
        figures = (
            f"token-based: prefill {s.prefill_tokens_per_s:g} tokens/s, decode "
            f"{s.decode_tokens_per_s:g} tokens/s, overhead {s.overhead_s:g} s per request"
        )
    else:
        figures = f"latency-based: {s.latency_dist().describe()} s per request"
        figures += f", scales with {s.scales_with} on other GPUs"
    ref = f"{s.reference_gpus or 1}× {s.reference_gpu}" if s.reference_gpu else "CPU"
    return f"{figures}, measured alone (concurrency 1) on {ref}"


def _provisioning(value: float) -> str:
    if value <= 0:
        return "0 s (warm GPU capacity assumed)"
    return f"{value:g} s when no warm capacity"


def _case_assumptions(case: Case) -> list[Block]:
    s, slo = case.service, case.slo
    ec = case.template.endpoint_config
    bc = case.template.bundle_config
    targets = ", ".join(f"{k.removesuffix('_s')} ≤ {v:g} s" for k, v in slo.targets().items())
    return [
        Heading(3, "Workload, service profile and SLO (assumptions)"),
        Bullets(
            (
                f"Endpoint type {case.template.effective_endpoint_type}.",
                f"Workload: {_workload_text(case.workload)}.",
                f"Service profile: {_service_text(s)}.",
                f"Batching alpha {s.batching_alpha:g}: a worker serving k requests runs each at "
                f"1/(1 + {s.batching_alpha:g}·(k − 1)) speed; pod concurrency limit "
                f"{s.concurrency_limit}.",
                f"Cold start (image pull + model load): {s.cold_start.describe()} s (mean "
                f"{s.cold_start.expected:.3g} s); node provisioning "
                f"{_provisioning(s.node_provisioning_s)}; readiness initial delay "
                f"{bc.readiness_initial_delay_seconds} s; high_priority {ec.high_priority}.",
                f"Model memory {num(s.model_memory_gb)} GB (decides which GPU types and "
                "counts fit).",
                f"SLO: {targets or 'no latency target'}; error rate ≤ {slo.max_error_rate:.2%}; "
                f"confidence {slo.confidence:g}.",
            )
        ),
    ]


# ---------------------------------------------------------------- one template
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


def _metric(cfg: Mapping[str, Any], key: str) -> Any:
    metrics = cfg.get("metrics") or {}
    return metrics.get(key, cfg.get(key))


def _cells(cfg: Mapping[str, Any] | None) -> list[str]:
    if not cfg:
        return ["–"] * len(CONFIG_ROWS)
    gpu = f"{cfg.get('gpus')}× {cfg.get('gpu_type')}" if cfg.get("gpus") else "CPU only"
    cost = as_number(cfg.get("cost_per_hour"))
    return [
        gpu,
        f"{cfg['min_workers']} / {cfg['max_workers']} / {cfg['per_worker']}",
        seconds(_metric(cfg, "latency_p99_s")),
        seconds(_metric(cfg, "ttft_p99_s")),
        percent(_metric(cfg, "error_rate")),
        num(_metric(cfg, "mean_workers")),
        dollars(cost),
        dollars(cost * HOURS_PER_MONTH, cents=False),
        yes_no(cfg.get("meets_slo")),
    ]


def _config_table(doc: Mapping[str, Any]) -> Table:
    label, cfg = chosen(doc)
    columns = [("current", doc["current"]), ("rule of thumb", doc["rule_of_thumb"]), (label, cfg)]
    cells = [_cells(c) for _, c in columns]
    rows = tuple((name, *(c[i] for c in cells)) for i, name in enumerate(CONFIG_ROWS))
    return Table(("", *(name for name, _ in columns)), rows)


def _explored_value(doc: Mapping[str, Any], cfg: Mapping[str, Any], key: str) -> Any:
    """A metric of cfg from the search's single-replication points, if it was simulated."""
    fields = ("gpu_type", "gpus", "min_workers", "max_workers", "per_worker")
    for point in doc.get("explored") or []:
        if all(point.get(f) == cfg.get(f) for f in fields):
            return point.get(key)
    return None


def _alternatives_table(doc: Mapping[str, Any]) -> Table | Paragraph:
    alts = doc.get("alternatives") or []
    if not alts:
        return Paragraph("No other GPU type was considered.")
    rows = []
    for a in alts:
        has = a.get("cost_per_hour") is not None and "min_workers" in a
        cost = as_number(a.get("cost_per_hour"))
        note = a.get("note") or ("confirmed with full replications" if a.get("confirmed") else "")
        if not has and a.get("lower_bound_cost_per_hour") is not None:
            note += f" (fluid lower bound {dollars(a['lower_bound_cost_per_hour'])}/h)"
        rows.append(
            (
                f"{a.get('gpus')}× {a.get('gpu_type')}",
                f"{a['min_workers']} / {a['max_workers']} / {a['per_worker']}"
                if has
                else "no config",
                _alt_latency(doc, a) if has else "–",
                dollars(cost) if has else "–",
                dollars(cost * HOURS_PER_MONTH, cents=False) if has else "–",
                yes_no(a.get("meets_slo")),
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


def _alt_latency(doc: Mapping[str, Any], alt: Mapping[str, Any]) -> str:
    value = _metric(alt, "latency_p99_s")
    if value is not None:
        return seconds(value)
    value = _explored_value(doc, alt, "latency_p99_s")
    return f"{seconds(value)} (1 rep.)" if value is not None else "–"


def _sensitivity_table(doc: Mapping[str, Any]) -> Table | Paragraph:
    entries = doc.get("sensitivity") or []
    if not entries:
        return Paragraph("No sensitivity analysis: there is no recommendation to stress.")
    rows = []
    for e in entries:
        m = e.get("metrics") or {}
        rows.append(
            (
                f"{as_number(e.get('traffic')):g}×",
                yes_no(e.get("meets_slo")),
                seconds(m.get("latency_p99_s")),
                seconds(m.get("ttft_p99_s")),
                percent(m.get("error_rate")),
                dollars(e.get("cost_per_hour")),
                e.get("note") or "",
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
        ),
        tuple(rows),
        ("l", "r", "r", "r", "r", "r", "l"),
    )


def _search_text(doc: Mapping[str, Any]) -> str:
    s = doc.get("search") or {}
    return (
        f"{s.get('candidates', '–')} candidates (GPU type × per_worker), "
        f"{s.get('screened_out', '–')} screened out analytically, {s.get('pruned', '–')} skipped "
        f"because their lower bound could not beat the best found, {s.get('simulations', '–')} "
        f"simulations, {num(s.get('seconds'))} s; {len(doc.get('explored') or [])} candidate "
        f"points simulated while searching (shown in the cost vs latency figure). Fluid "
        f"lower bound on cost: {dollars(doc.get('lower_bound_cost_per_hour'))}/h."
    )


FIGURE_CAPTIONS = {
    "traffic": (
        "Traffic and workers over time",
        "Arrivals per minute (top) and, for the current and the proposed configuration, "
        "desired workers, ready workers and cold-starting (provisioning + starting) workers. "
        "Replication 0; both configurations see the same requests; shaded: warm-up.",
    ),
    "latency": (
        "Latency distribution",
        "Empirical CDF of request latency (and time to first token for streaming endpoints), "
        "current vs proposed; dashed red lines mark the SLO targets, dotted lines their "
        "percentile.",
    ),
    "cost_latency": (
        "Cost vs p99 latency of every simulated candidate",
        "Each dot is one simulated configuration (one replication); the star is the proposed "
        "configuration, the square the current one; the green line is the fluid lower bound "
        "on cost, the red line the SLO.",
    ),
    "cost_by_gpu": (
        "Cost per month by GPU type",
        "The best configuration found on each GPU type; 'no config' where none was found "
        "(see the alternatives table for why). The dashed line is the current configuration.",
    ),
}


def _template_section(case: Case, doc: Mapping[str, Any], images: Mapping[str, str]) -> list[Block]:
    name = doc["template"]
    blocks: list[Block] = [
        Heading(2, f"Template {name}", f"template-{slug(name)}"),
        Heading(3, "Verdict"),
        Paragraph(verdict(doc)),
    ]
    if not doc.get("feasible", doc.get("recommended") is not None):
        blocks += _infeasible(doc)
    blocks += [
        Heading(3, "Current, rule of thumb and recommended"),
        Paragraph(
            "Rule of thumb (SGP docs): per_worker = peak concurrent requests / max_workers, "
            "with the template's min_workers and max_workers. Metrics are means over "
            "replications; meets SLO uses the confidence interval's upper end."
        ),
        _config_table(doc),
    ]
    for key in ("traffic", "latency", "cost_latency", "cost_by_gpu"):
        if key in images:
            title, caption = FIGURE_CAPTIONS[key]
            blocks += [Heading(3, title), Image(images[key], f"{name}: {title}", caption)]
    blocks += [
        Heading(3, "Alternatives (best configuration on each other GPU type)"),
        _alternatives_table(doc),
        Heading(3, "Sensitivity to more traffic"),
        _sensitivity_table(doc),
        Heading(3, "Search effort"),
        Paragraph(_search_text(doc)),
    ]
    blocks += _case_assumptions(case)
    return blocks


def _infeasible(doc: Mapping[str, Any]) -> list[Block]:
    best = doc.get("best_achievable")
    why = str(doc.get("why") or "no configuration tried met every SLO target")
    blocks: list[Block] = [
        Heading(3, "No configuration meets the SLO: best achievable"),
        Paragraph(f"Why: {why.rstrip('.')}."),
    ]
    if best:
        monthly = as_number(best.get("cost_per_hour")) * HOURS_PER_MONTH
        blocks.append(
            Bullets(
                (
                    f"Configuration: {_config_text(best)} (min / max / per_worker).",
                    f"p99 latency {seconds(best.get('latency_p99_s'))}, p99 TTFT "
                    f"{seconds(best.get('ttft_p99_s'))}, error rate "
                    f"{percent(best.get('error_rate'))}.",
                    f"Cost {dollars(best.get('cost_per_hour'))}/h "
                    f"({dollars(monthly, cents=False)}/month).",
                    f"Distance from the SLO: {num(best.get('violation'))}× the tightest target "
                    "(1 = on the edge).",
                )
            )
        )
    else:
        blocks.append(Paragraph("No configuration could be simulated usefully; nothing to show."))
    return blocks
