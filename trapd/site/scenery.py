"""Scenery: a remembered box, and when a detection there may be discounted.

The guardrails, in the order they are asked (each has a test in tests/test_site.py):

* a detection at or above ``site.never_discount_above`` always counts;
* it must match an entry (IoU at least :data:`MATCH_IOU`, any category: a COCO model calls the same
  rock person one night and bear the next);
* it must not look like an animal, person or vehicle a person labelled at that place (a protected
  entry: the labelled frame's look of the box, kept apart from the scenery);
* it must still look like the entry (``site.appearance_min``) and its region must not have changed
  against the empty references or the last events (a leopard lying on the rock changes both);
* the entry must be established: a person marked it empty, or it was seen in frames the change test
  found quiet, or nobody labelled it but it was seen, unchanged, in ``site.min_sightings`` events
  over ``site.min_span_min`` minutes and ``site.min_hours`` clock hours.
"""

from __future__ import annotations

from datetime import UTC, datetime

from trapd.config.site import SiteConfig
from trapd.site.memory import Entry, SiteMemory
from trapd.site.pictures import Box, iou

#: A detection is the same place as an entry when their boxes overlap this much.
MATCH_IOU = 0.5
#: Sightings in quiet frames (every cell near a labelled empty reference) that establish an entry.
QUIET_SIGHTINGS = 1


def match(memory: SiteMemory, box: Box, protected: bool = False) -> Entry | None:
    """The scenery entry (or, with ``protected``, the labelled animal's) whose box overlaps this one most, at
    least :data:`MATCH_IOU`."""
    best, best_iou = None, MATCH_IOU
    for entry in memory.entries:
        if entry.protected != protected:
            continue
        overlap = iou(entry.box, box)
        if overlap >= best_iou:
            best, best_iou = entry, overlap
    return best


def established(entry: Entry, config: SiteConfig, guarded: bool) -> bool:
    """Whether an entry may be discounted. Labelled or quiet sightings count only while a change test
    ``guarded`` the frame: scenery memory alone loses the animals the detector misses."""
    if guarded and (entry.labelled_empty or entry.quiet >= QUIET_SIGHTINGS):
        return True
    return (entry.stable >= config.min_sightings
            and entry.last_s - entry.stable_since_s >= config.min_span_min * 60
            and entry.hour_count() >= config.min_hours)


def summary(memory: SiteMemory, config: SiteConfig) -> dict[str, int]:
    """What the memory holds, in the counts `trapd site show` and `trapd eval --sites` print."""
    return {
        "entries": len(memory.entries),
        "established": sum(established(e, config, memory.guarded) and not e.protected for e in memory.entries),
        "protected": sum(e.protected for e in memory.entries),
        "references_labelled": memory.labelled_references(),
        "references_automatic": len(memory.references) - memory.labelled_references(),
    }


def note(category: str, box: Box, entry: Entry) -> str:
    """``scenery: person at [0.61,0.36,0.13,0.26], seen in 14 events since 2026-11-29 21:03 UTC``."""
    where = ",".join(f"{v:.2f}" for v in box)
    if entry.labelled_empty:
        return f"scenery: {category} at [{where}], marked empty by a person"
    try:
        since = datetime.fromtimestamp(entry.first_s, UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (ValueError, OverflowError, OSError):  # a time no clock gives: said as it is
        since = f"{entry.first_s} s"
    why = f"seen in {entry.events} events since {since}"
    return f"scenery: {category} at [{where}], {why}"
