"""What site memory saw in one frame: made when the frame is scored, used when its event is decided.

Small on purpose: a detect stage holds one per frame of an open event (a few KB), not pixels.
"""

from __future__ import annotations

from dataclasses import dataclass

from trapd.site.memory import Entry
from trapd.site.pictures import Box, Grey, SiteThumb


@dataclass(frozen=True, slots=True)
class Sighting:
    """One detection as site memory saw it."""

    #: Its position in the frame's detections.
    index: int
    category: str
    box: Box
    score: float
    #: Its appearance at its own box, and, if it matched remembered scenery, at the entry's box.
    crop: Grey
    entry: Entry | None = None
    entry_crop: Grey | None = None
    #: It matched an entry, still looks like it, and its region did not change.
    unchanged: bool = False
    #: Its region differs from the empty references (or there are none to tell): in a frame a person marked
    #: animal, this is where the animal may be, so this box is protected; the rock beside it is not.
    differs_here: bool = True


@dataclass(frozen=True, slots=True)
class SiteLook:
    taken_s: float
    thumb: SiteThumb
    sightings: tuple[Sighting, ...] = ()
    #: Indices of the detections discounted as scenery, and why, in words.
    scenery: tuple[int, ...] = ()
    scenery_notes: tuple[str, ...] = ()
    #: The change test against the empty references: its largest z (None: too few references).
    change_z: float | None = None
    #: Set when the frame changed: where, in words.
    changed_where: str | None = None
    #: Every cell close to a labelled empty reference: a frame a person would call the empty scene.
    quiet: bool = False
    #: It also differs from the last few events' pictures (no automatic reference is taken from it).
    differs_from_recent: bool = False

    @property
    def changed(self) -> bool:
        return self.changed_where is not None

    def change_reason(self) -> str:
        return f"differs from the site's empty scene at the {self.changed_where} (z {self.change_z:.1f})"
