"""Layers point one way: which modules may import what."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "capplan"


def _imports(path: Path) -> set[str]:
    """Modules imported by `path`, leaving out `if TYPE_CHECKING:` blocks (hints only)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    hints = {
        id(node)
        for block in ast.walk(tree)
        if isinstance(block, ast.If) and "TYPE_CHECKING" in ast.unparse(block.test)
        for stmt in block.body
        for node in ast.walk(stmt)
    }
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in hints:
            continue
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def _modules(under: str = "") -> list[Path]:
    return sorted((PACKAGE / under).rglob("*.py"))


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_cli_imports_typer_and_rich(path: Path) -> None:
    if path.relative_to(PACKAGE).parts[0] == "cli":
        return
    ui = {m for m in _imports(path) if m.split(".")[0] in ("typer", "rich", "click")}
    assert not ui, f"{path.name} imports {sorted(ui)}"


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_nothing_below_the_cli_imports_it(path: Path) -> None:
    if path.relative_to(PACKAGE).parts[0] in ("cli", "__main__.py"):  # the entry point runs it
        return
    assert not {m for m in _imports(path) if m.startswith("capplan.cli")}


@pytest.mark.parametrize("path", _modules("engine"), ids=lambda p: p.name)
def test_the_engine_takes_plain_config(path: Path) -> None:
    layers = ("capplan.scenario", "capplan.templates", "capplan.planner", "capplan.report")
    assert not {m for m in _imports(path) if m.startswith(layers)}


def test_rendering_markdown_does_not_import_matplotlib() -> None:
    code = (
        "import sys\n"
        "import capplan.report.content, capplan.report.markdown, capplan.report.html\n"
        "import capplan.report.verdict\n"
        "print(sorted(m for m in ('matplotlib', 'typer', 'rich') if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "[]"
