"""The report's pages: Jinja2 templates rendered with autoescaping, and the static script and style beside them.

Every value a template prints is escaped (a camera id or a status warning is text from a card,
not markup). The pages are the same for every report; what differs is in ``data/`` and in the
overview the index page is rendered with.
"""

from __future__ import annotations

from datetime import datetime
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from trapd import __version__
from trapd.files import write_atomic

PAGES = ("index.html", "audit.html", "event.html")
STATIC = ("report.css", "report.js")


def _environment() -> Environment:
    environment = Environment(loader=PackageLoader("trapd.report", "templates"), undefined=StrictUndefined,
                              autoescape=select_autoescape(["html"], default_for_string=True, default=True),
                              trim_blocks=True, lstrip_blocks=True)
    environment.filters["days"] = _days
    environment.filters["when"] = _when
    environment.filters["thousands"] = lambda value: f"{value:,}"
    return environment


def _days(value: float) -> str:
    """Days to a tenth, and to the minute when under two: a short test run is not "0.0 days"."""
    if value >= 2 or value == 0:
        return f"{value:.1f}" if value else "0"
    hours, minutes = divmod(round(value * 1440), 60)
    return f"{value:.2f} ({hours} h {minutes:02d} min)"


def _when(value: str | datetime) -> str:
    """An ISO time as people read it: ``2026-03-01 18:00 (+03:30)``, or ``... UTC``."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    offset = moment.strftime("%z")
    zone = "UTC" if offset in ("", "+0000") else f"({offset[:3]}:{offset[3:]})"
    return f"{moment:%Y-%m-%d %H:%M} {zone}"


def write_pages(out: Path, context: dict[str, Any]) -> None:
    environment = _environment()
    for page in PAGES:
        html = environment.get_template(page).render(**context, page=page, version=__version__)
        write_atomic(out / page, html.encode(), durable=False)
    static = resources.files("trapd.report") / "static"
    (out / "static").mkdir(parents=True, exist_ok=True)
    for name in STATIC:
        write_atomic(out / "static" / name, (static / name).read_bytes(), durable=False)
