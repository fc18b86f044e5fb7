"""Benchmark: metacrm's generated REST API against a hand-written floor and FAB's ModelRestApi.

    python bench/api.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                        [--rows 100000] [--big-rows 1000000] [--requests 500]

One entity (10 fields: text, integer, decimal, money, date, datetime, boolean, picklist,
email, user) with `--rows` records on PostgreSQL, served three ways in one process, each
called through Flask's in-process test client (no HTTP server, so server overhead is equal
and excluded):
1. metacrm's generated API (`create_app`), as an admin user with a JWT;
2. the floor: hand-written Flask + SQLAlchemy Core endpoints on the same table (api_floor);
   and the floor with duties (api_floor_duties): the same plus what the issue asks of every
   endpoint, still by hand — a verified JWT, the list's bounded count, the create's audit
   rows and outbox event in its transaction;
3. Flask-AppBuilder 5's `ModelRestApi` on a model mapped to a copy of the table (api_fab),
   authenticated with a JWT of FAB's Admin role.
Operations: get by id, list 50 with a filter and a sort, create. Per operation the systems
are timed interleaved in rounds: each round runs 25 requests of every system, in an order
that rotates from round to round, so a load swing of the machine lands on all of them alike
(`measure_interleaved` says why not one request each). Per operation and system: median
and p95 latency of `--requests` requests after a warm-up, and the ratios metacrm / floor,
metacrm / floor with duties and metacrm / ModelRestApi — each the median of the per-round
ratios (paired samples). When metacrm is
above 1.3x the floor, each operation is profiled (cProfile) and the top functions are
printed.
Then the table is topped up to `--big-rows` records and metacrm's list of 50 with two
filters and a sort is timed (target: p95 <= 150 ms).
Everything lives in two private schemas (metacrm's and FAB's), dropped at the end.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api_data import (
    ADMIN_ROLE,
    FAB_TABLE,
    GADGET,
    STAGES,
    TABLE,
    copy_table,
    fill,
    flat_payload,
    metacrm_payload,
)
from api_fab import create_fab_app, dispose_fab, fab_login
from api_floor import create_floor_app
from api_floor_duties import create_duties_app
from metacrm.app import create_app, dispose_app
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.metadata.documents import Document
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.storage.engine import create_database_engine

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
PASSWORD = "bench password 1"  # noqa: S105  # a throwaway bench user
SECRET_KEY = "bench-secret-key-that-is-long-enough-for-hs256"  # noqa: S105
FILL_BATCH = 100_000
WARM_UP = 50
BLOCK = 25
"""Requests of one system in a row within a round of `measure_interleaved`."""
SLOWER_THAN_FLOOR = 1.3
OPERATIONS = ("get by id", "list 50, filter + sort", "create")
SYSTEMS = ("metacrm", "floor", "floor+duties", "ModelRestApi")

Call = Callable[[int], TestResponse]
"""One request of an operation; the argument numbers the request (picks an id, a stage)."""


@dataclass(frozen=True)
class Timing:
    median_ms: float
    p95_ms: float
    samples: tuple[float, ...] = ()
    """Median milliseconds of each round, in round order (paired across systems)."""

    def ratio_to(self, other: Timing) -> float:
        """The median of the per-round ratios self / other (paired samples); the ratio of
        the medians when the samples were not taken together."""
        if self.samples and len(self.samples) == len(other.samples):
            return statistics.median(a / b for a, b in zip(self.samples, other.samples,
                                                            strict=True))
        return self.median_ms / other.median_ms


def schema_url(url: str, schema: str) -> str:
    """`url` with the session's search_path set to `schema`."""
    return (sa.make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
            .render_as_string(hide_password=False))


@contextmanager
def private_schemas(url: str, *names: str) -> Iterator[list[str]]:
    """Fresh schemas `bench_<name>_<random>` that are dropped at the end."""
    admin = create_database_engine(url)
    suffix = uuid.uuid4().hex[:8]
    schemas = [f"bench_{name}_{suffix}" for name in names]
    with admin.begin() as conn:
        for schema in schemas:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    try:
        yield schemas
    finally:
        with admin.begin() as conn:
            for schema in schemas:
                conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        admin.dispose()


def apply_metadata(database_url: str) -> None:
    registry = default_registry()
    engine = create_database_engine(database_url)
    try:
        documents = [Document.from_body(body, source=f"{body['name']}.json", pack="bench")
                     for body in (ADMIN_ROLE, GADGET)]
        MetadataService(engine, registry).apply(documents, author="bench")
    finally:
        engine.dispose()


def fill_rows(engine: sa.Engine, first: int, last: int, owner: str) -> None:
    """Rows `first`..`last` in batches of FILL_BATCH, then `VACUUM ANALYZE`: the state
    autovacuum brings a table to soon after a bulk load (fresh planner statistics, and a
    visibility map that lets a count be answered from an index alone)."""
    for start in range(first, last + 1, FILL_BATCH):
        with engine.begin() as conn:
            fill(conn, TABLE, start, min(last, start + FILL_BATCH - 1), owner)
    vacuum(engine, TABLE)


def vacuum(engine: sa.Engine, table: str) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.exec_driver_sql(f"VACUUM ANALYZE {table}")


def metacrm_app(database_url: str, instance: Path) -> tuple[Flask, dict[str, str], str]:
    """metacrm's app, JWT headers of an admin user and that user's id."""
    settings = Settings(database_url=database_url, metadata_paths=(), redis_url=None,
                        secret_key=SECRET_KEY,
                        instance_path=instance, rate_limit="10000000 per minute")
    # A cheap password hash: logins are not measured (as in tests/web_harness.py).
    app = create_app(settings, FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")  # noqa: S106
    with app.app_context():
        state = identity_state()
        user = create_user(state.appbuilder, state.metadata.live().model,
                           username="benchadmin", role="boss", password=PASSWORD)
    response = app.test_client().post(
        "/api/v1/security/login",
        json={"username": "benchadmin", "password": PASSWORD, "provider": "db"})
    if response.status_code != 200:
        raise RuntimeError(f"metacrm login failed: {response.get_data(True)}")
    return app, {"Authorization": f"Bearer {response.get_json()['access_token']}"}, str(user.id)


def checked(call: Call, expected: int) -> Call:
    """`call`, failing loudly on an unexpected status (a fast error is no measurement)."""
    def run(n: int) -> TestResponse:
        response = call(n)
        if response.status_code != expected:
            raise RuntimeError(f"status {response.status_code}: {response.get_data(True)[:500]}")
        return response
    return run


def measure(call: Call, requests: int) -> Timing:
    """One system alone (the big list, which has no counterpart)."""
    return measure_interleaved({"only": call}, requests)["only"]


def measure_interleaved(calls: dict[str, Call], requests: int, block: int = BLOCK
                        ) -> dict[str, Timing]:
    """The systems of `calls` take turns in rounds: each round runs `block` requests of
    every system (the same request numbers for all), in an order that rotates from round to
    round. A load swing lasting a round hits every system alike, while each system's
    requests still run back to back — a request alternating with another system's measured
    that system's code leaving the CPU caches (1 ms and more here), not its own speed.
    `Timing.samples` are the per-round medians, paired across systems."""
    names = list(calls)
    for n in range(WARM_UP):
        for name in names:
            calls[name](n)
    taken: dict[str, list[float]] = {name: [] for name in names}
    rounds: dict[str, list[float]] = {name: [] for name in names}
    for number, first in enumerate(range(WARM_UP, WARM_UP + requests, block)):
        shift = number % len(names)
        for name in names[shift:] + names[:shift]:
            this_round = []
            for n in range(first, min(first + block, WARM_UP + requests)):
                began = time.perf_counter()
                calls[name](n)
                this_round.append((time.perf_counter() - began) * 1000)
            taken[name].extend(this_round)
            rounds[name].append(statistics.median(this_round))
    return {name: _timing(taken[name], rounds[name]) for name in names}


def _timing(samples: list[float], rounds: list[float]) -> Timing:
    ordered = sorted(samples)
    return Timing(statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))],
                  tuple(rounds))


def profile(call: Call, requests: int, top: int = 18) -> str:
    """The top functions (by own time, and by cumulative time) of `requests` calls."""
    profiler = cProfile.Profile()
    profiler.enable()
    for n in range(requests):
        call(n)
    profiler.disable()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out).strip_dirs()
    stats.sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top + 20)
    return out.getvalue()


def operations(metacrm: FlaskClient, auth: dict[str, str], floor: FlaskClient,
               duties: FlaskClient, fab: FlaskClient, fab_auth: dict[str, str],
               ids: list[str], fab_ids: list[str]) -> dict[str, dict[str, Call]]:
    """Per operation, per system: one request."""
    rng = random.Random(11)

    def stage(n: int) -> str:
        return STAGES[n % len(STAGES)]

    def fab_list_query(n: int) -> str:
        return (f"(filters:!((col:stage,opr:eq,value:{stage(n)})),"
                "order_column:price,order_direction:desc,page:0,page_size:50)")

    return {
        "get by id": {
            "metacrm": checked(lambda n: metacrm.get(
                f"/api/v1/records/gadget/{ids[n % len(ids)]}", headers=auth), 200),
            "floor": checked(lambda n: floor.get(f"/floor/gadget/{ids[n % len(ids)]}"), 200),
            "floor+duties": checked(lambda n: duties.get(
                f"/duties/gadget/{ids[n % len(ids)]}", headers=auth), 200),
            "ModelRestApi": checked(lambda n: fab.get(
                f"/api/v1/gadget/{fab_ids[n % len(fab_ids)]}", headers=fab_auth), 200),
        },
        "list 50, filter + sort": {
            "metacrm": checked(lambda n: metacrm.get(
                "/api/v1/records/gadget", headers=auth,
                query_string={"filter[stage]": stage(n), "sort": "-price", "limit": "50"}),
                200),
            "floor": checked(lambda n: floor.get(
                "/floor/gadget", query_string={"stage": stage(n), "sort": "-price",
                                               "limit": "50"}), 200),
            "floor+duties": checked(lambda n: duties.get(
                "/duties/gadget", headers=auth,
                query_string={"stage": stage(n), "sort": "-price", "limit": "50"}), 200),
            "ModelRestApi": checked(lambda n: fab.get(
                "/api/v1/gadget/", headers=fab_auth, query_string={"q": fab_list_query(n)}),
                200),
        },
        "create": {
            "metacrm": checked(lambda n: metacrm.post(
                "/api/v1/records/gadget", headers=auth, json=metacrm_payload(rng)), 201),
            "floor": checked(lambda n: floor.post("/floor/gadget", json=flat_payload(rng)), 201),
            "floor+duties": checked(lambda n: duties.post(
                "/duties/gadget", headers=auth, json=flat_payload(rng)), 201),
            "ModelRestApi": checked(lambda n: fab.post(
                "/api/v1/gadget/", headers=fab_auth, json=flat_payload(rng)), 201),
        },
    }


def print_table(results: dict[str, dict[str, Timing]]) -> None:
    print("\n| operation | metacrm median / p95 | floor median / p95"
          " | floor+duties median / p95 | ModelRestApi median / p95 | metacrm/floor"
          " | metacrm/floor+duties | metacrm/ModelRestApi |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for operation, timings in results.items():
        m, f, d, a = (timings[s] for s in SYSTEMS)
        cells = " | ".join(f"{t.median_ms:.2f} / {t.p95_ms:.2f} ms" for t in (m, f, d, a))
        print(f"| {operation} | {cells} | {m.ratio_to(f):.2f}"
              f" | {m.ratio_to(d):.2f} | {m.ratio_to(a):.2f} |")
    sys.stdout.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").strip().splitlines()[0])
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL URL")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--big-rows", type=int, default=1_000_000,
                        help="records for the two-filter list (0 skips it)")
    parser.add_argument("--requests", type=int, default=500, help="timed requests per case")
    parser.add_argument("--profile", type=int, default=300,
                        help="requests profiled per operation when metacrm > 1.3x the floor")
    args = parser.parse_args(argv)

    with private_schemas(args.url, "metacrm", "fab") as (crm_schema, fab_schema), \
            tempfile.TemporaryDirectory() as folder:
        crm_url = schema_url(args.url, crm_schema)
        apply_metadata(crm_url)
        app, auth, admin_id = metacrm_app(crm_url, Path(folder))
        engine = create_database_engine(crm_url)
        fab_app = None
        try:
            began = time.perf_counter()
            fill_rows(engine, 1, args.rows, admin_id)
            print(f"filled {args.rows:,} rows in {time.perf_counter() - began:.1f} s")
            with engine.begin() as conn:
                copy_table(conn, crm_schema, fab_schema)
                pairs = conn.execute(sa.text(
                    f'SELECT c.id, f.num FROM {TABLE} c JOIN "{fab_schema}".{FAB_TABLE} f'
                    " USING (id) ORDER BY random() LIMIT 2000")).all()
            vacuum(engine, f'"{fab_schema}".{FAB_TABLE}')  # the copy in the same state
            ids = [row.id for row in pairs]
            fab_ids = [str(row.num) for row in pairs]
            fab_app = create_fab_app(schema_url(args.url, fab_schema))
            fab = fab_app.test_client()
            cases = operations(app.test_client(), auth, create_floor_app(engine).test_client(),
                               create_duties_app(engine, SECRET_KEY).test_client(),
                               fab, fab_login(fab), ids, fab_ids)

            results: dict[str, dict[str, Timing]] = {}
            for operation in OPERATIONS:
                results[operation] = measure_interleaved(
                    {system: cases[operation][system] for system in SYSTEMS}, args.requests)
                for system in SYSTEMS:
                    t = results[operation][system]
                    print(f"{operation:<24} {system:<13} median {t.median_ms:7.2f} ms"
                          f"  p95 {t.p95_ms:7.2f} ms", flush=True)
            print_table(results)

            for operation in OPERATIONS:
                ratio = results[operation]["metacrm"].ratio_to(results[operation]["floor"])
                if ratio > SLOWER_THAN_FLOOR and args.profile:
                    print(f"\n## profile of metacrm, {operation} ({ratio:.2f}x the floor),"
                          f" {args.profile} requests")
                    print(profile(cases[operation]["metacrm"], args.profile))

            if args.big_rows > args.rows:
                big_list(engine, app.test_client(), auth, args, admin_id)
        finally:
            if fab_app is not None:
                dispose_fab(fab_app)
            engine.dispose()
            dispose_app(app)
    return 0


def big_list(engine: sa.Engine, client: FlaskClient, auth: dict[str, str],
             args: argparse.Namespace, owner: str) -> None:
    """metacrm's list of 50 with two filters and a sort over `--big-rows` records."""
    began = time.perf_counter()
    with engine.connect() as conn:
        present = conn.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    fill_rows(engine, args.rows + 1, args.rows + args.big_rows - present, owner)
    with engine.connect() as conn:
        total = conn.execute(sa.text(f"SELECT count(*) FROM {TABLE}")).scalar_one()
    print(f"\ntopped up to {total:,} rows in {time.perf_counter() - began:.1f} s")
    call = checked(lambda n: client.get(
        "/api/v1/records/gadget", headers=auth,
        query_string={"filter[stage]": STAGES[n % len(STAGES)],
                      "filter[quantity][gte]": str(100 * (n % 9)),
                      "sort": "-price", "limit": "50"}), 200)
    timing = measure(call, args.requests)
    sample = call(0).get_json()["meta"]
    print(f"list 50, two filters + sort at {total:,} rows: median {timing.median_ms:.2f} ms,"
          f" p95 {timing.p95_ms:.2f} ms (target <= 150 ms); meta of one page: {sample}")


if __name__ == "__main__":
    sys.exit(main())
