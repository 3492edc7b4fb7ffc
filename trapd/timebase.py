"""Instants that carry both clocks trapd needs.

The monotonic clock orders events and measures delays (it never jumps, even when NTP fixes a
Pi that booted without a real-time clock); the wall clock in UTC names files and goes into
metadata. Both are read together so either can be recovered from the other later.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

#: systemd-timesyncd touches this file once the clock is synchronised (Pi without RTC: not at boot).
TIMESYNC_FLAG = Path("/run/systemd/timesync/synchronized")
#: Names this boot: monotonic times count from it, so a sidecar's monotonic times are comparable only within it.
BOOT_ID_FILE = Path("/proc/sys/kernel/random/boot_id")


@dataclass(frozen=True, slots=True)
class Instant:
    monotonic_ns: int
    utc: datetime

    @classmethod
    def now(cls) -> Instant:
        # Read the monotonic clock first: it is the one delays are measured against.
        monotonic_ns = time.monotonic_ns()
        return cls(monotonic_ns, datetime.fromtimestamp(time.time_ns() / 1e9, tz=UTC))

    def at_monotonic(self, monotonic_ns: int) -> Instant:
        """The instant at another monotonic reading, its wall time derived from this one."""
        return Instant(monotonic_ns, self.utc + timedelta(microseconds=(monotonic_ns - self.monotonic_ns) / 1000))


def parse_utc(text: str) -> datetime:
    """The inverse of :func:`iso_utc` (any ISO 8601 with a zone; a trailing Z is UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def iso_utc(moment: datetime) -> str:
    """``2026-11-21T08:45:12.345678Z``: ISO 8601 in UTC with an explicit zone."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def clock_synced() -> bool | None:
    """True once systemd-timesyncd has synchronised the clock; None where that cannot be known."""
    if TIMESYNC_FLAG.exists():
        return True
    return False if TIMESYNC_FLAG.parent.exists() else None


def boot_id() -> str | None:
    """This boot's id (the monotonic clock counts from it), or None where the kernel does not say."""
    try:
        return BOOT_ID_FILE.read_text().strip()
    except OSError:
        return None
