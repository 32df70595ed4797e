"""Opening hours of every demo site as a cumulative business clock, so delays can be drawn in business time.

Each open day of each site is one interval [start, start + length) in UTC epoch seconds. Positions are
cumulative open seconds, continuous across sites (site k starts where site k-1 ends), so a whole column of
timestamps converts with one ``searchsorted`` and no loop over rows or days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import numpy.typing as npt

from servicelens.demo.organisation import Location

# Names say the intended dtype; numpy's arithmetic typing widens dtypes too eagerly to check them precisely.
IntArray = npt.NDArray[Any]
FloatArray = npt.NDArray[Any]
BoolArray = npt.NDArray[Any]

_SITE_STRIDE = 10**11  # seconds; larger than any time span, separates sites in one sorted key


def epoch_seconds(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class SiteDays:
    """Per site and local day (shape: sites x days): what the generator needs to place created times."""

    first_day: date
    day_epoch: IntArray  # (days,) local midnight read as if it were UTC
    weekday: IntArray  # (days,) 0 = Monday
    utc_offset: IntArray  # (sites, days) seconds east of UTC at local noon
    open_hour: FloatArray  # (sites, days)
    close_hour: FloatArray  # (sites, days)
    is_open: BoolArray  # (sites, days) False on closed weekdays and public holidays


def build_site_days(locations: tuple[Location, ...], first_day: date, last_day: date) -> SiteDays:
    day_count = (last_day - first_day).days + 1
    days = [first_day + timedelta(days=i) for i in range(day_count)]
    years = sorted({d.year for d in days})
    offsets = np.zeros((len(locations), day_count), dtype=np.int64)
    open_hour = np.zeros((len(locations), day_count))
    close_hour = np.zeros((len(locations), day_count))
    is_open = np.zeros((len(locations), day_count), dtype=bool)
    # One small loop per site and day (about 13 x 520); the rows themselves are never looped over.
    for s, loc in enumerate(locations):
        zone = ZoneInfo(loc.timezone)
        public_holidays = holidays.country_holidays(loc.country, subdiv=loc.subdivision, years=years)
        for i, day in enumerate(days):
            noon = datetime(day.year, day.month, day.day, 12, tzinfo=zone)
            offset = noon.utcoffset()
            offsets[s, i] = int(offset.total_seconds()) if offset is not None else 0
            hours = loc.hours[day.weekday()]
            if hours is not None and day not in public_holidays:
                open_hour[s, i], close_hour[s, i] = hours
                is_open[s, i] = True
    return SiteDays(
        first_day=first_day,
        day_epoch=np.array([epoch_seconds(d) for d in days], dtype=np.int64),
        weekday=np.array([d.weekday() for d in days], dtype=np.int64),
        utc_offset=offsets,
        open_hour=open_hour,
        close_hour=close_hour,
        is_open=is_open,
    )


class BusinessClock:
    """Converts UTC epoch seconds to cumulative open seconds of a site and back, for whole arrays."""

    def __init__(self, days: SiteDays):
        site_idx, day_idx = np.nonzero(days.is_open)  # row-major: grouped by site, days ascending
        self.start = (
            days.day_epoch[day_idx]
            + np.round(days.open_hour[site_idx, day_idx] * 3600).astype(np.int64)
            - days.utc_offset[site_idx, day_idx]
        )
        self.length = np.round(
            (days.close_hour[site_idx, day_idx] - days.open_hour[site_idx, day_idx]) * 3600
        ).astype(np.int64)
        self.cumulative = np.concatenate([[0], np.cumsum(self.length)[:-1]]).astype(np.float64)
        self.origin = int(days.day_epoch[0]) - 2 * 86400
        self.start_key = site_idx.astype(np.int64) * _SITE_STRIDE + (self.start - self.origin)
        site_count = days.is_open.shape[0]
        counts = np.bincount(site_idx, minlength=site_count)
        if (counts == 0).any():
            raise ValueError("every demo site needs at least one open day in the calendar range")
        self.first_interval = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        self.last_interval = (np.cumsum(counts) - 1).astype(np.int64)

    def position(self, site: IntArray, t: IntArray | FloatArray) -> FloatArray:
        """Cumulative open seconds at time t; a time outside opening hours maps to the next opening."""
        key = site * _SITE_STRIDE + (t - self.origin)
        i = np.searchsorted(self.start_key, key, side="right") - 1
        i = np.clip(i, self.first_interval[site], self.last_interval[site])
        return self.cumulative[i] + np.clip(t - self.start[i], 0, self.length[i])

    def time_at(self, site: IntArray, position: FloatArray) -> FloatArray:
        """The UTC epoch second at which a site's business clock reaches ``position``."""
        lo = self.cumulative[self.first_interval[site]]
        last = self.last_interval[site]
        hi = self.cumulative[last] + self.length[last]
        position = np.clip(position, lo, hi)
        i = np.searchsorted(self.cumulative, position, side="right") - 1
        i = np.clip(i, self.first_interval[site], last)
        return self.start[i] + (position - self.cumulative[i])

    def add(self, site: IntArray, t: IntArray | FloatArray, business_seconds: FloatArray) -> FloatArray:
        """t plus a duration counted in open seconds of the site."""
        return self.time_at(site, self.position(site, t) + business_seconds)
