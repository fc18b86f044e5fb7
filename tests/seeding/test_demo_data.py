"""The demo data set (`seed/`) loaded by `metacrm.seeding` into a fresh database with the
shipped packs: the users, teams and records people see in the demo, with history, loaded
once however often the loader runs, and the same every time."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from metacrm.access.subject import AccessSubject
from metacrm.access.teams import TeamDirectory
from metacrm.api import RUNTIME_KEY
from metacrm.app import create_app, dispose_app
from metacrm.cli.demo import apply_packs
from metacrm.composition import Services, build_services
from metacrm.kernel.errors import ValidationFailed
from metacrm.seeding import SEED_PATH, DemoLoad, read_demo_data, seed_database
from metacrm.settings import DEFAULT_METADATA_PATH, Settings

TODAY = date(2025, 3, 14)
FAST_HASH = {"FAB_PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000"}
"""A cheap password hash keeps the loads fast in tests; the demo keeps FAB's default."""

EXPECTED_COUNTS = {
    "product": 7,
    "price_list": 1,
    "price_list_item": 3,
    "company": 17,  # 15 + 2 made by lead conversions (the third matches Contoso)
    "person": 33,  # 30 + 3 made by lead conversions
    "lead": 25,
    "deal": 23,  # 20 + 3 made by lead conversions
    "deal_line": 8,
    "quote": 1,
    "quote_line": 2,
    "invoice": 1,
    "task": 34,  # 9 + one follow-up per lead, made by the pack's lead_follow_up_task trigger
    "call": 3,
    "meeting": 1,
    "participant": 3,
    "note": 2,
}
ADMIN = AccessSubject(None, "test", ("admin",))


def settings_for(database_url: str, root: Path) -> Settings:
    return Settings(
        database_url=database_url, metadata_paths=(DEFAULT_METADATA_PATH,), redis_url=None,
        secret_key="test-secret-key-that-is-long-enough-for-hs256",
        instance_path=root / "instance")


def load(settings: Settings, **options: Any) -> DemoLoad:
    apply_packs(settings)
    return seed_database(settings, today=TODAY, **FAST_HASH, **options)


@pytest.fixture
def services_of() -> Iterator[Any]:
    built: list[Services] = []

    def open_services(settings: Settings) -> Services:
        built.append(build_services(settings))
        return built[-1]

    yield open_services
    for services in built:
        services.close()


def all_records(services: Services, entity: str) -> list[dict[str, Any]]:
    return services.records.list(ADMIN, entity, limit=200).records


def snapshot(services: Services, usernames: dict[str, str]) -> dict[str, list[Any]]:
    """What people see of the data, without ids and timestamps, in a stable order."""
    def owner(record: dict[str, Any]) -> str:
        return usernames[record["owner"]]

    return {
        "company": sorted((r["name"], r["industry"], r["employees"], owner(r))
                          for r in all_records(services, "company")),
        "person": sorted((r["last_name"], r["first_name"], r["email"], owner(r))
                         for r in all_records(services, "person")),
        "lead": sorted((r["number"], r["last_name"], r["status"], r["rating"], r["score"],
                        owner(r)) for r in all_records(services, "lead")),
        "deal": sorted((r["number"], r["title"], r["stage"], json.dumps(r["amount"]),
                        r["close_date"], r["discount"], owner(r))
                       for r in all_records(services, "deal")),
        "task": sorted((r["subject"], r["status"], r["due_date"], owner(r))
                       for r in all_records(services, "task")),
    }


def usernames_of(settings: Settings) -> dict[str, str]:
    """User id -> username, roles and teams of every user, from Flask-AppBuilder."""
    return {user_id: name for user_id, (name, _roles, _teams) in accounts(settings).items()}


def accounts(settings: Settings) -> dict[str, tuple[str, list[str], tuple[str, ...]]]:
    app = create_app(settings, **FAST_HASH)
    try:
        engine = app.extensions[RUNTIME_KEY].engine
        directory = TeamDirectory(engine)
        with app.app_context():
            users = app.extensions["appbuilder"].sm.get_all_users()
            found = {str(u.id): (u.username, sorted(r.name for r in u.roles)) for u in users}
            app.extensions["appbuilder"].sm.session.commit()
        with engine.connect() as conn:
            return {user_id: (name, roles, directory.direct_teams_of(conn, user_id))
                    for user_id, (name, roles) in found.items()}
    finally:
        dispose_app(app)


def test_the_demo_has_users_in_two_teams_records_in_every_state_and_history(
    isolated_database_url: str, tmp_path: Path, services_of: Any,
) -> None:
    settings = settings_for(isolated_database_url, tmp_path)
    loaded = load(settings)

    assert loaded.loaded
    assert dict(loaded.counts) == EXPECTED_COUNTS
    assert sorted(accounts(settings).values()) == [
        ("admin", ["admin"], ()),
        ("ivan", ["sales_rep"], ("North",)),
        ("lee", ["sales_rep"], ("South",)),
        ("maria", ["sales_manager"], ("North",)),
        ("olga", ["sales_rep"], ("North",)),
        ("sam", ["sales_manager"], ("South",)),
    ]

    services = services_of(settings)
    pipelines = services.metadata.live().model.pipelines
    deals = all_records(services, "deal")
    leads = all_records(services, "lead")
    assert {d["stage"] for d in deals} == {s.name for s in pipelines["deal_pipeline"].states}
    assert {lead["status"] for lead in leads} == {
        s.name for s in pipelines["lead_pipeline"].states}
    open_deals = [d for d in deals if d["stage"] not in ("qualification", "needs_analysis")]
    assert all(d["amount"] and d["close_date"] for d in open_deals)  # the guards held
    assert all(d["loss_reason"] for d in deals if d["stage"] == "lost")
    usernames = usernames_of(settings)
    assert {usernames[d["owner"]] for d in deals} == {"ivan", "olga", "lee", "maria", "sam"}

    # history: the won renewal was created by Ivan, moved along the pipeline, discounted by
    # his manager Maria, and won
    won = next(d for d in deals if d["title"] == "Northwind: support renewal")
    history = services.records.history(ADMIN, "deal", won["id"])
    actions = {(usernames[entry["actor"]], entry["action"]) for entry in history}
    assert {("ivan", "created"), ("ivan", "updated"), ("ivan", "transitioned"),
            ("maria", "updated")} <= actions
    moves = [entry["new"] for entry in reversed(history)
             if entry["action"] == "transitioned" and entry["field"] == "stage"]
    assert moves == ["needs_analysis", "proposal", "negotiation", "won"]

    # the renewal's amount is the sum of its lines; its invoice billed those lines
    lines = [line for line in all_records(services, "deal_line") if line["deal"] == won["id"]]
    lines_total = sum(Decimal(line["total"]["amount"]) for line in lines)
    assert won["amount"]["amount"] == f"{lines_total:.2f}"
    (invoice,) = all_records(services, "invoice")
    assert (invoice["deal"], invoice["lines"], invoice["subtotal"]) == (
        won["id"], len(lines), won["amount"])
    # the draft quote's seats are priced from the price list (972.00 less 5%)
    (quote,) = all_records(services, "quote")
    seats = next(line for line in all_records(services, "quote_line")
                 if line["quantity"] == "100.000")
    assert seats["unit_price"]["amount"] == "972.00" and seats["net"]["amount"] == "92340.00"
    assert quote["subtotal"]["amount"] == "101840.00" and quote["lines"] == 2

    # a lead conversion made a person and a deal, both linked
    converted = [lead for lead in leads if lead["status"] == "converted"]
    assert len(converted) == 3 and all(lead["converted_person"] for lead in converted)
    assert "Contoso: analytics add-on" in {d["title"] for d in deals}

    again = load(settings)
    assert not again.loaded
    assert again.created_users == ()
    assert dict(again.counts) == EXPECTED_COUNTS
    assert len(accounts(settings)) == 6


def test_the_same_seed_gives_the_same_data(
    isolated_database_url: str, tmp_path: Path, services_of: Any,
) -> None:
    first = settings_for(isolated_database_url, tmp_path / "first")
    second = settings_for(f"sqlite:///{tmp_path / 'second.db'}", tmp_path / "second")
    load(first)
    load(second)

    one = snapshot(services_of(first), usernames_of(first))
    other = snapshot(services_of(second), usernames_of(second))
    assert one == other
    rollout = [deal[1:] for deal in one["deal"] if deal[1] == "Northwind: CRM rollout"]
    assert rollout == [("Northwind: CRM rollout", "qualification",
                        '{"amount": "48000.00", "currency": "USD"}', "2025-04-28", None, "ivan")]


def write_seed(root: Path, deals: list[dict[str, Any]]) -> Path:
    """A small data set: one company and the given deals."""
    root.mkdir()
    demo = {"password": "demo-password", "teams": [{"name": "North"}],
            "users": [{"username": "ivan", "role": "sales_rep", "teams": ["North"]}],
            "entities": ["company", "deal"]}
    company = {"entity": "company", "records": [
        {"key": "acme", "owner": "ivan", "values": {"name": "Acme"}}]}
    for name, body in (("demo", demo), ("company", company),
                       ("deal", {"entity": "deal", "records": deals})):
        (root / f"{name}.json").write_text(json.dumps(body), encoding="utf-8")
    return root


def test_a_record_the_services_refuse_names_its_file_and_nothing_is_written(
    isolated_database_url: str, tmp_path: Path, services_of: Any,
) -> None:
    settings = settings_for(isolated_database_url, tmp_path)
    deal = {"key": "big", "owner": "ivan",
            "values": {"title": "Big", "company": {"$ref": "company:acme"}},
            "steps": [{"transition": "propose"}]}
    broken = read_demo_data(write_seed(tmp_path / "broken", [deal]))

    with pytest.raises(ValidationFailed) as refused:
        load(settings, data=broken)
    assert "'big'" in refused.value.message
    assert {(d.source.rsplit("/", 1)[-1], d.pointer) for d in refused.value.errors} == {
        ("deal.json", "/records/0/steps/0 /values/amount"),
        ("deal.json", "/records/0/steps/0 /values/close_date"),
    }
    services = services_of(settings)
    assert all_records(services, "company") == []  # one transaction: all or nothing

    deal["steps"] = [{"transition": "propose", "values": {
        "amount": {"amount": "900", "currency": "USD"}, "close_date": {"$date": 10}}}]
    fixed = read_demo_data(write_seed(tmp_path / "fixed", [deal]))
    assert load(settings, data=fixed).counts == {"company": 1, "deal": 1}
    assert [(d["stage"], d["close_date"]) for d in all_records(services, "deal")] == [
        ("proposal", "2025-03-24")]


def test_a_database_with_records_gets_no_demo_users(
    isolated_database_url: str, tmp_path: Path, services_of: Any,
) -> None:
    settings = settings_for(isolated_database_url, tmp_path)
    apply_packs(settings)
    services_of(settings).records.create(ADMIN, "company", {"name": "Our own customer"})

    skipped = load(settings)

    assert not skipped.loaded
    assert skipped.counts["company"] == 1 and skipped.counts["deal"] == 0
    assert accounts(settings) == {}


def test_the_shipped_seed_reads_without_a_database() -> None:
    data = read_demo_data(SEED_PATH)
    assert [u.username for u in data.users] == ["admin", "maria", "ivan", "olga", "sam", "lee"]
    assert data.entities == ("product", "price_list", "price_list_item", "company", "person",
                             "lead", "deal", "deal_line", "quote", "quote_line", "invoice",
                             "task", "call", "meeting", "participant", "note")


def test_seed_file_problems_are_listed_at_once(tmp_path: Path) -> None:
    root = write_seed(tmp_path / "seed", [
        {"key": "a", "owner": "nobody", "values": {"title": "A"}},
        {"key": "a", "owner": "ivan", "values": [], "steps": [{"dance": True}]},
    ])
    with pytest.raises(ValidationFailed) as refused:
        read_demo_data(root)
    assert {(Path(d.source).name, d.pointer) for d in refused.value.errors} == {
        ("deal.json", "/records/0/owner"),
        ("deal.json", "/records/1/values"),
        ("deal.json", "/records/1/steps/0"),
        ("deal.json", "/records/1/key"),
    }
