"""Private reports: what a user builds on the report builder screen and keeps for themselves.

A private report is a report document (summary or list) stored in
`metacrm_private_reports` under its author; nobody else lists or runs it. It is checked by
the report schema and the live model like any ad-hoc report (`ReportService.compile`) when
saved and again on every run (the model may have changed), and runs as its author — so it
never shows more than their own list would.

An administrator shares one by making it a `report` metadata document (`share`): from then
on it is an ordinary report with plan, version and history in the metadata API, visible to
everyone who may read its entity.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import ErrorDetail, Forbidden, NotFound, ValidationFailed
from metacrm.kernel.ids import new_id
from metacrm.metadata.model import ReportDef
from metacrm.reports.service import ReportService
from metacrm.storage.system_tables import private_reports

BUILDER_KINDS = ("summary", "matrix", "funnel", "list")
"""Report types the builder makes."""
MAX_LABEL = 200
MAX_PER_USER = 200


@dataclass(frozen=True, slots=True)
class PrivateReport:
    id: str
    label: str
    body: Mapping[str, Any]


class PrivateReports:
    """Saving, listing, running and sharing one user's own reports."""

    def __init__(self, reports: ReportService) -> None:
        self.reports = reports

    @property
    def engine(self) -> sa.Engine:
        return self.reports.records.engine

    def compile(self, subject: AccessSubject, body: Mapping[str, Any]) -> ReportDef:
        """The document checked as an ad-hoc report the subject may run: a builder kind,
        over an entity they may read (403 otherwise)."""
        if body.get("type", "summary") not in BUILDER_KINDS:
            raise ValidationFailed("invalid report", [ErrorDetail(
                f"the builder makes {', '.join(BUILDER_KINDS)} reports", "/type")])
        report = self.reports.compile(body)
        if not self.reports.readable(subject, report):
            raise Forbidden(f"your roles do not allow read on {report.entity!r} records")
        return report

    def save(self, subject: AccessSubject, label: str, body: Mapping[str, Any]) -> str:
        """Keep a checked report under the subject; its id."""
        label = " ".join(label.split())
        if not label or len(label) > MAX_LABEL:
            raise ValidationFailed("invalid report", [ErrorDetail(
                f"give the report a name of at most {MAX_LABEL} characters", "/label")])
        if subject.user_id is None:
            raise Forbidden("only a signed-in user keeps reports")
        self.compile(subject, body)
        t = private_reports.c
        with self.engine.begin() as conn:
            count = conn.execute(sa.select(sa.func.count()).where(
                t.user_id == subject.user_id)).scalar_one()
            if count >= MAX_PER_USER:
                raise ValidationFailed("invalid report", [ErrorDetail(
                    f"you keep {MAX_PER_USER} reports already; delete one first", "")])
            report_id = new_id()
            conn.execute(sa.insert(private_reports).values(
                id=report_id, user_id=subject.user_id, label=label, body=dict(body),
                created_at=self.reports.clock()))
        return report_id

    def list(self, subject: AccessSubject) -> list[PrivateReport]:
        """The subject's own reports, by label."""
        t = private_reports.c
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(t.id, t.label, t.body).where(
                t.user_id == (subject.user_id or "")).order_by(t.label, t.id)).all()
        return [PrivateReport(row.id, row.label, row.body) for row in rows]

    def get(self, subject: AccessSubject, report_id: str) -> PrivateReport:
        """One of the subject's reports; 404 for anyone else's (as if it did not exist)."""
        t = private_reports.c
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(t.id, t.label, t.body).where(
                t.id == report_id, t.user_id == (subject.user_id or ""))).first()
        if row is None:
            raise NotFound("there is no such report of yours")
        return PrivateReport(row.id, row.label, row.body)

    def definition(self, subject: AccessSubject, report_id: str) -> tuple[PrivateReport,
                                                                          ReportDef]:
        kept = self.get(subject, report_id)
        return kept, self.compile(subject, kept.body)

    def delete(self, subject: AccessSubject, report_id: str) -> None:
        self.get(subject, report_id)
        t = private_reports.c
        with self.engine.begin() as conn:
            conn.execute(sa.delete(private_reports).where(
                t.id == report_id, t.user_id == (subject.user_id or "")))

    def shared_document(self, kept: PrivateReport, name: str) -> dict[str, Any]:
        """The `report` metadata document an administrator publishes it as."""
        return {**kept.body, "kind": "report", "name": name, "version": 1,
                "label": {"en": kept.label, "ru": kept.label}}
