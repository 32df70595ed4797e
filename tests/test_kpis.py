"""KPI functions checked against plain-Python oracles written straight from the definitions in docs/kpis.md."""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from servicelens import kpis
from servicelens.model import EVENT_SCHEMA, INTERACTION_SCHEMA, empty_events, empty_interactions

T0 = datetime(2026, 1, 5, tzinfo=UTC)
Z = 1.959963984540054
FAST = settings(max_examples=60, deadline=None)

Row = dict[str, Any]


def frame(rows: list[Row]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=INTERACTION_SCHEMA) if rows else empty_interactions()


@st.composite
def interaction_rows(draw: st.DrawFn, max_size: int = 40) -> list[Row]:
    count = draw(st.integers(0, max_size))
    rows = []
    for i in range(count):
        created = T0 + timedelta(seconds=draw(st.integers(0, 40 * 86_400)))
        first = draw(st.none() | st.integers(0, 5 * 86_400))
        resolved = draw(st.none() | st.integers(0, 12 * 86_400))
        rows.append(
            {
                "interaction_id": f"t:{i}",
                "location": draw(st.sampled_from(["north", "south", None])),
                "team": draw(st.sampled_from(["desk", "phones"])),
                "customer": draw(st.sampled_from(["c1", "c2", "c3", None])),
                "created_at": created,
                "first_response_at": None if first is None else created + timedelta(seconds=first),
                "resolved_at": None if resolved is None else created + timedelta(seconds=resolved),
                "updated_at": created,
                "reopens": draw(st.sampled_from([0, 0, 0, 1, None])),
                "csat": draw(st.none() | st.integers(1, 5)),
                "nps": draw(st.none() | st.integers(0, 10)),
                "ces": draw(st.none() | st.integers(1, 7)),
            }
        )
    return rows


def grouped(rows: list[Row], by: list[str]) -> dict[tuple[Any, ...], list[Row]]:
    groups: dict[tuple[Any, ...], list[Row]] = defaultdict(list)
    for row in rows:
        groups[tuple(row[c] for c in by)].append(row)
    return groups


def result_map(result: pl.LazyFrame, by: list[str]) -> dict[tuple[Any, ...], tuple[Any, ...]]:
    out = {}
    for row in result.collect().iter_rows(named=True):
        out[tuple(row[c] for c in by)] = (row["value"], row["n"], row["ci_low"], row["ci_high"])
    return out


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def assert_matches(
    got: dict[tuple[Any, ...], tuple[Any, ...]], want: dict[tuple[Any, ...], tuple[Any, ...]]
) -> None:
    assert got.keys() == want.keys()
    for key, expected in want.items():
        value, n, low, high = got[key]
        assert n == expected[1], key
        assert close(value, expected[0]), (key, value, expected)
        assert close(low, expected[2]), (key, low, expected)
        assert close(high, expected[3]), (key, high, expected)


def oracle_wilson(k: int, n: int) -> tuple[float | None, float | None]:
    if n == 0:
        return None, None
    p = k / n
    centre = (p + Z * Z / (2 * n)) / (1 + Z * Z / n)
    half = Z / (1 + Z * Z / n) * math.sqrt(p * (1 - p) / n + Z * Z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def oracle_csat(rows: list[Row]) -> tuple[Any, ...]:
    rated = [r["csat"] for r in rows if r["csat"] is not None]
    k = sum(1 for c in rated if c in (4, 5))
    return (k / len(rated) if rated else None, len(rated), *oracle_wilson(k, len(rated)))


def oracle_nps(rows: list[Row]) -> tuple[Any, ...]:
    answers = [r["nps"] for r in rows if r["nps"] is not None]
    n = len(answers)
    if n == 0:
        return None, 0, None, None
    p = sum(1 for a in answers if a >= 9) / n
    d = sum(1 for a in answers if a <= 6) / n
    if n == 1:
        return 100 * (p - d), 1, None, None
    half = Z * math.sqrt((p + d - (p - d) ** 2) / n)
    return 100 * (p - d), n, max(-100.0, 100 * (p - d - half)), min(100.0, 100 * (p - d + half))


def oracle_ces(rows: list[Row]) -> tuple[Any, ...]:
    answers = [float(r["ces"]) for r in rows if r["ces"] is not None]
    n = len(answers)
    if n == 0:
        return None, 0, None, None
    mean = statistics.fmean(answers)
    if n == 1:
        return mean, 1, None, None
    sd = statistics.stdev(answers)
    if sd == 0:
        return mean, n, mean, mean
    low, high = stats.t.interval(0.95, n - 1, loc=mean, scale=sd / math.sqrt(n))
    return mean, n, low, high


def oracle_median(values: list[float]) -> tuple[Any, ...]:
    n = len(values)
    if n == 0:
        return None, 0, None, None
    ordered = sorted(values)
    if n < 6:
        return statistics.median(ordered), n, None, None
    low_rank = max(1, math.floor(n / 2 - Z * math.sqrt(n) / 2))
    high_rank = min(n, math.ceil(n / 2 + 1 + Z * math.sqrt(n) / 2))
    return statistics.median(ordered), n, ordered[low_rank - 1], ordered[high_rank - 1]


def minutes(a: datetime | None, b: datetime | None) -> float | None:
    return None if a is None or b is None else (b - a).total_seconds() / 60


def oracle_first_response(rows: list[Row]) -> tuple[Any, ...]:
    vals = [minutes(r["created_at"], r["first_response_at"]) for r in rows]
    return oracle_median([v for v in vals if v is not None])


def oracle_resolution(rows: list[Row]) -> tuple[Any, ...]:
    vals = [minutes(r["created_at"], r["resolved_at"]) for r in rows]
    return oracle_median([v for v in vals if v is not None])


def oracle_volume(rows: list[Row]) -> tuple[Any, ...]:
    return float(len(rows)), len(rows), None, None


CASES: list[tuple[Callable[..., pl.LazyFrame], Callable[[list[Row]], tuple[Any, ...]]]] = [
    (kpis.csat, oracle_csat),
    (kpis.nps, oracle_nps),
    (kpis.ces, oracle_ces),
    (kpis.median_first_response_minutes, oracle_first_response),
    (kpis.median_resolution_minutes, oracle_resolution),
    (kpis.volume, oracle_volume),
]


@pytest.mark.parametrize(("kpi", "oracle"), CASES, ids=[c[0].__name__ for c in CASES])
@FAST
@given(rows=interaction_rows(), by=st.sampled_from([[], ["location"], ["location", "team"]]))
def test_kpi_matches_oracle(
    kpi: Callable[..., pl.LazyFrame],
    oracle: Callable[[list[Row]], tuple[Any, ...]],
    rows: list[Row],
    by: list[str],
) -> None:
    got = result_map(kpi(frame(rows), by=by), by)
    want = {key: oracle(group) for key, group in grouped(rows, by).items()}
    if not by:
        want = {(): oracle(rows)}  # the overall row exists even without data
    assert_matches(got, want)


@st.composite
def reply_events(draw: st.DrawFn, rows: list[Row]) -> list[Row]:
    events = []
    for row in rows:
        for _ in range(draw(st.integers(0, 3))):
            events.append(
                {
                    "interaction_id": row["interaction_id"],
                    "at": row["created_at"] + timedelta(seconds=draw(st.integers(0, 8 * 86_400))),
                    "type": draw(
                        st.sampled_from(["agent_reply", "agent_reply", "internal_note", "customer_message"])
                    ),
                }
            )
    return events


def oracle_fcr(
    rows: list[Row], all_rows: list[Row], events: list[Row], now: datetime, days: int
) -> tuple[Any, ...]:
    window = timedelta(days=days)
    eligible = resolved_first = 0
    for row in rows:
        resolved = row["resolved_at"]
        if resolved is None or row["customer"] is None or resolved + window > now:
            continue
        eligible += 1
        replies = sum(
            1
            for e in events
            if e["interaction_id"] == row["interaction_id"]
            and e["type"] == "agent_reply"
            and e["at"] <= resolved
        )
        repeat = any(
            other["customer"] == row["customer"] and resolved < other["created_at"] <= resolved + window
            for other in all_rows
        )
        if replies <= 1 and (row["reopens"] or 0) == 0 and not repeat:
            resolved_first += 1
    value = resolved_first / eligible if eligible else None
    return (value, eligible, *oracle_wilson(resolved_first, eligible))


@FAST
@given(data=st.data(), days=st.integers(0, 10), now_offset_days=st.integers(10, 70))
def test_fcr_matches_oracle(data: st.DataObject, days: int, now_offset_days: int) -> None:
    rows = data.draw(interaction_rows(max_size=30))
    events = data.draw(reply_events(rows))
    now = T0 + timedelta(days=now_offset_days)
    events_frame = pl.DataFrame(events, schema=EVENT_SCHEMA) if events else empty_events()
    by = data.draw(st.sampled_from([[], ["location"]]))
    # A filtered view: only the "desk" team is measured, but follow-ups anywhere still break FCR.
    measured = [r for r in rows if r["team"] == "desk"]
    got = result_map(
        kpis.fcr(frame(measured), events_frame, now=now, window_days=days, by=by, customers_from=frame(rows)),
        by,
    )
    want = {key: oracle_fcr(group, rows, events, now, days) for key, group in grouped(measured, by).items()}
    if not by:
        want = {(): oracle_fcr(measured, rows, events, now, days)}
    assert_matches(got, want)


def test_fcr_examples_from_the_definition() -> None:
    def row(i: str, customer: str, created_h: int, resolved_h: int | None, reopens: int = 0) -> Row:
        created = T0 + timedelta(hours=created_h)
        return {
            "interaction_id": i,
            "customer": customer,
            "created_at": created,
            "resolved_at": None if resolved_h is None else T0 + timedelta(hours=resolved_h),
            "updated_at": created,
            "reopens": reopens,
        }

    rows = [
        row("one-reply", "a", 0, 2),
        row("two-replies", "b", 0, 2),
        row("solving-reply", "g", 0, 2),  # its second reply carries the resolution itself
        row("reopened", "c", 0, 2, reopens=1),
        row("came-back", "d", 0, 2),
        row("follow-up", "d", 50, None),  # 48 h after "came-back" was resolved: inside the 7-day window
        row("late-return", "e", 0, 2),
        row("much-later", "e", 2 + 8 * 24, None),  # 8 days later: outside the window
        row("too-recent", "f", 0, 24 * 30),  # window not over at `now`
    ]
    at = T0 + timedelta(hours=1)
    events = pl.DataFrame(
        [
            {"interaction_id": "one-reply", "at": at, "type": "agent_reply"},
            {"interaction_id": "one-reply", "at": T0 + timedelta(hours=3), "type": "agent_reply"},  # after
            {"interaction_id": "two-replies", "at": at, "type": "agent_reply"},
            {"interaction_id": "two-replies", "at": at, "type": "agent_reply"},
            {"interaction_id": "solving-reply", "at": at, "type": "agent_reply"},
            {"interaction_id": "solving-reply", "at": T0 + timedelta(hours=2), "type": "agent_reply"},
            {"interaction_id": "reopened", "at": at, "type": "internal_note"},
        ],
        schema=EVENT_SCHEMA,
    )
    flags = (
        kpis.fcr_flags(frame(rows), events, now=T0 + timedelta(days=20), window_days=7)
        .collect()
        .select("interaction_id", "fcr_eligible", "fcr_resolved")
    )
    by_id = {r["interaction_id"]: (r["fcr_eligible"], r["fcr_resolved"]) for r in flags.iter_rows(named=True)}
    assert by_id == {
        "one-reply": (True, True),
        "two-replies": (True, False),
        "solving-reply": (True, False),
        "reopened": (True, False),
        "came-back": (True, False),
        "follow-up": (False, False),
        "late-return": (True, True),
        "much-later": (False, False),
        "too-recent": (False, False),
    }


def test_median_interpolation_is_linear_by_default() -> None:
    rows = [
        {"created_at": T0, "first_response_at": T0 + timedelta(minutes=m), "updated_at": T0}
        for m in (10, 20, 40, 80)
    ]
    value = kpis.median_first_response_minutes(frame(rows)).collect()["value"][0]
    assert value == 30.0
    nearest = kpis.median_first_response_minutes(frame(rows), interpolation="lower").collect()["value"][0]
    assert nearest == 20.0


def test_median_interval_brackets_the_median() -> None:
    rows = [
        {"created_at": T0, "resolved_at": T0 + timedelta(minutes=m), "updated_at": T0} for m in range(1, 101)
    ]
    value, n, low, high = kpis.median_resolution_minutes(frame(rows)).collect().row(0)
    assert (n, value) == (100, 50.5)
    assert (low, high) == (40.0, 61.0)


def test_week_start_is_monday_utc() -> None:
    stamps = pl.DataFrame({"created_at": [datetime(2026, 3, 8, 23, 59, tzinfo=UTC)]})
    assert stamps.select(kpis.week_start())["week"][0] == datetime(2026, 3, 2, tzinfo=UTC)
