"""`trapd eval --sites DIR`: site memory measured on fixed-camera sequences, one sub-folder per site.

Each site starts with a fresh memory. With ``--seed-empties N`` it first learns from N frames
labelled empty, spread evenly over the sequence (as a person reviewing a card would mark them),
through the same code as `trapd learn`; those frames are not scored. Every other frame is then its
own event, in file-name order, as `trapd replay --event-per-photo` plays it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from trapd.config.model import TrapdConfig
from trapd.decide import decide_frame
from trapd.detect.base import Detector
from trapd.errors import InputError
from trapd.evaluate import read_labels
from trapd.progress import SILENT, Progress
from trapd.site.filter import SiteFilter
from trapd.site.memory import SiteMemory
from trapd.site.scenery import summary
from trapd.site.teach import Labelled, teach

#: "After the first frames": how many frames of each site a memory is given before it is judged.
WARM_UP_FRAMES = 5


@dataclass(frozen=True, slots=True)
class SiteRow:
    file: str
    label: str
    #: Its place in the site's sequence (seeds included).
    index: int
    keep: bool
    #: Kept by the filter without site memory (the same detections, the configured policy).
    kept_today: bool
    by_change: bool
    scenery: bool


@dataclass
class SiteResult:
    site: str
    rows: list[SiteRow] = field(default_factory=list)
    seeds: int = 0
    learned: dict[str, int] = field(default_factory=dict)

    def counts(self) -> dict[str, int]:
        animals = [r for r in self.rows if r.label != "empty"]
        empties = [r for r in self.rows if r.label == "empty"]
        later = [r for r in empties if r.index >= WARM_UP_FRAMES]
        return {
            "animals": len(animals), "animals_kept": sum(r.keep for r in animals),
            "animals_kept_today": sum(r.kept_today for r in animals),
            "animals_kept_by_change_only": sum(r.by_change for r in animals),
            "empties": len(empties), "empties_rejected": sum(not r.keep for r in empties),
            "empties_rejected_today": sum(not r.kept_today for r in empties),
            "empties_after_warm_up": len(later), "empties_rejected_after_warm_up": sum(not r.keep for r in later),
            "frames_with_scenery": sum(r.scenery for r in self.rows),
            "kept_by_change": sum(r.by_change for r in self.rows),
        }

    def as_json(self) -> dict[str, Any]:
        return {"site": self.site, "seeds": self.seeds, **self.counts(), "learned": self.learned,
                "missed": [r.file for r in self.rows if r.label != "empty" and not r.keep]}


def read_site_labels(path: Path) -> dict[str, dict[str, str]]:
    """``site,file,label`` rows: {site: {file: label}}."""
    rows = read_labels(path, ("site", "file", "label"), "site labels", "trapd eval --sites needs a labels.csv with "
                       "the columns site,file,label (label animal, person, vehicle or empty)")
    sites: dict[str, dict[str, str]] = {}
    for site, file, label in rows:
        sites.setdefault(site, {})[file] = label
    return sites


def seeds_of(files: list[str], labels: dict[str, str], n: int) -> list[str]:
    """N empty frames spread evenly over the sequence."""
    empties = [f for f in files if labels.get(f) == "empty"]
    if n <= 0 or not empties:
        return []
    if len(empties) <= n:
        return empties
    return [empties[round(i * (len(empties) - 1) / (n - 1))] if n > 1 else empties[0] for i in range(n)]


def evaluate_sites(sites_dir: Path, detector: Detector, config: TrapdConfig, seed_empties: int = 0,
                   interval_s: float = 60.0, progress: Progress = SILENT) -> list[SiteResult]:
    from trapd.replay import lores_size_for, photo_per_event, replay

    labels = read_site_labels(sites_dir / "labels.csv")
    zone = ZoneInfo(config.deployment.timezone)
    results = []
    for site in sorted(labels):
        folder = sites_dir / site
        if not folder.is_dir():
            raise InputError(f"site labels {sites_dir / 'labels.csv'} name site {site!r}, but {folder} is no folder")
        events = photo_per_event(folder, zone, interval_s)
        files = [event[0].path.relative_to(folder).as_posix() for event in events]
        place = {file: index for index, file in enumerate(files)}
        site_labels = labels[site]
        seeds = seeds_of(files, site_labels, seed_empties)
        memory_filter = SiteFilter(config.site, config.decision, SiteMemory(site))
        if seeds:
            teach(memory_filter, [Labelled(folder / f, "empty", f) for f in seeds], detector, config,
                  lores_size_for(detector, config))
        result = SiteResult(site, seeds=len(seeds))
        chosen = [event for event, file in zip(events, files, strict=True) if file not in seeds]
        for record, _ in replay(folder, detector, config, site=memory_filter, events=chosen, progress=progress):
            for frame, measured, decision in zip(record.frames, record.results, record.decisions, strict=True):
                file = frame.camera.source_name or ""
                if file not in site_labels:
                    continue
                result.rows.append(SiteRow(file, site_labels[file], place[file], decision.keep,
                                           decide_frame(measured, config.decision).keep,
                                           "site_change" in decision.flags, decision.scenery > 0))
        memory = memory_filter.memory
        counts = summary(memory, config.site)
        result.learned = {"scenery_boxes": counts.pop("entries"), **counts, "memory_kb": round(memory.nbytes() / 1024)}
        results.append(result)
    return results


def totals(results: list[SiteResult]) -> dict[str, int]:
    summed: dict[str, int] = {}
    for result in results:
        for key, value in result.counts().items():
            summed[key] = summed.get(key, 0) + value
    return summed


def table_lines(results: list[SiteResult], seed_empties: int) -> list[str]:
    """The table a biologist reads: per site and in total."""
    def percent(part: int, whole: int) -> str:
        return f"{part}/{whole}" + (f" ({100 * part / whole:.0f}%)" if whole else "")

    mode = f"after learning {seed_empties} empty frames per site" if seed_empties else "with no labels"
    lines = [f"site memory, {mode} (each frame its own event; today = the same detections without site memory)",
             f"{'site':28} {'animals kept':>14} {'today':>7} {'empties rejected':>17} {'today':>7} "
             f"{'after first 5':>17} {'scenery':>8} {'change kept':>11}"]
    rows = [(r.site, r.counts()) for r in results] + [("total", totals(results))]
    for name, c in rows:
        lines.append(f"{name:28} {percent(c['animals_kept'], c['animals']):>14} {c['animals_kept_today']:>7} "
                     f"{percent(c['empties_rejected'], c['empties']):>17} {c['empties_rejected_today']:>7} "
                     f"{percent(c['empties_rejected_after_warm_up'], c['empties_after_warm_up']):>17} "
                     f"{c['frames_with_scenery']:>8} {c['kept_by_change']:>11}")
    lines.append("scenery: frames in which a detection was discounted as scenery; change kept: frames kept because "
                 "they differ from the site's empty scene")
    for result in results:
        learned = result.learned
        missed = [r.file for r in result.rows if r.label != "empty" and not r.keep]
        lines.append(f"  {result.site}: learned {learned['scenery_boxes']} scenery boxes ({learned['established']} "
                     f"established), {learned['references_labelled']} labelled and "
                     f"{learned['references_automatic']} automatic empty references, {learned['memory_kb']} KB"
                     + (f"; animals lost: {', '.join(missed)}" if missed else ""))
    return lines
