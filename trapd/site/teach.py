"""`trapd learn`: a person's labels teach a deployment's site memory.

Frames marked ``empty`` become references of the empty scene and their detections scenery at
once; frames marked ``animal``, ``person`` or ``vehicle`` protect their boxes (where the frame
differs from the empty scene) from ever becoming scenery. The per-category thresholds are then
re-fitted to the deployment: raised until the labelled empty frames' detections no longer keep
them, but only where labelled non-empty frames of that category show how far is safe, and never
past the point where one would be lost; and lowered where a labelled non-empty frame was lost,
down to :data:`LOWEST_FITTED`. Last, every labelled non-empty frame is judged again with what was
learned; if one that was kept before would now be discarded, nothing is changed at all.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from trapd.config.model import TrapdConfig
from trapd.config.sections import DecisionConfig
from trapd.decide import decide_frame
from trapd.detect.base import CATEGORIES, DetectionResult, Detector, run_detector
from trapd.frames import RGBImage, Trigger
from trapd.motion import Thumbnail, thumbnail
from trapd.progress import SILENT, Progress
from trapd.site.filter import SiteFilter
from trapd.site.look import SiteLook
from trapd.timebase import Instant

#: A re-fit never lowers a threshold below this: a labelled animal the detector barely saw must not make
#: the filter keep every frame; the change test is what keeps such an animal.
LOWEST_FITTED = 0.2
#: A threshold no score reaches, even less the unsure margin: it takes a category out of a trial decision.
OUT_OF_REACH = 3.0
#: Scores are fitted to this step.
STEP = 0.01


@dataclass(frozen=True, slots=True)
class Labelled:
    """One labelled photo: where it is, what a person called it, and how it is named in the labels."""

    path: Path
    label: str
    name: str


@dataclass
class Lesson:
    """What one `trapd learn` run did (or, dry, would do)."""

    empty: int = 0
    non_empty: int = 0
    references_before: int = 0
    references: int = 0
    entries_before: int = 0
    entries: int = 0
    protected: int = 0
    thresholds_before: dict[str, float] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    #: Labelled non-empty frames the trap discards even after learning (the detector does not see them).
    still_missed: list[str] = field(default_factory=list)
    #: Labelled non-empty frames kept before that learning would drop: the reason nothing was changed.
    would_drop: list[str] = field(default_factory=list)

    def lines(self, deployment: str, dry_run: bool) -> list[str]:
        verb = "would learn" if dry_run else "learned"
        lines = [f"deployment {deployment}: {verb} from {self.empty} empty and {self.non_empty} non-empty frames: "
                 f"empty references {self.references_before} -> {self.references}, scenery boxes "
                 f"{self.entries_before} -> {self.entries}, {self.protected} boxes protected"]
        changes = [f"{c} {self.thresholds_before[c]:.2f} -> {self.thresholds[c]:.2f}"
                   for c in CATEGORIES if self.thresholds[c] != self.thresholds_before[c]]
        lines.append(f"  thresholds: {', '.join(changes) or 'unchanged'}")
        if self.still_missed:
            lines.append(f"  discarded even so (nothing in the picture the trap can tell apart): "
                         f"{', '.join(self.still_missed[:10])}")
        return lines


@dataclass(frozen=True, slots=True)
class _Seen:
    item: Labelled
    result: DetectionResult
    look: SiteLook | None
    kept_before: bool
    #: What site memory looks at, kept from the one decode: the photo is looked at three times as it learns.
    lores: RGBImage | None
    thumb: Thumbnail | None
    taken_s: float

    def relooked(self, site: SiteFilter) -> _Seen:
        return replace(self, look=site.look(self.result, self.thumb, self.lores, self.taken_s))


def teach(site: SiteFilter, labelled: Sequence[Labelled], detector: Detector, config: TrapdConfig,
          lores_size: tuple[int, int], progress: Progress = SILENT) -> Lesson:
    """Learn from the labels into ``site`` (nothing is saved here). Raises nothing for a labelled animal
    that would be dropped: the memory is left as it was and :attr:`Lesson.would_drop` says which."""
    memory = site.memory
    before = _snapshot(site)
    lesson = Lesson(references_before=len(memory.references), entries_before=len(memory.entries))
    zone = ZoneInfo(config.deployment.timezone)
    ordered = sorted(labelled, key=lambda item: item.label != "empty")  # the empty scene first
    # As the trap judges them before the lesson: what "kept before" means.
    first = [_judge(site, item, detector, lores_size, zone)
             for item in progress.over(ordered, len(ordered), "labelled photos")]
    seen = []
    for s in first:  # one at a time, as the trap learns: each frame against what the ones before taught
        s = s.relooked(site)
        site.learn([s.look], [decide_frame(s.result, site.policy, s.look).keep], label=s.item.label)
        seen.append(s)
    lesson.empty = sum(s.item.label == "empty" for s in seen)
    lesson.non_empty = len(seen) - lesson.empty
    relooked = [s.relooked(site) for s in seen]
    policy = site.policy
    fitted = fit_thresholds(relooked, policy)
    lesson.thresholds_before = {c: float(getattr(policy.thresholds, c)) for c in CATEGORIES}
    lesson.thresholds = fitted
    new_policy = policy.model_copy(update={"thresholds": policy.thresholds.model_copy(update=fitted)})
    for s in relooked:
        if s.item.label == "empty":
            continue
        keep = decide_frame(s.result, new_policy, s.look).keep
        if s.kept_before and not keep:
            lesson.would_drop.append(s.item.name)
        elif not keep:
            lesson.still_missed.append(s.item.name)
    if lesson.would_drop:
        _restore(site, before)
        return lesson
    if fitted != lesson.thresholds_before:
        memory.thresholds_before = memory.thresholds_before or lesson.thresholds_before
        memory.thresholds = fitted
    lesson.references, lesson.entries = len(memory.references), len(memory.entries)
    lesson.protected = sum(e.protected for e in memory.entries)
    memory.note(f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC: learned from {lesson.empty} empty and {lesson.non_empty} "
                f"non-empty labelled frames; thresholds {_pairs(lesson.thresholds_before)} -> {_pairs(fitted)}")
    return lesson


def fit_thresholds(seen: Sequence[_Seen], policy: DecisionConfig) -> dict[str, float]:
    """Per category, one at a time: high enough that the labelled empty frames' detections no longer keep
    them, never so high that a labelled non-empty frame only this category keeps is lost (it is kept at
    ``threshold - unsure_margin``), and lowered, to :data:`LOWEST_FITTED` at most, where one is lost."""
    fitted: dict[str, float] = {c: float(getattr(policy.thresholds, c)) for c in CATEGORIES}
    margin = policy.unsure_margin
    animals = [s for s in seen if s.item.label != "empty"]
    empties = [s for s in seen if s.item.label == "empty" and not (s.look is not None and s.look.changed)]
    for category in CATEGORIES:
        current = fitted[category]
        without = {**fitted, category: OUT_OF_REACH}
        bounds = [best + margin for s in animals
                  if (best := _best(s, category)) is not None and not _kept(s, policy, without)]
        empty_best = [best for s in empties if (best := _best(s, category)) is not None]
        # Raised only as far as labelled non-empty frames show it is safe: with none, nothing says where
        # this site's animals score (the empty frames' boxes become scenery instead).
        wanted = max(current, max(empty_best) + margin + STEP) if empty_best and bounds else current
        if bounds:
            wanted = min(wanted, math.floor(min(bounds) / STEP + 1e-6) * STEP)
        if wanted < current:
            wanted = max(wanted, min(current, LOWEST_FITTED))
        wanted = round(min(1.0, max(0.0, wanted)), 2)
        # Float arithmetic may put a bound a hair above a score (0.8 - 0.1 > 0.7): step down until every
        # labelled frame kept before the raise is still kept.
        kept_now = [s for s in animals if _kept(s, policy, fitted)]
        while wanted > current and not all(_kept(s, policy, {**fitted, category: wanted}) for s in kept_now):
            wanted = round(wanted - STEP, 2)
        fitted[category] = wanted
    return fitted


def _kept(s: _Seen, policy: DecisionConfig, thresholds: dict[str, float]) -> bool:
    trial = policy.model_copy(update={"thresholds": policy.thresholds.model_copy(update=thresholds)})
    return decide_frame(s.result, trial, s.look).keep


def _best(s: _Seen, category: str) -> float | None:
    """The best score of a category among the detections that still count (not scenery)."""
    scenery = s.look.scenery if s.look is not None else ()
    scores = [d.score for i, d in enumerate(s.result.detections) if d.category == category and i not in scenery]
    return max(scores, default=None)


def _judge(site: SiteFilter, item: Labelled, detector: Detector, lores_size: tuple[int, int], zone: ZoneInfo
           ) -> _Seen:
    """Decode, detect and look once, as the trap would have judged the photo before the lesson."""
    from trapd.replay import photo_frame, photo_taken

    taken = photo_taken(item.path, zone).taken.timestamp()
    now = Instant.now()
    frame = photo_frame(item.path, lores_size, "learn", 0, Trigger(now, "manual"), now, full_resolution=False)
    result = run_detector(detector, frame)
    lores, thumb = frame.camera.lores, thumbnail(frame.camera.lores)
    look = site.look(result, thumb, lores, taken)
    return _Seen(item, result, look, decide_frame(result, site.policy, look).keep, lores, thumb, taken)


def _snapshot(site: SiteFilter) -> bytes:
    import io

    from trapd.site.persist import write_memory

    buffer = io.BytesIO()
    write_memory(site.memory, buffer)
    return buffer.getvalue()


def _restore(site: SiteFilter, saved: bytes) -> None:
    import io

    from trapd.site.persist import read_memory

    site.memory = read_memory(io.BytesIO(saved), site.memory.deployment)


def _pairs(thresholds: dict[str, float]) -> str:
    return ", ".join(f"{c} {v:.2f}" for c, v in thresholds.items())
