"""The spool stage: every captured frame on disk within moments, before anything is decided about it.

Each frame is encoded (trapd/storage/framefile.py: EXIF from its capture time, and its own record
for recovery) and written atomically into ``.trapd/spool/<event>/`` on the storage's own file
system. From then on it survives a power cut or a kill (trapd/storage/recover.py finishes its
event at the next start), and its full-resolution pixels leave memory: the frames waiting for
the detector hold only their low-resolution stream. When the event is decided, the store stage
renames a kept frame into its event folder and unlinks a discarded one: one write per frame.

This runs on its own thread, so capture never waits for the encoder or the card. A frame that
cannot be written (a full card, a failing one) keeps its pixels and goes on: the store stage
tries it again, with its retries, after its event is decided.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from pathlib import Path

from trapd.files import make_dirs_durable, write_atomic
from trapd.frames import Frame
from trapd.stages.messages import EventClosed, FrameMessage, FrameSlots, Link, serve
from trapd.status import Status
from trapd.storage.framefile import FrameEncoder
from trapd.storage.layout import frame_file_name, spool_dir
from trapd.storage.space import FreeSpace
from trapd.threads import run_in_background

log = logging.getLogger(__name__)


class SpoolStage:
    def __init__(self, encoder: FrameEncoder, root: Path, status: Status, space: FreeSpace, *,
                 captured: Link[FrameMessage], spooled: Link[FrameMessage], slots: FrameSlots) -> None:
        self._encoder = encoder
        self._spool = spool_dir(root)
        self._status = status
        self._space = space
        self._captured = captured
        self._spooled = spooled
        self._slots = slots
        self._failing = False

    def run(self) -> None:
        # The JPEG encoder yields its core to capture: the next trigger comes first. Only this stage: its work is
        # in C without the GIL; a thread ranked down while it holds the GIL would make capture wait.
        run_in_background()
        serve(self._captured, self._work, self._spooled)

    def _work(self, item: Frame | EventClosed) -> None:
        if isinstance(item, EventClosed):
            self._spooled.put(item)
            return
        self._spooled.put(self._written(item))
        self._slots.give_back()  # its pixels go when this returns: serve() holds nothing while it waits

    def _written(self, frame: Frame) -> Frame:
        """The frame with its JPEG on disk and its full-resolution pixels let go; as it came if it cannot be."""
        folder = self._spool / frame.event_id
        path = folder / frame_file_name(frame.event_id, frame.index)
        try:
            data = self._encoder.encode(frame)
            if data is None:
                return frame  # an undecodable frame that came with no bytes: nothing to write, flagged downstream
            make_dirs_durable(folder)  # again for each frame: the folder may have been deleted under us
            write_atomic(path, data)
        except OSError as exc:
            self._status.count("spool_errors")
            if not self._failing:
                self._failing = True
                self._status.warn(f"frames could not be written when captured ({exc.strerror or exc}); "
                                  "they wait in memory for their event's store")
                log.error("event %s frame %d not written to %s (%s); kept in memory for its event's store",
                          frame.event_id, frame.index, folder, exc.strerror or exc)
            return frame
        if self._failing:
            self._failing = False
            log.info("frames are written when captured again")
        self._space.note_frame_bytes(len(data))
        return replace(frame, stored_at=path, camera=replace(frame.camera, main=None, original_jpeg=None))
