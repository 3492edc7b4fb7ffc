"""`trapd export camtrap-dp`: stored events as a Camtrap DP 1.0 data package.

``datapackage.json``, ``deployments.csv``, ``media.csv`` and ``observations.csv``, with the stored
JPEGs under ``media/`` (hard-linked when on the same file system, so no card is copied twice).
Observations are the machine's: one per event (what the event was) and one per detection on a
stored frame (with its box), each with ``classificationMethod: machine`` and the model that
made it. Coordinates are rounded to ``deployment.coordinate_precision``.
"""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from trapd import __version__
from trapd.config.model import TrapdConfig
from trapd.decide import keep_floor
from trapd.errors import ConfigError
from trapd.files import make_dirs_durable, write_atomic
from trapd.progress import SILENT, Progress
from trapd.storage.effort import periods, read_marks
from trapd.storage.export_dir import claim_package_dir, record_package
from trapd.storage.layout import catalog_name, frame_path
from trapd.storage.sidecar import DetectionEntry, Sidecar, read_sidecars
from trapd.timebase import parse_utc

VERSION = "1.0.2"
SCHEMA_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/{{name}}-table-schema.json"
PROFILE_URL = f"https://raw.githubusercontent.com/tdwg/camtrap-dp/{VERSION}/camtrap-dp-profile.json"
OBSERVATION_TYPE = {"animal": "animal", "person": "human", "vehicle": "vehicle"}
#: Every column of each table, in the official schemas' order (readers match columns by position).
TABLES = {
    "deployments": ["deploymentID", "locationID", "locationName", "latitude", "longitude", "coordinateUncertainty",
                    "deploymentStart", "deploymentEnd", "setupBy", "cameraID", "cameraModel", "cameraDelay",
                    "cameraHeight", "cameraDepth", "cameraTilt", "cameraHeading", "detectionDistance",
                    "timestampIssues", "baitUse", "featureType", "habitat", "deploymentGroups", "deploymentTags",
                    "deploymentComments"],
    "media": ["mediaID", "deploymentID", "captureMethod", "timestamp", "filePath", "filePublic", "fileName",
              "fileMediatype", "exifData", "favorite", "mediaComments"],
    "observations": ["observationID", "deploymentID", "mediaID", "eventID", "eventStart", "eventEnd",
                     "observationLevel", "observationType", "cameraSetupType", "scientificName", "count",
                     "lifeStage", "sex", "behavior", "individualID", "individualPositionRadius",
                     "individualPositionAngle", "individualSpeed", "bboxX", "bboxY", "bboxWidth", "bboxHeight",
                     "classificationMethod", "classifiedBy", "classificationTimestamp",
                     "classificationProbability", "observationTags", "observationComments"],
}


def _stamp(iso_utc: str, zone: ZoneInfo) -> str:
    """Camtrap DP datetimes: site time with its offset, to the second."""
    moment = parse_utc(iso_utc).astimezone(zone)
    return moment.replace(microsecond=0).isoformat()


def _keeps(detection: DetectionEntry, sidecar: Sidecar) -> bool:
    """Detections worth an observation: at or above the score at which the trap kept frames for them."""
    return detection.score >= keep_floor(detection.category, sidecar.decision.policy)


def export_camtrap_dp(config: TrapdConfig, out: Path, *, force: bool = False,
                      progress: Progress = SILENT) -> dict[str, int]:
    """Write the package; returns the rows of each table, and ``missing``: frames a sidecar names that are gone.

    Every deployment found in the storage is exported (a card moved between sites holds several),
    each placed by the site its events recorded, and spanning the time its trap was running
    (trapd/storage/effort.py), not just its first and last event.
    """
    root = config.storage.root
    by_deployment: dict[str, list[tuple[Path, Sidecar]]] = {config.deployment.id: []}
    for folder, sidecar in read_sidecars(root, progress):
        by_deployment.setdefault(sidecar.deployment_id, []).append((folder, sidecar))
    if len(by_deployment) > 1 and not by_deployment[config.deployment.id]:
        del by_deployment[config.deployment.id]  # the config names a site this card never saw
    spans = _running_spans(root)
    claim_package_dir(out, root, force=force)
    rows: dict[str, list[dict[str, Any]]] = {name: [] for name in TABLES}
    placed: list[Path] = []
    missing = 0
    sites: list[tuple[float, float]] = []
    period: list[datetime] = []
    for deployment_id, events in by_deployment.items():
        site = _site_of(deployment_id, events, config)
        zone = ZoneInfo(events[-1][1].timezone if events else config.deployment.timezone)
        for folder, sidecar in events:
            missing += _event_rows(root, out, folder, sidecar, ZoneInfo(sidecar.timezone), rows, placed)
        start, end = _span(deployment_id, events, spans)
        rows["deployments"].append(_deployment_row(config, deployment_id, events, site, start.astimezone(zone),
                                                   end.astimezone(zone)))
        sites.append(site)
        period += [start, end]
    now = datetime.now(UTC).replace(microsecond=0)
    for name, fields in TABLES.items():
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n", extrasaction="raise", restval="")
        writer.writeheader()
        writer.writerows(rows[name])
        write_atomic(out / f"{name}.csv", buffer.getvalue().encode())
    package = _descriptor(config, rows, sites, now, min(period), max(period))
    write_atomic(out / "datapackage.json", (json.dumps(package, indent=2) + "\n").encode())
    record_package(out, [*placed, *(out / f"{name}.csv" for name in TABLES), out / "datapackage.json"])
    return {**{name: len(table) for name, table in rows.items()}, "missing": missing}


def _running_spans(root: Path) -> dict[str, tuple[datetime, datetime]]:
    """Each deployment's first and last moment its trap was running, from the effort it recorded."""
    spans: dict[str, tuple[datetime, datetime]] = {}
    for period in periods(read_marks(root)):
        first, last = spans.get(period.deployment_id, (period.start, period.end))
        spans[period.deployment_id] = (min(first, period.start), max(last, period.end))
    return spans


def _span(deployment_id: str, events: list[tuple[Path, Sidecar]],
          spans: dict[str, tuple[datetime, datetime]]) -> tuple[datetime, datetime]:
    """deploymentStart and End: the effort recorded, widened to the events (a card from before trapd
    recorded effort has only these); the export's own time for a deployment with neither."""
    moments = [parse_utc(s.start_utc) for _, s in events] + [parse_utc(s.end_utc) for _, s in events]
    if deployment_id in spans:
        moments += list(spans[deployment_id])
    if not moments:
        now = datetime.now(UTC).replace(microsecond=0)
        return now, now
    return min(moments).replace(microsecond=0), max(moments).replace(microsecond=0)


def _site_of(deployment_id: str, events: list[tuple[Path, Sidecar]], config: TrapdConfig) -> tuple[float, float]:
    """Where a deployment was: as its latest event recorded it, else the config's site if it is the same one."""
    recorded = next((s.site for _, s in reversed(events) if s.site is not None), None)
    if recorded is not None:
        return recorded.latitude, recorded.longitude
    site = config.deployment.rounded_site() if deployment_id == config.deployment.id else None
    if site is None:
        raise ConfigError(f"Camtrap DP needs the site of deployment {deployment_id}: its events recorded none; set "
                          "deployment.latitude and deployment.longitude in the config it was taken with")
    return site


def _descriptor(config: TrapdConfig, rows: dict[str, list[dict[str, Any]]], sites: list[tuple[float, float]],
                now: datetime, start: datetime, end: datetime) -> dict[str, Any]:
    """datapackage.json: what the package is, whose, where and when, and its tables."""
    deployment = config.deployment
    points = sorted({(longitude, latitude) for latitude, longitude in sites})
    spatial: dict[str, Any] = ({"type": "Point", "coordinates": list(points[0])} if len(points) == 1
                               else {"type": "MultiPoint", "coordinates": [list(p) for p in points]})
    return {
        "profile": PROFILE_URL,
        "name": f"trapd-{deployment.id.lower()}",
        "created": now.isoformat().replace("+00:00", "Z"),
        "contributors": [{"title": deployment.contact, "role": "contact"}],
        "project": {"title": deployment.project_title, "samplingDesign": "opportunistic",
                    "captureMethod": sorted({r["captureMethod"] for r in rows["media"]} or {"activityDetection"}),
                    "individualAnimals": False, "observationLevel": ["media", "event"]},
        "spatial": spatial,
        "temporal": {"start": start.date().isoformat(), "end": end.date().isoformat()},
        "taxonomic": [{"scientificName": "Animalia", "taxonRank": "kingdom"}],
        "coordinatePrecision": deployment.coordinate_precision,
        "sources": [{"title": f"trapd {__version__}"}],
        "resources": [
            {"name": name, "path": f"{name}.csv", "profile": "tabular-data-resource", "format": "csv",
             "mediatype": "text/csv", "encoding": "utf-8", "schema": SCHEMA_URL.format(name=name)}
            for name in TABLES
        ],
    }


def _deployment_row(config: TrapdConfig, deployment_id: str, events: list[tuple[Path, Sidecar]],
                    site: tuple[float, float], start: datetime, end: datetime) -> dict[str, Any]:
    """A deployment's row: the config's details where the config is for it, what its events recorded otherwise."""
    latitude, longitude = site
    row: dict[str, Any] = {
        "deploymentID": deployment_id, "latitude": latitude, "longitude": longitude,
        "deploymentStart": start.replace(microsecond=0).isoformat(),
        "deploymentEnd": end.replace(microsecond=0).isoformat(),
        "cameraID": events[-1][1].camera_id if events else config.deployment.camera_id,
    }
    if deployment_id != config.deployment.id:
        return row
    deployment = config.deployment
    return {
        **row, "locationID": deployment.location_id or "", "locationName": deployment.location_name or "",
        "coordinateUncertainty": deployment.coordinate_uncertainty_m or "", "setupBy": deployment.setup_by or "",
        "cameraModel": config.camera.model or "", "cameraHeight": deployment.camera_height_m or "",
        "cameraTilt": "" if deployment.camera_tilt_deg is None else deployment.camera_tilt_deg,
        "cameraHeading": "" if deployment.camera_heading_deg is None else deployment.camera_heading_deg,
        "baitUse": "" if deployment.bait_use is None else str(deployment.bait_use).lower(),
        "featureType": deployment.feature_type or "", "deploymentComments": deployment.comments or "",
        "deploymentTags": "|".join(deployment.tags),
    }


def _event_rows(root: Path, out: Path, folder: Path, sidecar: Sidecar, zone: ZoneInfo,
                rows: dict[str, list[dict[str, Any]]], placed: list[Path]) -> int:
    """One event's media (linked into the package), its per-detection observations and its event observation,
    in the site's own time. Returns how many of its frames' files were missing (skipped, not a crash)."""
    missing = 0
    deployment_id = sidecar.deployment_id
    classified_by = f"{sidecar.detector.name} {sidecar.detector.version}".strip()
    machine = {"classificationMethod": "machine", "classifiedBy": classified_by,
               "classificationTimestamp": _stamp(sidecar.end_utc, zone)}
    best: DetectionEntry | None = None
    judged = False
    for frame in sidecar.frames:
        judged = judged or frame.detector_status == "ok"
        if not frame.keep:
            continue
        for detection in frame.detections:  # the event's type holds even if this frame was overwritten
            if _keeps(detection, sidecar) and (best is None or detection.score > best.score):
                best = detection
        if not frame.file:
            continue
        media_id = Path(frame.file).stem
        stored = frame_path(folder, frame.file)
        relative = Path("media") / catalog_name(root, stored)
        if not _place(stored, out / relative):
            missing += 1
            continue
        placed.append(out / relative)
        taken = _stamp(frame.capture_utc, zone)
        rows["media"].append({
            "mediaID": media_id, "deploymentID": deployment_id, "captureMethod": sidecar.capture_method,
            "timestamp": taken, "filePath": relative.as_posix(), "filePublic": "false",
            "fileName": Path(frame.file).name, "fileMediatype": "image/jpeg", "mediaComments": frame.reason,
        })
        for number, detection in enumerate(frame.detections):
            if not _keeps(detection, sidecar):
                continue
            x, y, width, height = (min(1.0, max(0.0, v)) for v in detection.bbox)
            rows["observations"].append({
                "observationID": f"{media_id}-{number}", "deploymentID": deployment_id, "mediaID": media_id,
                "eventID": sidecar.event_id, "eventStart": taken, "eventEnd": taken, "observationLevel": "media",
                "observationType": OBSERVATION_TYPE[detection.category], "bboxX": x, "bboxY": y,
                "bboxWidth": max(width, 1e-6), "bboxHeight": max(height, 1e-6),
                "classificationProbability": round(detection.score, 4), **machine,
            })
    event_type = OBSERVATION_TYPE[best.category] if best else ("blank" if judged else "unclassified")
    rows["observations"].append({
        "observationID": f"{sidecar.event_id}-event", "deploymentID": deployment_id, "mediaID": "",
        "eventID": sidecar.event_id, "eventStart": _stamp(sidecar.start_utc, zone),
        "eventEnd": _stamp(sidecar.end_utc, zone), "observationLevel": "event", "observationType": event_type,
        "classificationProbability": round(best.score, 4) if best else "", **machine,
    })
    return missing


def _place(source: Path, destination: Path) -> bool:
    """Put a media file into the package: a hard link when possible (no copy), else a copy. False if it is gone."""
    if not source.is_file():
        return False
    make_dirs_durable(destination.parent)
    try:
        os.link(source, destination)
    except FileExistsError:
        pass  # the same frame, linked already
    except OSError:
        shutil.copy2(source, destination)
    return True
