"""The ``site:`` section: how the trap learns its own scene (trapd/site/).

Defaults come from the fixed-camera sequences in the shared images (BENCHMARKS.md, "Site memory",
has the sweep of each against animal recall and empty rejection, so the trade can be chosen).
"""

from __future__ import annotations

from pydantic import Field

from trapd.config.fields import Section


class SiteConfig(Section):
    enabled: bool = Field(
        True, description="Learn this site's scenery and empty scene, and use them to discard empty frames.")
    never_discount_above: float = Field(
        0.7, ge=0.0, le=1.01,
        description="A detection scoring at or above this always counts, even where scenery was seen. The "
                    "scenery a COCO model keeps on the site sequences scores at most 0.54; 0.7 leaves a margin.")
    min_sightings: int = Field(
        5, ge=1, le=1000,
        description="Scenery nobody labelled needs this many events, its box unchanged all along, ...")
    min_span_min: float = Field(
        15.0, ge=0.0, le=10080.0,
        description="... spread over at least this many minutes. Shorter learns faster and risks an animal "
                    "that rests (10 min lost cat frames on the sequences); longer learns slower.")
    min_hours: int = Field(1, ge=1, le=24, description="... seen in at least this many distinct clock hours.")
    appearance_min: float = Field(
        0.9, ge=0.0, le=1.0,
        description="Scenery must still look the same: normalised correlation of its 32x32 grey sample at "
                    "least this. An animal lying where the rock was changes it.")
    change_z: float = Field(
        3.0, ge=1.0, le=50.0,
        description="The change test keeps a frame when some region differs from every empty reference by "
                    "this many times the references' own variation there (animals measured at 4.4 and up, "
                    "empty frames at most 2.7).")
    max_entries: int = Field(64, ge=1, le=1024, description="Scenery boxes remembered per deployment.")
    forget_after_h: float = Field(
        336.0, ge=1.0, le=8760.0, description="Scenery nobody labelled, unseen this long, is forgotten.")
    max_references: int = Field(
        8, ge=2, le=64, description="Pictures of the empty scene kept for the change test (a person's first).")
    auto_references: bool = Field(
        True,
        description="Take pictures of the empty scene by itself: from time-lapse frames and discarded frames in "
                    "which nothing changed, at most one per auto_reference_gap_min. They only ever keep more "
                    "frames: they never make scenery.")
    auto_reference_gap_min: float = Field(10.0, ge=0.0, le=10080.0,
                                          description="At most one automatic reference per this many minutes.")
    moved_similarity: float = Field(
        0.35, ge=0.0, le=1.0,
        description="The camera counts as moved when the scene's structure matches what it learned this little "
                    "(within a site: 0.49 and up; another view: 0.21 at most) ...")
    moved_events: int = Field(
        3, ge=1, le=100, description="... for this many events in a row; then the memory starts again.")
    save_every_s: float = Field(
        60.0, ge=0.0, le=3600.0,
        description="Write the memory to the card at most this often (and at stop): fewer writes to the card; "
                    "a power cut loses at most this much learning, never the file.")
