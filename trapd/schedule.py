"""When the trap takes triggers: always, fixed hours, or by day or night from the sun at the site.

Day and night come from the sun's elevation at the site at the instant asked about (NOAA's
approximation, good to a minute or two of sunrise and sunset: plenty for a camera trap), so
polar day, polar night and sites far from their timezone's meridian need no special cases.
The clock is injected, so schedules are tested without waiting for the sun.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta, tzinfo

from trapd.config.sections import ScheduleConfig
from trapd.frames import Trigger

#: Sunrise and sunset are when the sun's upper edge meets the horizon, refraction included.
HORIZON_DEG = -0.833

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    return datetime.now(UTC)


def solar_elevation_deg(moment: datetime, latitude: float, longitude: float) -> float:
    """The sun's elevation above the horizon, in degrees, at ``moment`` (aware) and the given place."""
    utc = moment.astimezone(UTC)
    day_of_year = utc.timetuple().tm_yday
    hours = utc.hour + utc.minute / 60 + utc.second / 3600
    gamma = 2 * math.pi / 365 * (day_of_year - 1 + (hours - 12) / 24)
    equation_of_time_min = 229.18 * (0.000075 + 0.001868 * math.cos(gamma) - 0.032077 * math.sin(gamma)
                                     - 0.014615 * math.cos(2 * gamma) - 0.040849 * math.sin(2 * gamma))
    declination = (0.006918 - 0.399912 * math.cos(gamma) + 0.070257 * math.sin(gamma)
                   - 0.006758 * math.cos(2 * gamma) + 0.000907 * math.sin(2 * gamma)
                   - 0.002697 * math.cos(3 * gamma) + 0.00148 * math.sin(3 * gamma))
    true_solar_min = hours * 60 + equation_of_time_min + 4 * longitude
    hour_angle = math.radians(true_solar_min / 4 - 180)
    lat = math.radians(latitude)
    cos_zenith = (math.sin(lat) * math.sin(declination)
                  + math.cos(lat) * math.cos(declination) * math.cos(hour_angle))
    return 90.0 - math.degrees(math.acos(max(-1.0, min(1.0, cos_zenith))))


def is_daylight(moment: datetime, latitude: float, longitude: float) -> bool:
    return solar_elevation_deg(moment, latitude, longitude) > HORIZON_DEG


def within_hours(moment: datetime, start: time, end: time, zone: tzinfo) -> bool:
    """Whether the site's local time lies in [start, end); a window may cross midnight (18:00-07:00)."""
    local = moment.astimezone(zone).time()
    if start <= end:
        return start <= local < end
    return local >= start or local < end


class Schedule:
    def __init__(self, config: ScheduleConfig, zone: tzinfo, latitude: float | None, longitude: float | None,
                 clock: Clock = utc_now) -> None:
        self._config = config
        self._zone = zone
        self._latitude = latitude
        self._longitude = longitude
        self._clock = clock

    def is_night(self, moment: datetime | None = None) -> bool | None:
        """Whether the sun is down at the site (now, or at ``moment``); None without coordinates."""
        if self._latitude is None or self._longitude is None:
            return None
        return not is_daylight(moment or self._clock(), self._latitude, self._longitude)

    def takes(self, trigger: Trigger) -> bool:
        """Whether this trigger falls in the operating hours. Manual and time-lapse ones always do."""
        return trigger.source in ("manual", "timelapse") or self.open_at(self._clock())

    def now(self) -> datetime:
        return self._clock()

    def open_at(self, moment: datetime) -> bool:
        """Whether PIR triggers are taken at ``moment``."""
        if self._config.active == "always":
            return True
        if self._config.active == "hours":
            start, end = self._config.hours_window()
            return within_hours(moment, start, end, self._zone)
        night = self.is_night(moment)
        return night is True if self._config.active == "night" else night is False

    def next_change(self, after: datetime) -> datetime | None:
        """When PIR triggers are next taken or refused, if that happens in the next two days (to the second).

        Found by stepping ten minutes at a time and then halving the step where the answer flips:
        the sun's times have no closed form here, and a schedule can have no change for days (the
        midnight sun)."""
        if self._config.active == "always":
            return None
        state = self.open_at(after)
        step = timedelta(minutes=10)
        moment = after
        while moment - after < timedelta(days=2):
            ahead = moment + step
            if self.open_at(ahead) != state:
                low, high = moment, ahead
                while high - low > timedelta(seconds=1):
                    middle = low + (high - low) / 2
                    low, high = (middle, high) if self.open_at(middle) == state else (low, middle)
                return high
            moment = ahead
        return None
