#!/usr/bin/env python3
"""Site memory measured: both eval modes on the shared site sequences, a sweep of every setting, its cost.

    TRAPD_MODELS_DIR=../shared/models python tools/site_bench.py [--sites DIR] [--quick] [--json]

For each setting, `trapd eval --sites` is run in both modes (5 seed empties per site; no labels),
the default config otherwise; and the 45 camera-trap photos, each photo its own site. The detector
runs once per distinct frame (its results are cached by the frame's pixels), so the sweep measures
site memory, not the model. Then the cost of site memory per frame (``look``) and per event
(``learn``) on this machine, and the size of what it keeps.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from trapd.config.model import TrapdConfig
from trapd.detect.base import DetectionResult, Detector
from trapd.detect.build import build_detector
from trapd.frames import Frame
from trapd.site import filter as site_filter
from trapd.site.sites_eval import evaluate_sites, totals

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "images"
SWEEP: list[tuple[str, list[Any]]] = [
    ("min_sightings,min_span_min", [(3, 10), (5, 5), (5, 10), (5, 15), (5, 20), (8, 10), (8, 15)]),
    ("change_z", [2.0, 3.0, 4.0, 6.0]),
    ("never_discount_above", [0.45, 0.5, 0.7, 1.01]),
    ("appearance_min", [0.0, 0.9, 0.98]),
    ("auto_references", [True, False]),
]


class CachedDetector:
    """The real detector, asked once per distinct picture."""

    def __init__(self, inner: Detector) -> None:
        self.inner, self.info = inner, inner.info
        self._seen: dict[bytes, DetectionResult] = {}

    def detect(self, frame: Frame) -> DetectionResult:
        pixels = frame.camera.lores if frame.camera.lores is not None else frame.camera.main
        key = hashlib.sha1(b"" if pixels is None else pixels.tobytes()).digest()
        if key not in self._seen:
            self._seen[key] = self.inner.detect(frame)
        return self._seen[key]

    def close(self) -> None:
        self.inner.close()


def with_site(config: TrapdConfig, **settings: Any) -> TrapdConfig:
    return config.model_copy(update={"site": config.site.model_copy(update=settings)})


def both_modes(sites: Path, detector: Detector, config: TrapdConfig) -> dict[str, Any]:
    seeded = totals(evaluate_sites(sites, detector, config, seed_empties=5))
    none = totals(evaluate_sites(sites, detector, config, seed_empties=0))
    return {
        "seeded_animals": f"{seeded['animals_kept']}/{seeded['animals']}",
        "seeded_empties_rejected": f"{seeded['empties_rejected']}/{seeded['empties']}",
        "none_animals": f"{none['animals_kept']}/{none['animals']}",
        "none_empties_rejected_after_5": f"{none['empties_rejected_after_warm_up']}/{none['empties_after_warm_up']}",
    }


def camera_trap(photos: Path, detector: Detector, config: TrapdConfig) -> str:
    """Each photo its own site, as `eval --sites` would judge a folder of one-photo sites."""
    import csv
    import tempfile

    with (photos / "ground_truth.csv").open(newline="") as stream:
        rows = list(csv.DictReader(stream))
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        lines = ["site,file,label"]
        for i, row in enumerate(rows):
            (root / f"s{i:02d}").mkdir()
            (root / f"s{i:02d}" / row["file"]).symlink_to((photos / row["file"]).resolve())
            lines.append(f"s{i:02d},{row['file']},{row['label']}")
        (root / "labels.csv").write_text("\n".join(lines) + "\n")
        summed = totals(evaluate_sites(root, detector, config))
    return (f"{summed['animals_kept']}/{summed['animals']} kept, "
            f"{summed['empties_rejected']}/{summed['empties']} rejected")


def _timed(method: Callable[..., Any], into: list[float]) -> Callable[..., Any]:
    """``method``, its every call's milliseconds appended to ``into``."""
    def timed(self: Any, *args: Any, **kwargs: Any) -> Any:
        started = time.perf_counter()
        try:
            return method(self, *args, **kwargs)
        finally:
            into.append((time.perf_counter() - started) * 1e3)
    return timed


def cost(sites: Path, detector: Detector, config: TrapdConfig) -> dict[str, Any]:
    looks: list[float] = []
    learns: list[float] = []
    original_look, original_learn = site_filter.SiteFilter.look, site_filter.SiteFilter.learn
    site_filter.SiteFilter.look = _timed(original_look, looks)  # type: ignore[method-assign]
    site_filter.SiteFilter.learn = _timed(original_learn, learns)  # type: ignore[method-assign]
    try:
        results = evaluate_sites(sites, detector, config, seed_empties=5)
    finally:
        site_filter.SiteFilter.look, site_filter.SiteFilter.learn = original_look, original_learn  # type: ignore[method-assign]

    def spread(values: list[float]) -> dict[str, float]:
        ordered = sorted(values)
        return {"median_ms": round(statistics.median(ordered), 2), "p90_ms": round(ordered[int(0.9 * len(ordered))], 2),
                "max_ms": round(ordered[-1], 2)}

    return {"look_per_frame": spread(looks), "learn_per_event": spread(learns),
            "largest_memory_kb": max(r.learned["memory_kb"] for r in results)}


MOVES = [("zamba_tai_TD4", "zamba_cs_Kor_C5"), ("zamba_lope_T37", "zamba_gorongosa_F13"),
         ("zamba_acp_smallcat", "zamba_densepose_chimp"), ("zamba_cs_Kor_C5", "zamba_acp_smallcat")]


def _noting(cleared: list[int]) -> Callable[[str], None]:
    return lambda _: cleared.append(0)


def camera_moved(sites: Path, detector: Detector, config: TrapdConfig) -> list[dict[str, Any]]:
    """One site's sequence, then another's through the same memory (the camera re-aimed): at which event of
    the new view the memory cleared itself, and whether the new view's animals were all kept."""
    from zoneinfo import ZoneInfo

    from trapd.replay import photo_per_event, replay
    from trapd.site.filter import SiteFilter
    from trapd.site.memory import SiteMemory
    from trapd.site.sites_eval import read_site_labels

    labels = read_site_labels(sites / "labels.csv")
    zone = ZoneInfo(config.deployment.timezone)
    moves = []
    for before, after in MOVES:
        cleared: list[int] = []
        memory = SiteFilter(config.site, config.decision, SiteMemory("moved"), warn=_noting(cleared))
        list(replay(sites / before, detector, config, site=memory, events=photo_per_event(sites / before, zone, 60)))
        cleared.clear()
        later = photo_per_event(sites / after, zone, 60)
        kept = total = 0
        for index, (record, _) in enumerate(replay(sites / after, detector, config, site=memory, events=later)):
            if cleared and cleared[0] == 0:
                cleared[0] = index + 1
            for frame, decision in zip(record.frames, record.decisions, strict=True):
                if labels[after].get(frame.camera.source_name or "") not in (None, "empty"):
                    total += 1
                    kept += decision.keep
        moves.append({"from": before, "to": after, "cleared_at_event": cleared[0] if cleared else None,
                      "animals_kept": f"{kept}/{total}"})
    return moves


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sites", type=Path, default=SHARED / "sites")
    parser.add_argument("--photos", type=Path, default=SHARED / "camera-trap")
    parser.add_argument("--quick", action="store_true", help="defaults only, no sweep (for CI)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    config = TrapdConfig()
    detector = CachedDetector(build_detector(config))
    figures: dict[str, Any] = {"default": both_modes(args.sites, detector, config),
                               "camera_trap_photos": camera_trap(args.photos, detector, config),
                               "cost": cost(args.sites, detector.inner, config),
                               "camera_moved": camera_moved(args.sites, detector, config)}
    if not args.quick:
        figures["sweep"] = {}
        for names, values in SWEEP:
            for value in values:
                settings = dict(zip(names.split(","), value if isinstance(value, tuple) else (value,), strict=True))
                label = ", ".join(f"{k}={v}" for k, v in settings.items())
                figures["sweep"][label] = both_modes(args.sites, detector, with_site(config, **settings))
    if args.json:
        print(json.dumps(figures))
    else:
        print(json.dumps(figures, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
