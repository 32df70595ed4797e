"""Business time as a cumulative clock.

For each calendar we precompute, for every UTC day of the covered range, the business microseconds before
that day and the (at most ``k``) business intervals inside it. Business time at an instant is then
``cum[day] + sum_j clip(t - start_j, 0, end_j - start_j)``: a gather and a few arithmetic expressions, no
loop over days and no sort. The inverse (when does the clock reach x?) is a ``search_sorted`` on the same
cumulative column.

Local time exists only here: opening hours are wall-clock intervals of a local date, and an instant is
business time when its wall-clock time in the calendar's zone lies inside an opening interval of that date
(intervals that cross midnight belong to the date they start on). Across DST changes this is exact: a
skipped wall hour holds no business time, a repeated one counts twice.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

import holidays
import numpy as np
import polars as pl

from sla.config import CalendarConfig, SlaConfig

US_PER_SECOND = 1_000_000
US_PER_MINUTE = 60 * US_PER_SECOND
US_PER_DAY = 86_400 * US_PER_SECOND
_EPOCH = datetime(1970, 1, 1)


@lru_cache(maxsize=64)
def zone_pieces(zone_name: str, first_day: int, last_day: int) -> tuple[list[int], list[int]]:
    """UTC start (µs) of each constant-offset piece of ``zone_name`` over the days, and its offset (µs)."""
    zone = ZoneInfo(zone_name)

    def offset_at(second: int) -> int:
        moment = datetime.fromtimestamp(second, UTC).astimezone(zone)
        delta = moment.utcoffset()
        assert delta is not None
        return int(delta.total_seconds()) * US_PER_SECOND

    step = 6 * 3600  # no zone changes its offset twice within six hours
    start, stop = (first_day - 2) * 86_400, (last_day + 2) * 86_400
    starts, offsets = [start * US_PER_SECOND], [offset_at(start)]
    previous = offsets[0]
    for second in range(start + step, stop + step, step):
        current = offset_at(second)
        if current != previous:
            low, high = second - step, second  # offset(low) == previous, offset(high) == current
            while high - low > 1:
                middle = (low + high) // 2
                if offset_at(middle) == previous:
                    low = middle
                else:
                    high = middle
            starts.append(high * US_PER_SECOND)
            offsets.append(current)
            previous = current
    return starts, offsets


def closed_dates(calendar: CalendarConfig, first: date, last: date) -> set[date]:
    closed = {d for d in calendar.closed_dates if first <= d <= last}
    years = list(range(first.year, last.year + 1))
    for source in calendar.holidays:
        closed.update(
            holidays.country_holidays(source.country, subdiv=source.subdivision, years=years).keys()
        )
    return closed


def local_days(zones: list[str], zone_index: np.ndarray, instants_us: np.ndarray) -> np.ndarray:
    """Local date (days since 1970-01-01) of each UTC instant (µs) in the zone ``zones[zone_index]``
    (UTC where the index is negative).

    The offsets come from :func:`zone_pieces` over whole years around the instants: one search over every
    zone's offset changes at once replaces a time-zone conversion per zone.
    """
    if len(instants_us) == 0 or not zones:
        return np.floor_divide(instants_us, US_PER_DAY)
    first, last = int(instants_us.min()) // US_PER_DAY, int(instants_us.max()) // US_PER_DAY
    low = date.fromordinal(_EPOCH.date().toordinal() + first).replace(month=1, day=1)
    high = date.fromordinal(_EPOCH.date().toordinal() + last).replace(month=12, day=31)
    pieces = [zone_pieces(zone, _day_number(low), _day_number(high)) for zone in [*zones, "UTC"]]
    # Zone z's pieces are shifted by z * stride so that all zones share one sorted search key.
    stride = (_day_number(high) + 4) * US_PER_DAY - (_day_number(low) - 4) * US_PER_DAY
    base = (_day_number(low) - 4) * US_PER_DAY
    keys = np.concatenate(
        [np.asarray(p[0], dtype=np.int64) - base + z * stride for z, p in enumerate(pieces)]
    )
    offsets = np.concatenate([np.asarray(p[1], dtype=np.int64) for p in pieces])
    zone = np.where(zone_index < 0, len(zones), zone_index).astype(np.int64)
    piece = np.searchsorted(keys, zone * stride + (instants_us - base), side="right") - 1
    return np.floor_divide(instants_us + offsets[piece], US_PER_DAY)


def wall_intervals(calendar: CalendarConfig, first: date, last: date) -> list[tuple[int, int]]:
    """Opening intervals of each local date from ``first`` to ``last``, as naive wall-clock µs."""
    weekly = calendar.weekly_minutes()
    closed = closed_dates(calendar, first, last)
    special = {exc.date: sorted(_minutes(exc.hours)) for exc in calendar.exceptions}
    out: list[tuple[int, int]] = []
    day = first
    while day <= last:
        if day in special:
            todays = special[day]
        elif day in closed:
            todays = []
        else:
            todays = weekly.get(day.weekday(), [])
        midnight = (day - _EPOCH.date()).days * US_PER_DAY
        out.extend((midnight + a * US_PER_MINUTE, midnight + b * US_PER_MINUTE) for a, b in todays)
        day += timedelta(days=1)
    return out


def _minutes(texts: list[str]) -> list[tuple[int, int]]:
    from sla.config import parse_hours

    return [parse_hours(t) for t in texts]


def utc_intervals(calendar: CalendarConfig, first_day: int, last_day: int) -> list[tuple[int, int]]:
    """Business intervals in UTC µs, sorted and disjoint, for UTC days ``first_day .. last_day``."""
    first = _EPOCH.date() + timedelta(days=first_day - 1)
    last = _EPOCH.date() + timedelta(days=last_day + 1)
    starts, offsets = zone_pieces(calendar.timezone, first_day, last_day)
    ends = [*starts[1:], (last_day + 3) * US_PER_DAY]
    out: list[tuple[int, int]] = []
    for wall_start, wall_end in wall_intervals(calendar, first, last):
        # {t : wall(t) in [wall_start, wall_end)} piece by piece; a piece with offset o maps t -> t + o.
        lo = bisect.bisect_right(starts, wall_start - 15 * 3600 * US_PER_SECOND) - 1
        hi = bisect.bisect_right(starts, wall_end + 15 * 3600 * US_PER_SECOND)
        for i in range(max(lo, 0), hi):
            a = max(wall_start - offsets[i], starts[i])
            b = min(wall_end - offsets[i], ends[i])
            if a < b:
                out.append((a, b))
    out.sort()
    merged: list[tuple[int, int]] = []
    for a, b in out:
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    lo_us, hi_us = first_day * US_PER_DAY, (last_day + 1) * US_PER_DAY
    return [(max(a, lo_us), min(b, hi_us)) for a, b in merged if b > lo_us and a < hi_us]


@dataclass(frozen=True)
class CalendarTable:
    """Per-UTC-day cumulative business time of every calendar, ready for gathers in polars expressions."""

    names: list[str]
    first_day: int  # UTC day number (days since 1970-01-01) of row 0 of each calendar block
    n_days: int
    identity: np.ndarray  # bool per calendar: business time == calendar time (24/7 without closures)
    cum: np.ndarray  # int64, business µs before each day, per calendar block
    starts: np.ndarray  # int64 (k, C * n_days): interval starts, µs since epoch (padded with the day start)
    ends: np.ndarray
    search_key: np.ndarray  # calendar index * stride + cum: sorted over the whole table
    # Where every opening starts and ends on a multiple of ``slot_us`` from the first day (typically 15 or
    # 30 minutes), the same clock as one row per slot: business µs before it, and whether it is open. One
    # gather then replaces the sum over the day's intervals. ``slot_us`` 0: too many slots, not built.
    slot_us: int = 0
    slot_cum: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    slot_open: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def stride(self) -> int:
        return (self.n_days + 1) * US_PER_DAY

    def index_of(self, name: str) -> int:
        return self.names.index(name)

    def business_array(self, calendar: np.ndarray, instant_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Business µs of ``calendar`` (indices) up to ``instant_us``, and whether each lies in the range."""
        if self.slot_us:
            total, valid = self._by_slot(calendar, instant_us)
        else:
            total, valid = self._by_day(calendar, instant_us)
        if self.identity.any():
            identity = self.identity[calendar]
            return np.where(identity, instant_us, total), valid | identity
        return total, valid

    def _by_slot(self, calendar: np.ndarray, instant_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        per_calendar = len(self.slot_cum) // len(self.names)
        slot, into = np.divmod(instant_us - self.first_day * US_PER_DAY, self.slot_us)
        valid = (slot >= 0) & (slot < per_calendar)
        np.clip(slot, 0, per_calendar - 1, out=slot)
        slot += calendar * per_calendar
        into *= self.slot_open[slot]
        into += self.slot_cum[slot]
        return into, valid

    def _by_day(self, calendar: np.ndarray, instant_us: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        day = np.floor_divide(instant_us, US_PER_DAY)
        day -= self.first_day
        valid = (day >= 0) & (day < self.n_days)
        np.clip(day, 0, self.n_days - 1, out=day)
        row = calendar * self.n_days
        row += day
        total = self.cum[row]
        for j in range(self.starts.shape[0]):
            start = self.starts[j][row]
            length = self.ends[j][row]
            length -= start
            inside = np.subtract(instant_us, start, out=start)
            np.maximum(inside, 0, out=inside)
            np.minimum(inside, length, out=inside)
            total += inside
        return total, valid

    def instant_array(self, calendar: np.ndarray, business: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The UTC µs at which ``calendar``'s clock reaches ``business`` µs (inverse of
        :meth:`business_array`), and whether that lies in the range."""
        row = np.searchsorted(self.search_key, calendar * self.stride + business, side="left") - 1
        valid = (row >= calendar * self.n_days) & (row < (calendar + 1) * self.n_days)
        np.clip(row, 0, len(self.cum) - 1, out=row)
        remaining = business - self.cum[row]
        found = np.zeros_like(business)
        hit_any = np.zeros(len(business), dtype=bool)
        before = np.zeros_like(business)
        for j in range(self.starts.shape[0]):
            start = self.starts[j][row]
            length = self.ends[j][row] - start
            hit = (remaining > before) & (remaining <= before + length)
            hit &= ~hit_any
            np.copyto(found, start + remaining - before, where=hit)
            hit_any |= hit
            before += length
        valid &= hit_any
        if self.identity.any():
            identity = self.identity[calendar]
            return np.where(identity, business, found), valid | identity
        return found, valid

    def _vectorised(self, kernel: str, calendar: pl.Expr, value: pl.Expr, dtype: pl.DataType) -> pl.Expr:
        def run(columns: pl.Series) -> pl.Series:
            fields = columns.struct.unnest()
            cal, arg = fields["c"], fields["v"]
            known = None
            if cal.null_count() or arg.null_count():
                known = (cal.is_not_null() & arg.is_not_null()).to_numpy()
                cal, arg = cal.fill_null(0), arg.fill_null(0)
            result, valid = getattr(self, kernel)(cal.to_numpy(), arg.to_numpy())
            if known is not None:
                valid &= known
            return _with_nulls(result, valid)

        both = pl.struct(calendar.cast(pl.Int64).alias("c"), value.cast(pl.Int64).alias("v"))
        return both.map_batches(run, return_dtype=pl.Int64, is_elementwise=True).cast(dtype)

    def business_us(self, calendar: pl.Expr, instant: pl.Expr) -> pl.Expr:
        """Business µs of ``calendar`` (index, Int) up to ``instant`` (UTC datetime or µs); null outside the
        range.

        >>> table.business_us(pl.col("cal"), pl.col("b")) - table.business_us(pl.col("cal"), pl.col("a"))
        """
        return self._vectorised("business_array", calendar, instant, pl.Int64())

    def instant_at(self, calendar: pl.Expr, business: pl.Expr) -> pl.Expr:
        """The UTC instant at which ``calendar``'s clock reaches ``business`` µs (inverse of
        :meth:`business_us`); null beyond the covered range."""
        return self._vectorised("instant_array", calendar, business, pl.Datetime("us", "UTC"))

    def with_instant(self, frame: pl.LazyFrame, calendar: str, business: str, alias: str) -> pl.LazyFrame:
        """Add column ``alias``: the instant the clock of calendar column ``calendar`` reaches column
        ``business`` (µs)."""
        return frame.with_columns(self.instant_at(pl.col(calendar), pl.col(business)).alias(alias))


CALENDAR_TIME = -1  # calendar index of a clock that counts all time, not business hours


def _with_nulls(values: np.ndarray, valid: np.ndarray) -> pl.Series:
    series = pl.Series(values, dtype=pl.Int64)
    return series if valid.all() else series.scatter(np.flatnonzero(~valid), None)


def clock_values(
    table: CalendarTable, calendar: np.ndarray, instant_us: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Counted µs at each instant on its calendar (``CALENDAR_TIME``: all time), and which are known."""
    values, valid = table.business_array(np.maximum(calendar, 0).astype(np.int64), instant_us)
    own = calendar < 0
    if own.any():
        values = np.where(own, instant_us, values)
        valid = valid | own
    return values, valid


def clock_instants(table: CalendarTable, calendar: np.ndarray, counted: pl.Series) -> pl.Series:
    """Inverse of :func:`clock_values`: the UTC instant each calendar's clock reaches ``counted`` µs."""
    known = counted.is_not_null().to_numpy()
    values = counted.fill_null(0).to_numpy()
    instants, valid = table.instant_array(np.maximum(calendar, 0).astype(np.int64), values)
    own = calendar < 0
    if own.any():
        instants = np.where(own, values, instants)
        valid = valid | own
    return _with_nulls(instants, valid & known).cast(pl.Datetime("us", "UTC"))


def _day_number(day: date) -> int:
    return (day - _EPOCH.date()).days


def _is_identity(calendar: CalendarConfig) -> bool:
    return calendar.always_open and not (calendar.holidays or calendar.closed_dates or calendar.exceptions)


def build_table(calendars: dict[str, CalendarConfig], first: date, last: date) -> CalendarTable:
    """Precompute the business clock of each calendar for the UTC days ``first .. last``."""
    names = sorted(calendars)
    first_day, last_day = _day_number(first), _day_number(last)
    n_days = last_day - first_day + 1
    per_calendar: list[list[list[tuple[int, int]]]] = []
    k = 1
    for name in names:
        days: list[list[tuple[int, int]]] = [[] for _ in range(n_days)]
        if not _is_identity(calendars[name]):
            for a, b in utc_intervals(calendars[name], first_day, last_day):
                while a < b:  # split at UTC midnights
                    day = a // US_PER_DAY
                    cut = min(b, (day + 1) * US_PER_DAY)
                    days[day - first_day].append((a, cut))
                    a = cut
        k = max(k, *(len(d) for d in days))
        per_calendar.append(days)
    rows = len(names) * n_days
    day_starts = np.tile((np.arange(n_days, dtype=np.int64) + first_day) * US_PER_DAY, len(names))
    starts = np.tile(day_starts, (k, 1))
    ends = starts.copy()
    lengths = np.zeros(rows, dtype=np.int64)
    for c, days in enumerate(per_calendar):
        for d, intervals in enumerate(days):
            row = c * n_days + d
            for j, (a, b) in enumerate(intervals):
                starts[j, row], ends[j, row] = a, b
                lengths[row] += b - a
    cum = np.zeros(rows, dtype=np.int64)
    stride = (n_days + 1) * US_PER_DAY
    for c in range(len(names)):
        block = slice(c * n_days, (c + 1) * n_days)
        cum[block] = np.concatenate([[0], np.cumsum(lengths[block])[:-1]])
    search_key = np.repeat(np.arange(len(names), dtype=np.int64) * stride, n_days) + cum
    identity = np.array([_is_identity(calendars[n]) for n in names], dtype=bool)
    slot_us, slot_cum, slot_open = _slots(per_calendar, first_day, n_days)
    return CalendarTable(
        names, first_day, n_days, identity, cum, starts, ends, search_key, slot_us, slot_cum, slot_open
    )


# Slots beyond this many (over all calendars) are not worth their memory: the per-day sum is used instead.
SLOT_LIMIT = 1 << 22


def _slots(
    per_calendar: list[list[list[tuple[int, int]]]], first_day: int, n_days: int
) -> tuple[int, np.ndarray, np.ndarray]:
    """``slot_us``, ``slot_cum`` and ``slot_open`` of :class:`CalendarTable` (0 and empty when too many)."""
    base = first_day * US_PER_DAY
    step = US_PER_DAY
    for days in per_calendar:
        for intervals in days:
            for a, b in intervals:
                step = math.gcd(step, a - base, b - base)
    per_calendar_slots = n_days * (US_PER_DAY // step)
    if len(per_calendar) * per_calendar_slots > SLOT_LIMIT:
        return 0, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    is_open = np.zeros(len(per_calendar) * per_calendar_slots, dtype=np.int64)
    for c, days in enumerate(per_calendar):
        for intervals in days:
            for a, b in intervals:
                offset = c * per_calendar_slots
                is_open[offset + (a - base) // step : offset + (b - base) // step] = 1
    cum = np.zeros_like(is_open)
    for c in range(len(per_calendar)):
        block = slice(c * per_calendar_slots, (c + 1) * per_calendar_slots)
        cum[block] = np.concatenate([[0], np.cumsum(is_open[block] * step)[:-1]])
    return step, cum, is_open


_TABLES: dict[tuple[str, date, date], CalendarTable] = {}


def table_for(config: SlaConfig, now: datetime) -> CalendarTable:
    """The calendar table covering ``config.history_from`` to ``now + horizon_days`` (cached per config)."""
    last = (now.astimezone(UTC) + timedelta(days=config.horizon_days)).date()
    key = (config.model_dump_json(include={"calendars"}), config.history_from, last)
    if key not in _TABLES:
        if len(_TABLES) > 16:
            _TABLES.clear()
        _TABLES[key] = build_table(config.calendars, config.history_from, last)
    return _TABLES[key]
