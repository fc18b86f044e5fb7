"""Benchmark: server time of the generated screens with 10,000 records in the entity.

    python bench/ui.py [--url postgresql+psycopg://postgres@127.0.0.1:5432/test]
                       [--rows 10000] [--requests 50]

The shipped packs on PostgreSQL (a private schema, dropped at the end; `--url sqlite:///…`
works too), `--rows` leads created through the records service (bulk, as their owners: two
sales reps), then each screen requested `--requests` times through Flask's in-process test
client as a signed-in sales rep (`own` scope: the scope condition is part of every query)
and as the admin. Server time only: no HTTP, no browser. Target (issue 5): every page
within 300 ms of server time; the table prints median and p95 per page.
"""

from __future__ import annotations

import argparse
import logging
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).resolve().parent))

from api import private_schemas, schema_url
from metacrm.app import create_app, dispose_app
from metacrm.cli.main import pack_documents
from metacrm.fieldtypes import default_registry
from metacrm.identity.bridge import identity_state
from metacrm.identity.users import create_user
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import DEFAULT_METADATA_PATH, Settings
from metacrm.storage.engine import create_database_engine

PASSWORD = "bench-password"  # noqa: S105
TARGET_MS = 300.0
BATCH = 500
SOURCES = ("website", "referral", "cold_call", "event", "advertising", "partner", "other")
_CSRF = re.compile(r'name="csrf-token" content="([^"]+)"')


def apply_packs(database_url: str) -> None:
    registry = default_registry()
    engine = create_database_engine(database_url)
    try:
        MetadataService(engine, registry).apply(
            pack_documents((DEFAULT_METADATA_PATH,), registry), author="bench")
    finally:
        engine.dispose()


def build_app(database_url: str, instance: Path) -> Flask:
    settings = Settings(database_url=database_url, metadata_paths=(DEFAULT_METADATA_PATH,),
                        redis_url=None, instance_path=instance,
                        secret_key="bench-secret-key-that-is-long-enough-for-hs256",  # noqa: S106
                        rate_limit="10000000 per minute")
    return create_app(settings, FAB_PASSWORD_HASH_METHOD="pbkdf2:sha256:1000")  # noqa: S106


def create_users(app: Flask) -> dict[str, str]:
    """admin, rep1, rep2 → their user ids."""
    ids = {}
    with app.app_context():
        state = identity_state()
        model = state.metadata.live().model
        for name, role in (("admin", "admin"), ("rep1", "sales_rep"), ("rep2", "sales_rep")):
            ids[name] = str(create_user(state.appbuilder, model, username=name, role=role,
                                        password=PASSWORD).id)
    return ids


def fill_leads(app: Flask, owners: list[str], rows: int) -> list[str]:
    """`rows` leads through the records service (bulk create, audited), owners alternating."""
    runtime = app.extensions["metacrm"]
    admin = runtime.records.subject_for(_actor(app, "admin"))
    created: list[str] = []
    for start in range(0, rows, BATCH):
        payloads = [{
            "first_name": f"First{n}", "last_name": f"Lead {n:05d}",
            "company_name": f"Company {n % 700}", "email": f"lead{n}@example.com",
            "source": SOURCES[n % len(SOURCES)], "owner": owners[n % len(owners)],
        } for n in range(start, min(rows, start + BATCH))]
        records = runtime.records.bulk_create(admin, "lead", payloads)
        created.extend(str(record["id"]) for record in records)
    return created


def _actor(app: Flask, username: str):  # type: ignore[no-untyped-def]
    from metacrm.identity.actor import Actor

    with app.app_context():
        sm = identity_state().appbuilder.sm
        user = sm.find_user(username=username)
        return Actor(str(user.id), username, tuple(r.name for r in user.roles), False)


def sign_in(app: Flask, username: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/app/login").get_data(as_text=True)
    token = _CSRF.search(page)
    response = client.post("/app/login", data={
        "csrf_token": token.group(1) if token else "", "username": username,
        "password": PASSWORD})
    if response.status_code != 302:
        raise RuntimeError(f"sign-in of {username} failed: {response.status_code}")
    return client


def measure(call: Callable[[], int], requests: int) -> tuple[float, float]:
    for _ in range(3):
        call()
    samples = []
    for _ in range(requests):
        started = time.perf_counter()
        status = call()
        samples.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"answered {status}")
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.95) - 1)]


def pages(lead_id: str) -> list[tuple[str, str]]:
    return [
        ("home", "/app/"),
        ("list (first page)", "/app/r/lead"),
        ("list, quick search", "/app/r/lead?q=Lead%2001"),
        ("list, filter + sort", "/app/r/lead?filter[source][eq]=referral&sort=-created_at"),
        ("record page", f"/app/r/lead/{lead_id}"),
        ("edit form", f"/app/r/lead/{lead_id}/edit"),
        ("new form", "/app/r/lead/new"),
        ("kanban board", "/app/r/lead/board"),
    ]


ADMIN_PAGES = [("designer: entity", "/app/admin/entities/lead"),
               ("designer: permissions", "/app/admin/permissions"),
               ("designer: history", "/app/admin/history")]


def main(argv: list[str] | None = None) -> int:
    logging.getLogger("flask_appbuilder").setLevel(logging.ERROR)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--rows", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.url.startswith("sqlite"):
            run(f"sqlite:///{tmp}/bench.db", Path(tmp), args)
        else:
            with private_schemas(args.url, "ui") as (schema,):
                run(schema_url(args.url, schema), Path(tmp), args)
    return 0


def run(database_url: str, tmp: Path, args: argparse.Namespace) -> None:
    apply_packs(database_url)
    app = build_app(database_url, tmp / "instance")
    try:
        ids = create_users(app)
        started = time.perf_counter()
        leads = fill_leads(app, [ids["rep1"], ids["rep2"]], args.rows)
        print(f"{len(leads)} leads created in {time.perf_counter() - started:.1f} s "
              f"({database_url.split(':')[0]})")
        own_lead = leads[0]  # rep1's
        print(f"{'page':28} {'user':6} {'median ms':>10} {'p95 ms':>8}")
        worst = 0.0
        for username in ("rep1", "admin"):
            client = sign_in(app, username)
            for name, path in pages(own_lead) + (ADMIN_PAGES if username == "admin" else []):
                median, p95 = measure(lambda c=client, p=path: c.get(p).status_code,
                                      args.requests)
                worst = max(worst, p95)
                print(f"{name:28} {username:6} {median:10.1f} {p95:8.1f}")
        verdict = "met" if worst <= TARGET_MS else "MISSED"
        print(f"worst p95 {worst:.1f} ms: target {TARGET_MS:.0f} ms {verdict}")
    finally:
        dispose_app(app)


if __name__ == "__main__":
    sys.exit(main())
