"""`capplan traffic fetch|show`: import a request-rate series from Prometheus, and inspect one."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from capplan.cli import app
from capplan.io import clean_json, write_atomic

traffic_app = typer.Typer(
    no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False
)
app.add_typer(
    traffic_app,
    name="traffic",
    help="Import request rates from Prometheus as a piecewise CSV, and show a series' shape.",
)


@traffic_app.command(
    epilog=(
        "Example: PROM_TOKEN=... capplan traffic fetch --prometheus https://prom.example.com "
        '--query \'sum(rate(istio_requests_total{reporter="destination",'
        'destination_workload="launch-endpoint-id-end-abc123"}[1m]))\' '
        "--start 2026-11-02T00:00:00Z --end 2026-11-09T00:00:00Z --step 60s "
        "--header 'Authorization=Bearer ${PROM_TOKEN}' --out week.csv"
    )
)
def fetch(
    prometheus: Annotated[str, typer.Option("--prometheus", help="Prometheus base URL.")],
    query: Annotated[
        str, typer.Option("--query", help="PromQL returning ONE series of requests/s.")
    ],
    start: Annotated[
        str, typer.Option("--start", help="RFC 3339 time with zone, or Unix seconds.")
    ],
    end: Annotated[str, typer.Option("--end", help="RFC 3339 time with zone, or Unix seconds.")],
    out: Annotated[Path, typer.Option("--out", help="Where to write the time_s,rate CSV.")],
    step: Annotated[
        str, typer.Option("--step", help="Resolution: 60s, 5m, 1h or seconds.")
    ] = "60s",
    header: Annotated[
        list[str] | None,
        typer.Option(
            "--header",
            help="KEY=VALUE sent with each request; VALUE env:NAME or '...${NAME}...' reads "
            "the environment (never printed). Repeatable.",
        ),
    ] = None,
    timeout: Annotated[
        float, typer.Option("--timeout", help="Seconds to wait for each answer.", min=0.001)
    ] = 30.0,
) -> None:
    """Fetch a request-rate series (GET /api/v1/query_range) into a piecewise `time_s,rate` CSV."""
    from capplan import prometheus as prom

    headers, secrets = prom.resolve_headers(header or [])
    request = prom.RangeQuery(
        url=prom.check_url(prometheus),
        query=query,
        start=prom.parse_time(start, "--start"),
        end=prom.parse_time(end, "--end"),
        step=prom.parse_step(step),
        headers=tuple(headers.items()),
        secrets=tuple(secrets),
        timeout=timeout,
    )
    series = prom.fetch_rate_series(request)
    for line in series.warnings:
        print(f"capplan: warning: {line}", file=sys.stderr)
    write_atomic(out, lambda tmp: prom.write_csv(tmp, series))
    print(f"wrote {series.time_s.size} steps to {out}", file=sys.stderr)


@traffic_app.command(epilog="Example: capplan traffic show week.csv --out week.png")
def show(
    file: Annotated[Path, typer.Argument(help="A piecewise time_s,rate CSV.")],
    out: Annotated[Path | None, typer.Option("--out", help="Also plot it to this PNG.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Print a rate series' peak, mean, peak-to-mean and busiest hour; --out plots it."""
    from capplan.traffic import load_rate_file, traffic_figure, traffic_shape

    times, rates = load_rate_file(file)
    shape = traffic_shape(times, rates)
    if out is not None:
        figure = traffic_figure(times, rates, title=file.name)
        write_atomic(out, lambda tmp: figure.savefig(tmp, format="png", dpi=120))
    if as_json:
        print(json.dumps(clean_json(shape.as_dict()), indent=2))
        return
    hours = (shape.end_s - shape.start_s) / 3600
    print(f"{file}: {shape.rows} rows over {hours:.4g} h (from time_s={shape.start_s:g})")
    print(f"peak          {shape.peak:.4g} req/s at time_s={shape.peak_at_s:g}")
    print(f"mean          {shape.mean:.4g} req/s ({shape.requests:,.0f} requests expected)")
    print(f"peak-to-mean  {shape.peak_to_mean:.3g}")
    window = "busiest hour" if shape.busiest_window_s == 3600 else "busiest window"
    print(
        f"{window:<13} {shape.busiest_mean:.4g} req/s mean from time_s={shape.busiest_start_s:g} "
        f"to {shape.busiest_start_s + shape.busiest_window_s:g}"
    )
    if out is not None:
        print(f"plotted to {out}", file=sys.stderr)
