"""Writing the demo records as their users would: each record is created by its author
through the records service, then changed step by step — updates through the records
service, pipeline moves through the transitions service, lead conversions through the
conversion service — so access rules, guards, the audit trail and the outbox all apply.

All records are written in ONE transaction: the data set lands whole or not at all (a
second run then finds no records and loads it again). Triggers see the events as usual:
synchronous ones before the commit, asynchronous ones from the job queue after it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services
from metacrm.kernel.errors import ErrorDetail, MetacrmError, ValidationFailed
from metacrm.seeding.dataset import SeedRecord, Step
from metacrm.seeding.values import SeedContext
from metacrm.services.records.service import OWNER


class RecordSeeder:
    """Writes seed records as the demo users (`subjects` by username)."""

    def __init__(self, services: Services, subjects: Mapping[str, AccessSubject],
                 context: SeedContext) -> None:
        self.records = services.records
        self.transitions = services.transitions
        self.conversion = services.conversion
        self.subjects = subjects
        self.context = context

    def seed_all(self, records: Sequence[SeedRecord]) -> None:
        """Write every record with its steps, in order, in one transaction."""
        with self.records.transaction() as conn:
            for record in records:
                self._seed(conn, record)

    def _seed(self, conn: sa.Connection, record: SeedRecord) -> None:
        with _located(record, "/values"):
            values = self.context.resolve(record.values)
            if record.owner != record.author:
                values[OWNER] = self.context.user_ids[record.owner]
            created = self.records.create_in(conn, self.subjects[record.author],
                                             record.entity, values)
        record_id = str(created["id"])
        self.context.record_ids[(record.entity, record.key)] = record_id
        for index, step in enumerate(record.steps):
            with _located(record, f"/steps/{index}"):
                self._step(conn, record.entity, record_id, step)

    def _step(self, conn: sa.Connection, entity: str, record_id: str, step: Step) -> None:
        subject = self.subjects[step.actor]
        values = self.context.resolve(dict(step.values or {}))
        if step.kind == "update":
            self.records.update_in(conn, subject, entity, record_id, values)
        elif step.kind == "transition":
            assert step.transition is not None
            self.transitions.transition_in(conn, subject, entity, record_id, step.transition,
                                           values)
        else:
            result = self.conversion.convert_in(conn, subject, entity, record_id, values)
            self._remember_targets(result, step.keys or {})

    def _remember_targets(self, result: Mapping[str, Any], keys: Mapping[str, str]) -> None:
        """Give the records a conversion made or matched seed keys, for later records."""
        for target, key in keys.items():
            outcome = result["targets"].get(target) or {}
            if outcome.get("record") is not None:
                self.context.record_ids[(outcome["entity"], key)] = str(outcome["record"]["id"])


@contextmanager
def _located(record: SeedRecord, part: str) -> Iterator[None]:
    """Name the seed record (and `part` of it: its values, a step) in any error raised
    while writing it; the details' pointers follow the service's own (`/amount`...)."""
    try:
        yield
    except MetacrmError as exc:
        where = record.pointer + part
        details = [ErrorDetail(d.message, f"{where} {d.pointer}".rstrip(), record.file)
                   for d in exc.errors] or [ErrorDetail(exc.message, where, record.file)]
        raise ValidationFailed(
            f"the demo {record.entity} record {record.key!r} cannot be written: "
            f"{exc.message}", details) from exc
