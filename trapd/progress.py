"""Progress of long jobs (replay, eval, report, export, fsck): a bar with rate and ETA on a terminal, nothing
otherwise, so logs, pipes and cron mail stay clean.

The jobs take a :class:`Progress` and wrap their loops in :meth:`Progress.over`; the command line
passes :func:`for_terminal`, everything else the silent default.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator
from typing import TypeVar

Item = TypeVar("Item")


class Progress:
    """Silent: the items, as they are."""

    def over(self, items: Iterable[Item], total: int | None, what: str) -> Iterator[Item]:
        """``items`` unchanged; ``what`` names them, e.g. "photos"."""
        del total, what
        yield from items


class TerminalProgress(Progress):
    """A tqdm bar on stderr, which it clears when the job ends: the job's own summary line says the rest."""

    def over(self, items: Iterable[Item], total: int | None, what: str) -> Iterator[Item]:
        from tqdm import tqdm

        with tqdm(items, total=total, unit=f" {what}", unit_scale=False, leave=False, dynamic_ncols=True,
                  file=sys.stderr, mininterval=0.2) as bar:
            yield from bar


SILENT = Progress()


def for_terminal() -> Progress:
    """A bar when stderr is a terminal, silence when it is not."""
    return TerminalProgress() if sys.stderr.isatty() else SILENT
