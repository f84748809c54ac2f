"""What a report says, as a list of plain blocks; markdown.py and html.py render them.

Keeping the content apart from the two formats means report.md and
report.html always say the same thing. Text is plain (no markup): each
renderer escapes it for its own format.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from capplan.hardware import HOURS_PER_MONTH
from capplan.report.assumptions import assumptions, case_assumptions
from capplan.report.blocks import Block, Bullets, Code, Heading, Image, Paragraph, Table
from capplan.report.text import (
    as_number,
    chosen,
    dollars,
    num,
    percent,
    seconds,
    slug,
    yes_no,
)
from capplan.report.verdict import verdict
from capplan.scenario import Case, Scenario


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
    blocks += assumptions(scenario, docs, command, version)
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
            note += f" (proven lower bound {dollars(a['lower_bound_cost_per_hour'])}/h)"
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
        f"because their proven lower bound could not beat the best found, "
        f"{s.get('simulations', '–')} simulations, {num(s.get('seconds'))} s; "
        f"{len(doc.get('explored') or [])} candidate "
        f"points simulated while searching (shown in the cost vs latency figure). Proven "
        f"lower bound on cost: {dollars(doc.get('lower_bound_cost_per_hour'))}/h; fluid "
        f"estimate (per-minute whole workers, not a bound): "
        f"{dollars(doc.get('fluid_estimate_cost_per_hour'))}/h."
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
        "configuration, the square the current one; the green line is the proven lower bound "
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
    blocks += case_assumptions(case)
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
