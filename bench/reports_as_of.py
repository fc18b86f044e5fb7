"""Benchmark: a report run "as of" past instants over N deals with a realistic audit trail on
PostgreSQL, against the live run and against the whole-trail replay it replaced.

    python bench/reports_as_of.py [--rows 100000] [--repetitions 10] [--days 1,7,30,89]
                                  [--url postgresql+psycopg://...]

In a schema of its own (dropped at the end): bench/reports.py's metadata and deals, created
60-90 days ago, with an audit trail written inside PostgreSQL as the records service writes
it: one whole-record create row per deal, a stage transition for 4 deals in 5 and an amount
update for every deal spread over the last 60 days, 1 deal in 50 extra created and deleted
again (its final values one row each), and as many rows of another entity (noise the
(entity, at) index skips). The report — deals by stage, count and sum of the amount — runs
through `ReportService.run` as an admin, live and with `as_of` 1, 7, 30 and 89 days back.

Each as-of figure is checked against a hand-written SQL answer over the trail (the latest
stage row up to the instant of each deal created and not deleted by then), which is also
timed. The "whole-trail replay" line is the previous method's record-building step (every
audit row of the entity, oldest first, replayed in Python; kept here as the baseline),
without its grouping.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.composition import build_services
from metacrm.fieldtypes import default_registry
from metacrm.metadata.documents import Document
from metacrm.reports.service import ReportService
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine
from metacrm.storage.system_tables import audit
from reports import ADMIN, DEFAULT_URL, DOCUMENTS, fill, p95, scratch_schema, timed

REPORT = {"entity": "deal", "group_by": ["stage"],
          "metrics": [{"op": "count"}, {"op": "sum", "field": "amount"}]}
DAYS_BACK = (1, 7, 30, 89)
BACKDATE_SQL = sa.text(
    "UPDATE crm_deal SET created_at = :now - make_interval(days => 60 + abs(hashtext(id)) % 30),"
    " updated_at = :now - make_interval(days => abs(hashtext(id || 'u')) % 60)")
TRAIL_SQL = sa.text("""
INSERT INTO metacrm_audit (id, entity, record_id, action, field, old, new, actor, at, event_id)
SELECT md5(d.id || kind)::uuid::text, 'deal', d.id, action, field, old, new, 'bench', at,
       md5(d.id || kind || 'e')::uuid::text
FROM crm_deal AS d
CROSS JOIN LATERAL (VALUES
  ('c', 'created', NULL, NULL::json,
   json_build_object('title', d.title, 'stage', 'qualification',
                     'amount', json_build_object('amount', (d.amount / 2)::text,
                                                 'currency', 'USD'),
                     'owner', d.owner),
   d.created_at),
  ('t', 'transitioned', 'stage', to_json('qualification'::text), to_json(d.stage),
   d.updated_at - interval '1 hour'),
  ('u', 'updated', 'amount',
   json_build_object('amount', (d.amount / 2)::text, 'currency', 'USD'),
   json_build_object('amount', d.amount::text, 'currency', 'USD'), d.updated_at)
) AS v(kind, action, field, old, new, at)
WHERE kind <> 't' OR d.stage <> 'qualification'
""")
GONE_SQL = sa.text("""
INSERT INTO metacrm_audit (id, entity, record_id, action, field, old, new, actor, at, event_id)
SELECT md5(g::text || kind)::uuid::text, 'deal', md5('gone' || g)::uuid::text, action, field,
       old, new, 'bench', at, md5(g::text || 'e' || left(kind, 1))::uuid::text
FROM generate_series(1, CAST(:gone AS bigint)) AS g
CROSS JOIN LATERAL (VALUES
  ('c', 'created', NULL, NULL::json,
   json_build_object('title', 'Gone ' || g, 'stage', 'proposal'),
   :now - interval '80 days'),
  ('d1', 'deleted', 'title', to_json('Gone ' || g), NULL::json,
   :now - make_interval(days => (g % 60)::int)),
  ('d2', 'deleted', 'stage', to_json('proposal'::text), NULL::json,
   :now - make_interval(days => (g % 60)::int))
) AS v(kind, action, field, old, new, at)
""")
NOISE_SQL = sa.text("""
INSERT INTO metacrm_audit (id, entity, record_id, action, field, old, new, actor, at)
SELECT md5('n' || g)::uuid::text, 'note', md5('note' || g)::uuid::text, 'updated', 'body',
       to_json('a'::text), to_json('b'::text), 'bench',
       :now - make_interval(secs => (g % 7776000)::double precision)
FROM generate_series(1, CAST(:rows AS bigint)) AS g
""")
HAND_SQL = sa.text("""
WITH born AS (
  SELECT record_id FROM metacrm_audit
  WHERE entity = 'deal' AND action = 'created' AND at <= :instant
  EXCEPT
  SELECT record_id FROM metacrm_audit
  WHERE entity = 'deal' AND action = 'deleted' AND at <= :instant
), stage AS (
  SELECT DISTINCT ON (record_id) record_id,
         CASE WHEN field IS NULL THEN new ->> 'stage' ELSE new #>> '{}' END AS stage
  FROM metacrm_audit
  WHERE entity = 'deal' AND at <= :instant
    AND (field = 'stage' OR (field IS NULL AND action = 'created'))
  ORDER BY record_id, at DESC
)
SELECT stage, count(*) FROM born JOIN stage USING (record_id) GROUP BY stage
""")


def write_trail(engine: sa.Engine, rows: int, now: datetime) -> int:
    with engine.begin() as conn:
        conn.execute(BACKDATE_SQL, {"now": now})
        conn.execute(TRAIL_SQL)
        conn.execute(GONE_SQL, {"gone": max(1, rows // 50), "now": now})
        conn.execute(NOISE_SQL, {"rows": rows, "now": now})
    with engine.connect() as conn:
        autocommit = conn.execution_options(isolation_level="AUTOCOMMIT")
        autocommit.exec_driver_sql("VACUUM ANALYZE metacrm_audit")
        autocommit.exec_driver_sql("VACUUM ANALYZE crm_deal")
        return int(conn.execute(sa.select(sa.func.count()).select_from(audit)).scalar_one())


def whole_trail_replay(engine: sa.Engine, instant: datetime) -> int:
    """The previous method's records step: every row of the entity, replayed forward."""
    alive: dict[str, dict[str, Any]] = {}
    with engine.connect() as conn:
        rows: Iterable[Any] = conn.execute(
            sa.select(audit.c.record_id, audit.c.action, audit.c.field, audit.c.new,
                      audit.c.at)
            .where(audit.c.entity == "deal").order_by(audit.c.at, audit.c.event_id,
                                                      audit.c.id))
        for row in rows:
            if row.at > instant:
                continue
            if row.action == "created":
                values = alive.setdefault(row.record_id, {"created_at": row.at})
                if row.field is None and isinstance(row.new, dict):
                    values.update(row.new)
            elif row.action == "deleted":
                alive.pop(row.record_id, None)
            elif row.record_id in alive and row.field is not None:
                alive[row.record_id][row.field] = row.new
        live = {r[0] for r in conn.execute(sa.text("SELECT id FROM crm_deal"))}
    return sum(1 for record_id in alive if record_id in live)


def counts(result: Any) -> dict[str, int]:
    return {str(row["stage"]): int(row["count"]) for row in result.rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repetitions", type=int, default=10)
    parser.add_argument("--days", default=",".join(map(str, DAYS_BACK)),
                        help="how far back the as-of runs go, in days (comma-separated)")
    parser.add_argument("--url", default=os.environ.get("METACRM_BENCH_POSTGRES_URL",
                                                        DEFAULT_URL))
    args = parser.parse_args()
    times: dict[str, list[float]] = {}
    with scratch_schema(args.url) as url, tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(url)
        documents = [Document.from_body(body, source=f"bench/{body['name']}.json",
                                        pack="bench") for body in DOCUMENTS]
        MetadataService(engine, default_registry()).apply(documents, author="bench")
        started = time.perf_counter()
        fill(engine, args.rows)
        now = datetime.now(UTC)
        trail = write_trail(engine, args.rows, now)
        print(f"filled {args.rows:,} deals and {trail:,} audit rows "
              f"in {time.perf_counter() - started:.1f} s")
        services = build_services(Settings(
            database_url=url, metadata_paths=(Path(folder) / "packs",), redis_url=None,
            secret_key=secrets.token_urlsafe(32), instance_path=Path(folder)))
        try:
            reports: ReportService = services.reports
            report = reports.compile(REPORT)
            runs: dict[str, Any] = {"live": lambda: reports.run(ADMIN, report, {})}
            for days in (int(part) for part in args.days.split(",")):
                instant = now - timedelta(days=days)

                def as_of(instant: datetime = instant) -> Any:
                    return reports.run(ADMIN, report, {"as_of": instant.isoformat()})

                def hand(instant: datetime = instant) -> Any:
                    with engine.connect() as conn:
                        return conn.execute(HAND_SQL, {"instant": instant}).all()

                expected = {str(stage): int(n) for stage, n in hand()}  # warms both up
                assert (got := counts(as_of())) == expected, (days, got, expected)
                runs[f"as of {days} d"] = as_of
                runs[f"hand SQL {days} d"] = hand
            runs["whole-trail replay 30 d"] = lambda: whole_trail_replay(
                engine, now - timedelta(days=30))
            for name, call in runs.items():  # warm-up (the as-of runs were checked above)
                if not name.startswith(("as of", "hand SQL")):
                    call()
            times = {name: [] for name in runs}
            for repetition in range(args.repetitions):
                order = list(runs.items())
                for name, call in order if repetition % 2 == 0 else order[::-1]:
                    times[name].append(timed(call))
        finally:
            services.close()
            engine.dispose()
    print(f"\nby stage (count, sum), {args.rows:,} deals, {trail:,} audit rows, "
          f"{args.repetitions} interleaved repetitions")
    print("| run | median | p95 |\n| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} ms | {p95(values):.1f} ms |")


if __name__ == "__main__":
    main()
