"""Render report blocks as one self-contained HTML file.

Figures are embedded as base64 data URIs and the stylesheet is inline: no
external asset, script or font, so the file opens offline and can be mailed.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from html import escape

from capplan.report.blocks import Block, Bullets, Code, Heading, Image, Paragraph, Table

CSS = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; margin: 0 auto;
       max-width: 1100px; padding: 1.5em 2em 4em; color: #1b1b1b; line-height: 1.45; }
h1 { border-bottom: 2px solid #1f77b4; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #ccc; padding-bottom: .2em; margin-top: 2.2em; }
h3 { margin-top: 1.6em; }
table { border-collapse: collapse; margin: .8em 0; font-size: .92em; }
th, td { border: 1px solid #d0d0d0; padding: .3em .6em; vertical-align: top; }
th { background: #f0f4f8; }
tr:nth-child(even) td { background: #fafafa; }
td.r, th.r { text-align: right; } td.l, th.l { text-align: left; }
pre { background: #f6f8fa; border: 1px solid #ddd; padding: .7em 1em; overflow-x: auto; }
code { font-family: SFMono-Regular, Consolas, "Liberation Mono", monospace; }
figure { margin: 1em 0; } figure img { max-width: 100%; height: auto; border: 1px solid #eee; }
figcaption, p.note { color: #555; font-size: .9em; }
"""


def _table(t: Table) -> str:
    align = t.alignment()
    head = "".join(
        f'<th class="{a}">{escape(h)}</th>' for h, a in zip(t.header, align, strict=True)
    )
    body = "".join(
        "<tr>"
        + "".join(f'<td class="{a}">{escape(c)}</td>' for c, a in zip(row, align, strict=True))
        + "</tr>"
        for row in t.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _block(b: Block, image_bytes: Callable[[str], bytes]) -> str:
    if isinstance(b, Heading):
        anchor = f' id="{escape(b.anchor)}"' if b.anchor else ""
        return f"<h{b.level}{anchor}>{escape(b.text)}</h{b.level}>"
    if isinstance(b, Paragraph):
        return f'<p class="note">{escape(b.text)}</p>' if b.note else f"<p>{escape(b.text)}</p>"
    if isinstance(b, Bullets):
        return "<ul>" + "".join(f"<li>{escape(i)}</li>" for i in b.items) + "</ul>"
    if isinstance(b, Code):
        return f"<pre><code>{escape(b.text)}</code></pre>"
    if isinstance(b, Table):
        return _table(b)
    if isinstance(b, Image):
        data = base64.b64encode(image_bytes(b.path)).decode("ascii")
        return (
            f'<figure><img src="data:image/png;base64,{data}" alt="{escape(b.alt)}">'
            f"<figcaption>{escape(b.caption)}</figcaption></figure>"
        )
    raise TypeError(f"unknown report block {b!r}")


def render(blocks: Sequence[Block], image_bytes: Callable[[str], bytes], title: str) -> str:
    """The whole report.html; image_bytes(path) returns each figure's PNG bytes."""
    body = "\n".join(_block(b, image_bytes) for b in blocks)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{CSS}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )
