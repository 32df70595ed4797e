"""``servicelens audit calibration``: several auditors blind-score the same interactions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated

import polars as pl
import sqlalchemy as sa
import typer

from audits.calibration import CalibrationReport, calibrate
from audits.sampling import (
    sampling_keys,
)
from servicelens.commands.common import ConfigOption
from servicelens.commands.common import load_config_and_engine as _load
from servicelens.commands.common import percent as _percent
from servicelens.config import ServicelensConfig
from storage import audit_repo, calibration_repo
from storage.audit_repo import AuditStoreError
from storage.audit_tables import calibration_scores
from storage.calibration_repo import CalibrationSession
from storage.repo import read_events, read_interactions

calibration_app = typer.Typer(
    help="Calibration sessions: several auditors blind-score the same interactions."
)


# --- calibration ---------------------------------------------------------------------------------------


def pick_calibration_interactions(
    engine: sa.Engine, count: int, seed: int, days: int | None, now: datetime
) -> list[str]:
    """``count`` interactions with at least one agent reply, in a reproducible random order."""
    interactions = read_interactions(engine)
    if days is not None:
        interactions = interactions.filter(pl.col("created_at") >= now - timedelta(days=days))
    events = read_events(engine, interactions["interaction_id"].to_list())
    answered = events.filter(pl.col("type") == "agent_reply")["interaction_id"].unique().sort()
    keyed = pl.DataFrame({"interaction_id": answered}).with_columns(sampling_keys(answered.to_list(), seed))
    return keyed.sort("sample_key").head(count)["interaction_id"].to_list()


def report_lines(report: CalibrationReport, threshold: float) -> list[str]:
    overall = "undefined" if report.overall_alpha is None else f"{report.overall_alpha:.3f}"
    lines = [f"overall Krippendorff's alpha (interval, all items): {overall} {report.overall_note}".rstrip()]
    lines.append(f"{'item':<24} {'level':<8} {'units':>5} {'raters':>6} {'alpha':>7}  flag")
    for row in report.items.iter_rows(named=True):
        alpha = "—" if row["alpha"] is None else f"{row['alpha']:.3f}"
        flag = f"below {threshold:g}: {row['note']}" if row["flagged"] else ""
        lines.append(
            f"{row['item_id']:<24} {row['level']:<8} {row['units']:>5} {row['raters']:>6} {alpha:>7}  {flag}"
        )
    lines.append("auditor deviation from the consensus (+ = more lenient):")
    for row in report.auditors.iter_rows(named=True):
        lines.append(
            f"  {row['auditor']:<22} mean {row['mean_deviation']:+.3f}  mean |dev| {row['mean_abs_deviation']:.3f}  "
            f"exact {_percent(row['exact_match'])} over {row['units']} rating(s)"
        )
    return lines


def session_report(
    engine: sa.Engine, config: ServicelensConfig, session: CalibrationSession
) -> CalibrationReport:
    card = config.audits.scorecard(session.scorecard_id, session.scorecard_version)
    scores = calibration_repo.read_calibration_scores(engine, session.session_id, card)
    return calibrate(
        scores.select("interaction_id", "auditor", "item_id", "normalised"),
        card,
        config.audits.calibration_alpha_threshold,
    )


def _find_session(engine: sa.Engine, wanted: str) -> CalibrationSession:
    sessions = calibration_repo.read_calibration_sessions(engine)
    matches = [s for s in sessions if wanted in (s.session_id, s.name)]
    if not matches:
        known = ", ".join(f"{s.name} ({s.session_id})" for s in sessions) or "none yet"
        typer.echo(f"no calibration session {wanted!r}; known: {known}", err=True)
        raise typer.Exit(1)
    return matches[0]


@calibration_app.command("create")
def calibration_create(
    name: Annotated[str, typer.Argument(help="A name the auditors recognise, e.g. 'March calibration'.")],
    auditor: Annotated[
        list[str], typer.Option("--auditor", "-a", help="A participating auditor (at least two).")
    ],
    interactions: Annotated[int, typer.Option(help="How many interactions everyone scores.")] = 10,
    seed: Annotated[int, typer.Option(help="Seed of the random choice of interactions.")] = 1,
    days: Annotated[int | None, typer.Option(help="Choose among interactions of the last N days.")] = None,
    by: Annotated[str, typer.Option(help="Who runs the session.")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Create a session: the same interactions for every auditor, scored blind on the current scorecard."""
    cfg, engine = _load(config)
    now = datetime.now(UTC)
    card = cfg.audits.current_scorecard()
    session = CalibrationSession(
        session_id=audit_repo.new_id("cal"),
        name=name,
        created_at=now,
        created_by=by,
        scorecard_id=card.id,
        scorecard_version=card.version,
        auditors=tuple(auditor),
        interaction_ids=tuple(pick_calibration_interactions(engine, interactions, seed, days, now)),
    )
    try:
        with engine.begin() as conn:
            calibration_repo.create_calibration_session(conn, session)
    except AuditStoreError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(
        f"calibration session {session.session_id} {name!r}: {len(session.interaction_ids)} interaction(s) for "
        f"{', '.join(session.auditors)}; score them on the dashboard's Calibration page"
    )


@calibration_app.command("list")
def calibration_list(config: ConfigOption = None) -> None:
    """List the sessions with each auditor's progress."""
    _, engine = _load(config)
    c = calibration_scores
    for session in calibration_repo.read_calibration_sessions(engine):
        with engine.connect() as conn:
            done: dict[str, int] = dict(
                conn.execute(
                    sa.select(c.c.auditor, sa.func.count(sa.distinct(c.c.interaction_id)))
                    .where(c.c.session_id == session.session_id)
                    .group_by(c.c.auditor)
                ).all()
            )
        progress = ", ".join(f"{a} {done.get(a, 0)}/{len(session.interaction_ids)}" for a in session.auditors)
        typer.echo(f"{session.session_id}  {session.name}  ({session.created_at:%Y-%m-%d})  {progress}")


@calibration_app.command("report")
def calibration_report(
    session: Annotated[str, typer.Argument(help="Session id or name.")], config: ConfigOption = None
) -> None:
    """Krippendorff's alpha per item and overall, flagged items, and each auditor's deviation."""
    cfg, engine = _load(config)
    found = _find_session(engine, session)
    for line in report_lines(session_report(engine, cfg, found), cfg.audits.calibration_alpha_threshold):
        typer.echo(line)
