"""What travels between stages besides work, the links they travel on, and the loop every stage runs.

A stage blocks on its inbox (a :class:`Link`), so an armed trap sleeps. Control messages are
handled in one place, :func:`serve`: a :class:`Stop` ends the stage, a :class:`Heartbeat` is
passed on (or, at the last stage, arrives). Everything else is the stage's own work.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from trapd.event import DecidedEvent, OpenEvent
from trapd.frames import Frame, Trigger

log = logging.getLogger(__name__)

#: How often a producer blocked on a full link checks whether its reader has died.
BACKPRESSURE_CHECK_S = 1.0


class Stop:
    """Tells a stage to finish; each passes it on to the next when it ends, however it ends."""


STOP = Stop()


@dataclass(frozen=True, slots=True)
class Heartbeat:
    """Travels capture -> detect -> store like a frame would; arriving proves every stage is alive."""

    on_arrival: Callable[[], None]


class MakeRoom:
    """Asks the store stage to make room now (``storage.when_full: overwrite``)."""


MAKE_ROOM = MakeRoom()


@dataclass(frozen=True, slots=True)
class EventClosed:
    """Sent after an event's last frame: the detect stage may now decide it."""

    event: OpenEvent


#: What each link carries: the capture stage's inbox, the detect stage's, the store stage's.
TriggerMessage = Trigger | Heartbeat | Stop
FrameMessage = Frame | EventClosed | Heartbeat | Stop
EventMessage = DecidedEvent | MakeRoom | Heartbeat | Stop

Item = TypeVar("Item")


class Link(Generic[Item]):
    """A bounded queue from one stage to the next, which knows the thread that reads it.

    A put blocks while the reader is busy, and gives up only once the reader has died. A failure
    elsewhere (a dead capture stage, a dead pre-trigger filler) must not cost what is already
    captured: the readers downstream of it are alive and drain it.
    """

    def __init__(self, maxsize: int, name: str) -> None:
        self.name = name
        self.maxsize = maxsize
        self._queue: queue.Queue[Item] = queue.Queue(maxsize=maxsize)
        #: Set when the pipeline is wired: the thread whose stage reads this link.
        self.reader: threading.Thread | None = None

    def qsize(self) -> int:
        return self._queue.qsize()

    def get(self, timeout_s: float | None = None) -> Item:
        """The next item; blocks (for ever, or ``timeout_s``: then :class:`queue.Empty`)."""
        return self._queue.get(timeout=timeout_s)

    def get_nowait(self) -> Item:
        return self._queue.get_nowait()

    def put(self, item: Item) -> None:
        while True:
            try:
                self._queue.put(item, timeout=BACKPRESSURE_CHECK_S)
                return
            except queue.Full:
                if self.reader is not None and not self.reader.is_alive():
                    log.error("dropping %s: %s has died and nothing reads %s", type(item).__name__,
                              self.reader.name, self.name)
                    return

    def offer(self, item: Item, timeout_s: float = 0.0) -> bool:
        """Put without waiting longer than ``timeout_s``; False if the link stayed full."""
        try:
            self._queue.put(item, timeout=timeout_s) if timeout_s else self._queue.put_nowait(item)
        except queue.Full:
            return False
        return True


class FrameSlots:
    """``pipeline.max_frames_in_flight`` as a count that holds: a full-resolution frame takes a slot before
    the camera fills it, and gives it back once the spool stage has written it and let its pixels go.

    A bounded link alone would not bound them: beside the frames it holds there is the one the spool is
    writing and the one capture holds while it waits to queue it. Taking stops waiting once the thread
    that gives slots back has died: capture then goes on (the link says what it drops).
    """

    def __init__(self, limit: int, returned_by: Link[Any]) -> None:
        self.limit = limit
        self._returned_by = returned_by
        self._taken = 0
        self._changed = threading.Condition()

    @property
    def taken(self) -> int:
        with self._changed:
            return self._taken

    def take(self) -> bool:
        """Wait for a free slot and take it; True if it had to wait (the card is not keeping up)."""
        with self._changed:
            waited = False
            while self._taken >= self.limit:
                waited = True
                if not self._changed.wait(BACKPRESSURE_CHECK_S):
                    reader = self._returned_by.reader
                    if reader is not None and not reader.is_alive():
                        return waited
            self._taken += 1
            return waited

    def give_back(self) -> None:
        with self._changed:
            if self._taken == 0:  # a bug; clamped, it would let one frame more than the bound in, unsaid
                raise RuntimeError("a frame slot was given back that was never taken")
            self._taken -= 1
            self._changed.notify()


def serve(inbox: Link[Any], work: Callable[[Any], None], downstream: Link[Any] | None) -> None:
    """The loop of a stage: block on the inbox, hand each piece of work to ``work``, pass heartbeats
    on (the last stage, with no ``downstream``, is where they arrive), and end at :data:`STOP`."""
    while True:
        item = inbox.get()
        if isinstance(item, Stop):
            return
        if isinstance(item, Heartbeat):
            if downstream is None:
                item.on_arrival()
            else:
                downstream.put(item)
            continue
        work(item)
        # Not held while the stage waits for the next: a frame's pixels go as soon as its work is done.
        del item
