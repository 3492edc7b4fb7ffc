"""The detect stage: frames in, decided events out.

It scores each frame as it arrives and, when its event closes, decides keep or discard for every
frame and for the event (trapd/event.py, trapd/decide.py). A detector exception, a malformed
result or an undecodable frame is never "empty": the frame is kept and flagged. If frames pile up
faster than the detector can score them, the excess is passed on unfiltered (kept) rather than
making capture wait.

It owns the records of the events still open: for each frame, its detections and a grey thumbnail
for the motion measure, not its pixels. An event that lasts minutes costs kilobytes a frame here.
"""

from __future__ import annotations

from trapd.config.sections import DecisionConfig
from trapd.detect.base import DetectionResult, Detector, run_detector
from trapd.event import close_event
from trapd.frames import Frame
from trapd.motion import Thumbnail, thumbnail
from trapd.stages.messages import EventClosed, EventMessage, FrameMessage, Link, serve
from trapd.status import Status


class DetectStage:
    def __init__(self, detector: Detector, policy: DecisionConfig, status: Status, *,
                 frames: Link[FrameMessage], events: Link[EventMessage]) -> None:
        self._detector = detector
        self._policy = policy
        self._status = status
        self._frames = frames
        self._events = events
        # Above this many waiting frames the detector is skipped (frames kept unfiltered).
        self._backlog_limit = max(2, frames.maxsize // 2)
        self._open: dict[str, list[tuple[Frame, DetectionResult, Thumbnail | None]]] = {}

    def run(self) -> None:
        serve(self._frames, self._work, self._events)

    def _work(self, item: Frame | EventClosed) -> None:
        if isinstance(item, EventClosed):
            scored = self._open.pop(item.event.event_id, [])
            decided = close_event(item.event, [frame for frame, _, _ in scored], [result for _, result, _ in scored],
                                  [grey for _, _, grey in scored], self._detector.info, self._policy)
            self._events.put(decided)
        else:
            result = self._detect(item)
            self._open.setdefault(item.event_id, []).append((item.without_pixels(), result,
                                                             thumbnail(item.camera.lores)))

    def _detect(self, frame: Frame) -> DetectionResult:
        waiting = self._frames.qsize()
        if frame.camera.lores is not None and waiting >= self._backlog_limit:
            self._status.count("frames_unfiltered_backlog")
            return DetectionResult("unfiltered", reason=f"detector backlog ({waiting} frames waiting)")
        result = run_detector(self._detector, frame)
        if result.status == "error" and frame.camera.decode_error is None:
            self._status.count("detector_errors")
        return result
