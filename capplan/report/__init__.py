"""Sizing-review reports: report.md, report.html, recommendation.json and figures.

    from capplan.planner import recommend
    from capplan.report import template_figures, write_report

    docs = recommend("scenarios/chat.toml")
    write_report("report/", "scenarios/chat.toml", docs)   # the whole folder, atomically
    figs = template_figures("scenarios/chat.toml", docs[0])  # {name: matplotlib Figure}

The folder is built in a temp folder beside it and moved in only when every
file is written: a run that fails leaves no partial report.
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from capplan.io import atomic_dir
from capplan.planner.recommendation import Recommendation, as_recommendation, recommendation_json
from capplan.report import content, html, markdown
from capplan.report.text import slug
from capplan.scenario import Scenario, load_scenario

DPI = 110
# Figures need matplotlib; they load on first use, so rendering Markdown/HTML
# (content, markdown, html, verdict) never imports it.
_FIGURE_NAMES = (
    "FIGURE_NAMES",
    "cost_by_gpu_figure",
    "cost_latency_figure",
    "latency_cdf_figure",
    "simulate_configs",
    "template_figures",
    "traffic_figure",
)


def __getattr__(name: str) -> Any:
    if name in _FIGURE_NAMES:
        from capplan.report import figures

        return getattr(figures, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def reproduce_command(
    scenario_path: str | Path | None, out_dir: str | Path, template: str | None = None
) -> str:
    """The one command that regenerates a report: `capplan recommend SCENARIO --out DIR`."""
    args = ["capplan", "recommend", str(scenario_path or "SCENARIO.toml")]
    if template:
        args += ["--template", template]
    return shlex.join([*args, "--out", str(out_dir)])


def capplan_version() -> str:
    """capplan.__version__ (the installed distribution's version)."""
    import capplan

    found = getattr(capplan, "__version__", None)
    if found:
        return str(found)
    # An editable install can expose capplan as a namespace package (no __init__ run).
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("capplan")
    except PackageNotFoundError:
        return "0+unknown"


def write_report(
    out_dir: str | Path,
    scenario: Scenario | str | Path,
    docs: Sequence[Recommendation | Mapping[str, Any]],
    command: str | None = None,
    *,
    dpi: int = DPI,
) -> Path:
    """Write report.md, report.html, recommendation.json and figures/*.png into out_dir.

    docs: what `capplan.planner.recommend` returned for `scenario`, or the same documents
    read back from JSON (recommendation.json is exactly the `--json` output).
    command: the reproduce command printed in the report (default:
    `capplan recommend <scenario file> --out <out_dir>`).
    Atomic: everything is built in a temp folder beside out_dir and moved in at the end.
    """
    scen = scenario if isinstance(scenario, Scenario) else load_scenario(scenario)
    docs = [as_recommendation(d) for d in docs]
    out = Path(out_dir)
    if command is None:
        command = reproduce_command(scen.path, out)
    with atomic_dir(out, owned=("figures",)) as tmp:
        (tmp / "figures").mkdir()
        images = _write_figures(tmp, scen, docs, dpi)
        blocks = content.build(scen, docs, images, command, capplan_version())
        (tmp / "report.md").write_text(markdown.render(blocks), encoding="utf-8")
        page = html.render(
            blocks, lambda rel: (tmp / rel).read_bytes(), f"capplan recommendation: {scen.name}"
        )
        (tmp / "report.html").write_text(page, encoding="utf-8")
        (tmp / "recommendation.json").write_text(recommendation_json(docs) + "\n", encoding="utf-8")
    return out


def _write_figures(
    folder: Path, scenario: Scenario, docs: list[Recommendation], dpi: int
) -> dict[str, dict[str, str]]:
    """Each template's figures as figures/<template>_<figure>.png; {template: {name: path}}."""
    from capplan.report.figures import template_figures

    images: dict[str, dict[str, str]] = {}
    used: set[str] = set()
    for doc in docs:
        stem = slug(doc.template)
        n = 2
        while stem in used:  # two names with the same slug still get their own files
            stem = f"{slug(doc.template)}-{n}"
            n += 1
        used.add(stem)
        paths = images.setdefault(doc.template, {})
        for name, fig in template_figures(scenario, doc).items():
            rel = f"figures/{stem}_{name}.png"
            fig.savefig(folder / rel, dpi=dpi, format="png")
            paths[name] = rel
    return images


__all__ = [
    "FIGURE_NAMES",
    "capplan_version",
    "cost_by_gpu_figure",
    "cost_latency_figure",
    "latency_cdf_figure",
    "reproduce_command",
    "simulate_configs",
    "template_figures",
    "traffic_figure",
    "write_report",
]
