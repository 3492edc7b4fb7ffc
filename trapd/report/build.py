"""`trapd report`: read the storage's sidecars, then write the report's data, figures and pages.

The report folder (``<root>/report`` by default, trapd/storage/layout.py) holds::

    index.html, audit.html, event.html   the pages (trapd/report/pages.py)
    static/                              their script and style
    data/meta.js                         where the storage is from here, and the review's key
    data/index.js                        one row per event: the contact sheet and audit view
    data/days/<deployment>/<day>.js      every frame of each event of that day: the event page
    charts/*.svg                         effort and activity
    thumbs/<deployment>/<day>/*.jpg      thumbnails (trapd/report/thumbs.py)
    cache.json                           what the next run need not read again (trapd/report/cache.py)

Data is loaded by ``<script>`` tags, because a page opened from ``file://`` may not fetch files.
A second run reads only the sidecars that changed, makes only their thumbnails, and rewrites only
their days' files; the index, figures and pages are rewritten every time (they are small).
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path
from typing import Any
from urllib.parse import quote
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from trapd.errors import InputError, StorageError
from trapd.files import write_atomic
from trapd.progress import SILENT, Progress
from trapd.report import activity, charts, overview
from trapd.report.cache import CachedEvent, EventFacts, load_cache, save_cache, stat_key
from trapd.report.pages import write_pages
from trapd.report.summary import EventRow, Thumb, event_detail, event_row, stored_files, thumb_src
from trapd.report.thumbs import ThumbJob, Thumbnailer
from trapd.storage.effort import read_marks
from trapd.storage.layout import catalog_name, deployment_dirs, event_folders, frame_path, report_dir, state_dir
from trapd.storage.sidecar import Sidecar, SidecarError, read_sidecar

log = logging.getLogger(__name__)

#: Marks a folder as a trapd report, which a later run may rewrite; holds the review's storage key.
MARKER_NAME = ".trapd-report.json"


@dataclass
class ReportOutcome:
    out: Path
    events: int = 0
    #: Sidecars read this run: all of them the first time, only the new and changed ones after.
    read: int = 0
    thumbs_made: int = 0
    thumbs_failed: int = 0
    days_written: int = 0
    unreadable: list[str] = field(default_factory=list)

    @property
    def index(self) -> Path:
        return self.out / "index.html"


def build_report(root: Path, out: Path | None = None, progress: Progress = SILENT,
                 now: datetime | None = None) -> ReportOutcome:
    if not state_dir(root).is_dir() and not deployment_dirs(root):
        raise InputError(f"{root} is not a trapd storage (no events, no {state_dir(root).name}); pass the --storage "
                         "the trap wrote to")
    out = out or report_dir(root)
    review_key = claim_report_dir(out, root)
    outcome = ReportOutcome(out)
    before = load_cache(out)
    before_by_day: dict[str, set[str]] = {}
    for name in before:
        before_by_day.setdefault(name.rpartition("/")[0], set()).add(name)
    events: dict[str, CachedEvent] = {}
    folders = event_folders(root)
    with Thumbnailer() as thumbnailer:
        for day, group in groupby(progress.over(folders, len(folders), "events"), key=lambda f: f.parent):
            day_name = catalog_name(root, day)
            _report_day(root, out, day_name, list(group), {n: before[n] for n in before_by_day.get(day_name, ())},
                        events, thumbnailer, outcome)
    seen_days = {name.rpartition("/")[0] for name in events}
    for day_name, names in before_by_day.items():
        if day_name not in seen_days:
            _forget_day(out, day_name, [before[n] for n in names])
    rows = sorted((cached.row for cached in events.values()), key=lambda r: r["start"])
    _write_js(out / "data" / "meta.js", "TRAPD_META", {"root": _root_url(root, out), "reviewKey": review_key})
    columns = list(EventRow.__annotations__)
    _write_js(out / "data" / "index.js", "TRAPD_REPORT",
              {"columns": columns, "rows": [[row[c] for c in columns] for row in rows]})  # type: ignore[literal-required]
    marks = read_marks(root)
    moment = now or datetime.now(UTC)
    efforts = activity.effort_by_deployment(marks, moment)
    days = activity.per_day(rows, marks, _zones(events.values()))
    figures = {"effort": charts.effort_timeline(list(efforts.values())),
               "events-per-day": charts.per_day_bars(days, "events"),
               "triggers-per-day": charts.per_day_bars(days, "triggers"),
               "diel-activity": charts.diel_activity(activity.diel(rows))}
    for name, svg in figures.items():
        _write(out / "charts" / f"{name}.svg", svg)
    state, problems = overview.problems(root, outcome.unreadable)
    write_pages(out, {
        "root": str(root), "generated": moment.astimezone().isoformat(timespec="minutes"),
        "deployments": overview.deployments(list(events.values()), efforts),
        "storage": overview.storage(root, list(events.values())), "state": state, "problems": problems,
        "days": days, "charts": sorted(figures),
    })
    save_cache(out, events)
    outcome.events = len(events)
    return outcome


def claim_report_dir(out: Path, root: Path) -> str:
    """Make ``out`` ready, or refuse in one sentence (73); returns the report's review key."""
    target, storage = out.resolve(), root.resolve()
    if storage in target.parents and target != report_dir(storage):
        raise StorageError(f"--out {out} is inside the storage {root}, where only {report_dir(root)} is the "
                           "report's; choose that (the default) or a folder outside the storage")
    marker = target / MARKER_NAME
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not marker.is_file())):
        raise StorageError(f"--out {out} is not empty and holds no trapd report; give a new or empty folder")
    try:
        key = json.loads(marker.read_text(encoding="utf-8"))["review_key"] if marker.is_file() else None
    except (OSError, ValueError, KeyError, TypeError):
        key = None
    if not isinstance(key, str) or not key.isalnum() or len(key) > 64:
        key = secrets.token_hex(8)
    try:
        target.mkdir(parents=True, exist_ok=True)
        write_atomic(marker, json.dumps({"review_key": key}).encode(), durable=False)
    except OSError as exc:
        raise StorageError(f"--out {out} cannot be written ({exc.strerror or exc})") from None
    return key


def _report_day(root: Path, out: Path, day_name: str, folders: list[Path], before: dict[str, CachedEvent],
                events: dict[str, CachedEvent], thumbnailer: Thumbnailer, outcome: ReportOutcome) -> None:
    """One day folder of one deployment (``before``: what the cache holds of it): from the cache if nothing in
    it changed, else read whole (its data file holds every event of the day). Only one day's sidecars are in
    memory at a time."""
    names = {catalog_name(root, folder): folder for folder in folders}
    keys = {name: stat_key(folder) for name, folder in names.items()}
    if set(keys) == set(before) and all(before[n].key == k for n, k in keys.items()):
        events.update((name, before[name]) for name in names)
        return
    details: dict[str, Any] = {}
    jobs: list[tuple[Thumb, ThumbJob]] = []
    for name, folder in names.items():
        key = keys[name]
        if key is None:
            continue  # no sidecar: a cut event, which the next start or `trapd fsck` quarantines
        try:
            sidecar = read_sidecar(folder)
        except (OSError, SidecarError):
            outcome.unreadable.append(name)
            continue
        cached = before.get(name)
        if cached is not None and cached.key == key:
            events[name] = cached
        else:
            outcome.read += 1
            row = event_row(root, folder, sidecar, _sizes(root, folder, sidecar))
            events[name] = CachedEvent(key, row, _facts(sidecar))
            jobs += [(thumb, ThumbJob(root / stored_files(row)[thumb[0]][0], out / thumb_src(row, thumb[0])))
                     for thumb in row["thumbs"]]
        present = {stored_file[0] for stored_file in stored_files(events[name].row).values()}
        details[sidecar.event_id] = event_detail(root, folder, sidecar, present)
    _make_thumbnails(jobs, thumbnailer, outcome)
    for gone in set(before) - set(events):
        _forget_thumbnails(out, before[gone])
    _write_js(out / "data" / "days" / f"{day_name}.js", "TRAPD_DAYS", {"events": details}, key=day_name)
    outcome.days_written += 1


def _sizes(root: Path, folder: Path, sidecar: Sidecar) -> dict[str, int]:
    sizes = {}
    for frame in sidecar.frames:
        if frame.file:
            path = frame_path(folder, frame.file)
            try:
                sizes[catalog_name(root, path)] = path.stat().st_size
            except OSError:
                continue  # deleted by hand: not shown, and `trapd fsck` records it
    return sizes


def _facts(sidecar: Sidecar) -> EventFacts:
    site = sidecar.site
    return EventFacts(camera=sidecar.camera_id, timezone=sidecar.timezone,
                      site=None if site is None else [site.latitude, site.longitude, site.coordinate_precision],
                      detector=f"{sidecar.detector.name} {sidecar.detector.version}", sha256=sidecar.detector.sha256)


def _make_thumbnails(jobs: list[tuple[Thumb, ThumbJob]], thumbnailer: Thumbnailer, outcome: ReportOutcome) -> None:
    todo = [(thumb, job) for thumb, job in jobs if not job.target.is_file()]
    for (thumb, job), failure in zip(todo, thumbnailer.make([job for _, job in todo]), strict=True):
        if failure is None:
            outcome.thumbs_made += 1
        else:
            outcome.thumbs_failed += 1
            log.debug("no thumbnail of %s: %s", job.source, failure)  # counted, and said on its card
            thumb[1] = 0  # the card says the frame cannot be shown; the event page links the file


def _forget_thumbnails(out: Path, cached: CachedEvent) -> None:
    """Thumbnails of an event no longer on the card (overwritten, deleted by hand)."""
    for thumb in cached.row["thumbs"]:
        (out / thumb_src(cached.row, thumb[0])).unlink(missing_ok=True)


def _forget_day(out: Path, day_name: str, gone: list[CachedEvent]) -> None:
    """A day folder gone from the card: its data file and its events' thumbnails."""
    for cached in gone:
        _forget_thumbnails(out, cached)
    (out / "data" / "days" / f"{day_name}.js").unlink(missing_ok=True)


def _write_js(path: Path, variable: str, data: Any, key: str | None = None) -> None:
    """Data as a script: ``file://`` pages may load scripts, not fetch JSON. The JSON is escaped so that no
    value from a card can end the script or open markup: it is data, whatever it says."""
    text = json.dumps(data, ensure_ascii=True, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    if key is None:
        script = f"window.{variable} = {text};\n"
    else:
        script = f"(window.{variable} = window.{variable} || {{}})[{json.dumps(key)}] = {text};\n"
    _write(path, script.encode())


def _write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(path, data, durable=False)


def _root_url(root: Path, out: Path) -> str:
    """The storage root as a URL relative to the report folder, for the pages' links to the frames."""
    relative = Path(os.path.relpath(root.resolve(), out.resolve())).as_posix()
    return "".join(f"{quote(part)}/" for part in relative.split("/") if part != ".")


def _zones(events: Any) -> dict[str, Any]:
    zones: dict[str, Any] = {}
    for cached in events:
        try:
            zones[cached.row["deployment"]] = ZoneInfo(cached.facts["timezone"])
        except (ZoneInfoNotFoundError, ValueError):
            zones[cached.row["deployment"]] = UTC
    return zones
