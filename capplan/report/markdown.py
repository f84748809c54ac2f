"""Render report blocks as GitHub-flavoured Markdown (figures as relative links)."""

from __future__ import annotations

from collections.abc import Sequence

from capplan.report.blocks import Block, Bullets, Code, Heading, Image, Paragraph, Table


def _cell(text: str) -> str:
    """A table cell: pipes escaped, no line breaks."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _text(text: str) -> str:
    """Running text: escape what would start HTML or emphasis by accident."""
    return text.replace("<", "&lt;").replace("*", "\\*")


def _table(t: Table) -> str:
    rule = {"l": ":---", "r": "---:"}
    lines = [
        "| " + " | ".join(_cell(h) for h in t.header) + " |",
        "|" + "|".join(rule[a] for a in t.alignment()) + "|",
    ]
    lines += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return "\n".join(lines)


def _block(b: Block) -> str:
    if isinstance(b, Heading):
        return f"{'#' * b.level} {_text(b.text)}"
    if isinstance(b, Paragraph):
        return f"_{_text(b.text)}_" if b.note else _text(b.text)
    if isinstance(b, Bullets):
        return "\n".join(f"- {_text(item)}" for item in b.items)
    if isinstance(b, Code):
        fence = "````" if "```" in b.text else "```"
        return f"{fence}sh\n{b.text}\n{fence}"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Image):
        return f"![{_cell(b.alt)}]({b.path})\n\n_{_text(b.caption)}_"
    raise TypeError(f"unknown report block {b!r}")


def render(blocks: Sequence[Block]) -> str:
    """The whole report.md text."""
    return "\n\n".join(_block(b) for b in blocks) + "\n"
