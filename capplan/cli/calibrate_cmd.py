"""`capplan calibrate FILE...`: an LLM service profile fitted to load-test results."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from capplan.cli import app
from capplan.io import dumps, write_atomic
from capplan.llm.calibrate import Fit, fit, read_levels


@app.command()
def calibrate(
    files: Annotated[
        list[Path],
        typer.Argument(
            help="vllm bench serve --save-result JSON files (one per load level) and/or CSVs "
            "with columns mode,load,input_len,output_len,ttft_ms,tpot_ms."
        ),
    ],
    as_json: Annotated[bool, typer.Option("--json", help="Print the fit as JSON.")] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write a TOML [service] table to this file.")
    ] = None,
    max_num_seqs: Annotated[
        int, typer.Option(min=1, help="The engine's max_num_seqs during the test.")
    ] = 256,
    kv_cache_tokens: Annotated[
        float | None,
        typer.Option(min=1, help="The engine's KV cache in tokens (vLLM logs it); default: ample."),
    ] = None,
) -> None:
    """Fit prefill/decode speeds, batching_alpha and overhead_s by simulating every level."""
    levels = read_levels(files)
    result = fit(
        levels,
        max_num_seqs=max_num_seqs,
        kv_cache_tokens=kv_cache_tokens if kv_cache_tokens is not None else float("inf"),
    )
    if out is not None:
        text = service_toml(result)
        write_atomic(out, lambda tmp: tmp.write_text(text, encoding="utf-8"))
    if as_json:
        print(dumps({"service": result.service(), "levels": result.rows()}))
        return
    _print_table(result)


def service_toml(result: Fit) -> str:
    """A `[service]` table ready to paste into a scenario."""
    lines = ["# Fitted by capplan calibrate from load-test results.", "[service]", 'kind = "llm"']
    lines += [f"{key} = {value!r}" for key, value in result.service().items()]
    return "\n".join(lines) + "\n"


def _print_table(result: Fit) -> None:
    console = Console()
    for key, value in result.service().items():
        console.print(f"{key} = {value}")
    table = Table(title="Measured vs fitted (mean per load level)")
    for col in ("mode", "load", "TTFT ms", "fitted", "error", "TPOT ms", "fitted", "error"):
        table.add_column(col, justify="right")
    for row in result.rows():
        m, f = row["measured"], row["fitted"]
        table.add_row(
            row["mode"],
            f"{row['load']:g}",
            f"{m['ttft_ms']:.1f}",
            f"{f['ttft_ms']:.1f}",
            _rel(f["ttft_ms"], m["ttft_ms"]),
            f"{m['tpot_ms']:.2f}",
            f"{f['tpot_ms']:.2f}",
            _rel(f["tpot_ms"], m["tpot_ms"]),
        )
    console.print(table)


def _rel(fitted: float, measured: float) -> str:
    return f"{(fitted / measured - 1) * 100:+.1f} %" if measured == measured else "–"
