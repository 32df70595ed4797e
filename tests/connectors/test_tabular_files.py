from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import openpyxl

from connectors.config import TabularFilesConfig
from connectors.tabular import parse_tabular_file

MAPPING = {
    "external_id": "Case",
    "created_at": "Opened",
    "status": "State",
    "channel": "Via",
    "location": "Store",
    "csat": "Score",
    "tags": "Labels",
}


def _config(**extra: object) -> TabularFilesConfig:
    return TabularFilesConfig.model_validate(
        {
            "kind": "tabular_files",
            "name": "stores",
            "path": "x",
            "mapping": MAPPING,
            "value_maps": {
                "status": {"Done": "solved", "Waiting": "pending"},
                "channel": {"Counter": "other"},
            },
            "timestamp_format": "%d.%m.%Y %H:%M",
            "time_zone": "Europe/Berlin",
            **extra,
        }
    )


def test_csv_with_mapping_value_maps_and_local_times(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text(
        "Case,Opened,State,Via,Store,Score,Labels\n"
        "A-1,02.01.2025 09:30,Done,Counter,Berlin Mitte,4,refund|vip\n"
        "A-2,02.01.2025 10:00,Lost,email,Berlin Mitte,,\n"
        "A-3,2025-01-02,Waiting,phone,Köln,,\n"
        "A-4,02.07.2025 10:00,Waiting,phone,Köln,five,\n"
    )
    batch = parse_tabular_file(path, _config())
    [row] = batch.interactions.iter_rows(named=True)
    assert row["interaction_id"] == "stores:A-1"
    assert row["created_at"] == datetime(2025, 1, 2, 8, 30, tzinfo=UTC)  # Berlin is UTC+1 in winter
    assert row["updated_at"] == row["created_at"]
    assert (row["status"], row["channel"], row["csat"], row["tags"]) == (
        "solved",
        "other",
        4,
        ["refund", "vip"],
    )
    assert row["_row"] == 2
    found = {(r.file, r.row, r.field) for r in batch.rejections}
    assert found == {("cases.csv", 3, "State"), ("cases.csv", 4, "Opened"), ("cases.csv", 5, "Score")}


def test_missing_column_rejects_the_file(tmp_path: Path) -> None:
    path = tmp_path / "cases.csv"
    path.write_text("Case,Opened\nA-1,02.01.2025 09:30\n")
    batch = parse_tabular_file(path, _config())
    assert batch.interactions.height == 0
    assert "State" in (batch.rejections[0].field or "")


def test_xlsx_with_real_dates(tmp_path: Path) -> None:
    path = tmp_path / "cases.xlsx"
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Cases"
    sheet.append(["Case", "Opened", "State", "Via", "Store", "Score", "Labels"])
    sheet.append([101, datetime(2025, 7, 1, 12, 0), "Waiting", "chat", "Hamburg", 5, None])
    book.save(path)
    batch = parse_tabular_file(path, _config(sheet="Cases", timestamp_format=None))
    [row] = batch.interactions.iter_rows(named=True)
    assert row["external_id"] == "101"
    assert row["created_at"] == datetime(2025, 7, 1, 10, tzinfo=UTC)  # summer time
    assert (row["status"], row["channel"], row["csat"]) == ("pending", "chat", 5)
