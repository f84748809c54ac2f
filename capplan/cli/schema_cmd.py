"""`capplan schema`: the JSON Schema of a document capplan writes."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from capplan.cli import app
from capplan.errors import CapplanError

DOCUMENTS = ("recommendation",)


@app.command("schema")
def schema_command(
    document: Annotated[
        str, typer.Argument(help="Which document: recommendation (the `recommend --json` output).")
    ],
) -> None:
    """Print the JSON Schema of a document capplan writes.

    Example: capplan schema recommendation > recommendation.schema.json
    """
    if document not in DOCUMENTS:
        raise CapplanError(
            f"schema: unknown document {document!r}; allowed: {', '.join(DOCUMENTS)}"
        )
    from capplan.planner.recommendation import schema

    typer.echo(json.dumps(schema(), indent=2))
