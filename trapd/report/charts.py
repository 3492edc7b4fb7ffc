"""The report's figures, drawn by matplotlib into SVG files the pages show as images.

matplotlib's object API (``Figure``), not pyplot: no global state, no display needed. Text stays
text in the SVG (small, and searchable), and ids are salted the same every run, so an unchanged
figure is an unchanged file. An image cannot run script, so nothing a card holds can act through
a figure.
"""

from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any

import matplotlib
from matplotlib.dates import AutoDateLocator, ConciseDateFormatter, date2num
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from trapd.report.activity import DIEL_PANELS, DayCounts, DeploymentEffort

#: Colours a reader with a common colour-vision deficiency can tell apart (Okabe and Ito).
KEPT, DISCARDED, STORM = "#009E73", "#999999", "#E69F00"
STATE_COLOURS = {"armed": "#009E73", "full": "#D55E00", "paused": "#56B4E9"}
PANEL_COLOURS = {"animal": "#009E73", "person": "#CC79A7", "vehicle": "#0072B2", "none": "#56B4E9",
                 "discarded": "#999999"}
PANEL_TITLES = {"none": "kept, no detection", "discarded": "discarded"}
_STYLE: Any = {"svg.fonttype": "none", "svg.hashsalt": "trapd", "font.size": 9, "axes.spines.top": False,
          "axes.spines.right": False}


def _day_number(moment: date | datetime) -> float:
    """matplotlib's number for a date (its date functions carry no type hints)."""
    return float(date2num(moment))  # type: ignore[no-untyped-call]


def _svg(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    with matplotlib.rc_context(_STYLE):
        figure.savefig(buffer, format="svg", metadata={"Date": None}, bbox_inches="tight")
    return buffer.getvalue()


def _figure(height_in: float) -> Figure:
    with matplotlib.rc_context(_STYLE):
        return Figure(figsize=(9, height_in), layout="constrained")


def _empty(figure: Figure, text: str) -> bytes:
    axes = figure.add_subplot()
    axes.set_axis_off()
    axes.text(0.5, 0.5, text, ha="center", va="center", color="#555555")
    return _svg(figure)


def effort_timeline(efforts: list[DeploymentEffort]) -> bytes:
    """One row per deployment: armed, full and outside its hours; the gaps between are stopped."""
    figure = _figure(0.6 + 0.45 * max(1, len(efforts)))
    if not any(e.periods for e in efforts):
        return _empty(figure, "no effort recorded (a card from before trapd recorded it)")
    with matplotlib.rc_context(_STYLE):
        axes = figure.add_subplot()
        for row, effort in enumerate(efforts):
            for state, colour in STATE_COLOURS.items():
                spans = [(_day_number(p.start), _day_number(p.end) - _day_number(p.start))
                         for p in effort.periods if p.state == state]
                axes.broken_barh(spans, (row - 0.35, 0.7), facecolors=colour,
                                 label=_legend(state) if row == 0 else None)
        axes.set_yticks(range(len(efforts)), [e.deployment_id for e in efforts])
        axes.set_ylim(-0.6, len(efforts) - 0.4)
        _dates(axes)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        return _svg(figure)


def _legend(state: str) -> str:
    return {"armed": "armed", "full": "card full", "paused": "outside schedule hours"}[state]


def _dates(axes: object) -> None:
    locator = AutoDateLocator()  # type: ignore[no-untyped-call]
    axes.xaxis.set_major_locator(locator)  # type: ignore[attr-defined]
    axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))  # type: ignore[attr-defined,no-untyped-call]


def _counts(axes: Any, highest: int) -> None:
    """A count axis: whole numbers from 0, and room for at least 1 (an empty panel is a flat 0, not -0.04)."""
    axes.set_ylim(0, max(1, highest) * 1.05)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))


def per_day_bars(days: dict[str, DayCounts], what: str) -> bytes:
    """``what``: "events" (kept, discarded, dropped by the storm limit) or "triggers" (in kept or discarded events)."""
    figure = _figure(2.6)
    if not days:
        return _empty(figure, "no events yet")
    with matplotlib.rc_context(_STYLE):
        axes = figure.add_subplot()
        x = [_day_number(date.fromisoformat(day)) for day in days]
        counts = list(days.values())
        if what == "events":
            series = [("kept", KEPT, [c.kept for c in counts]), ("discarded", DISCARDED, [c.discarded for c in counts]),
                      ("dropped: wind-storm limit", STORM, [c.storm_dropped for c in counts])]
        else:
            series = [("in kept events", KEPT, [c.triggers_kept for c in counts]),
                      ("in discarded events", DISCARDED, [c.triggers_discarded for c in counts])]
        # One filled step per series, a day wide: a year is 365 days, and 1,095 bar patches take seconds to draw.
        edges = [*x, x[-1] + 1] if len(x) else [0.0]
        bottom = [0] * len(x)
        for label, colour, values in series:
            top = [b + v for b, v in zip(bottom, values, strict=True)]
            axes.stairs(top, edges, baseline=bottom, fill=True, color=colour, label=label)
            bottom = top
        axes.set_ylabel(f"{what} per day")
        _counts(axes, max(bottom))
        if len(x) == 1:
            axes.set_xlim(x[0] - 3, x[0] + 3)
        _dates(axes)
        axes.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
        return _svg(figure)


def diel_activity(hours: dict[str, list[int]]) -> bytes:
    """Events by hour of the day at the site, one small panel each (trapd/report/activity.py), each on its scale."""
    figure = _figure(3.0)
    if not any(sum(v) for v in hours.values()):
        return _empty(figure, "no events yet")
    with matplotlib.rc_context(_STYLE):
        panels = figure.subplots(1, len(DIEL_PANELS), sharex=True)
        for axes, panel in zip(panels, DIEL_PANELS, strict=True):
            axes.bar(range(24), hours[panel], width=0.9, align="edge", color=PANEL_COLOURS[panel])
            axes.set_title(f"{PANEL_TITLES.get(panel, panel)} ({sum(hours[panel])})")
            axes.set_xticks([0, 6, 12, 18, 24])
            axes.set_xlim(0, 24)
            axes.set_xlabel("hour of day (site time)")
            _counts(axes, max(hours[panel]))
        panels[0].set_ylabel("events")
        return _svg(figure)
