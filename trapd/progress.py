"""Progress of long jobs (replay, eval, report, export, fsck): a bar with rate and ETA on a terminal, nothing
otherwise, so logs, pipes and cron mail stay clean.

The jobs take a :class:`Progress`: :meth:`Progress.over` wraps a loop, :meth:`Progress.bar` counts
what a loop does not yield one by one, and :meth:`Progress.echo` prints a result line without
tearing the bar. The command line passes :func:`for_terminal`; everything else the silent default.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, TypeVar

Item = TypeVar("Item")


class Bar(AbstractContextManager["Bar"]):
    """Counts done work; silent."""

    def advance(self, done: int = 1) -> None:
        del done

    def __exit__(self, *exc_info: object) -> None:
        return None


class Progress:
    """Silent: the items as they are, and lines printed as they come."""

    def bar(self, total: int | None, what: str) -> Bar:
        del total, what
        return Bar()

    def over(self, items: Iterable[Item], total: int | None, what: str) -> Iterator[Item]:
        """``items`` unchanged, counted; ``what`` names them, e.g. "photos"."""
        with self.bar(total, what) as bar:
            for item in items:
                yield item
                bar.advance()

    def echo(self, line: str) -> None:
        print(line, flush=True)


class _TerminalBar(Bar):
    def __init__(self, total: int | None, what: str) -> None:
        from tqdm import tqdm

        # Cleared when the job ends: the job's own summary line says the rest.
        self._bar: Any = tqdm(total=total, unit=f" {what}", leave=False, dynamic_ncols=True, file=sys.stderr,
                              mininterval=0.2)

    def advance(self, done: int = 1) -> None:
        self._bar.update(done)

    def __exit__(self, *exc_info: object) -> None:
        self._bar.close()


class TerminalProgress(Progress):
    """A tqdm bar on stderr."""

    def bar(self, total: int | None, what: str) -> Bar:
        return _TerminalBar(total, what)

    def echo(self, line: str) -> None:
        from tqdm import tqdm

        tqdm.write(line, file=sys.stdout)


SILENT = Progress()


def for_terminal() -> Progress:
    """A bar when stderr is a terminal, silence when it is not."""
    return TerminalProgress() if sys.stderr.isatty() else SILENT
