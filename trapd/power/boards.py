"""Published power figures, each with its source (the README's "Power" section lists them in full).

Figures at 5 V, for a headless board. They differ in how they were measured (USB meter, wall
meter, the official table with a monitor attached), so each estimate is good to perhaps ±30%.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

Board = Literal["pi-zero-2w", "pi3b+", "pi4", "pi5"]
#: The boards `trapd power --board` takes (its command line is built without loading the figures).
BOARD_NAMES: tuple[Board, ...] = get_args(Board)


@dataclass(frozen=True, slots=True)
class BoardFigures:
    idle_w: float
    idle_source: str
    busy_w: float
    busy_source: str
    cores: int
    #: How many times longer a CPU-second measured on the development machine takes on this board.
    slower: float
    slower_source: str


BOARDS: dict[Board, BoardFigures] = {
    "pi-zero-2w": BoardFigures(
        0.60, "cnx-software 2021-12-09, Pi Zero 2 W power consumption: about 120 mA at 5 V idle",
        2.3, "Geerling 2021, disabling cores on the Pi Zero 2 W: stress-ng on 4 cores, about 2.3 W", 4,
        22.0, "the Zero 2 W's Cortex-A53 at 1.0 GHz: the Pi 3B+ figure scaled by its clock (1.4/1.0)"),
    "pi3b+": BoardFigures(
        1.9, "pidramble.com power figures: 3B+ idle 350 mA (1.9 W)",
        5.1, "pidramble.com: 3B+ with stress --cpu 4, 980 mA (5.1 W)", 4,
        16.0, "Cortex-A53 at 1.4 GHz: about half a Cortex-A72's work per clock, so twice the Pi 4 figure"),
    "pi4": BoardFigures(
        2.7, "pidramble.com: Pi 4 idle 540 mA (2.7 W), headless",
        6.4, "pidramble.com: Pi 4 with stress --cpu 4, 1280 mA (6.4 W)", 4,
        8.0, "SSD MobileNet v1 at 42 ms on a Pi 4 with 4 threads (Qengineering, TensorFlow_Lite_SSD_RPi_64-bits) "
             "against 13.7 ms on 1 thread here (BENCHMARKS.md), with 4 threads worth about 2.5 of one"),
    "pi5": BoardFigures(
        2.4, "Geerling 2023, questions about the Pi 5: 1.8 W idle on the official supply, up to 3 W on others",
        11.0, "Geerling, top500-benchmark: Pi 5 under HPL, 11 W", 4,
        3.0, "Geerling, top500-benchmark: HPL 30.2 Gflops on the Pi 5 against 11.9 on the Pi 4 (2.5x)"),
}

#: The camera module streaming: the official budget is 250 mA; measured system increases are 180 mA
#: (xtronix.co.uk, Pi 3B with a camera) and about 1 W (picamera2 issue 489, Picamera2 against Picamera).
CAMERA_W = 1.0
CAMERA_SOURCE = ("Raspberry Pi documentation, power supplies: the Camera Module budget is 250 mA; xtronix.co.uk: a "
                 "Pi 3B drew 180 mA more with the camera on; picamera2 issue 489: about 1 W")
#: A camera started for each event (cold mode) runs its exposure and white balance for this long before a
#: usable frame: picamera2's own capture helpers wait 1 s (picamera2.py; examples/capture_timelapse.py).
CAMERA_START_S = 1.0
CAMERA_START_SOURCE = "picamera2: start_and_capture_file waits 1 s by default for AEC/AWB to settle"
#: An 850 nm IR board (Waveshare Infrared LED Board (B)): 3 W each, sold and used in pairs.
IR_W = 6.0
IR_SOURCE = "Waveshare Infrared LED Board (B): a 3 W 850 nm LED per board, two boards recommended"
#: What reaches the Pi of a battery's rated energy: a 5 V converter (about 90%) and not running it flat (90%).
USABLE_BATTERY = 0.8
#: What a solar panel gives of its rating times the peak sun hours: charge controller, angle, heat, dust.
SOLAR_DERATE = 0.7
#: What `tools/low-power.sh` saves: on a Zero 2 W, cnx-software's tuned idle (under 375 mW, from 600 mW);
#: elsewhere the published items added up (Wi-Fi 40 mA, HDMI 25 mA, two LEDs 10 mA: 75 mA at 5 V).
LOW_POWER_SAVING_W = {"pi-zero-2w": 0.225, "pi3b+": 0.375, "pi4": 0.375, "pi5": 0.375}
