"""What a report says, as a list of plain blocks; markdown.py and html.py render them.

Keeping the content apart from the two formats means report.md and
report.html always say the same thing. Text is plain (no markup): each
renderer escapes it for its own format.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from capplan.hardware import HOURS_PER_MONTH
from capplan.planner.recommendation import Recommendation, as_recommendation
from capplan.report.assumptions import assumptions, case_assumptions
from capplan.report.blocks import Block, Bullets, Code, Heading, Image, Paragraph
from capplan.report.tables import (
    alternatives_table,
    config_table,
    config_text,
    sensitivity_table,
    summary_table,
)
from capplan.report.text import as_number, dollars, num, percent, seconds, slug
from capplan.report.verdict import verdict
from capplan.scenario import Case, Scenario


# ---------------------------------------------------------------- the report
def build(
    scenario: Scenario,
    docs: Sequence[Recommendation | Mapping[str, Any]],
    images: Mapping[str, Mapping[str, str]],
    command: str,
    version: str,
) -> list[Block]:
    """Every block of the report: header, summary, assumptions, one section per template.

    images: {template: {figure name: relative path}}.
    """
    docs = [as_recommendation(d) for d in docs]
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
        summary_table(docs),
    ]
    blocks += assumptions(scenario, docs, command, version)
    for doc in docs:
        blocks += _template_section(scenario.case(doc.template), doc, images.get(doc.template, {}))
    return blocks


def _scenario_file(scenario: Scenario) -> str:
    return str(scenario.path) if scenario.path is not None else f"{scenario.name!r} (in memory)"


def _search_text(doc: Recommendation) -> str:
    s = doc.search
    return (
        f"{s.candidates} candidates (GPU type × per_worker), "
        f"{s.screened_out} screened out analytically, {s.pruned} skipped "
        f"because their proven lower bound could not beat the best found, "
        f"{s.simulations} simulations ({s.sensitivity_simulations} of them for the "
        f"sensitivity to more traffic), {num(s.seconds)} s; "
        f"{len(doc.explored)} candidate "
        f"points simulated while searching (shown in the cost vs latency figure). Proven "
        f"lower bound on cost: {dollars(doc.lower_bound_cost_per_hour)}/h; fluid "
        f"estimate (per-minute whole workers, not a bound): "
        f"{dollars(doc.fluid_estimate_cost_per_hour)}/h."
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


def _template_section(case: Case, doc: Recommendation, images: Mapping[str, str]) -> list[Block]:
    name = doc.template
    blocks: list[Block] = [
        Heading(2, f"Template {name}", f"template-{slug(name)}"),
        Heading(3, "Verdict"),
        Paragraph(verdict(doc)),
    ]
    if not doc.feasible:
        blocks += _infeasible(doc)
    blocks += [
        Heading(3, "Current, rule of thumb and recommended"),
        Paragraph(
            "Rule of thumb (SGP docs): per_worker = peak concurrent requests / max_workers, "
            "with the template's min_workers and max_workers. Metrics are means over "
            "replications; meets SLO uses the one-sided upper confidence limit at the SLO's "
            "confidence. A best achievable configuration shows its one searched replication."
        ),
        config_table(doc),
    ]
    for key in ("traffic", "latency", "cost_latency", "cost_by_gpu"):
        if key in images:
            title, caption = FIGURE_CAPTIONS[key]
            blocks += [Heading(3, title), Image(images[key], f"{name}: {title}", caption)]
    blocks += [
        Heading(3, "Alternatives (best configuration on each other GPU type)"),
        alternatives_table(doc),
        Heading(3, "Sensitivity to more traffic"),
        sensitivity_table(doc),
        Heading(3, "Search effort"),
        Paragraph(_search_text(doc)),
    ]
    blocks += case_assumptions(case)
    return blocks


def _infeasible(doc: Recommendation) -> list[Block]:
    best = doc.best_achievable
    why = doc.why or "no configuration tried met every SLO target"
    blocks: list[Block] = [
        Heading(3, "No configuration meets the SLO: best achievable"),
        Paragraph(f"Why: {why.rstrip('.')}."),
    ]
    if best:
        monthly = as_number(best.cost_per_hour) * HOURS_PER_MONTH
        blocks.append(
            Bullets(
                (
                    f"Configuration: {config_text(best)} (min / max / per_worker).",
                    f"p99 latency {seconds(best.latency_p99_s)}, p99 TTFT "
                    f"{seconds(best.ttft_p99_s)}, error rate "
                    f"{percent(best.error_rate)}.",
                    f"Cost {dollars(best.cost_per_hour)}/h "
                    f"({dollars(monthly, cents=False)}/month).",
                    f"Distance from the SLO: {num(best.violation)}× the tightest target "
                    "(1 = on the edge).",
                )
            )
        )
    else:
        blocks.append(Paragraph("No configuration could be simulated usefully; nothing to show."))
    return blocks
