"""Loading packs: service account rights, conflicts, closed registration, import isolation,
routes, subscribers and periodic jobs — through a real app."""

from __future__ import annotations

import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from pack_harness import Spec, grants, open_world, pack_role, write_pack

from metacrm.extension import ExtensionContext
from metacrm.extension_host.service_account import ServiceAccountRecords
from metacrm.jobs.scheduler import Scheduler
from metacrm.kernel.errors import Forbidden, NotFound

KEEPER = '''
CONTEXTS = []

def install(ctx):
    CONTEXTS.append(ctx)
'''


def _context(spec: Spec) -> ExtensionContext:
    context: ExtensionContext = sys.modules[str(spec.module)].CONTEXTS[0]
    return context


def test_service_account_sees_only_what_its_permissions_grant(isolated_database_url: str,
                                                              tmp_path: Path) -> None:
    role = pack_role("keeper", deal=grants("read"))
    with open_world(isolated_database_url, tmp_path, role) as world:
        company = world.create("company", name="ACME")
        deal = world.create("deal", title="Big", company=company["id"])
        spec = write_pack(tmp_path, "keeper", KEEPER)
        world.host.sync([spec])
        records = _context(spec).records
        assert records.get("deal", deal["id"])["title"] == "Big"
        assert [r["id"] for r in records.list("deal").records] == [deal["id"]]
        with pytest.raises(Forbidden):
            records.list("company")
        with pytest.raises(Forbidden):
            records.get("company", company["id"])
        with pytest.raises(Forbidden):
            records.create("deal", {"title": "Mine"})
        with pytest.raises(Forbidden):
            records.update("deal", deal["id"], {"title": "Changed"})
        with pytest.raises(Forbidden):
            records.delete("deal", deal["id"])


def test_service_account_writes_within_its_grants(
        isolated_database_url: str, tmp_path: Path) -> None:
    role = pack_role("keeper", deal=grants("read", "create", "update"))
    with open_world(isolated_database_url, tmp_path, role) as world:
        spec = write_pack(tmp_path, "keeper", KEEPER)
        world.host.sync([spec])
        records = _context(spec).records
        created = records.create("deal", {"title": "Mine"})
        changed = records.update("deal", created["id"], {"title": "Ours"},
                                 expected_version=created["version"])
        assert changed["title"] == "Ours"
        with pytest.raises(NotFound):
            records.get("deal", "0190a5a0-0000-7000-8000-000000000000")


def _reachable(root: object, depth: int = 4) -> list[object]:
    """Every object reachable from `root` through public attributes."""
    seen: list[object] = []
    frontier = [root]
    for _ in range(depth):
        following = []
        for value in frontier:
            for name in dir(value):
                if name.startswith("_"):
                    continue
                try:
                    found = getattr(value, name)
                except Exception:  # noqa: S112 - a property may refuse; nothing to walk
                    continue
                if not any(found is s for s in seen):
                    seen.append(found)
                    following.append(found)
        frontier = following
    return seen


def test_records_of_a_pack_lead_to_no_engine_or_connection(isolated_database_url: str,
                                                           tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path, pack_role("keeper")) as world:
        spec = write_pack(tmp_path, "keeper", KEEPER)
        world.host.sync([spec])
        context = _context(spec)
        assert isinstance(context.records, ServiceAccountRecords)
        for value in _reachable(context):
            assert not isinstance(value, sa.Engine | sa.Connection), value
            assert type(value).__name__ not in ("Services", "RecordsService", "PackHost")


def test_registration_closes_when_install_returns(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        spec = write_pack(tmp_path, "keeper", KEEPER)
        world.host.sync([spec])
        context = _context(spec)
        from metacrm.extension import RegistrationClosed

        with pytest.raises(RegistrationClosed):
            context.intercept("deal", lambda save: None)
        with pytest.raises(RegistrationClosed):
            context.route("late", ["GET"], lambda request: {})


SMS_A = '''
class Provider:
    def send(self, message):
        raise NotImplementedError
    def parse_inbound(self, payload):
        return []

def install(ctx):
    ctx.register_channel_provider("sms", Provider())
'''

TEXT_TYPE = '''
from metacrm.extension import FieldTypeSpec

def install(ctx):
    ctx.register_field_type(FieldTypeSpec(name="text", storage="text",
                                          value_schema={"type": "string"}))
'''


def test_conflicts_are_refused_with_both_pack_names(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        first = write_pack(tmp_path, "sms_one", SMS_A)
        second = write_pack(tmp_path, "sms_two", SMS_A)
        world.host.sync([first])
        problems = world.host.check_installable(second)
        assert problems == ["pack 'sms_two' and pack 'sms_one' both register a provider for "
                            "channel 'sms'"]
        world.host.sync([first, second])  # a sync that meets the conflict loads the first
        assert set(world.host.loaded()) == {"sms_one"}
        assert "sms_one" in world.host.failures["sms_two"]
        assert world.host.channel_provider("sms") is not None
        core = write_pack(tmp_path, "texty", TEXT_TYPE)
        assert world.host.check_installable(core) == [
            "pack 'texty' registers field type 'text', which the core already has"]
        rating = TEXT_TYPE.replace('name="text"', 'name="rating"')
        world.host.sync([first, write_pack(tmp_path, "stars_a", rating)])
        assert world.host.check_installable(write_pack(tmp_path, "stars_b", rating)) == [
            "pack 'stars_b' and pack 'stars_a' both register field type 'rating'"]


SNEAKY = '''
from metacrm.extension import Refused

def install(ctx):
    pass
'''


def test_imports_of_other_metacrm_modules_are_refused_with_file_and_line(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        spec = write_pack(tmp_path, "sneaky", SNEAKY, files={"helpers.py": '''
            import json
            from metacrm.storage.engine import create_database_engine
            import importlib
            importlib.import_module("metacrm.composition")
            from metacrm import app
            '''})
        problems = world.host.check_installable(spec)
        module = spec.module
        assert problems == [
            f"{module}/helpers.py:3: imports 'metacrm.storage.engine'; a pack may import "
            "only 'metacrm.extension' of metacrm",
            f"{module}/helpers.py:5: imports 'metacrm.composition'; a pack may import only "
            "'metacrm.extension' of metacrm",
            f"{module}/helpers.py:6: imports 'metacrm.app'; a pack may import only "
            "'metacrm.extension' of metacrm",
        ]
        world.host.sync([spec])
        assert world.host.loaded() == {}
        assert module not in sys.modules


ROUTES = '''
from metacrm.extension import ExtResponse, HttpError

def install(ctx):
    def hello(request):
        return {"hello": request.caller.username, "id": request.path_params["id"],
                "q": request.query.get("q")}

    def hook(request):
        if request.header("X-Secret") != "s3cret":
            raise HttpError(403, "wrong secret")
        return ExtResponse(status=202, json={"got": request.json()})

    ctx.route("hello/<id>", ["GET"], hello)
    ctx.route("hook", ["POST"], hook, public=True)
'''


def test_routes_authenticate_unless_public_and_answer_problems(isolated_database_url: str,
                                                               tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        world.host.sync([write_pack(tmp_path, "greeter", ROUTES)])
        client = world.client
        assert client.get("/api/v1/ext/greeter/hello/7").status_code == 401
        answer = client.get("/api/v1/ext/greeter/hello/7?q=x", headers=world.clerk)
        assert answer.status_code == 200
        assert answer.get_json() == {"hello": "ann", "id": "7", "q": "x"}
        refused = client.post("/api/v1/ext/greeter/hook", json={"a": 1},
                              headers={"X-Secret": "nope"})
        assert refused.status_code == 403
        assert refused.mimetype == "application/problem+json"
        assert refused.get_json()["detail"] == "wrong secret"
        accepted = client.post("/api/v1/ext/greeter/hook", json={"a": 1},
                               headers={"X-Secret": "s3cret"})
        assert (accepted.status_code, accepted.get_json()) == (202, {"got": {"a": 1}})
        not_json = client.post("/api/v1/ext/greeter/hook", data=b"{",
                               headers={"X-Secret": "s3cret"})
        assert not_json.status_code == 400
        assert client.get("/api/v1/ext/greeter/hook").status_code == 405
        assert client.get("/api/v1/ext/greeter/nothing", headers=world.clerk).status_code == 404
        world.host.sync([])
        assert client.post("/api/v1/ext/greeter/hook", json={},
                           headers={"X-Secret": "s3cret"}).status_code == 404


LISTENER = '''
SEEN = []
TICKS = []

def install(ctx):
    ctx.subscribe(["record.created"], lambda event: SEEN.append(
        (event.entity, event.record.get("title"))), entities=["deal"])
    ctx.periodic("tick", __import__("datetime").timedelta(minutes=5), TICKS.append)
'''


def test_subscribers_of_two_packs_both_get_the_event_after_commit(isolated_database_url: str,
                                                                 tmp_path: Path) -> None:
    role_a = pack_role("ears_a", deal=grants("read"))
    role_b = pack_role("ears_b", deal=grants("read"))
    with open_world(isolated_database_url, tmp_path, role_a, role_b) as world:
        first = write_pack(tmp_path, "ears_a", LISTENER)
        second = write_pack(tmp_path, "ears_b", LISTENER)
        world.host.sync([first, second])
        world.create("deal", title="Big")
        world.create("company", name="not subscribed")
        for spec in (first, second):
            assert sys.modules[str(spec.module)].SEEN == [("deal", "Big")]


def test_periodic_jobs_run_from_the_scheduler_at_most_once_per_period(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        ticker = write_pack(tmp_path, "ticker", LISTENER)
        world.host.sync([ticker])
        scheduler = Scheduler(world.services)
        assert scheduler.tick().failed_steps == ()
        scheduler.tick()
        assert len(sys.modules[str(ticker.module)].TICKS) == 1  # every 5 minutes

        clocked = write_pack(tmp_path, "clocked", LISTENER)
        world.host.sync([clocked])
        assert "ext.ticker.tick" not in world.services.periodic  # unloaded with its pack
        task = world.services.periodic["ext.clocked.tick"]
        start = datetime(2026, 1, 1, tzinfo=UTC)
        for minutes in (0, 1, 4, 5, 6, 11):
            task(start + timedelta(minutes=minutes))
        ticks: list[Any] = sys.modules[str(clocked.module)].TICKS
        assert ticks == [start, start + timedelta(minutes=5), start + timedelta(minutes=11)]


class ChangingSource:
    """A packs store stand-in: its generation moves when the installed packs change."""

    def __init__(self) -> None:
        self.number = 0
        self.installed: list[Spec] = []

    def generation(self) -> int:
        return self.number

    def packs(self) -> list[Spec]:
        return list(self.installed)


def test_a_running_app_picks_up_pack_changes_before_the_next_request(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_world(isolated_database_url, tmp_path) as world:
        source = ChangingSource()
        world.host.source = source
        url = "/api/v1/ext/greeter/hello/1"
        assert world.client.get(url, headers=world.clerk).status_code == 404
        source.installed, source.number = [write_pack(tmp_path, "greeter", ROUTES)], 1
        assert world.client.get(url, headers=world.clerk).status_code == 200
        source.installed, source.number = [], 2
        assert world.client.get(url, headers=world.clerk).status_code == 404


FLAKY = '''
ATTEMPTS = []

def install(ctx):
    def handle(event):
        ATTEMPTS.append(event.attempt)
        if event.attempt == 1:
            raise RuntimeError("the other side is down")
    ctx.subscribe(["record.created"], handle)
'''


def test_a_failing_subscriber_is_retried_by_the_job_machinery(
        isolated_database_url: str, tmp_path: Path) -> None:
    role = pack_role("flaky", deal=grants("read"))
    with open_world(isolated_database_url, tmp_path, role) as world:
        spec = write_pack(tmp_path, "flaky", FLAKY)
        world.host.sync([spec])
        world.create("deal", title="Big")
        attempts: list[int] = sys.modules[str(spec.module)].ATTEMPTS
        assert attempts == [1]
        later = datetime.now(UTC) + timedelta(minutes=1)
        world.services.clock = lambda: later
        world.services.dispatcher.sweep_once(later)
        assert attempts == [1, 2]
