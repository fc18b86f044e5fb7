"""The report service: the live model's reports, ad-hoc report documents, runs.

`services.reports`. Every run reads through the subject's `ScopedRepository`
(`metacrm.access.scoped_aggregates`): a report counts and sums only the rows the subject
may read, and refuses fields hidden from them (422 naming the field).

Report kinds are runners in `ReportKinds` (a registry keyed by the document's `type`); a
new data source is a `ReportSource` registered there. (Not yet exposed through
`metacrm.extension`: packs cannot register one — see docs/reports.md.)
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import sqlalchemy as sa

from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.access.teams import descendants
from metacrm.criteria.tree import MAX_LIST_VALUES
from metacrm.kernel.clock import Clock, utc_now
from metacrm.kernel.errors import ErrorDetail, MetacrmError, NotFound, ValidationFailed
from metacrm.metadata.compiler.context import CompileContext
from metacrm.metadata.compiler.reports import build_report, check_report
from metacrm.metadata.documents import Document
from metacrm.metadata.model import CompiledModel, EntityDef, PipelineDef, ReportDef
from metacrm.metadata.validation import document_validator
from metacrm.reports import pipeline_reports
from metacrm.reports.as_of import KINDS as AS_OF_KINDS
from metacrm.reports.as_of import as_of_list, as_of_summary, parse_as_of
from metacrm.reports.export import csv_chunks, xlsx_chunks
from metacrm.reports.list_report import list_rows
from metacrm.reports.matrix import pivot
from metacrm.reports.parameters import run_options
from metacrm.reports.result import ReportResult
from metacrm.reports.run_options import RunOptions
from metacrm.reports.summary import SummaryRunner
from metacrm.services.records.service import RecordsService
from metacrm.services.users.preferences import saved_preferences

if TYPE_CHECKING:
    from metacrm.composition import Services

FEATURE = "reports"
ADHOC_SOURCE = "request"
ADHOC_DEFAULTS: Mapping[str, Any] = {"kind": "report", "name": "ad_hoc", "version": 1,
                                     "label": {"en": "Ad-hoc report", "ru": "Отчёт"}}


class ReportRun(Protocol):
    """What a report source gets for one run."""

    conn: sa.Connection
    scoped: ScopedRepository
    report: ReportDef
    entity: EntityDef
    model: CompiledModel
    options: RunOptions
    run_criteria: Any


class ReportSource(Protocol):
    """Computes the result of one kind of report (the extension seam of issue 13)."""

    def __call__(self, run: ReportRun) -> ReportResult: ...


class _Run:
    def __init__(self, conn: sa.Connection, scoped: ScopedRepository, report: ReportDef,
                 entity: EntityDef, model: CompiledModel, options: RunOptions,
                 run_criteria: Any) -> None:
        self.conn, self.scoped, self.report = conn, scoped, report
        self.entity, self.model, self.options = entity, model, options
        self.run_criteria = run_criteria

    @property
    def pipeline(self) -> PipelineDef:
        name = self.report.pipeline or next(
            str(f.option("pipeline")) for f in self.entity.fields if f.type == "state")
        return self.model.pipelines[name]


def _summary(run: ReportRun) -> ReportResult:
    return SummaryRunner(run.scoped, run.report, run.options, run.run_criteria).run(run.conn)


def _matrix(run: ReportRun) -> ReportResult:
    return pivot(_summary(run), run.report)


def _list(run: ReportRun) -> ReportResult:
    return list_rows(run.conn, run.scoped, run.report, run.run_criteria)


def _pipeline(run: ReportRun) -> PipelineDef:
    assert isinstance(run, _Run)
    return run.pipeline


def _funnel(run: ReportRun) -> ReportResult:
    return pipeline_reports.funnel(run.conn, run.scoped, run.report, run.entity,
                                   _pipeline(run), run.options, run.run_criteria)


def _time_in_stage(run: ReportRun) -> ReportResult:
    return pipeline_reports.time_in_stage(run.conn, run.scoped, run.report, run.entity,
                                          _pipeline(run), run.options, run.run_criteria)


def _forecast(run: ReportRun) -> ReportResult:
    return pipeline_reports.forecast(run.conn, run.scoped, run.report, run.entity,
                                     _pipeline(run), run.options, run.run_criteria)


def _as_of(run: ReportRun, instant: datetime) -> ReportResult:
    if run.report.type == "list":
        return as_of_list(run.conn, run.scoped, run.report, run.entity, run.run_criteria,
                          instant)
    result = as_of_summary(run.conn, run.scoped, run.report, run.entity, run.options,
                           run.run_criteria, instant)
    return pivot(result, run.report) if run.report.type == "matrix" else result


class ReportKinds:
    """The report sources by report `type`."""

    def __init__(self) -> None:
        self._sources: dict[str, ReportSource] = {
            "summary": _summary, "matrix": _matrix, "list": _list, "funnel": _funnel,
            "time_in_stage": _time_in_stage, "forecast": _forecast}

    def register(self, kind: str, source: ReportSource) -> None:
        if kind in self._sources:
            raise ValueError(f"report kind {kind!r} is already registered")
        self._sources[kind] = source

    def get(self, kind: str) -> ReportSource:
        return self._sources[kind]


class ReportService:
    """Reports of the live metadata and ad-hoc ones, run for one subject at a time."""

    def __init__(self, records: RecordsService, *, fiscal_start: int = 1,
                 clock: Clock = utc_now) -> None:
        self.records = records
        self.fiscal_start = fiscal_start
        self.clock = clock
        self.kinds = ReportKinds()
        self._validator = document_validator()

    def model(self) -> CompiledModel:
        return self.records.runtime().model

    def readable(self, subject: AccessSubject, report: ReportDef) -> bool:
        return self.records.runtime().policy.scope(subject, report.entity, "read").allowed

    def definitions(self, subject: AccessSubject) -> list[ReportDef]:
        """The live model's reports over entities the subject may read, by name."""
        return [r for _, r in sorted(self.model().reports.items()) if self.readable(subject, r)]

    def definition(self, subject: AccessSubject, name: str) -> ReportDef:
        """A live report the subject may run; 404 otherwise (as if it did not exist)."""
        report = self.model().reports.get(name)
        if report is None or not self.readable(subject, report):
            raise NotFound(f"there is no report {name!r}")
        return report

    def compile(self, body: Any) -> ReportDef:
        """An ad-hoc report document, checked exactly as a stored one (schema, then the
        live model); ValidationFailed with every problem."""
        if not isinstance(body, Mapping):
            raise ValidationFailed("invalid report", [ErrorDetail("must be an object", "")])
        body = {**{k: v for k, v in ADHOC_DEFAULTS.items() if k not in body}, **body}
        errors = self._validator.errors(body, ADHOC_SOURCE)
        if errors:
            raise ValidationFailed("invalid report", errors)
        report = build_report(Document.from_body(body, source=ADHOC_SOURCE, pack=""))
        model = self.model()
        context = CompileContext(catalog=self.records.registry,
                                 entities=dict(model.entities),
                                 pipelines=dict(model.pipelines))
        check_report(report, context)
        if context.errors:
            raise ValidationFailed("invalid report", context.errors)
        return report

    def options(self, subject: AccessSubject, parameters: Mapping[str, Any]) -> RunOptions:
        if not isinstance(parameters, Mapping):
            raise ValidationFailed("invalid report parameters",
                                   [ErrorDetail("must be an object", "")])
        user_id = subject.user_id or ""
        zone = saved_preferences(self.records.engine, user_id).time_zone \
            if "time_zone" not in parameters and user_id else None
        return run_options(parameters, user_id=user_id, default_zone=zone,
                           fiscal_start=self.fiscal_start, now=self.clock(),
                           team_members=self._team_members)

    def _team_members(self, team: str) -> tuple[str, ...] | None:
        teams = self.records.teams
        with self.records.engine.connect() as conn:
            known = teams.list_teams(conn)
            if team not in {t.name for t in known}:
                return None
            children: dict[str, list[str]] = {}
            for t in known:
                if t.parent is not None:
                    children.setdefault(t.parent, []).append(t.name)
            return teams.members_of(conn, descendants(children, [team]))

    def referenced_ids(self, subject: AccessSubject, entity: EntityDef, path: str,
                       values: Sequence[Any]) -> list[str] | None:
        """Drill-down through a reference (`company.industry`): the ids of the referenced
        records the subject may read whose field holds one of `values`, in id order; None
        when the path is not a readable reference field or more than MAX_LIST_VALUES
        records match (the point then does not drill)."""
        head, _, tail = path.partition(".")
        ref = entity.field(head)
        target = ref.target_entity if ref is not None else None
        if not target or not tail:
            return None
        scoped = self.records.runtime().scoped(subject)
        try:
            with self.records.engine.connect() as conn:
                found = scoped.matching(conn, target, [tail], [(v,) for v in values])
        except MetacrmError:  # the field is hidden from the subject
            return None
        ids = sorted({str(record["id"]) for record in found})
        return ids if len(ids) <= MAX_LIST_VALUES else None

    def run_criteria(self, report: ReportDef, entity: EntityDef, options: RunOptions) -> Any:
        """The run's filters as criteria; funnels and times in stage apply the period to
        the state entries themselves, so only the owner filter is left here."""
        if report.type in ("funnel", "time_in_stage"):
            owners_only = RunOptions(options.time_zone, options.fiscal_start, None,
                                     options.owners)
            return owners_only.criteria("created_at", is_datetime=True)
        date_field = report.date_field or ("close_date" if report.type == "forecast"
                                           else "created_at")
        fdef = entity.field(date_field)
        is_datetime = fdef is None or fdef.type == "datetime"
        return options.criteria(date_field, is_datetime=is_datetime)

    def run(self, subject: AccessSubject, report: ReportDef,
            parameters: Mapping[str, Any] | None = None) -> ReportResult:
        """The whole result (rows materialised)."""
        with self.records.engine.connect() as conn:
            result = self.execute(conn, subject, report, parameters or {})
            result.rows = list(result.rows)
        return result

    def export(self, subject: AccessSubject, report: ReportDef,
               parameters: Mapping[str, Any], file_format: str) -> Iterator[bytes]:
        """The whole result as a CSV (UTF-8) or XLSX file, streamed over one connection held
        while the file is written. Errors are raised here, before the first chunk."""
        def chunks() -> Iterator[bytes]:
            with self.records.engine.connect() as conn:
                result = self.execute(conn, subject, report, parameters)
                if file_format == "csv":
                    yield from (text.encode() for text in csv_chunks(result))
                else:
                    yield from xlsx_chunks(result, report.name)

        stream = chunks()
        first = next(stream)
        return itertools.chain([first], stream)

    def execute(self, conn: sa.Connection, subject: AccessSubject, report: ReportDef,
                parameters: Mapping[str, Any]) -> ReportResult:
        """The result over `conn` (a list report's rows stream while `conn` is open).
        With an `as_of` parameter (a past date-time), summary, matrix and list reports are
        rebuilt from the audit trail as the records stood then (`metacrm.reports.as_of`)."""
        parameters = dict(parameters) if isinstance(parameters, Mapping) else parameters
        instant = None
        if isinstance(parameters, dict) and "as_of" in parameters:
            instant = parse_as_of(parameters.pop("as_of"), self.clock())
            if report.type not in AS_OF_KINDS:
                raise ValidationFailed("invalid report parameters", [ErrorDetail(
                    f"a {report.type} report cannot be run as of a past instant (only "
                    f"{', '.join(AS_OF_KINDS)})", "/as_of")])
        options = self.options(subject, {**report.defaults, **parameters})
        runtime = self.records.runtime()
        entity = runtime.model.entity(report.entity)
        if entity is None:
            raise NotFound(f"there is no entity {report.entity!r}")
        run = _Run(conn, runtime.scoped(subject), report, entity, runtime.model, options,
                   self.run_criteria(report, entity, options))
        if instant is not None:
            return _as_of(run, instant)
        return self.kinds.get(report.type)(run)


def install(services: Services) -> None:
    """Make the report service available as `services.reports`."""
    services.reports = ReportService(
        services.records, fiscal_start=services.settings.fiscal_year_start,
        clock=services.now)
