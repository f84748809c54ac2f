"""The CLI's rich tables: number formatting, and report table blocks rendered in rich."""

from __future__ import annotations

import math
from typing import Any

from rich.table import Table

from capplan.report.blocks import Table as TableBlock


def fmt(value: Any, digits: int = 3) -> str:
    """A number for a table: NaN as '–', floats to `digits` significant digits."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}g}" if abs(value) < 10**digits else f"{value:,.0f}"
    return str(value)


def rich_table(block: TableBlock, title: str) -> Table:
    """A report table block as a rich Table: the same header, rows and alignment."""
    table = Table(title=title)
    for i, (name, align) in enumerate(zip(block.header, block.alignment(), strict=True)):
        justify = "left" if align == "l" else "right"
        table.add_column(name, justify=justify, style="bold" if i == 0 else None)
    for row in block.rows:
        table.add_row(*row)
    return table
