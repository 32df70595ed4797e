"""How figures are written on the dashboard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from app_pages import _format


@pytest.mark.parametrize(
    ("minutes", "text"),
    [
        (None, "—"),
        (0.4, "0 min"),
        (59.4, "59 min"),
        (59.6, "1 h 00 min"),
        (185, "3 h 05 min"),
        (47 * 60 + 59, "47 h 59 min"),
        (48 * 60, "2 d 00 h"),
        (54 * 60 + 10, "2 d 06 h"),
    ],
)
def test_duration(minutes: float | None, text: str) -> None:
    assert _format.duration(minutes) == text


def test_rates_and_scores() -> None:
    assert _format.percent(0.8421) == "84.2%"
    assert _format.percent(None) == "—"
    assert _format.nps_points(23.4) == "+23"
    assert _format.nps_points(-5.6) == "-6"
    assert _format.effort(5.25) == "5.25 / 7"
    assert _format.count(12345.0) == "12,345"


def test_sample_note_flags_small_samples_only() -> None:
    assert _format.sample_note(29, "rated") == "n = 29 rated · :warning: small sample (under 30)"
    assert _format.sample_note(30, "rated") == "n = 30 rated"
    assert _format.sample_note(1200, "rated") == "n = 1,200 rated"


def test_timestamp_is_shown_in_utc() -> None:
    paris = timezone(timedelta(hours=1))
    assert _format.timestamp(datetime(2026, 2, 20, 7, 30, tzinfo=paris)) == "2026-02-20 06:30 UTC"
    assert _format.timestamp(datetime(2026, 2, 20, 6, 30, tzinfo=UTC)) == "2026-02-20 06:30 UTC"
    assert _format.timestamp(None) == "never"
