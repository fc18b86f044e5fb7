"""The automation tables do not grow for ever: runs are kept 30 days, the claims of time and
cron triggers 7 days, and the clean-up runs at most once an hour."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from metacrm.automation.retention import AutomationRetention
from metacrm.kernel.ids import first_id_at, new_id
from metacrm.storage import automation_runs
from metacrm.storage.system_tables import automation_claims, create_system_tables
from metacrm.storage.system_tables import automation_runs as runs_table

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def _run_at(conn: sa.Connection, at: datetime) -> str:
    run_id = first_id_at(int(at.timestamp() * 1000)).replace("-8000-000000000000",
                                                             "-8000-000000000001")
    automation_runs.log_run(conn, automation_runs.RunEntry(
        trigger="welcome", entity="lead", record_id=new_id(), event_id=new_id(),
        mode="async", status="ok", started_at=at, id=run_id))
    return run_id


def _kept(engine: sa.Engine) -> tuple[set[str], set[str]]:
    with engine.connect() as conn:
        runs = set(conn.execute(sa.select(runs_table.c.id)).scalars())
        claims = set(conn.execute(sa.select(automation_claims.c.moment)).scalars())
    return runs, claims


def test_old_runs_and_claims_are_forgotten_hourly(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        create_system_tables(conn)
        old_run = _run_at(conn, NOW - timedelta(days=31))
        recent_run = _run_at(conn, NOW - timedelta(days=29))
        automation_runs.claim_moments(conn, "remind", [("r1", "old")], NOW - timedelta(days=8))
        automation_runs.claim_moments(conn, "remind", [("r1", "new")], NOW - timedelta(days=6))
    retention = AutomationRetention(engine)

    retention(NOW)

    assert _kept(engine) == ({recent_run}, {"new"})
    with engine.begin() as conn:
        older = _run_at(conn, NOW - timedelta(days=40))
    retention(NOW + timedelta(minutes=10))
    assert older in _kept(engine)[0], "at most once an hour"
    retention(NOW + timedelta(hours=1))
    assert _kept(engine)[0] == {recent_run}
    assert old_run not in _kept(engine)[0]


def test_the_first_id_of_a_moment_sorts_after_every_earlier_id() -> None:
    moment = int(datetime.now(UTC).timestamp() * 1000) - 5
    bound = first_id_at(moment)
    assert first_id_at(moment - 1) < bound < new_id()
    assert len(bound) == 36 and bound[14] == "7"
