"""The detect stage: frames in, decided events out.

It scores each frame as it arrives and, when its event closes, decides keep or discard for every
frame and for the event (trapd/event.py, trapd/decide.py). A detector exception, a malformed
result or an undecodable frame is never "empty": the frame is kept and flagged. If frames pile up
faster than the detector can score them, the excess is passed on unfiltered (kept) rather than
making capture wait.

It owns the records of the events still open: for each frame, its detections, a grey thumbnail
for the motion measure and what site memory saw in it, not its pixels. An event that lasts
minutes costs kilobytes a frame here. It also owns the site memory: each closed event teaches it.
"""

from __future__ import annotations

from trapd.config.sections import DecisionConfig
from trapd.detect.base import DetectionResult, Detector, run_detector
from trapd.event import close_event
from trapd.frames import Frame
from trapd.motion import Thumbnail, thumbnail
from trapd.site.filter import SiteFilter
from trapd.site.look import SiteLook
from trapd.stages.messages import EventClosed, EventMessage, FrameMessage, Link, serve
from trapd.status import Status


class DetectStage:
    def __init__(self, detector: Detector, policy: DecisionConfig, status: Status, *,
                 frames: Link[FrameMessage], events: Link[EventMessage], site: SiteFilter | None = None) -> None:
        self._detector = detector
        self._policy = policy
        self._status = status
        self._frames = frames
        self._events = events
        # Above this many waiting frames the detector is skipped (frames kept unfiltered).
        self._backlog_limit = max(2, frames.maxsize // 2)
        self._site = site
        self._open: dict[str, list[tuple[Frame, DetectionResult, Thumbnail | None, SiteLook | None]]] = {}

    def run(self) -> None:
        try:
            serve(self._frames, self._work, self._events)
        finally:
            if self._site is not None:
                self._site.close()

    def _work(self, item: Frame | EventClosed) -> None:
        if isinstance(item, EventClosed):
            scored = self._open.pop(item.event.event_id, [])
            looks = [look for _, _, _, look in scored]
            site = self._site
            decided = close_event(item.event, [frame for frame, _, _, _ in scored],
                                  [result for _, result, _, _ in scored], [grey for _, _, grey, _ in scored],
                                  self._detector.info, self._policy if site is None else site.policy, looks=looks)
            self._events.put(decided)
            if site is not None:
                site.learn_from(decided, looks)
        else:
            result = self._detect(item)
            grey = thumbnail(item.camera.lores)
            look = None if self._site is None else self._site.look_at(item, result, grey)
            self._open.setdefault(item.event_id, []).append((item.without_pixels(), result, grey, look))

    def _detect(self, frame: Frame) -> DetectionResult:
        waiting = self._frames.qsize()
        if frame.camera.lores is not None and waiting >= self._backlog_limit:
            self._status.count("frames_unfiltered_backlog")
            return DetectionResult("unfiltered", reason=f"detector backlog ({waiting} frames waiting)")
        result = run_detector(self._detector, frame)
        if result.status == "error" and frame.camera.decode_error is None:
            self._status.count("detector_errors")
        return result
