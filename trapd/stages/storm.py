"""The wind-storm limit: at most ``event.max_per_minute`` new events a minute.

Wind and sun-warmed ground can fire a PIR all day; past the limit, new events are dropped and
counted, and the log says so once when the storm starts and once when it calms. Triggers that
extend an open event are never dropped, and scheduled (time-lapse) captures are not a storm.
"""

from __future__ import annotations

import logging
from collections import deque

from trapd.frames import Trigger
from trapd.status import Status

log = logging.getLogger(__name__)

_MINUTE_NS = 60_000_000_000


class StormLimit:
    """Owned by the capture stage (one thread): no lock."""

    def __init__(self, max_per_minute: int, status: Status) -> None:
        self._limit = max_per_minute
        self._status = status
        # Start times (monotonic ns) of the events of the last minute.
        self._recent_events: deque[int] = deque()
        self._limiting = False

    def refuses(self, trigger: Trigger) -> bool:
        """True if this trigger would open one event too many this minute; otherwise it counts as one."""
        if not self._limit or trigger.source == "timelapse":
            return False
        now = trigger.at.monotonic_ns
        while self._recent_events and now - self._recent_events[0] > _MINUTE_NS:
            self._recent_events.popleft()
        if len(self._recent_events) >= self._limit:
            self._status.count("triggers_rate_limited")
            if not self._limiting:
                self._limiting = True
                log.warning("more than %d events a minute (wind?): new triggers dropped until it calms "
                            "(event.max_per_minute)", self._limit)
            return True
        if self._limiting:
            self._limiting = False
            log.info("trigger rate back under %d events a minute", self._limit)
        self._recent_events.append(now)
        return False
