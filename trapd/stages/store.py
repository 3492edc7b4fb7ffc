"""The store stage: decided events in, files on disk out.

It writes each event's kept frames and sidecar, atomically (trapd/storage/writer.py), retrying
transient errors, counts what was kept, and then lets the free space make room
(trapd/storage/space.py), so capture never waits for either. It is the last stage: heartbeats
arrive here.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable

from trapd.event import DecidedEvent
from trapd.memory import trim_free_memory
from trapd.stages.messages import EventMessage, Link, MakeRoom, serve
from trapd.status import Counter, Status
from trapd.storage.space import FreeSpace
from trapd.storage.writer import EventWriter, StoredEvent

log = logging.getLogger(__name__)

#: Waits before each retry of an event that could not be written (EIO, a full card being cleared).
STORE_RETRY_DELAYS_S = (0.5, 2.0, 5.0)

EventStoredHook = Callable[[DecidedEvent, StoredEvent], None]


class StoreStage:
    def __init__(self, writer: EventWriter, space: FreeSpace, status: Status, *, events: Link[EventMessage],
                 on_event_stored: EventStoredHook | None = None) -> None:
        self._writer = writer
        self._space = space
        self._status = status
        self._events = events
        self._on_event_stored = on_event_stored

    def run(self) -> None:
        serve(self._events, self._work, None)

    def _work(self, item: DecidedEvent | MakeRoom) -> None:
        if isinstance(item, MakeRoom):
            self._space.make_room()
            return
        stored = self._write_with_retries(item)
        self._space.make_room()
        if stored is None:
            return
        counts: tuple[tuple[Counter, int], ...] = (
            ("frames_kept", stored.kept), ("frames_discarded", stored.discarded), ("frames_flagged", stored.flagged),
            ("frames_audited", stored.audited), ("frames_unfiltered", stored.unfiltered))
        for counter, n in counts:
            self._status.count(counter, n)
        self._status.note_event(item.event_id, (item.last_capture.monotonic_ns - item.opened.monotonic_ns) / 1e9)
        log.info("event %s: %d frames, %d kept, %d discarded (%s) -> %s", item.event_id, len(item.frames),
                 stored.kept, stored.discarded, item.decision.reason, stored.directory)
        if self._on_event_stored is not None:
            self._on_event_stored(item, stored)
        trim_free_memory()

    def _write_with_retries(self, event: DecidedEvent) -> StoredEvent | None:
        for attempt, delay_s in enumerate((*STORE_RETRY_DELAYS_S, None), start=1):
            try:
                return self._writer.write(event)
            except OSError as exc:
                if delay_s is None:
                    self._status.count("storage_errors")
                    self._status.warn(f"event {event.event_id} could not be stored: {exc.strerror or exc}")
                    log.error("event %s could not be stored after %d attempts (%d frames lost): %s",
                              event.event_id, attempt, len(event.frames), exc)
                    return None
                log.warning("event %s: write failed (%s); retrying in %.1f s", event.event_id,
                            exc.strerror or exc, delay_s)
                if exc.errno == errno.ENOSPC:
                    self._space.make_room()  # with overwrite, the retry finds room rather than the same full card
                time.sleep(delay_s)  # a stop must not cut the retries short: the frames are in memory
        return None
