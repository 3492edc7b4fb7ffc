"""What a deployment's site memory holds, and the bounded ways it changes.

Plain state, no decisions: scenery entries, empty references for the change test, the last few
thumbnails (did a box move?), the scene's signature (was the camera moved?), and the thresholds
`trapd learn` re-fitted. Every collection has a cap, so a year of wind costs what a day does.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from trapd.site.change import MIN_PICTURES, noise_from_pairs, noise_of, pair_distances
from trapd.site.pictures import Box, Cells, Grey, SiteThumb, cell_distance, cell_distances

#: Thumbnails kept for "did it move": spans the last few events.
HISTORY_LENGTH = 4
#: Runs of `trapd learn` remembered in the file (what changed, when).
TEACHINGS_KEPT = 20
#: How fast the scene's signature follows slow change (seasons, a fallen branch): its share per event.
SIGNATURE_RATE = 0.1


@dataclass(slots=True, eq=False)  # compared by identity: its pictures are arrays
class Entry:
    """A box that recurs: where, what the detector called it, how it looked, and when it was seen."""

    box: Box
    category: str
    crop: Grey
    first_s: float
    last_s: float
    events: int = 1
    #: Bitmask of the UTC clock hours it was seen in.
    hours: int = 0
    #: Seen in a frame a person marked empty: scenery at once (while a change test guards it).
    labelled_empty: bool = False
    #: Seen in a frame a person marked animal, person or vehicle: never scenery.
    protected: bool = False
    #: Sightings in frames every cell of which was near a labelled empty reference.
    quiet: int = 0
    #: The last sighting at which its region had changed (or the first), and sightings since, unchanged.
    stable_since_s: float = 0.0
    stable: int = 1

    def hour_count(self) -> int:
        return bin(self.hours).count("1")


@dataclass(slots=True, eq=False)
class Reference:
    """A picture of the empty scene: one a person marked, or one the trap took while nothing changed."""

    thumb: SiteThumb
    taken_s: float
    labelled: bool


@dataclass
class SiteMemory:
    deployment: str
    entries: list[Entry] = field(default_factory=list)
    references: list[Reference] = field(default_factory=list)
    history: list[SiteThumb] = field(default_factory=list)
    signature: SiteThumb | None = None
    #: Events in a row whose whole scene differed from the signature.
    scene_off: int = 0
    last_auto_reference_s: float = float("-inf")
    #: Per-category thresholds `trapd learn` re-fitted for this deployment, and those they replaced.
    thresholds: dict[str, float] = field(default_factory=dict)
    thresholds_before: dict[str, float] = field(default_factory=dict)
    #: One line per `trapd learn` run, and per automatic clear: what happened to this memory.
    teachings: list[str] = field(default_factory=list)
    _reference_noise: Cells | None = field(default=None, repr=False)
    _history_noise: Cells | None = field(default=None, repr=False)
    _history_pairs: npt.NDArray[np.float32] | None = field(default=None, repr=False)

    def reference_thumbs(self) -> list[SiteThumb]:
        return [r.thumb for r in self.references]

    def labelled_references(self) -> int:
        return sum(r.labelled for r in self.references)

    @property
    def guarded(self) -> bool:
        """Enough pictures of the empty scene for the change test to run."""
        return len(self.references) >= MIN_PICTURES

    def reference_noise(self) -> Cells | None:
        if len(self.references) < MIN_PICTURES:
            return None
        if self._reference_noise is None:
            self._reference_noise = noise_of(self.reference_thumbs())
        return self._reference_noise

    def history_noise(self) -> Cells | None:
        if len(self.history) < MIN_PICTURES:
            return None
        if self._history_noise is None:
            if self._history_pairs is None or len(self._history_pairs) != len(self.history):
                self._history_pairs = pair_distances(self.history)
            self._history_noise = noise_from_pairs(self._history_pairs)
        return self._history_noise

    def add_entry(self, entry: Entry, cap: int) -> None:
        """Add, making room by dropping the least recently seen entry no person labelled."""
        if len(self.entries) >= cap:
            victims = [e for e in self.entries if not (e.labelled_empty or e.protected)] or self.entries
            self.entries.remove(min(victims, key=lambda e: e.last_s))
        self.entries.append(entry)

    def add_reference(self, reference: Reference, cap: int) -> bool:
        """Add, making room by dropping the reference most like another (the set stays diverse: day, night,
        seasons). An automatic reference never displaces one a person marked. False if there was no room."""
        if len(self.references) >= cap:
            pool = [r for r in self.references if not r.labelled] or (self.references if reference.labelled else [])
            if not pool:
                return False

            def redundancy(candidate: Reference) -> float:
                return min(float(cell_distance(candidate.thumb, other.thumb).mean())
                           for other in self.references if other is not candidate)
            self.references.remove(min(pool, key=redundancy))
        self.references.append(reference)
        self._reference_noise = None
        return True

    def push_history(self, thumb: SiteThumb) -> None:
        """Add the event's picture; only its distances to the others are computed (an event's worth of work)."""
        old, pairs = self.history, self._history_pairs
        if old and pairs is not None and len(pairs) == len(old):
            distances = cell_distances(thumb, np.stack(old))
            grown = np.full((len(old) + 1, len(old) + 1, *pairs.shape[2:]), np.inf, dtype=np.float32)
            grown[:-1, :-1] = pairs
            grown[-1, :-1] = grown[:-1, -1] = distances
            pairs = grown
        else:
            pairs = None
        drop = max(0, len(old) + 1 - HISTORY_LENGTH)
        self.history = [*old, thumb][drop:]
        self._history_pairs = None if pairs is None else pairs[drop:, drop:]
        self._history_noise = None

    def follow_scene(self, thumb: SiteThumb) -> None:
        self.signature = thumb.copy() if self.signature is None else (
            (1 - SIGNATURE_RATE) * self.signature + SIGNATURE_RATE * thumb).astype(np.float32)

    def forget_before(self, oldest_s: float) -> int:
        """Drop unlabelled entries last seen before ``oldest_s``; how many went."""
        before = len(self.entries)
        self.entries = [e for e in self.entries if e.last_s >= oldest_s or e.labelled_empty or e.protected]
        return before - len(self.entries)

    def clear(self, why: str) -> None:
        """Forget the scene (the camera was moved): entries, references, history, signature, and the thresholds
        labels of the old view re-fitted (they were fitted with its change test, which is gone too)."""
        self.thresholds, self.thresholds_before = {}, {}
        self.entries.clear()
        self.references.clear()
        self.history.clear()
        self.signature = None
        self.scene_off = 0
        self.last_auto_reference_s = float("-inf")
        self._reference_noise = self._history_noise = self._history_pairs = None
        self.note(why)

    def note(self, line: str) -> None:
        self.teachings = [*self.teachings, line][-TEACHINGS_KEPT:]

    def nbytes(self) -> int:
        return (sum(e.crop.nbytes + 96 for e in self.entries) + sum(r.thumb.nbytes for r in self.references)
                + sum(t.nbytes for t in self.history) + (0 if self.signature is None else self.signature.nbytes))
