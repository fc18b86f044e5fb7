"""Benchmark: a summary report (2 dimensions, 2 metrics) over N deals on PostgreSQL, against
the same hand-written SQL, timed interleaved.

    python bench/reports.py [--rows 1000000] [--repetitions 50] [--url postgresql+psycopg://...]

In a schema of its own (dropped at the end): the metadata (company, deal with a pipeline,
a money amount and a close date; an admin role) is applied as `metacrm metadata apply`
does, then `--rows` deals are generated inside PostgreSQL (`INSERT ... SELECT
generate_series`) and ANALYZEd. The report — deals by stage x close-date quarter, count and
sum of the amount — runs through `ReportService.run` (the access layer's aggregate, the
result as the API returns it). The floor is the hand-written statement a developer would
write for the same answer, run with SQLAlchemy on the same engine. Each repetition runs both,
alternating which goes first; the figures are the median and p95 of each and the ratio of
the p95s (target at 1M rows: p95 <= 500 ms and <= 1.2x the hand SQL).
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.composition import build_services
from metacrm.fieldtypes import default_registry
from metacrm.metadata.documents import Document
from metacrm.reports.service import ReportService
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
ADMIN = AccessSubject(user_id="bench-admin", username="admin", roles=("admin",),
                      is_admin=True)
STAGES = ("qualification", "proposal", "negotiation", "won", "lost")


def label(text: str) -> dict[str, str]:
    return {"en": text, "ru": text}


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": label(name), **options}


DOCUMENTS = [
    {"kind": "entity", "name": "company", "version": 1, "label": label("Company"),
     "fields": [field("name", "text", required=True)]},
    {"kind": "entity", "name": "deal", "version": 1, "label": label("Deal"),
     "fields": [field("title", "text", required=True),
                field("company", "reference", entity="company"),
                field("stage", "state", pipeline="deal_flow", indexed=True),
                field("amount", "money", currency="USD"),
                field("close_date", "date", indexed=True)]},
    {"kind": "pipeline", "name": "deal_flow", "version": 1, "label": label("Flow"),
     "entity": "deal", "initial_state": "qualification",
     "states": [{"name": s, "label": label(s),
                 "category": "won" if s == "won" else "lost" if s == "lost" else "open"}
                for s in STAGES],
     "transitions": []},
    {"kind": "role", "name": "admin", "version": 1, "label": label("Admin"), "admin": True},
]
REPORT = {"entity": "deal",
          "group_by": ["stage", {"field": "close_date", "bucket": "quarter"}],
          "metrics": [{"op": "count"}, {"op": "sum", "field": "amount"}]}
HAND_SQL = sa.text(
    "SELECT stage, CAST(date_trunc('quarter', CAST(close_date AS timestamp)) AS date) AS q,"
    " count(*), sum(amount) FILTER (WHERE amount_currency = 'USD')"
    " FROM crm_deal GROUP BY 1, 2")
FILL_SQL = sa.text(
    "INSERT INTO crm_deal (id, created_at, created_by, updated_at, updated_by, owner, version,"
    " title, company, stage, amount, amount_currency, close_date)"
    " SELECT md5(g::text)::uuid::text, now(), 'bench', now(), 'bench', 'bench', 1,"
    " 'Deal ' || g, md5('c' || (1 + g % 100))::uuid::text,"
    " (ARRAY['qualification','proposal','negotiation','won','lost'])[1 + g % 5],"
    " ((g * 104729) % 5000000) / 100.0, 'USD', DATE '2024-01-01' + (g % 730)::int"
    " FROM generate_series(CAST(:first AS bigint), CAST(:last AS bigint)) AS g")


@contextmanager
def scratch_schema(url: str) -> Iterator[str]:
    schema = f"bench_reports_{uuid.uuid4().hex[:8]}"
    admin = create_database_engine(url)
    with admin.begin() as connection:
        connection.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield sa.make_url(url).update_query_dict(
            {"options": f"-csearch_path={schema}"}).render_as_string(hide_password=False)
    finally:
        with admin.begin() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA "{schema}" CASCADE')
        admin.dispose()


def fill(engine: sa.Engine, rows: int) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO crm_company (id, created_at, created_by, updated_at, updated_by,"
            " owner, version, name) SELECT md5('c' || g)::uuid::text, now(), 'bench', now(),"
            " 'bench', 'bench', 1, 'Company ' || g FROM generate_series(1, 100) AS g"))
    step = 100_000
    for first in range(1, rows + 1, step):
        with engine.begin() as conn:
            conn.execute(FILL_SQL, {"first": first, "last": min(rows, first + step - 1)})
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").exec_driver_sql(
            "VACUUM ANALYZE crm_deal")


def timed(call: Callable[[], Any]) -> float:
    start = time.perf_counter()
    call()
    return (time.perf_counter() - start) * 1000


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[-1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repetitions", type=int, default=50)
    parser.add_argument("--url", default=os.environ.get("METACRM_BENCH_POSTGRES_URL",
                                                        DEFAULT_URL))
    args = parser.parse_args()
    with scratch_schema(args.url) as url, tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(url)
        documents = [Document.from_body(body, source=f"bench/{body['name']}.json",
                                        pack="bench") for body in DOCUMENTS]
        MetadataService(engine, default_registry()).apply(documents, author="bench")
        started = time.perf_counter()
        fill(engine, args.rows)
        print(f"filled {args.rows:,} deals in {time.perf_counter() - started:.1f} s")
        services = build_services(Settings(
            database_url=url, metadata_paths=(Path(folder) / "packs",), redis_url=None,
            secret_key=secrets.token_urlsafe(32), instance_path=Path(folder)))
        try:
            reports: ReportService = services.reports
            report = reports.compile(REPORT)

            def engine_run() -> Any:
                return reports.run(ADMIN, report, {})

            def hand_run() -> Any:
                with services.engine.connect() as conn:
                    return conn.execute(HAND_SQL).all()

            result = engine_run()
            assert len(result.rows) == len(hand_run()), "the report and the SQL disagree"
            for _ in range(3):  # warm-up
                engine_run()
                hand_run()
            times: dict[str, list[float]] = {"engine": [], "hand": []}
            for repetition in range(args.repetitions):
                order = [("engine", engine_run), ("hand", hand_run)]
                for name, call in order if repetition % 2 == 0 else order[::-1]:
                    times[name].append(timed(call))
        finally:
            services.close()
            engine.dispose()
    engine_p95, hand_p95 = p95(times["engine"]), p95(times["hand"])
    print(f"\nsummary report, 2 dimensions x 2 metrics, {args.rows:,} deals, "
          f"{len(result.rows)} groups, {args.repetitions} interleaved repetitions")
    print("| run | median | p95 |\n| --- | --- | --- |")
    for name, values in times.items():
        print(f"| {name} | {statistics.median(values):.1f} ms | {p95(values):.1f} ms |")
    print(f"ratio of p95 engine / hand SQL: {engine_p95 / hand_p95:.2f}")


if __name__ == "__main__":
    main()
