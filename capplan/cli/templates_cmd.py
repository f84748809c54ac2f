"""`capplan templates validate|show|fetch`: check, inspect and download SGP model templates."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from capplan.cli import app
from capplan.hardware import Prices
from capplan.template_files import load_template_files
from capplan.templates import ModelTemplate

templates_app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(
    templates_app,
    name="templates",
    help="Validate, inspect and fetch SGP model templates (GET /v4/model-templates pages).",
)

Files = Annotated[
    list[Path],
    typer.Argument(help="Template files (a list-response page, a list or one template) or dirs."),
]


def _load(paths: list[Path]) -> list[tuple[Path, list[ModelTemplate]]]:
    return load_template_files(paths)


@templates_app.command(
    epilog="Example: capplan templates validate scenarios/templates/example.json more.json"
)
def validate(files: Files) -> None:
    """Check template files (fields, enums, quantities, worker limits); one line per file."""
    for path, templates in _load(files):
        noun = "template" if len(templates) == 1 else "templates"
        print(f"{path}: {len(templates)} {noun} OK")


def _row(template: ModelTemplate, prices: Prices) -> dict[str, Any]:
    """The fields shown for one template, under their API names."""
    cfg = template.endpoint_config
    return {
        "name": template.name,
        "endpoint_type": template.effective_endpoint_type,
        "model_type": template.model_type,
        "gpu_type": cfg.gpu_type,
        "gpus": cfg.gpus,
        "min_workers": cfg.min_workers,
        "max_workers": cfg.max_workers,
        "per_worker": cfg.per_worker,
        "readiness_initial_delay_seconds": template.bundle_config.readiness_initial_delay_seconds,
        "cost_per_worker_hour": round(template.worker_cost_per_hour(prices), 4),
    }


_WORKER_KEYS = ("min_workers", "max_workers", "per_worker")


def _table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="SGP model templates (prices are assumptions)")
    columns: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
        ("name", lambda r: r["name"]),
        ("endpoint type", lambda r: r["endpoint_type"]),
        ("model type", lambda r: r["model_type"] or "-"),
        ("GPU", lambda r: f"{r['gpus']} × {r['gpu_type']}" if r["gpus"] else "none"),
        ("min/max/per_worker", lambda r: "/".join(str(r[k]) for k in _WORKER_KEYS)),
        ("readiness s", lambda r: str(r["readiness_initial_delay_seconds"])),
        ("$/worker-h", lambda r: f"{r['cost_per_worker_hour']:.2f}"),
    ]
    for title, _ in columns:
        table.add_column(title, no_wrap=True)
    for row in rows:
        table.add_row(*(cell(row) for _, cell in columns))
    return table


@templates_app.command(
    epilog="Example: capplan templates show scenarios/templates/example.json --json"
)
def show(
    file: Annotated[Path, typer.Argument(help="A template file or a directory of them.")],
    as_json: Annotated[
        bool, typer.Option("--json", help="Print a JSON list instead of a table.")
    ] = False,
) -> None:
    """Show each template's endpoint type, GPUs, worker limits, readiness and $/worker-hour."""
    prices = Prices()
    rows = [_row(t, prices) for _, templates in _load([file]) for t in templates]
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    console = Console()
    if not console.is_terminal:
        console = Console(width=200)  # pipes and files: never truncate the table
    console.print(_table(rows))


@templates_app.command(
    epilog=(
        "Example: SGP_API_KEY=... capplan templates fetch --out templates.json "
        "--base-url https://api.egp.scale.com --page-size 100"
    )
)
def fetch(
    out: Annotated[Path, typer.Option("--out", help="Where to write the page of templates.")],
    base_url: Annotated[
        str | None, typer.Option("--base-url", help="SGP API URL (default: the SDK's).")
    ] = None,
    account_id: Annotated[
        str | None, typer.Option("--account-id", help="Only this account's templates.")
    ] = None,
    page_size: Annotated[int, typer.Option("--page-size", help="Templates per request.")] = 100,
) -> None:
    """Download every model template from SGP (key from SGP_API_KEY) into one page file."""
    from capplan.sgp import fetch_to_file

    count = fetch_to_file(out, base_url=base_url, account_id=account_id, page_size=page_size)
    print(f"fetched {count} templates to {out}", file=sys.stderr)
