"""A rich progress bar behind the planner's Progress protocol.

Shown only on a terminal, only once a run has taken more than a second, and
never with --quiet or --json: piped output stays clean.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

SHOW_AFTER_S = 1.0


class RichProgress:
    """Counts simulations; draws the bar once the run has lasted SHOW_AFTER_S."""

    def __init__(self, label: str) -> None:
        self.total = 0
        self.done = 0
        self.started = time.monotonic()
        self._bar = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("simulations"),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        self._task = self._bar.add_task(label, total=0)
        self._shown = False

    def add(self, total: int) -> None:
        self.total += total
        self._bar.update(self._task, total=self.total)
        self._maybe_show()

    def advance(self, n: int = 1) -> None:
        self.done += n
        self._bar.update(self._task, completed=self.done)
        self._maybe_show()

    def _maybe_show(self) -> None:
        if not self._shown and time.monotonic() - self.started > SHOW_AFTER_S:
            self._bar.start()
            self._shown = True

    def close(self) -> None:
        if self._shown:
            self._bar.stop()


@contextmanager
def progress_bar(label: str, enabled: bool) -> Iterator[RichProgress | None]:
    """A RichProgress when enabled and stderr is a terminal, else None."""
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    bar = RichProgress(label)
    try:
        yield bar
    finally:
        bar.close()
