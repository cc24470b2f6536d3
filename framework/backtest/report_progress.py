"""A progress bar for long backtests that costs the runner one int compare per bar.

    with progress(total_bars, enabled=True) as bar:
        for i in range(total_bars):
            ...
            bar.advance()          # or: if i >= bar.next_at: bar.update(i + 1)

``advance`` adds to a counter and compares it with ``next_at``; only then does it look at the
clock, and it redraws at most every ``REFRESH_SECONDS``. The stride between clock checks adapts
to the run's speed so a clock check happens roughly every 20 ms.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

REFRESH_SECONDS = 0.1
CHECK_SECONDS = 0.02
NEVER = 1 << 62


class BarProgress:
    """Counts bars; redraws the rich bar only when ``done`` passes ``next_at``."""

    __slots__ = ("_last", "_progress", "_stride", "_stride_at", "_task", "done", "next_at", "total")

    def __init__(self, total: int, progress: Progress | None = None, task: TaskID | None = None):
        self.total = total
        self.done = 0
        self._progress = progress
        self._task = task
        self._stride = 1
        self._last = self._stride_at = time.monotonic()
        self.next_at = 1 if progress is not None else NEVER

    def advance(self, n: int = 1) -> None:
        self.done += n
        if self.done >= self.next_at:
            self._check()

    def update(self, done: int) -> None:
        """Set the absolute count (for runners that keep their own bar index)."""
        self.done = done
        if done >= self.next_at:
            self._check()

    def _check(self) -> None:
        now = time.monotonic()
        # aim for one clock check every CHECK_SECONDS whatever the bar rate
        elapsed = now - self._stride_at
        if elapsed < CHECK_SECONDS / 2:
            self._stride *= 2
        elif elapsed > CHECK_SECONDS * 2 and self._stride > 1:
            self._stride //= 2
        self._stride_at = now
        self.next_at = self.done + self._stride
        if now - self._last >= REFRESH_SECONDS:
            self._last = now
            self._draw()

    def _draw(self) -> None:
        if self._progress is not None and self._task is not None:
            self._progress.update(self._task, completed=min(self.done, self.total), refresh=True)

    def finish(self) -> None:
        self._draw()


@contextmanager
def progress(
    total_bars: int,
    enabled: bool = True,
    *,
    console: Console | None = None,
    description: str = "backtest",
) -> Iterator[BarProgress]:
    """A :class:`BarProgress` drawn with rich while enabled; a no-op counter otherwise."""
    if not enabled:
        yield BarProgress(total_bars)
        return
    bar = Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("bars"),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        auto_refresh=False,
        transient=False,
    )
    with bar:
        task = bar.add_task(description, total=total_bars)
        counter = BarProgress(total_bars, bar, task)
        try:
            yield counter
        finally:
            counter.finish()
            bar.refresh()
