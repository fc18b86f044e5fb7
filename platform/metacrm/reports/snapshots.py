"""Report snapshots: a report's result taken on its `snapshot.schedule`, read back as a trend.

The scheduler's periodic task `reports.snapshots` (`SnapshotJob`) looks at every report of
the live model that declares `snapshot` on each tick; when the newest slot of its cron
expression (UTC) has no snapshot yet, it runs the report as the engine (an admin subject:
every record, every field) and inserts `{"columns", "rows", "totals"}` under that slot. The
table's primary key (report, slot) is the claim shared by every scheduler process: a second
process's insert of the same slot loses and is dropped, so each slot is taken once for the
instance. Slots missed while no scheduler ran are not taken afterwards — only the newest
one, late. Then only the newest `keep` snapshots of the report are kept.

Reading (`ReportSnapshots.list`): a snapshot holds what EVERY record contributed when it
was taken, and which records a user may read can depend on the record's state today and
then; the snapshot cannot be re-cut to a narrower scope. So a user sees snapshots only when
they may run the report AND their read scope of its entity is `all` without rules, and none
of the fields the report groups, sums or filters by is hidden from them; otherwise 403
saying why (docs/reports.md "Snapshots").
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from croniter import croniter

from metacrm.access.subject import AccessSubject
from metacrm.criteria.tree import criteria_fields
from metacrm.kernel.errors import Forbidden, MetacrmError
from metacrm.metadata.model import CompiledModel, ReportDef
from metacrm.reports.service import ReportService
from metacrm.storage.system_tables import report_snapshots

if TYPE_CHECKING:
    from metacrm.composition import Services

TASK_NAME = "reports.snapshots"
_log = logging.getLogger(__name__)


def engine_subject(model: CompiledModel, report: ReportDef) -> AccessSubject:
    """Whom a snapshot run acts as: `snapshot:<report>` with the model's admin roles."""
    roles = tuple(sorted(name for name, role in model.roles.items() if role.admin))
    actor = f"snapshot:{report.name}"
    return AccessSubject(user_id=None, username=actor, roles=roles, is_admin=True)


def latest_slot(schedule: str, now: datetime) -> datetime:
    """The newest slot of a cron expression (UTC) at or before `now`."""
    start = now.astimezone(UTC).replace(second=0, microsecond=0)
    cron = croniter(schedule, start)
    if cron.match(schedule, start):
        return start
    return cron.get_prev(datetime).astimezone(UTC)


def report_paths(report: ReportDef) -> Iterator[str]:
    """Every field path a report groups, sums, filters or dates by."""
    yield from (d.path for d in report.dimensions)
    yield from (d.path for d in report.columns)
    yield from report.where
    for metric in report.metrics:
        if metric.get("field"):
            yield str(metric["field"])
        if metric.get("filter") is not None:
            yield from criteria_fields(metric["filter"])
        yield from (str(p) for p in metric.get("where") or ())
    if report.filter is not None:
        yield from criteria_fields(report.filter)
    for path in (report.date_field, report.amount_field):
        if path:
            yield path


class ReportSnapshots:
    """Taking and reading the snapshots of the live model's reports."""

    def __init__(self, reports: ReportService) -> None:
        self.reports = reports
        self._taken: dict[str, datetime] = {}
        """The newest slot this process knows is taken, per report (saves a query a tick)."""

    @property
    def engine(self) -> sa.Engine:
        return self.reports.records.engine

    # --- taking ---------------------------------------------------------------------------

    def __call__(self, now: datetime) -> None:
        """The scheduler's periodic task: take every report's due slot."""
        model = self.reports.model()
        for report in model.reports.values():
            if report.snapshot is None:
                continue
            try:
                self.take_due(model, report, now)
            except MetacrmError as error:  # one report's failure must not stop the others
                _log.warning("snapshot of report %s: %s", report.name, error)

    def take_due(self, model: CompiledModel, report: ReportDef, now: datetime) -> bool:
        """Take the report's newest slot unless some process took it; True when this call
        stored it."""
        assert report.snapshot is not None
        slot = latest_slot(report.snapshot.schedule, now)
        if self._taken.get(report.name) == slot:
            return False
        snap = report_snapshots.c
        with self.engine.connect() as conn:
            exists = conn.execute(sa.select(snap.report).where(
                snap.report == report.name, snap.taken_at == slot)).first()
        if exists is None:
            result = self.reports.run(engine_subject(model, report), report,
                                      {"time_zone": "UTC"})
            stored = self._store(report, slot, result.to_json())
        else:
            stored = False
        self._taken[report.name] = slot
        return stored

    def _store(self, report: ReportDef, slot: datetime, rows: dict[str, Any]) -> bool:
        assert report.snapshot is not None
        snap = report_snapshots.c
        try:
            with self.engine.begin() as conn:
                conn.execute(sa.insert(report_snapshots).values(
                    report=report.name, taken_at=slot, rows=rows))
        except sa.exc.IntegrityError:
            return False  # another scheduler took this slot at the same moment
        with self.engine.begin() as conn:
            kept = sa.select(snap.taken_at).where(snap.report == report.name).order_by(
                snap.taken_at.desc()).offset(report.snapshot.keep - 1).limit(1)
            oldest = conn.execute(kept).scalar()
            if oldest is not None:
                conn.execute(sa.delete(report_snapshots).where(
                    snap.report == report.name, snap.taken_at < oldest))
        return True

    # --- reading --------------------------------------------------------------------------

    def readable(self, subject: AccessSubject, report: ReportDef) -> str | None:
        """Why the subject may not read the report's snapshots (None: they may)."""
        policy = self.reports.records.runtime().policy
        scope = policy.scope(subject, report.entity, "read")
        if not scope.unrestricted:
            return (f"snapshots of report {report.name!r} are taken over every "
                    f"{report.entity} record; your read scope of {report.entity} is "
                    f"{scope.widest!r}{' with rules' if scope.widest == 'all' else ''}, "
                    "so only running the report (over your records) is allowed")
        entity = policy.entity(report.entity)
        hidden = policy.field_access(subject, report.entity).hidden
        for path in report_paths(report):
            head, _, tail = path.partition(".")
            ref = entity.field(head)
            target = ref.target_entity if ref is not None and tail else None
            if head in hidden or (target is not None and (
                    not policy.scope(subject, target, "read").allowed
                    or tail in policy.field_access(subject, target).hidden)):
                return (f"snapshots of report {report.name!r} use the field {path!r}, "
                        "which is hidden from you")
        return None

    def list(self, subject: AccessSubject, name: str) -> list[dict[str, Any]]:
        """The report's snapshots, oldest first: `{"taken_at", "columns", "rows",
        "totals"}`. 404 for a report the subject may not run; 403 when snapshots are out
        of their sight (see the module docstring)."""
        report = self.reports.definition(subject, name)
        reason = self.readable(subject, report)
        if reason is not None:
            raise Forbidden(reason)
        snap = report_snapshots.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(snap.taken_at, snap.rows).where(
                snap.report == report.name).order_by(snap.taken_at)).all()
        return [{"taken_at": taken_at.astimezone(UTC).isoformat().replace("+00:00", "Z"),
                 **stored} for taken_at, stored in rows]


def install(services: Services) -> None:
    """`services.report_snapshots`, and the scheduler task that takes them."""
    snapshots = ReportSnapshots(services.reports)
    services.report_snapshots = snapshots
    services.periodic[TASK_NAME] = snapshots
