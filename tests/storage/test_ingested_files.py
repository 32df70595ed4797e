"""The files a connector has loaded, read for a whole folder scan in one query."""

from __future__ import annotations

import sqlalchemy as sa

from storage import runs
from tests.builders import BASE


def test_ingested_files_are_the_connectors_own_path_and_digest_pairs(engine: sa.Engine) -> None:
    run_a = runs.start_run(engine, "a", BASE)
    run_b = runs.start_run(engine, "b", BASE)
    with engine.begin() as conn:
        runs.remember_files(conn, "a", [("/x/1.json", "d1", 10), ("/x/2.json", "d2", 20)], run_a, BASE)
        runs.remember_files(conn, "b", [("/x/1.json", "other", 5)], run_b, BASE)
    loaded = runs.ingested_files(engine, "a")
    assert loaded == {("/x/1.json", "d1"), ("/x/2.json", "d2")}
    assert ("/x/1.json", "other") not in loaded  # changed content counts as not loaded
    with engine.connect() as conn:
        assert runs.ingested_files(conn, "b") == {("/x/1.json", "other")}
    assert runs.ingested_files(engine, "c") == set()
