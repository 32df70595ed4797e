"""``servicelens audit``: sample audit batches, run the automatic protocol checks, run calibration sessions.

Each command is a thin edge: the work happens in ``audits/`` (pure) and ``storage.audit_repo``; the
functions below the commands (``sample_batch``, ``run_and_store_checks``, ...) are what the dashboard and
the tests call too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated, Literal

import polars as pl
import sqlalchemy as sa
import typer

from audits.checks import check_summary, run_checks
from audits.config import PrecisionTarget
from audits.results import review_frames
from audits.sampling import (
    AuditBatch,
    Reassignment,
    SamplingError,
    create_batch,
    reassign,
    stratum_expr,
)
from audits.scoring import DisputeStatus
from audits.stats import plan_check, wilson_bounds
from servicelens.commands.calibration import calibration_app
from servicelens.commands.common import ConfigOption
from servicelens.commands.common import load_config_and_engine as _load
from servicelens.commands.common import percent as _percent
from servicelens.config import ServicelensConfig
from storage import audit_repo
from storage.audit_repo import AuditStoreError
from storage.repo import read_events, read_interactions
from storage.tables import interactions as interactions_table

app = typer.Typer(
    help="QA audits: sample batches for auditors, automatic protocol checks, calibration sessions.",
    no_args_is_help=True,
)
app.add_typer(calibration_app, name="calibration")

Unit = Literal["stratum", "location", "team", "agent"]


# --- sampling ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SampledBatch:
    batch: AuditBatch
    batch_id: int | None  # None when not stored (a dry run)
    precision: pl.DataFrame  # plan_check per unit


def sample_batch(
    engine: sa.Engine,
    config: ServicelensConfig,
    *,
    now: datetime,
    seed: int | None = None,
    auditors: list[str] | None = None,
    days: int | None = None,
    unit: Unit = "stratum",
    precision: PrecisionTarget | None = None,
    created_by: str = "cli",
    store: bool = True,
) -> SampledBatch:
    """Draw a batch from ``audits.sampling`` (interactions already sampled are left out), store it, and
    check per unit whether the batch reaches the precision target."""
    audits = config.audits
    plan = audits.sampling.model_copy(
        update={
            **({"seed": seed} if seed is not None else {}),
            **({"auditors": auditors} if auditors else {}),
        }
    )
    interactions = read_interactions(engine)
    if days is not None:
        newest = interactions.select(pl.col("created_at").max()).item()
        interactions = interactions.filter(pl.col("created_at") >= now - timedelta(days=days))
        if interactions.is_empty():
            raise SamplingError(
                f"no interaction was created in the last {days} day(s) before {now:%Y-%m-%d}"
                + (f"; the newest is from {newest:%Y-%m-%d}" if newest is not None else "")
            )
    batch = create_batch(
        interactions,
        plan,
        now,
        first_response_target_minutes=audits.first_response_target_minutes,
        exclude=audit_repo.sampled_interaction_ids(engine),
        current_load=audit_repo.open_load(engine),
    )
    units = interactions.select(
        "interaction_id", "location", "team", "agent", stratum_expr(plan.strata).alias("stratum")
    )
    planned = (
        batch.sample.select("interaction_id")
        .join(units, on="interaction_id")
        .group_by(unit)
        .agg(planned=pl.len())
    )
    population = units.group_by(unit).agg(population=pl.len())
    table = plan_check(planned, precision or audits.precision, unit=unit, population=population)
    batch_id = None
    if store:
        with engine.begin() as conn:
            batch_id = audit_repo.save_batch(conn, batch, created_by=created_by, plan=plan)
    return SampledBatch(batch, batch_id, table)


def precision_lines(table: pl.DataFrame, unit: str, target: PrecisionTarget) -> list[str]:
    """The plan check as aligned text lines, weakest units first."""
    lines = [
        f"precision target ±{100 * target.margin:.0f}% at {100 * target.confidence:.0f}% confidence "
        f"(expected rate {target.expected_rate:g}), per {unit}:",
        f"{unit:<34} {'planned':>8} {'population':>11} {'required':>9} {'shortfall':>10} {'margin':>8}  meets",
    ]
    for row in table.sort("shortfall", unit, descending=[True, False]).iter_rows(named=True):
        margin = "—" if row["achieved_margin"] is None else f"±{100 * row['achieved_margin']:.1f}%"
        lines.append(
            f"{str(row[unit])[:34]:<34} {row['planned']:>8} {row['population'] or 0:>11} {row['required']:>9} "
            f"{row['shortfall']:>10} {margin:>8}  {'yes' if row['meets'] else 'no'}"
        )
    met = int(table["meets"].sum())
    lines.append(
        f"{met} of {table.height} unit(s) meet the target; {int(table['shortfall'].sum()):,} more audit(s) needed"
    )
    return lines


@app.command("sample")
def sample_command(
    seed: Annotated[int | None, typer.Option(help="Sampling seed (default: audits.sampling.seed).")] = None,
    auditor: Annotated[
        list[str] | None,
        typer.Option("--auditor", "-a", help="An auditor to assign (repeat; default: config)."),
    ] = None,
    days: Annotated[int | None, typer.Option(help="Only interactions created in the last N days.")] = None,
    unit: Annotated[
        str, typer.Option(help="Unit of the precision check: stratum, location, team or agent.")
    ] = "stratum",
    margin: Annotated[
        float | None, typer.Option(help="Precision: ± margin, e.g. 0.1 (default: config).")
    ] = None,
    confidence: Annotated[float | None, typer.Option(help="Precision: confidence, e.g. 0.95.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the batch and the check; store nothing.")
    ] = False,
    by: Annotated[str, typer.Option(help="Who creates the batch (kept with it).")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Create an audit batch from audits.sampling: targeted picks, then stratified random, assigned to auditors.

    Prints how many audits each unit needs for the chosen precision and whether the batch reaches it.
    """
    if unit not in ("stratum", "location", "team", "agent"):
        typer.echo(f"--unit must be stratum, location, team or agent, not {unit!r}", err=True)
        raise typer.Exit(2)
    cfg, engine = _load(config)
    target = cfg.audits.precision.model_copy(
        update={k: v for k, v in {"margin": margin, "confidence": confidence}.items() if v is not None}
    )
    try:
        target = PrecisionTarget.model_validate(target.model_dump())
        result = sample_batch(
            engine,
            cfg,
            now=datetime.now(UTC),
            seed=seed,
            auditors=auditor,
            days=days,
            unit=unit,  # type: ignore[arg-type]
            precision=target,
            created_by=by,
            store=not dry_run,
        )
    except (SamplingError, AuditStoreError, ValueError) as exc:
        typer.echo(f"error: {str(exc).splitlines()[0]}", err=True)
        raise typer.Exit(1) from None
    sample = result.batch.sample
    loads = sample.group_by("auditor").len().sort("auditor")
    shares = ", ".join(f"{a} {n}" for a, n in loads.iter_rows())
    head = "dry run, not stored" if result.batch_id is None else f"batch {result.batch_id}"
    typer.echo(f"{head}: {sample.height} interaction(s), seed {result.batch.seed}; auditors: {shares}")
    reasons = sample.group_by("reason").len().sort("reason")
    typer.echo("picked by: " + ", ".join(f"{r} {n}" for r, n in reasons.iter_rows()))
    for line in precision_lines(result.precision, unit, target):
        typer.echo(line)


# --- queues and replacing an auditor --------------------------------------------------------------------

QUEUE_STATES = ("to do", "disputed", "done")


class ReassignmentRefused(ValueError):
    """A replacement of an auditor that is not allowed; the message names the interaction and why."""


def queue_status(engine: sa.Engine, config: ServicelensConfig, auditor: str | None = None) -> pl.DataFrame:
    """Every sampled interaction (or one auditor's): ``state`` is *to do*, *done* or *disputed* (an open
    dispute on its review), with the effective score, the revision count and who it was moved from."""
    items = audit_repo.read_batch_items(engine, auditor)
    review_ids = items["review_id"].drop_nulls().to_list()
    reviews = audit_repo.load_reviews(engine, review_ids=review_ids, latest_only=True) if review_ids else []
    disputes = audit_repo.load_disputes(engine, review_ids=review_ids) if review_ids else []
    scores = review_frames(reviews, config.audits.scorecard, disputes).scores.select(
        "review_id", "score", pl.col("revision").alias("revisions")
    )
    disputed = {d.review_id for d in disputes if d.status is DisputeStatus.OPEN}
    moves = (
        audit_repo.read_reassignments(engine)
        .group_by("batch_id", "interaction_id")
        .agg(pl.col("from_auditor").last().alias("moved_from"))
    )
    state = (
        pl.when(pl.col("review_id").is_null())
        .then(pl.lit("to do"))
        .when(pl.col("review_id").is_in(list(disputed)))
        .then(pl.lit("disputed"))
        .otherwise(pl.lit("done"))
    )
    return (
        items.join(scores, on="review_id", how="left", maintain_order="left")
        .join(moves, on=["batch_id", "interaction_id"], how="left", maintain_order="left")
        .select(
            "batch_id",
            "interaction_id",
            "auditor",
            state.alias("state"),
            "score",
            "revisions",
            "reason",
            "stratum",
            "moved_from",
            "review_id",
        )
    )


def resolve_batch_items(items: pl.DataFrame, references: list[str]) -> list[tuple[int, str]]:
    """(batch id, interaction id) for each reference: an interaction id, or ``BATCH/INTERACTION`` when the
    interaction was sampled in more than one batch."""
    found: list[tuple[int, str]] = []
    for reference in references:
        matches = items.filter(pl.col("interaction_id") == reference)
        head, _, tail = reference.partition("/")
        if matches.is_empty() and head.isdigit() and tail:
            matches = items.filter((pl.col("batch_id") == int(head)) & (pl.col("interaction_id") == tail))
        if matches.is_empty():
            raise ReassignmentRefused(
                f"{reference!r} is not a sampled interaction; give an interaction id from "
                "`servicelens audit queue` (or BATCH/INTERACTION, e.g. 3/zendesk:1201)"
            )
        if matches.height > 1:
            batches = ", ".join(str(b) for b in matches["batch_id"].to_list())
            raise ReassignmentRefused(
                f"{reference} is in batches {batches}: name one as BATCH/INTERACTION, e.g. "
                f"{matches['batch_id'][0]}/{reference}"
            )
        found.append((int(matches["batch_id"][0]), str(matches["interaction_id"][0])))
    return found


def reassign_batch_items(
    engine: sa.Engine,
    targets: list[tuple[int, str]],
    to_auditor: str,
    *,
    reason: str,
    by: str,
    now: datetime,
) -> list[Reassignment]:
    """Give each (batch, interaction) to ``to_auditor`` and log who, when, from whom and why: all of them or,
    when one is refused (no reason, already reviewed, the new auditor was its agent, ...), none."""
    to_auditor = to_auditor.strip()
    if not to_auditor:
        raise ReassignmentRefused("name the auditor who takes the interactions over")
    if not targets:
        raise ReassignmentRefused("choose at least one interaction to reassign")
    wanted = pl.DataFrame(
        targets, schema={"batch_id": pl.Int64(), "interaction_id": pl.String()}, orient="row"
    )
    entries: list[tuple[int, Reassignment]] = []
    with engine.begin() as conn:
        rows = wanted.join(
            audit_repo.read_batch_items(conn),
            on=["batch_id", "interaction_id"],
            how="left",
            maintain_order="left",
        )
        unknown = rows.filter(pl.col("auditor").is_null())
        if unknown.height:
            first = unknown.row(0, named=True)
            raise ReassignmentRefused(
                f"batch {first['batch_id']} has no interaction {first['interaction_id']}"
            )
        agents = dict(
            conn.execute(
                sa.select(interactions_table.c.interaction_id, interactions_table.c.agent).where(
                    interactions_table.c.interaction_id.in_(rows["interaction_id"].unique().to_list())
                )
            ).all()
        )
        rows = rows.with_columns(pl.col("interaction_id").replace_strict(agents, default=None).alias("agent"))
        for (batch_id,), part in rows.group_by("batch_id", maintain_order=True):
            batch = AuditBatch(
                0, part["batch_created_at"][0], part.select("interaction_id", "auditor", "agent")
            )
            try:
                for interaction_id in part["interaction_id"]:
                    batch = reassign(batch, interaction_id, to_auditor, reason=reason.strip(), by=by, at=now)
            except SamplingError as exc:
                raise ReassignmentRefused(str(exc)) from None
            entries += [(int(batch_id), entry) for entry in batch.reassignments]
        for batch_id, entry in entries:
            audit_repo.record_reassignment(conn, batch_id, entry)
        # Checked after the writes, inside the transaction, so a review saved meanwhile is caught too.
        reviewed = [
            r
            for r in audit_repo.load_reviews(
                conn, interaction_ids=rows["interaction_id"].to_list(), latest_only=True
            )
            if any(r.interaction_id == e.interaction_id and r.auditor == e.from_auditor for _, e in entries)
        ]
        if reviewed:
            names = ", ".join(f"{r.interaction_id} (reviewed by {r.auditor})" for r in reviewed)
            raise ReassignmentRefused(
                f"already reviewed, so it stays with its auditor: {names}; edit or dispute the review instead"
            )
    return [entry for _, entry in entries]


@app.command("queue")
def queue_command(
    auditor: Annotated[str | None, typer.Option(help="Only this auditor's queue.")] = None,
    config: ConfigOption = None,
) -> None:
    """List sampled interactions with their state (to do, done, disputed), score and auditor."""
    cfg, engine = _load(config)
    table = queue_status(engine, cfg, auditor)
    if table.is_empty():
        typer.echo(
            f"nothing is assigned to {auditor}" if auditor else "no audit batch yet: run `audit sample`"
        )
        return
    order = pl.col("state").replace_strict(QUEUE_STATES, list(range(len(QUEUE_STATES))), return_dtype=pl.Int8)
    typer.echo(
        f"{'batch':>5}  {'interaction':<28} {'auditor':<16} {'state':<9} {'score':>6}  picked by / moved from"
    )
    for row in table.sort(order, "batch_id", "interaction_id").iter_rows(named=True):
        moved = f" / from {row['moved_from']}" if row["moved_from"] else ""
        typer.echo(
            f"{row['batch_id']:>5}  {row['interaction_id'][:28]:<28} {row['auditor'][:16]:<16} {row['state']:<9} "
            f"{_percent(row['score']):>6}  {row['reason']}{moved}"
        )
    counts = table.group_by("auditor", "state").len()
    for name in sorted(table["auditor"].unique().to_list()):
        mine = dict(counts.filter(pl.col("auditor") == name).select("state", "len").iter_rows())
        parts = ", ".join(f"{mine.get(s, 0)} {s}" for s in QUEUE_STATES)
        typer.echo(f"{name}: {parts} (of {sum(mine.values())})")


@app.command("reassign")
def reassign_command(
    items: Annotated[
        list[str], typer.Argument(help="Interaction id(s) from `audit queue`, or BATCH/INTERACTION.")
    ],
    to: Annotated[str, typer.Option("--to", help="The auditor who takes them over.")],
    reason: Annotated[str, typer.Option(help="Why (required; kept in the reassignment log).")] = "",
    by: Annotated[str, typer.Option(help="Who replaces the auditor (kept in the log).")] = "cli",
    config: ConfigOption = None,
) -> None:
    """Replace the auditor of sampled interactions not yet reviewed; every move is logged with its reason."""
    _, engine = _load(config)
    try:
        targets = resolve_batch_items(audit_repo.read_batch_items(engine), items)
        moved = reassign_batch_items(engine, targets, to, reason=reason, by=by, now=datetime.now(UTC))
    except (ReassignmentRefused, AuditStoreError) as exc:
        typer.echo(f"error: nothing reassigned: {exc}", err=True)
        raise typer.Exit(1) from None
    for entry in moved:
        typer.echo(f"{entry.interaction_id}: {entry.from_auditor} -> {entry.to_auditor} ({entry.reason})")
    typer.echo(f"{len(moved)} interaction(s) reassigned by {by}; logged")


# --- automatic checks ----------------------------------------------------------------------------------


def run_and_store_checks(engine: sa.Engine, config: ServicelensConfig, now: datetime) -> pl.DataFrame:
    """Run every configured protocol check on every transcript and store the results."""
    interactions = read_interactions(engine)
    results = run_checks(interactions, read_events(engine), config.audits)
    with engine.begin() as conn:
        audit_repo.save_check_results(conn, results, now)
    return results


def pass_rates(
    results: pl.DataFrame, interactions: pl.DataFrame, by: str, confidence: float = 0.95
) -> pl.DataFrame:
    """Pass rate per check and ``by`` unit with applicable n and Wilson interval."""
    joined = results.join(
        interactions.select("interaction_id", by), on="interaction_id", how="left", maintain_order="left"
    )
    summary = check_summary(joined, by=[by])
    low, high = wilson_bounds(pl.col("pass_rate"), pl.col("applicable"), confidence)
    return summary.with_columns(low.alias("pass_low"), high.alias("pass_high"))


@app.command("checks")
def checks_command(
    by: Annotated[str, typer.Option(help="Break pass rates down by team or location.")] = "team",
    config: ConfigOption = None,
) -> None:
    """Run the automatic protocol checks on every transcript, store the results, print pass rates by team."""
    if by not in ("team", "location", "agent", "channel"):
        typer.echo(f"--by must be team, location, agent or channel, not {by!r}", err=True)
        raise typer.Exit(2)
    cfg, engine = _load(config)
    results = run_and_store_checks(engine, cfg, datetime.now(UTC))
    errors = results.filter(pl.col("outcome") == "error").select("check", "diagnostics").unique()
    for check, message in errors.iter_rows():
        typer.echo(f"check {check}: {message}", err=True)
    typer.echo(f"stored {results.height:,} result(s) of {results['check'].n_unique()} check(s)")
    table = pass_rates(results, read_interactions(engine), by)
    checks = table["check"].unique(maintain_order=True).to_list()
    typer.echo(f"pass rate % (applicable n) by {by}; lowest per check marked *")
    typer.echo(f"{by:<26}" + "".join(f"{c[:18]:>20}" for c in checks))
    lowest = table.filter(pl.col("pass_rate") == pl.col("pass_rate").min().over("check"))
    marked = set(zip(lowest["check"], lowest[by], strict=True))
    for unit in table[by].unique().sort(nulls_last=True).to_list():
        cells = []
        for check in checks:
            row = table.filter((pl.col("check") == check) & (pl.col(by).eq_missing(unit)))
            if row.is_empty() or row["pass_rate"][0] is None:
                cells.append(f"{'—':>20}")
                continue
            star = "*" if (check, unit) in marked else " "
            cells.append(f"{_percent(row['pass_rate'][0]):>11}{star}({row['applicable'][0]:>5})".rjust(20))
        typer.echo(f"{str(unit or '(none)')[:26]:<26}" + "".join(cells))
