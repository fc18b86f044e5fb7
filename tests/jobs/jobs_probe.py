"""A probe consumer, installed as an extension pack (`METACRM_EXTENSIONS=jobs_probe`) so
that RQ worker subprocesses register it exactly as the test process does.

It handles `gizmo` record events: one work item per target (`t0`, `t1`, ... — the record's
`fanout` field, default 1), and records every attempt in the table `probe_attempts` (the
database is shared by every process). The record steers it: `fail_times` = fail that many
attempts first (RetryLater), `block` = hang on the first attempt (to be killed mid-item,
after writing a `started` row), `slow_ms` = take that long, `give_up` = raise GiveUp.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.composition import Services
from metacrm.fieldtypes.sqltypes import UTCDateTime
from metacrm.kernel.errors import NotFound
from metacrm.kernel.jobs import EventRecord, GiveUp, RetryLater, WorkItem

ENTITY = "gizmo"
RETRY_SECONDS = 0.2
MAX_ATTEMPTS = 10
BLOCK_SECONDS = 600

probe_metadata = sa.MetaData()

attempts = sa.Table(
    "probe_attempts",
    probe_metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("item_id", sa.String(36), nullable=False),
    sa.Column("event_id", sa.String(36), nullable=False),
    sa.Column("target", sa.String(200), nullable=False),
    sa.Column("record_id", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # started / failed / ok
    sa.Column("saw_record", sa.Boolean, nullable=False),
    sa.Column("pid", sa.Integer, nullable=False),
    sa.Column("at", UTCDateTime(), nullable=False),
)

ADMIN = AccessSubject(user_id="1", username="root", roles=("boss",), is_admin=True)


class ProbeConsumer:
    """Handles gizmo events; see the module docstring."""

    name = "probe"

    def __init__(self, services: Services) -> None:
        self.services = services

    def targets(self, event: EventRecord) -> Sequence[str]:
        if event.entity != ENTITY:
            return ()
        record = event.payload.get("record") or {}
        return [f"t{i}" for i in range(int(record.get("fanout") or 1))]

    def handle(self, item: WorkItem) -> None:
        record: dict[str, Any] = dict(item.event.payload.get("record") or {})
        if record.get("block") and item.attempt == 1:
            self._log(item, "started")
            time.sleep(BLOCK_SECONDS)
        if record.get("slow_ms"):
            time.sleep(int(record["slow_ms"]) / 1000)
        if record.get("give_up"):
            self._log(item, "failed")
            raise GiveUp("the probe was told to give up")
        if item.attempt <= int(record.get("fail_times") or 0):
            self._log(item, "failed")
            raise RetryLater(f"probe failure on attempt {item.attempt}")
        self._log(item, "ok")

    def retry_delay(self, item: WorkItem) -> timedelta | None:
        return timedelta(seconds=RETRY_SECONDS) if item.attempt < MAX_ATTEMPTS else None

    def _log(self, item: WorkItem, outcome: str) -> None:
        try:
            self.services.records.get(ADMIN, item.event.entity, item.event.record_id)
            saw_record = True
        except NotFound:
            saw_record = False
        with self.services.engine.begin() as conn:
            conn.execute(attempts.insert().values(
                item_id=item.id, event_id=item.event.id, target=item.target,
                record_id=item.event.record_id, attempt=item.attempt, outcome=outcome,
                saw_record=saw_record, pid=os.getpid(), at=datetime.now(UTC)))


def install(services: Services) -> None:
    with services.engine.begin() as conn:
        probe_metadata.create_all(conn, checkfirst=True)
    services.consumers.register(ProbeConsumer(services))


def attempts_of(engine: sa.Engine) -> list[sa.RowMapping]:
    """Every attempt logged so far, in order."""
    with engine.connect() as conn:
        return list(conn.execute(sa.select(attempts).order_by(attempts.c.seq)).mappings())
