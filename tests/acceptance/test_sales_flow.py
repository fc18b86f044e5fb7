"""Issue 4's "done when", end to end on the shipped packs, through the HTTP API.

A sales rep works a lead: creating it gives them a follow-up task (an async trigger, run by a
real RQ worker); they qualify and convert it into person + company + deal in one step; the
deal moves qualification → proposal → won with its guards enforced, and its owner is emailed
(a real SMTP server). Every change reaches a subscribed receiver that verifies each delivery
with `standardwebhooks` — while a worker is killed mid-delivery and Redis is stopped and
started again along the way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.api import RUNTIME_KEY
from metacrm.cli.bootstrap import pack_documents
from metacrm.settings import DEFAULT_METADATA_PATH
from metacrm.storage.system_tables import outbox
from process_harness import DEADLINE, METACRM, PLATFORM, RedisServer, wait_until
from smtp_harness import Inbox, smtp_server
from web_harness import Web, bearer, open_web, require_redis
from webhook_receiver import Receiver, receiver

LEASE_SECONDS = 2.0


class Worker:
    """`metacrm worker --with-scheduler` subprocesses of this test instance."""

    def __init__(self, web: Web, root: Path) -> None:
        settings = web.settings
        self.root = root
        self.env = {
            **os.environ,
            "PYTHONPATH": str(PLATFORM),
            "METACRM_DATABASE_URL": settings.database_url,
            "METACRM_METADATA_PATH": str(DEFAULT_METADATA_PATH),
            "METACRM_INSTANCE_PATH": str(settings.instance_path),
            "METACRM_SECRET_KEY": settings.secret_key,
            "METACRM_REDIS_URL": settings.redis_url or "",
            "METACRM_SMTP_URL": settings.smtp_url or "",
            "METACRM_JOB_LEASE_SECONDS": str(LEASE_SECONDS),
            "METACRM_WEBHOOK_ALLOW_PRIVATE": "true",
            "METACRM_WEBHOOK_RETRY_FIRST_SECONDS": "0.5",
        }
        self.processes: list[subprocess.Popen[bytes]] = []

    def start(self) -> subprocess.Popen[bytes]:
        with (self.root / f"worker-{len(self.processes)}.log").open("wb") as log:
            process = subprocess.Popen([*METACRM, "worker", "--with-scheduler", "--interval",
                                        "0.2"], env=self.env, stdout=log,
                                       stderr=subprocess.STDOUT)
        self.processes.append(process)
        return process

    def stop_all(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=30)

    def logs(self) -> str:
        return "\n".join(p.read_text(errors="replace")
                         for p in sorted(self.root.glob("worker-*.log")))


class Sales:
    """The API as the people of this story call it."""

    def __init__(self, web: Web) -> None:
        self.web = web
        web.create_user("root", "admin")
        self.admin = bearer(web.login("root"))
        self.rep_id = str(web.create_user("rita", "sales_rep", email="rita@acme.example").id)
        self.rep = bearer(web.login("rita"))

    @property
    def engine(self) -> sa.Engine:
        return self.web.app.extensions[RUNTIME_KEY].engine

    def call(self, method: str, path: str, headers: dict[str, str], status: int,
             body: Any = None) -> Any:
        response = self.web.client.open(f"/api/v1{path}", method=method, json=body,
                                        headers=headers)
        assert response.status_code == status, (path, response.get_json())
        return response.get_json()


@pytest.fixture
def story(isolated_database_url: str, tmp_path: Path
          ) -> Iterator[tuple[Sales, Worker, RedisServer, Receiver, Inbox]]:
    require_redis()
    redis = RedisServer(tmp_path / "redis")
    redis.start()
    try:
        with smtp_server() as inbox, receiver() as rx, open_web(
                isolated_database_url, tmp_path, roles=(), settings_changes={
                    "metadata_paths": (DEFAULT_METADATA_PATH,),
                    "redis_url": redis.url, "smtp_url": f"smtp://127.0.0.1:{inbox.port}",
                    "webhook_allow_private": True, "webhook_retry_first_seconds": 0.5,
                    "job_lease_seconds": LEASE_SECONDS, "rate_limit": "100000 per minute",
                }) as web:
            _apply_shipped_packs(web)
            worker = Worker(web, tmp_path)
            try:
                yield Sales(web), worker, redis, rx, inbox
            except BaseException:
                print(worker.logs())
                raise
            finally:
                worker.stop_all()
    finally:
        redis.stop()


def _apply_shipped_packs(web: Web) -> None:
    services = web.app.extensions[RUNTIME_KEY].services
    services.metadata.apply(pack_documents((DEFAULT_METADATA_PATH,), services.registry),
                            author="test")


def test_a_lead_becomes_a_won_deal_and_every_change_reaches_the_receiver(
    story: tuple[Sales, Worker, RedisServer, Receiver, Inbox],
) -> None:
    sales, worker, redis, rx, inbox = story
    hook = sales.call("POST", "/webhooks", sales.admin, 201,
                      {"url": rx.url(), "events": ["*"]})["data"]
    rx.secrets = [hook["secret"]]
    first_worker = worker.start()

    # a new lead: the async trigger gives its owner a follow-up task; the receiver is slow
    # to answer this first delivery, and the worker delivering it is killed
    rx.script.hold = threading.Event()
    lead = sales.call("POST", "/records/lead", sales.rep, 201, {
        "first_name": "Ann", "last_name": "Lee", "company_name": "Acme",
        "email": "ann@acme.example", "website": "https://acme.example",
        "estimated_value": {"amount": "5000", "currency": "USD"}})["data"]
    assert rx.script.held.wait(DEADLINE), worker.logs()
    first_worker.send_signal(signal.SIGKILL)
    first_worker.wait(timeout=30)
    hold, rx.script.hold = rx.script.hold, None
    hold.set()
    worker.start()
    tasks = wait_until(lambda: sales.call(
        "GET", f"/records/task?filter[regarding]={lead['id']}", sales.rep, 200)["data"],
        what="the follow-up task")
    assert [(t["subject"], t["owner"]) for t in tasks] == [("Call the new lead", sales.rep_id)]

    # Redis goes away while the rep qualifies and converts the lead: nothing is lost
    redis.stop()
    for step in ("contact", "qualify"):
        sales.call("POST", f"/records/lead/{lead['id']}/transitions/{step}", sales.rep, 200)
    converted = sales.call("POST", f"/records/lead/{lead['id']}/convert", sales.rep, 200)
    redis.start()
    targets = converted["data"]["targets"]
    assert {name: t["action"] for name, t in targets.items()} == {
        "company": "created", "person": "created", "deal": "created"}
    assert converted["data"]["record"]["status"] == "converted"
    deal = targets["deal"]["record"]
    assert deal["stage"] == "qualification"

    # the deal's guards: a proposal needs an amount and a close date
    refused = sales.call("POST", f"/records/deal/{deal['id']}/transitions/win", sales.rep, 409)
    assert refused["errors"][0]["pointer"] == "/stage"
    sales.call("PATCH", f"/records/deal/{deal['id']}", sales.rep, 200,
               {"amount": None})
    missing = sales.call("POST", f"/records/deal/{deal['id']}/transitions/propose",
                         sales.rep, 422)
    assert {e["pointer"] for e in missing["errors"]} == {"/values/amount",
                                                         "/values/close_date"}
    sales.call("POST", f"/records/deal/{deal['id']}/transitions/propose", sales.rep, 200,
               {"values": {"amount": {"amount": "4800", "currency": "USD"},
                           "close_date": "2030-06-30"}})
    won = sales.call("POST", f"/records/deal/{deal['id']}/transitions/win", sales.rep,
                     200)["data"]
    assert won["stage"] == "won"
    locked = sales.call("PATCH", f"/records/deal/{deal['id']}", sales.rep, 403,
                        {"title": "Acme renewal"})
    assert locked["errors"][0]["pointer"] == "/stage"

    # the owner hears of the win by email (an async trigger)
    mail = wait_until(lambda: [m for m in inbox.messages
                               if m.message["Subject"] == "Deal won: Acme"],
                      what="the deal-won email")
    assert mail[0].recipients == ["rita@acme.example"]
    assert "was won for" in mail[0].part("text/plain")

    # every change of every record reached the receiver, verified, exactly as published
    engine = sales.engine

    def published() -> set[str]:
        with engine.connect() as conn:
            return set(conn.execute(sa.select(outbox.c.id)).scalars())
    wait_until(lambda: published() <= {d.webhook_id for d in rx.received()},
               what="every event to be delivered")
    deliveries = rx.received()
    assert all(d.verified_with == [hook["secret"]] for d in deliveries)
    assert not [d.schema_errors for d in deliveries if d.schema_errors]
    types = {d.json["type"] for d in deliveries}
    assert {"record.created", "record.updated", "record.transitioned"} <= types
