"""Run one configured connector now, and tell how fresh each connector's data is.

File kinds read the connector's folder or glob. A file already loaded with the same content (sha256) is
skipped; a file still being written (unterminated last line, modified within the settle time) is left for
the next run, so a half-written line is never loaded. Files load tickets before their audits, comments and
events; an event that still arrives before its interaction waits in the quarantine and is loaded by the run
that brings the interaction (see ``connectors/run.py``). Consecutive files are merged into batches of up to
``DEFAULT_MERGED_BATCH_ROWS`` rows; each batch commits in one transaction with the fingerprints of all its
files and the connector's bookmark (the latest ``updated_at`` loaded), so a run killed at any point resumes
where it stopped. A file that cannot be read does not stop the others: the run loads every other
file, then records itself as failed naming the file.

API kinds pull through ``connectors.api.api_batches`` from the stored bookmark; pullers whose bookmark is a
timestamp re-read ``lookback_minutes`` before it for late updates (upserts make that harmless). The
bookmark only moves forward: an ISO timestamp is replaced only by a later one.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl
import sqlalchemy as sa

from connectors.base import Batch, split_batch
from connectors.config import AnyConnector, ApiConnector, FileConnector, GenericFilesConfig, Schedule
from connectors.files import DEFAULT_SETTLE_SECONDS, is_still_being_written, sha256_of
from connectors.generic import classify, discover, read_frame
from connectors.registry import connector_files, file_parser
from connectors.run import RunReport, later_bookmark, run_batches
from storage import runs

if TYPE_CHECKING:
    import httpx

UNSCHEDULED_FRESHNESS = timedelta(hours=24)
DEFAULT_MERGED_BATCH_ROWS = 50_000
BATCH_ROWS_VARIABLE = "SERVICELENS_INGEST_BATCH_ROWS"
FIRST_GROUP_SHARE = 8  # a run's first group of files (or first slice) holds 1/8 of the batch rows at most
# Names that hold records referring to tickets; they load after files of tickets / conversations.
_LATER_NAME_HINTS = (
    "audit",
    "comment",
    "event",
    "part",
    "rating",
    "satisfaction",
    "metric",
    "article",
)


class SourceError(Exception):
    """The source itself failed (unreadable files, API unavailable); recorded on the run."""


@dataclass
class FileScan:
    """A connector's files at the start of a run. Each settled file is hashed only when its turn to load
    comes (:func:`_parsed_files`), so the first batch does not wait for the whole folder to be hashed."""

    settled: list[Path]  # every complete file in load order, loaded or not (reference data for parsers)
    loaded: set[tuple[str, str]]  # (resolved path, sha256) of the files loaded before
    in_progress: list[Path]  # still being written; left for the next run
    unchanged: int = 0  # settled files found loaded before with the same content, so far
    changed: int = 0  # settled files found new or changed, so far

    def is_loaded(self, fingerprint: tuple[str, str]) -> bool:
        """Whether this (resolved path, sha256) was loaded before; counts the file either way."""
        loaded = fingerprint in self.loaded
        if loaded:
            self.unchanged += 1
        else:
            self.changed += 1
        return loaded


def load_order(path: Path) -> tuple[int, str]:
    """Tickets / conversations first, then files of records about them (audits, comments, events...)."""
    name = path.name.lower()
    return (1 if any(hint in name for hint in _LATER_NAME_HINTS) else 0, name)


def _resolve(config: FileConnector, base_dir: Path | None) -> Path:
    root = Path(config.path).expanduser()
    return base_dir / root if not root.is_absolute() and base_dir is not None else root


def list_files(config: FileConnector, base_dir: Path | None = None) -> list[Path]:
    """The readable files of a connector in load order. A missing folder is a source error."""
    root = _resolve(config, base_dir)
    if isinstance(config, GenericFilesConfig):
        if root.exists():
            return [f.path for f in discover(root)]
        matches = sorted(Path(p) for p in glob.glob(str(root)))
        found = [f for p in matches if p.is_file() and (f := classify(p)) is not None]
        if not found:
            raise SourceError(f"{root}: no such folder, and no interactions.* or events.* file matches")
        return [f.path for f in sorted(found, key=lambda f: (f.kind != "interactions", str(f.path)))]
    if not root.exists() and not glob.has_magic(str(root)):
        raise SourceError(f"{root}: no such file or folder")
    return sorted(connector_files(config, base_dir), key=load_order)


def scan_files(
    engine: sa.Engine, config: FileConnector, now: datetime, settle_seconds: float, base_dir: Path | None
) -> FileScan:
    in_progress: list[Path] = []
    settled: list[Path] = []
    for path in list_files(config, base_dir):
        if is_still_being_written(path, settle_seconds, now=now.timestamp()):
            in_progress.append(path)
        else:
            settled.append(path)
    return FileScan(settled, runs.ingested_files(engine, config.name), in_progress)


def merged_batch_rows() -> int:
    """Rows (interactions plus events) that consecutive files are merged up to before one transaction.

    Each transaction has a fixed validate/upsert cost, so many small export pages load far faster merged;
    ``SERVICELENS_INGEST_BATCH_ROWS`` lowers it (memory-bound hosts, tests that need many transactions).
    """
    text = os.environ.get(BATCH_ROWS_VARIABLE, "").strip()
    if not text:
        return DEFAULT_MERGED_BATCH_ROWS
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise SourceError(f"{BATCH_ROWS_VARIABLE}={text!r}: expected a whole number of rows, at least 1")
    return value


def _mergeable(group: list[Batch], batch: Batch) -> bool:
    """Frames merge only with identical schemas, so validation sees exactly what each file produced."""
    first = group[0]
    # Names and dtypes compared as lists: the same test as equal schemas, at a fifth of the cost.
    return all(
        not mine.width
        or not theirs.width
        or (mine.columns == theirs.columns and mine.dtypes == theirs.dtypes)
        for mine, theirs in (
            (first.interactions, batch.interactions),
            (first.events, batch.events),
        )
    )


def merge_batches(group: list[Batch]) -> Batch:
    """One batch holding the rows, rejections and file fingerprints of consecutive batches, in order."""
    if len(group) == 1:
        return group[0]
    bookmark: str | None = None
    for batch in group:
        bookmark = later_bookmark(bookmark, batch.bookmark)
    return Batch(
        group[0].source,
        _concat([b.interactions for b in group]),
        _concat([b.events for b in group]),
        [rejection for b in group for rejection in b.rejections],
        bookmark=bookmark,
        file_fingerprints=[fp for b in group for fp in b.file_fingerprints],
        file_records={fp: b.record_count for b in group for fp in b.file_fingerprints},
    )


def _concat(frames: list[pl.DataFrame]) -> pl.DataFrame:
    filled = [frame for frame in frames if frame.width]
    if not filled:
        return pl.DataFrame()
    return filled[0] if len(filled) == 1 else pl.concat(filled, how="vertical", rechunk=False)


def _batch_rows(batch: Batch) -> int:
    return batch.interactions.height + batch.events.height + len(batch.rejections)


def _parsed_files(config: FileConnector, scan: FileScan) -> Iterator[Batch]:
    """One batch per new or changed file; unreadable files are named in a SourceError once the others
    loaded."""
    failures: list[str] = []
    parse = None if isinstance(config, GenericFilesConfig) else file_parser(config, scan.settled)
    for path in scan.settled:
        try:
            digest = sha256_of(path)
            fingerprint = (str(path.resolve()), digest)
            if scan.is_loaded(fingerprint):
                continue
            if parse is None:
                generic = classify(path)
                assert generic is not None  # list_files keeps only classified files
                frame, rejections = read_frame(generic)
                if generic.kind == "interactions":
                    batch = Batch(config.source_name, frame, pl.DataFrame(), rejections)
                else:
                    batch = Batch(config.source_name, pl.DataFrame(), frame, rejections)
            else:
                batch = parse(path).batch
        except Exception as exc:  # one bad file must not block the others; named in the run's message
            failures.append(
                f"{path}: {exc}" if str(path) in str(exc) else f"{path}: {type(exc).__name__}: {exc}"
            )
            continue
        batch.file_fingerprint = fingerprint
        yield batch
    if failures:
        raise SourceError(f"{len(failures)} file(s) could not be read: " + "; ".join(failures))


def _file_batches(config: FileConnector, scan: FileScan, merge_rows: int | None = None) -> Iterator[Batch]:
    """Consecutive parsed files merged up to ``merge_rows`` rows, each group loaded in one transaction.

    A group keeps the load order and remembers all of its files with its rows, so a crash never marks a
    file loaded without them; a file larger than :data:`connectors.base.MAX_BATCH_ROWS` is still sliced.
    """
    limit = merge_rows or merged_batch_rows()
    # The first group, and the first slice of a large first file, are smaller, so that the database starts
    # writing while the next files are read.
    first_rows: int | None = max(1, limit // FIRST_GROUP_SHARE)
    group: list[Batch] = []
    rows = 0

    def written(group: list[Batch]) -> list[Batch]:
        nonlocal first_rows
        slices, first_rows = split_batch(merge_batches(group), first_rows=first_rows), None
        return slices

    try:
        for batch in _parsed_files(config, scan):
            group_limit = first_rows or limit
            if group and (rows + _batch_rows(batch) > group_limit or not _mergeable(group, batch)):
                yield from written(group)
                group, rows = [], 0
            group.append(batch)
            rows += _batch_rows(batch)
    except SourceError:
        # Files parsed before the unreadable ones are named still load; the error follows them.
        if group:
            yield from written(group)
        raise
    if group:
        yield from written(group)


def _api_batches(
    engine: sa.Engine, config: ApiConnector, now: datetime, client: httpx.Client | None
) -> Iterator[Batch]:
    try:
        from connectors.api import api_batches
    except ModuleNotFoundError as exc:
        if exc.name != "connectors.api":
            raise
        raise SourceError(
            f"connector {config.name!r}: API pulls ({getattr(config, 'kind', '?')}) are not available in this "
            "installation (module connectors.api is missing); export files and use a *_files kind instead"
        ) from None
    # The puller re-reads its own lookback window before the stored bookmark (ISO bookmarks only).
    yield from api_batches(config, runs.get_bookmark(engine, config.name), now=now, client=client)


def run_connector(
    engine: sa.Engine,
    config: AnyConnector,
    *,
    now: datetime,
    settle_seconds: float = DEFAULT_SETTLE_SECONDS,
    base_dir: Path | None = None,
    client: httpx.Client | None = None,
) -> RunReport:
    """Run one connector now as one recorded run; never raises for data or source problems.

    Runs of this connector left ``running`` by a killed process are closed as interrupted first: only one
    run of a connector may be active at a time (the scheduler guarantees it with ``max_instances=1``).
    """
    runs.mark_interrupted_runs(engine, config.name, now)
    notes: list[str] = []
    batches: Iterator[Batch]
    if isinstance(config, ApiConnector):
        batches = _api_batches(engine, config, now, client)
    else:
        batches = _scanned_file_batches(engine, config, now, settle_seconds, base_dir, notes)
    report = run_batches(
        engine,
        config.name,
        batches,
        now=now,
        remember_files=True,
        reraise=False,
        bookmark_from_rows=not isinstance(config, ApiConnector),
    )
    report.notes.extend(notes)
    return report


def _scanned_file_batches(
    engine: sa.Engine,
    config: FileConnector,
    now: datetime,
    settle_seconds: float,
    base_dir: Path | None,
    notes: list[str],
) -> Iterator[Batch]:
    # Scanning inside the generator makes a missing folder a recorded failure of this run.
    scan = scan_files(engine, config, now, settle_seconds, base_dir)
    if scan.in_progress:
        names = ", ".join(p.name for p in scan.in_progress)
        notes.append(f"{len(scan.in_progress)} still being written, left for the next run ({names})")
    try:
        yield from _file_batches(config, scan)
    finally:  # a file is found new or unchanged when its turn comes: the counts are known only now
        notes.insert(0, f"{scan.changed} new or changed file(s), {scan.unchanged} unchanged skipped")


# --- freshness ---------------------------------------------------------------------------------------


def schedule_interval(schedule: Schedule, now: datetime) -> timedelta:
    """The time between two runs: the fixed interval, or for cron the gap between its next two fire times."""
    seconds = schedule.interval_seconds()
    if seconds is not None:
        return timedelta(seconds=seconds)
    from connectors.crontab import crontab_trigger

    assert schedule.cron is not None
    trigger = crontab_trigger(schedule.cron)
    first = trigger.get_next_fire_time(None, now)
    second = trigger.get_next_fire_time(first, first + timedelta(microseconds=1)) if first else None
    if first is None or second is None:
        return UNSCHEDULED_FRESHNESS
    return second - first


def describe_schedule(schedule: Schedule | None) -> str:
    if schedule is None:
        return "on demand"
    if schedule.cron is not None:
        return f"cron {schedule.cron} (UTC)"
    seconds = schedule.interval_seconds() or 0
    return f"every {seconds // 60} min" if seconds % 60 == 0 else f"every {seconds} s"


HEALTH_SCHEMA: dict[str, Any] = {
    "connector": pl.String,
    "kind": pl.String,
    "schedule": pl.String,
    "last_success_at": pl.Datetime("us", "UTC"),
    "last_failure_at": pl.Datetime("us", "UTC"),
    "last_failure_message": pl.String,
    "last_status": pl.String,
    "bookmark": pl.String,
    "fresh_within": pl.Duration("us"),
    "stale": pl.Boolean,
}


def connector_health(
    connectors: Sequence[AnyConnector], last_runs: pl.DataFrame, bookmarks: pl.DataFrame, now: datetime
) -> pl.DataFrame:
    """One row per connector (configured ones first, then others that ran, such as imports).

    A connector is stale when it had no successful run within twice its schedule interval, or within 24 h
    when it has no schedule. ``last_runs`` is :func:`storage.runs.read_last_runs`.
    """
    by_name = {r["connector"]: r for r in last_runs.iter_rows(named=True)}
    marks = dict(zip(bookmarks["connector"].to_list(), bookmarks["value"].to_list(), strict=True))
    entries: list[tuple[str, str, Schedule | None, bool]] = [
        (c.name, str(getattr(c, "kind", "")), c.schedule, c.enabled) for c in connectors
    ]
    configured = {entry[0] for entry in entries}
    entries += [(name, "import", None, True) for name in sorted(by_name) if name not in configured]
    rows = []
    for name, kind, schedule, enabled in entries:
        last = by_name.get(name, {})
        window = 2 * schedule_interval(schedule, now) if schedule is not None else UNSCHEDULED_FRESHNESS
        success = last.get("last_success_at")
        rows.append(
            {
                "connector": name,
                "kind": kind,
                "schedule": describe_schedule(schedule) if enabled else "disabled",
                "last_success_at": success,
                "last_failure_at": last.get("last_failure_at"),
                "last_failure_message": last.get("last_failure_message"),
                "last_status": last.get("last_status"),
                "bookmark": marks.get(name),
                "fresh_within": window,
                "stale": enabled and (success is None or now - success > window),
            }
        )
    return pl.DataFrame(rows, schema=HEALTH_SCHEMA, orient="row")
