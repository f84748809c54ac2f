"""A report as plain blocks: what markdown.py and html.py render, each in its own format."""

from __future__ import annotations

from dataclasses import dataclass, field


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
