"""One deployment's site memory at work: look at each frame as it is scored, learn from each decided event.

The same object runs in the daemon's detect stage, in `trapd replay` and `trapd eval`, and under
`trapd learn`, so a site learned one way is judged the same way everywhere.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image

from trapd.config.model import TrapdConfig
from trapd.config.sections import DecisionConfig
from trapd.config.site import SiteConfig
from trapd.decide import keep_floor
from trapd.detect.base import CATEGORIES, DetectionResult
from trapd.event import DecidedEvent
from trapd.frames import Frame, RGBImage
from trapd.motion import Thumbnail
from trapd.site.change import MIN_PICTURES, box_max, where_most, z_map
from trapd.site.look import Sighting, SiteLook
from trapd.site.memory import Entry, Reference, SiteMemory
from trapd.site.persist import load_or_start_again, save_memory, site_file
from trapd.site.pictures import Box, crop, grey, ncc, site_thumb, structure_similarity
from trapd.site.scenery import established, match, note

log = logging.getLogger(__name__)

#: With labelled references: a frame every cell of which is below this z is the empty scene, as a person
#: would mark it (the sweep in BENCHMARKS.md: anything from 1 to 3 gives the same result).
QUIET_Z = 2.0


class SiteFilter:
    def __init__(self, config: SiteConfig, policy: DecisionConfig, memory: SiteMemory, path: Path | None = None,
                 warn: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.memory = memory
        self.path = path
        self._configured_policy = policy
        #: Says a problem once where people look (`trapd status` in the daemon).
        self._warn = warn
        self._dirty = False
        self._saved_at = time.monotonic()

    @property
    def policy(self) -> DecisionConfig:
        """The decision policy, with the thresholds `trapd learn` re-fitted for this deployment. A threshold
        raised above the configured one holds only while the change test can run: the fit counted on it to
        keep the animals it keeps. One lowered (to keep a labelled animal) holds always."""
        learned = self.memory.thresholds
        if not learned:
            return self._configured_policy
        configured = self._configured_policy.thresholds
        guarded = self.memory.guarded
        chosen = {c: v if guarded else min(v, float(getattr(configured, c))) for c, v in learned.items()}
        return self._configured_policy.model_copy(update={"thresholds": configured.model_copy(update=chosen)})

    def look(self, result: DetectionResult, motion_thumbnail: Thumbnail | None, lores: RGBImage | None,
             taken_s: float) -> SiteLook | None:
        """What the memory makes of a scored frame; None when there is nothing to compare (a failed or
        unfiltered detection, no low-resolution frame): such a frame is decided as it always was."""
        if result.status != "ok" or motion_thumbnail is None or lores is None:
            return None
        memory, config = self.memory, self.config
        thumb = site_thumb(motion_thumbnail)
        picture: Image.Image | None = None  # the grey frame, made only once a detection needs a sample of it
        reference_noise, history_noise = memory.reference_noise(), memory.history_noise()
        z_ref = None if reference_noise is None else z_map(thumb, memory.reference_thumbs(), reference_noise)
        z_recent = None if history_noise is None else z_map(thumb, memory.history, history_noise)
        still = z_ref if z_recent is None else z_recent if z_ref is None else np.minimum(z_ref, z_recent)
        change_z = None if z_ref is None else float(z_ref.max())
        policy = self.policy
        floor = min(keep_floor(category, policy) for category in CATEGORIES)
        sightings, scenery, notes = [], [], []
        for index, detection in enumerate(result.detections):
            if detection.score < floor:  # it cannot keep a frame: nothing to discount or learn
                continue
            picture = picture or grey(lores)
            entry = match(memory, detection.bbox)
            entry_crop = None if entry is None else crop(picture, entry.box)
            unchanged = (entry is not None and entry_crop is not None
                         and ncc(entry_crop, entry.crop) >= config.appearance_min
                         and (still is None or box_max(still, entry.box) <= config.change_z))
            differs_here = z_ref is None or box_max(z_ref, detection.bbox) > config.change_z
            sightings.append(Sighting(index, detection.category, detection.bbox, detection.score,
                                      crop(picture, detection.bbox), entry, entry_crop, unchanged, differs_here))
            if (entry is not None and unchanged and detection.score < config.never_discount_above
                    and established(entry, config, guarded=z_ref is not None)
                    and not self._looks_like_a_labelled_animal(picture, detection.bbox)):
                scenery.append(index)
                notes.append(note(detection.category, detection.bbox, entry))
        return SiteLook(
            taken_s, thumb, tuple(sightings), tuple(scenery), tuple(notes), change_z,
            where_most(z_ref) if z_ref is not None and change_z is not None and change_z > config.change_z else None,
            quiet=(z_ref is not None and change_z is not None and memory.labelled_references() >= MIN_PICTURES
                   and change_z < QUIET_Z),
            differs_from_recent=z_recent is not None and float(z_recent.max()) > config.change_z)

    def _looks_like_a_labelled_animal(self, picture: Image.Image, box: Box) -> bool:
        guard = match(self.memory, box, protected=True)
        return guard is not None and ncc(crop(picture, guard.box), guard.crop) >= self.config.appearance_min

    def look_at(self, frame: Frame, result: DetectionResult, motion_thumbnail: Thumbnail | None) -> SiteLook | None:
        """:meth:`look` at a captured or replayed frame; if site memory fails, nothing, and the frame is decided
        as it would be without it: a failure of the memory must never cost an animal, nor stop the trap."""
        try:
            return self.look(result, motion_thumbnail, frame.camera.lores, frame.captured.utc.timestamp())
        except Exception:
            log.exception("site memory failed on event %s frame %d; it is decided without site memory",
                          frame.event_id, frame.index)
            if self._warn is not None:
                self._warn("site memory failed on a frame, which was decided without it; see the log")
            return None

    def learn_from(self, decided: DecidedEvent, looks: Sequence[SiteLook | None]) -> None:
        """:meth:`learn` from a decided event; if that fails, the event is decided and stored all the same, and
        only this lesson is lost."""
        try:
            self.learn(looks, [d.keep for d in decided.decisions], timelapse=decided.capture_method == "timeLapse")
        except Exception:
            log.exception("site memory could not learn from event %s; the trap goes on", decided.event_id)

    def learn(self, looks: Sequence[SiteLook | None], kept: Sequence[bool], *, label: str | None = None,
              timelapse: bool = False) -> None:
        """Learn from one decided event (or one labelled frame): its sightings, perhaps a reference."""
        seen = [(look, keep) for look, keep in zip(looks, kept, strict=True) if look is not None]
        if not seen:
            return
        first = seen[0][0]
        if label is None and self._camera_moved(first):
            return
        if label == "empty":  # a person says this is the site's view: the camera-moved test measures from it
            self._anchor_scene(first)
        counted: set[int] = set()
        for look, _ in seen:
            for sighting in look.sightings:
                self._learn_sighting(look, sighting, label, counted)
        self._maybe_reference(seen, label, timelapse)
        self.memory.push_history(first.thumb)
        self.memory.forget_before(first.taken_s - self.config.forget_after_h * 3600)
        self._dirty = True
        self.save(force=label is not None)

    def _learn_sighting(self, look: SiteLook, sighting: Sighting, label: str | None, counted: set[int]) -> None:
        memory = self.memory
        hour = 1 << int(look.taken_s // 3600 % 24)
        if label not in (None, "empty"):
            self._protect(look, sighting, hour)
            return
        entry, unchanged = sighting.entry, sighting.unchanged
        if entry is not None and not any(e is entry for e in memory.entries):
            entry = None  # the memory was cleared, or the entry evicted, since the frame was scored
        if entry is None:
            entry = match(memory, sighting.box)  # one added earlier in this event
            unchanged = entry is not None
        if entry is None:
            added = Entry(sighting.box, sighting.category, sighting.crop, look.taken_s, look.taken_s, hours=hour,
                          labelled_empty=label == "empty", quiet=int(look.quiet), stable_since_s=look.taken_s)
            memory.add_entry(added, self.config.max_entries)
            counted.add(id(added))
            return
        if id(entry) in counted:
            return
        counted.add(id(entry))
        entry.events += 1
        entry.last_s = max(entry.last_s, look.taken_s)
        entry.hours |= hour
        entry.labelled_empty |= label == "empty"
        entry.quiet += int(look.quiet)
        if unchanged or label == "empty":
            entry.stable += 1
        else:  # its region changed: stability counts again from here, with its new look
            entry.stable, entry.stable_since_s = 1, look.taken_s
            if not entry.labelled_empty and sighting.entry_crop is not None:
                entry.crop = sighting.entry_crop

    def _protect(self, look: SiteLook, sighting: Sighting, hour: int) -> None:
        """A box of a frame a person marked animal, person or vehicle, where the frame differs from the empty
        scene: the animal's look there is kept apart, and nothing that looks like it is ever scenery. The rock
        beside the animal looks as it always does, and stays what it was."""
        scenery = sighting.entry
        if not sighting.differs_here or (scenery is not None and sighting.entry_crop is not None
                                         and ncc(sighting.entry_crop, scenery.crop) >= self.config.appearance_min):
            return
        guard = match(self.memory, sighting.box, protected=True)
        if guard is not None and ncc(sighting.crop, guard.crop) >= self.config.appearance_min:
            guard.last_s, guard.events = max(guard.last_s, look.taken_s), guard.events + 1
            guard.hours |= hour
            return
        self.memory.add_entry(Entry(sighting.box, sighting.category, sighting.crop, look.taken_s, look.taken_s,
                                    hours=hour, protected=True, stable_since_s=look.taken_s), self.config.max_entries)

    def _maybe_reference(self, seen: list[tuple[SiteLook, bool]], label: str | None, timelapse: bool) -> None:
        memory, config = self.memory, self.config
        first = seen[0][0]
        if label == "empty":
            memory.add_reference(Reference(first.thumb, first.taken_s, labelled=True), config.max_references)
            return
        if label is not None or not config.auto_references:
            return
        # Only a scene in which nothing happened: a time-lapse (the PIR was quiet), or frames the filter
        # discarded that match both the references and the last events. A reference only ever keeps more.
        calm = all(not look.changed and not look.differs_from_recent for look, _ in seen)
        due = first.taken_s - memory.last_auto_reference_s >= config.auto_reference_gap_min * 60
        if calm and due and (timelapse or not any(keep for _, keep in seen)) and memory.add_reference(
                Reference(first.thumb, first.taken_s, labelled=False), config.max_references):
            memory.last_auto_reference_s = first.taken_s

    def _anchor_scene(self, look: SiteLook) -> None:
        memory = self.memory
        signature = memory.signature
        if signature is None or structure_similarity(look.thumb, signature) < self.config.moved_similarity:
            memory.signature = look.thumb.copy()
        else:
            memory.follow_scene(look.thumb)
        memory.scene_off = 0

    def _camera_moved(self, look: SiteLook) -> bool:
        """True if the memory was just cleared: the whole scene stopped matching what was learned."""
        memory, config = self.memory, self.config
        signature = memory.signature
        if signature is not None and structure_similarity(look.thumb, signature) < config.moved_similarity:
            memory.scene_off += 1
            if memory.scene_off >= config.moved_events:
                when = datetime.fromtimestamp(look.taken_s, UTC).strftime("%Y-%m-%d %H:%M UTC")
                message = (f"site memory of deployment {memory.deployment} cleared at {when}: the whole scene "
                           f"differed from the one it learned for {config.moved_events} events in a row (was the "
                           "camera moved or re-aimed?); it learns the new view from now on")
                memory.clear(message)
                memory.follow_scene(look.thumb)
                log.warning("%s", message)
                if self._warn is not None:  # said once in `trapd status`, however often it happens
                    self._warn(f"site memory of deployment {memory.deployment} was cleared: the whole scene "
                                   "changed (camera moved or re-aimed?); it learns the new view (trapd site show)")
                self._dirty = True
                self.save(force=True)
                return True
            return False
        memory.scene_off = 0
        memory.follow_scene(look.thumb)
        return False

    def save(self, force: bool = False) -> None:
        """Write the memory if it changed, at most every ``site.save_every_s`` unless forced."""
        if self.path is None or not self._dirty:
            return
        if not force and time.monotonic() - self._saved_at < self.config.save_every_s:
            return
        try:
            save_memory(self.memory, self.path)
        except OSError as exc:  # a full or failing card: the trap goes on; the memory is written when it can be
            log.warning("site memory %s not saved now (%s); trying again later", self.path, exc.strerror or exc)
            return
        self._dirty = False
        self._saved_at = time.monotonic()

    def close(self) -> None:
        """Save what is unsaved; safe to call twice."""
        self.save(force=True)


def site_filter_for(config: TrapdConfig, root: Path | None, warn: Callable[[str], None] | None = None
                    ) -> SiteFilter | None:
    """The deployment's site filter, its memory read from under ``root`` (or held in memory only, without
    one); None when ``site.enabled`` is off."""
    if not config.site.enabled:
        return None
    deployment = config.deployment.id
    path = None if root is None else site_file(root, deployment)
    memory = SiteMemory(deployment) if path is None else load_or_start_again(path, deployment)
    return SiteFilter(config.site, config.decision, memory, path, warn)
