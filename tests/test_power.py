"""`trapd power`: a plausible estimate, plainly an estimate, with its sources; refusals in a sentence."""

from __future__ import annotations

import json

import pytest

from tests.conftest import trapd_cli
from trapd.power.estimate import PowerInputs, estimate, lines


def test_the_issues_example_prints_a_plausible_estimate_with_its_sources() -> None:
    done = trapd_cli("power", "--board", "pi-zero-2w", "--mode", "cold", "--triggers-per-day", "200",
                     "--battery-wh", "100")
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert out.startswith("ESTIMATE for a pi-zero-2w, camera cold, 200 triggers a day")
    assert "largest term: board, idle all day" in out and "what would change it most:" in out
    for source in ("cnx-software", "Geerling", "picamera2", "Waveshare", "tools/energy.py"):
        assert source in out
    result = json.loads(trapd_cli("power", "--board", "pi-zero-2w", "--mode", "cold", "--triggers-per-day", "200",
                                  "--battery-wh", "100", "--json").stdout)
    assert result["estimate"] is True and 10 < result["wh_per_day"] < 25 and 3 < result["days"] < 8


def test_warm_costs_the_camera_all_day_and_cold_is_advised() -> None:
    warm = estimate(PowerInputs("pi4", "warm", 200, battery_wh=100))
    cold = estimate(PowerInputs("pi4", "cold", 200, battery_wh=100))
    assert warm.wh_per_day - cold.wh_per_day > 20  # 1 W of camera for 24 h, against seconds an event
    assert warm.advice[0].startswith("a Pi Zero 2 W") and any(a.startswith("camera.mode: cold") for a in warm.advice)


def test_more_triggers_cost_more_and_solar_can_cover_a_day() -> None:
    few = estimate(PowerInputs("pi-zero-2w", "cold", 10, battery_wh=100))
    many = estimate(PowerInputs("pi-zero-2w", "cold", 5000, battery_wh=100))
    assert many.wh_per_day > few.wh_per_day and many.terms[1].wh_per_day == pytest.approx(500 * few.terms[1].wh_per_day)
    sunny = estimate(PowerInputs("pi-zero-2w", "cold", 200, battery_wh=100, solar_w=10, sun_hours=5))
    assert sunny.days is None
    assert "the sun covers a day's use" in "\n".join(lines(sunny))


BASE = ["--board", "pi4", "--triggers-per-day", "10"]


@pytest.mark.parametrize(("args", "said"), [
    (BASE, "needs the battery"),
    ([*BASE, "--battery-wh", "50", "--battery-ah", "5"], "give the battery once"),
    ([*BASE, "--battery-wh", "50", "--night-share", "2"], "fraction from 0 to 1"),
    ([*BASE, "--battery-wh", "50", "--solar-w", "10"], "needs both"),
    (["--board", "pi4", "--triggers-per-day", "nan", "--battery-wh", "50"], "must be a number, not nan"),
    ([*BASE, "--battery-wh", "inf"], "must be a number, not inf"),
    ([*BASE, "--battery-wh", "50", "--night-share", "nan"], "fraction from 0 to 1"),
])
def test_incomplete_inputs_are_refused_in_a_sentence(args: list[str], said: str) -> None:
    done = trapd_cli("power", *args)
    assert done.returncode == 64 and said in done.stderr and "Traceback" not in done.stderr
