"""Benchmark: one run of a dashboard of 6 widgets over N deals on PostgreSQL.

    python bench/dashboards.py [--rows 1000000] [--repetitions 20] [--url postgresql+psycopg://...]

The data and schema of bench/reports.py (company, deal with a pipeline, a money amount and a
close date; deals generated inside PostgreSQL and ANALYZEd), plus six reports and a
dashboard laying them out: deals by stage x close-date quarter (count, sum), by stage, by
company (through the reference), won amount by close-date month, a KPI number (count this
year, so the previous year runs too: seven statements) and a forecast by quarter. Each
repetition is `DashboardService.run` as an admin with the dashboard's default filters, the
result as the API returns it. Target at 1M deals: <= 1.5 s.
"""

from __future__ import annotations

import argparse
import os
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from metacrm.composition import build_services
from metacrm.fieldtypes import default_registry
from metacrm.metadata.documents import Document
from metacrm.reports.dashboards import DashboardService
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine
from reports import ADMIN, DEFAULT_URL, DOCUMENTS, fill, label, p95, scratch_schema, timed


def report(name: str, **body: Any) -> dict[str, Any]:
    return {"kind": "report", "name": name, "version": 1, "label": label(name),
            "entity": "deal", **body}


REPORTS = [
    report("by_stage_quarter", group_by=["stage", {"field": "close_date", "bucket": "quarter"}],
           metrics=[{"op": "count"}, {"op": "sum", "field": "amount"}]),
    report("by_stage", group_by=["stage"], metrics=[{"op": "count"}]),
    report("by_company", group_by=["company.name"],
           metrics=[{"op": "sum", "field": "amount"}]),
    report("won_by_month", where={"stage": ["won"]}, date_field="close_date",
           group_by=[{"field": "close_date", "bucket": "month"}],
           metrics=[{"op": "sum", "field": "amount"}]),
    report("deal_count", date_field="close_date", metrics=[{"op": "count"}]),
    report("forecast", type="forecast"),
]
DASHBOARD = {"kind": "dashboard", "name": "bench", "version": 1, "label": label("Bench"),
             "widgets": [{"report": "by_stage_quarter", "chart": "stacked_bar"},
                         {"report": "by_stage", "chart": "funnel"},
                         {"report": "by_company", "chart": "bar"},
                         {"report": "won_by_month", "chart": "line"},
                         {"report": "deal_count", "chart": "number"},
                         {"report": "forecast", "chart": "table"}]}
FILTERS = {"period": {"from": "2025-01-01", "to": "2025-12-31"}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repetitions", type=int, default=20)
    parser.add_argument("--url", default=os.environ.get("METACRM_BENCH_POSTGRES_URL",
                                                        DEFAULT_URL))
    args = parser.parse_args()
    with scratch_schema(args.url) as url, tempfile.TemporaryDirectory() as folder:
        engine = create_database_engine(url)
        documents = [Document.from_body(body, source=f"bench/{body['name']}.json",
                                        pack="bench")
                     for body in [*DOCUMENTS, *REPORTS, DASHBOARD]]
        MetadataService(engine, default_registry()).apply(documents, author="bench")
        started = time.perf_counter()
        fill(engine, args.rows)
        print(f"filled {args.rows:,} deals in {time.perf_counter() - started:.1f} s")
        services = build_services(Settings(
            database_url=url, metadata_paths=(Path(folder) / "packs",), redis_url=None,
            secret_key=secrets.token_urlsafe(32), instance_path=Path(folder)))
        try:
            dashboards: DashboardService = services.dashboards
            dashboard = dashboards.definition(ADMIN, "bench")

            def run() -> Any:
                return dashboards.run(ADMIN, dashboard, FILTERS).to_json()

            answer = run()
            assert all(w["status"] == "ok" for w in answer["widgets"]), answer
            for _ in range(2):  # warm-up
                run()
            times = [timed(run) for _ in range(args.repetitions)]
        finally:
            services.close()
            engine.dispose()
    print(f"\ndashboard of 6 widgets (7 statements), {args.rows:,} deals, "
          f"{args.repetitions} runs: median {statistics.median(times):.1f} ms, "
          f"p95 {p95(times):.1f} ms")


if __name__ == "__main__":
    main()
