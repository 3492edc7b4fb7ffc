"""The estimate: watt-hours a day, term by term, and days on a battery (with solar, if any).

Four terms: the board idling all day; the camera (all day when warm, a few seconds an event when
cold); the CPU work of each event, measured here and scaled to the board; and the IR light for
events at night. The CPU work comes from tools/energy.py (BENCHMARKS.md, "Power"); the rest from
trapd/power/boards.py. It is an estimate, and says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Literal

from trapd.power.boards import (
    BOARDS,
    CAMERA_SOURCE,
    CAMERA_START_S,
    CAMERA_START_SOURCE,
    CAMERA_W,
    IR_SOURCE,
    IR_W,
    LOW_POWER_SAVING_W,
    SOLAR_DERATE,
    USABLE_BATTERY,
    Board,
)

#: CPU seconds per event on the development machine (tools/energy.py, default model, bursts of 3 frames
#: at 2028x1520; BENCHMARKS.md "Power"). On fake hardware the capture thread also decodes the replayed
#: photo, which a Pi's camera does not ask of the CPU: an upper bound.
MEASURED_CPU_S_PER_EVENT = {"warm": 0.44, "cold": 0.46}
#: The IR light is on for the event's bursts and while the exposure settles after it comes on.
IR_SETTLE_S = 0.5
HOURS = 24.0


@dataclass(frozen=True, slots=True)
class PowerInputs:
    board: Board
    mode: Literal["warm", "cold"]
    triggers_per_day: float
    battery_wh: float
    night_share: float = 0.5
    ir_w: float = IR_W
    solar_w: float = 0.0
    sun_hours: float = 0.0
    low_power: bool = False
    burst_s: float = 1.0
    gap_s: float = 5.0


@dataclass(frozen=True, slots=True)
class Term:
    name: str
    wh_per_day: float
    how: str
    source: str


@dataclass
class Estimate:
    inputs: PowerInputs
    terms: list[Term]
    advice: list[str] = field(default_factory=list)

    @property
    def wh_per_day(self) -> float:
        return sum(t.wh_per_day for t in self.terms)

    @property
    def solar_wh_per_day(self) -> float:
        return self.inputs.solar_w * self.inputs.sun_hours * SOLAR_DERATE

    @property
    def days(self) -> float | None:
        """Days on the battery; None when the sun covers a day's use."""
        net = self.wh_per_day - self.solar_wh_per_day
        return None if net <= 0 else self.inputs.battery_wh * USABLE_BATTERY / net

    @property
    def largest(self) -> Term:
        return max(self.terms, key=lambda t: t.wh_per_day)


def estimate(inputs: PowerInputs, advise: bool = True) -> Estimate:
    board = BOARDS[inputs.board]
    events = inputs.triggers_per_day
    idle_w = board.idle_w - (LOW_POWER_SAVING_W[inputs.board] if inputs.low_power else 0.0)
    camera_on_s = CAMERA_START_S + inputs.burst_s + inputs.gap_s
    cpu_s = MEASURED_CPU_S_PER_EVENT[inputs.mode] * board.slower
    per_cpu_second_w = (board.busy_w - board.idle_w) / board.cores
    terms = [
        Term("board, idle all day", idle_w * HOURS,
             f"{idle_w:.2f} W x 24 h" + (" (after install-pi.sh --low-power)" if inputs.low_power else ""),
             board.idle_source),
        Term("camera", CAMERA_W * HOURS if inputs.mode == "warm" else CAMERA_W * camera_on_s * events / 3600,
             f"{CAMERA_W:.1f} W streaming all day (warm)" if inputs.mode == "warm" else
             f"{CAMERA_W:.1f} W for {camera_on_s:.1f} s an event (start {CAMERA_START_S:.0f} s, bursts, the event's "
             f"gap) x {events:.0f} events", f"{CAMERA_SOURCE}; {CAMERA_START_SOURCE}"),
        Term("processing each event", cpu_s * per_cpu_second_w * events / 3600,
             f"{MEASURED_CPU_S_PER_EVENT[inputs.mode]:.2f} CPU-s measured here x {board.slower:.0f} for this board x "
             f"{per_cpu_second_w:.2f} W a busy core x {events:.0f} events",
             f"tools/energy.py (BENCHMARKS.md); {board.busy_source}; speed: {board.slower_source}"),
        Term("IR light at night", inputs.ir_w * (inputs.burst_s + IR_SETTLE_S) * events * inputs.night_share / 3600,
             f"{inputs.ir_w:.1f} W for {inputs.burst_s + IR_SETTLE_S:.1f} s x {events * inputs.night_share:.0f} "
             "night events", IR_SOURCE),
    ]
    result = Estimate(inputs, terms)
    if advise:
        result.advice = _advice(result)
    return result


def _advice(current: Estimate) -> list[str]:
    """What would change the estimate most, largest saving first."""
    inputs, total = current.inputs, current.wh_per_day
    options: list[tuple[float, str]] = []
    if inputs.mode == "warm":
        options.append((total - estimate(replace(inputs, mode="cold"), False).wh_per_day,
                        "camera.mode: cold (the camera is started for each event: about 1 s more from trigger to "
                        "the first frame, against a frame period warm)"))
    if not inputs.low_power:
        options.append((total - estimate(replace(inputs, low_power=True), False).wh_per_day,
                        "sudo tools/install-pi.sh --low-power (Wi-Fi, HDMI and LEDs off)"))
    options.append((total - estimate(replace(inputs, triggers_per_day=inputs.triggers_per_day / 2), False)
                    .wh_per_day, "half the triggers (aim the PIR away from sunlit ground and moving plants; "
                                 "pir.holdoff_s; schedule.active)"))
    if inputs.board != "pi-zero-2w":
        options.append((total - estimate(replace(inputs, board="pi-zero-2w"), False).wh_per_day,
                        "a Pi Zero 2 W (it idles at 0.6 W; it detects more slowly)"))
    return [f"{what}: saves {saving:.1f} Wh a day ({100 * saving / total:.0f}%)"
            for saving, what in sorted(options, reverse=True) if saving >= 0.05]


def lines(result: Estimate) -> list[str]:
    """The estimate as a person reads it: plainly an estimate, the largest term named, the sources given."""
    inputs = result.inputs
    out = [f"ESTIMATE for a {inputs.board}, camera {inputs.mode}, {inputs.triggers_per_day:.0f} triggers a day "
           f"({100 * inputs.night_share:.0f}% at night"
           + (f", with a {inputs.ir_w:.1f} W IR light" if inputs.ir_w else ", no IR light") + "):"]
    width = max(len(t.name) for t in result.terms)
    for term in result.terms:
        out.append(f"  {term.name:<{width}}  {term.wh_per_day:6.1f} Wh/day   {term.how}")
    average_w = result.wh_per_day / HOURS
    out.append(f"  {'total':<{width}}  {result.wh_per_day:6.1f} Wh/day   (an average of {average_w:.2f} W)")
    usable = inputs.battery_wh * USABLE_BATTERY
    if inputs.solar_w:
        out.append(f"solar: {inputs.solar_w:.0f} W x {inputs.sun_hours:.1f} peak sun hours x {SOLAR_DERATE} = "
                   f"{result.solar_wh_per_day:.1f} Wh/day")
    days = result.days
    if days is None:
        out.append(f"battery: {inputs.battery_wh:.0f} Wh; the sun covers a day's use, on days with that much sun "
                   "(size the battery for the longest cloudy spell)")
    else:
        out.append(f"battery: {inputs.battery_wh:.0f} Wh, {usable:.0f} Wh usable ({USABLE_BATTERY:.0%}: converter "
                   f"and reserve): about {days:.0f} days ({days / 30.4:.1f} months)")
    largest = result.largest
    out.append(f"largest term: {largest.name}, {100 * largest.wh_per_day / result.wh_per_day:.0f}% of the total")
    if result.advice:
        out.append("what would change it most:")
        out += [f"  {line}" for line in result.advice]
    out.append("sources:")
    out += [f"  {term.name}: {term.source}" for term in result.terms]
    out.append("This is an estimate from published figures and this machine's measurements, good to perhaps ±30%; "
               "measure a unit with a USB power meter before a long deployment, and compare with `trapd status` "
               "(today's triggers and seconds active).")
    return out
