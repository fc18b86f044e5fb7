"""The record repository's writes and reads: what services and the API rely on.

Round trips of every field type, validation errors with pointers, optimistic locking,
`on_delete` rules, auto-numbers and unique values, on SQLite and PostgreSQL.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.fieldtypes import default_registry
from metacrm.fieldtypes.money import Money
from metacrm.kernel.errors import Conflict, NotFound, StaleRecord, ValidationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.storage.repository import RecordRepository
from metacrm.storage.system_tables import create_system_tables, sequences
from metacrm.storage.tables import build_record_tables

LABEL = {"en": "Label", "ru": "Метка"}


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


def entity(name: str, *fields: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "entity", "name": name, "version": 1, "label": LABEL,
            "plural_label": LABEL, "fields": list(fields)}


DOCUMENTS: list[dict[str, Any]] = [
    entity(
        "company",
        field("name", "text", required=True, indexed=True, max_length=100),
        field("code", "auto_number", prefix="C-", digits=4, start=7),
        field("notes", "textarea"),
        field("email", "email"),
        field("phone", "phone", default_region="US"),
        field("website", "url"),
        field("employees", "integer", min=0),
        field("rating", "decimal", precision=5, scale=2),
        field("revenue", "money", currency="USD"),
        field("share", "percent"),
        field("active", "boolean", default=True),
        field("founded", "date"),
        field("last_contact", "datetime"),
        field("industry", "picklist", choices=[
            {"value": "tech", "label": LABEL}, {"value": "retail", "label": LABEL}]),
        field("tags", "multi_picklist", choices=[
            {"value": "a", "label": LABEL}, {"value": "b", "label": LABEL},
            {"value": "c", "label": LABEL}]),
        field("parent", "reference", entity="company", on_delete="set_null"),
        field("about", "regarding", entities=["company", "deal"]),
        field("account_manager", "user"),
        field("stage", "state", pipeline="onboarding"),
        field("data", "json"),
        field("contract", "file"),  # a count of files only the engine writes
        field("tax_id", "text", unique=True),
        field("score", "integer", read_only=True, default=0),
    ),
    {"kind": "pipeline", "name": "onboarding", "version": 1, "label": LABEL,
     "entity": "company", "states": [{"name": "new", "label": LABEL},
                                     {"name": "done", "label": LABEL}]},
    entity(
        "deal",
        field("title", "text", required=True),
        field("company", "reference", entity="company", on_delete="cascade"),
    ),
    entity(
        "contact",
        field("name", "text"),
        field("company", "reference", entity="company", on_delete="restrict"),
    ),
    entity(
        "task",
        field("subject", "text"),
        field("company", "reference", entity="company", on_delete="set_null"),
        field("deal", "reference", entity="deal", on_delete="cascade"),
    ),
    entity(
        "invoice",
        field("deal", "reference", entity="deal", on_delete="restrict"),
    ),
]


class Env:
    def __init__(self, engine: sa.Engine) -> None:
        registry = default_registry()
        documents = [Document.from_body(body, source=f"{body['name']}.json", pack="test")
                     for body in DOCUMENTS]
        self.model = compile_model(documents, registry)
        self.tables = build_record_tables(self.model, registry)
        self.repo = RecordRepository(self.model, self.tables, registry)
        self.engine = engine
        with engine.begin() as conn:
            create_system_tables(conn)
            self.tables.metadata.create_all(conn)

    def insert(self, entity_name: str, values: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        with self.engine.begin() as conn:
            return self.repo.insert(conn, entity_name, values, **kwargs)

    def get(self, entity_name: str, record_id: str) -> dict[str, Any] | None:
        with self.engine.connect() as conn:
            return self.repo.get(conn, entity_name, record_id)


@pytest.fixture
def env(engine: sa.Engine) -> Iterator[Env]:
    yield Env(engine)


def pointers(exc: pytest.ExceptionInfo[Any]) -> set[str]:
    return {detail.pointer for detail in exc.value.errors}


FULL_COMPANY: dict[str, Any] = {
    "name": "  Acme  ",
    "notes": "Long\ntext",
    "email": "Sales@Example.COM",
    "phone": "(201) 555-0123",
    "website": "https://example.com/x",
    "employees": 42,
    "rating": "4.5",
    "revenue": {"amount": "1234.5", "currency": "EUR"},
    "share": "12.5",
    "active": False,
    "founded": "2001-02-03",
    "last_contact": "2024-05-31T14:30:00.123456+03:00",
    "industry": "tech",
    "tags": ["c", "a"],
    "account_manager": "user-7",
    "stage": "new",
    "data": {"source": "import", "ids": [1, 2]},
    "tax_id": "T-1",
}


def test_every_field_type_round_trips_through_insert_and_get(env: Env) -> None:
    types = {f.type for e in env.model.entities.values() for f in e.fields}
    assert types == set(default_registry().names()), "the model must use every built-in type"

    parent = env.insert("company", {"name": "Parent"})
    created = env.insert("company", {**FULL_COMPANY, "parent": parent["id"]}, actor="u1")

    assert created == env.get("company", created["id"])
    assert created["name"] == "Acme"
    assert created["code"] == "C-0008"
    assert created["rating"] == Decimal("4.50")
    assert created["revenue"] == Money(Decimal("1234.50"), "EUR")
    assert created["share"] == Decimal("12.50")
    assert created["active"] is False
    assert created["founded"] == date(2001, 2, 3)
    assert created["last_contact"] == datetime(2024, 5, 31, 11, 30, 0, 123456, tzinfo=UTC)
    assert created["tags"] == ("a", "c")
    assert created["data"] == {"source": "import", "ids": [1, 2]}
    assert created["contract"] is None  # no file attached yet
    assert created["phone"].startswith("+1")
    assert created["parent"] == parent["id"]
    assert created["score"] == 0
    assert (created["version"], created["created_by"], created["updated_by"],
            created["owner"]) == (1, "u1", "u1", "u1")
    assert created["created_at"] == created["updated_at"]
    assert created["created_at"].tzinfo is not None


def test_empty_fields_round_trip_as_none_and_defaults_apply(env: Env) -> None:
    created = env.insert("company", {"name": "Bare", "tags": [], "revenue": None},
                         actor="u1", owner="u2")
    stored = env.get("company", created["id"])
    assert stored == created
    assert stored is not None
    assert stored["active"] is True  # the field's default
    assert stored["score"] == 0
    assert stored["tags"] is None and stored["revenue"] is None and stored["parent"] is None
    assert stored["owner"] == "u2"


def test_get_of_an_unknown_id_is_none(env: Env) -> None:
    assert env.get("company", "0190b7a4-0000-7000-8000-000000000000") is None


def test_unknown_entity_is_not_found(env: Env) -> None:
    with pytest.raises(NotFound):
        env.get("ghost", "x")


def test_invalid_insert_reports_every_problem_with_its_pointer(env: Env) -> None:
    with pytest.raises(ValidationFailed) as failure:
        env.insert("company", {
            "bogus": 1,
            "id": "mine",
            "version": 3,
            "code": "C-1",
            "score": 5,
            "email": "not an email",
            "employees": -1,
            "tags": ["a", "zzz"],
            "revenue": {"amount": "x"},
        })
    assert pointers(failure) == {
        "/bogus", "/id", "/version", "/code", "/score", "/email", "/employees", "/tags",
        "/revenue", "/name",
    }
    messages = {d.pointer: d.message for d in failure.value.errors}
    assert "not a field" in messages["/bogus"]
    assert "system column" in messages["/id"]
    assert "read-only" in messages["/score"]
    assert "automatically" in messages["/code"]
    assert "required" in messages["/name"]
    assert all(message for message in messages.values())


def test_a_payload_that_is_not_an_object_is_refused(env: Env) -> None:
    with pytest.raises(ValidationFailed) as failure:
        env.insert("company", ["name"])  # type: ignore[arg-type]
    assert pointers(failure) == {"/"}
    with pytest.raises(ValidationFailed) as failure, env.engine.begin() as conn:
        env.repo.insert_many(conn, "company", [{"name": "A"}, "B"])  # type: ignore[list-item]
    assert pointers(failure) == {"/1"}


def test_a_trusted_writer_may_set_read_only_fields(env: Env) -> None:
    with env.engine.begin() as conn:
        created = env.repo.insert(conn, "company", {"name": "A", "score": 9}, trusted=True)
        assert created["score"] == 9
        updated = env.repo.update(conn, "company", created["id"], {"score": 10}, trusted=True)
    assert updated["score"] == 10


def test_reference_to_a_missing_record_is_refused_before_writing(env: Env) -> None:
    missing = "0190b7a4-0000-7000-8000-000000000000"
    with pytest.raises(ValidationFailed) as failure:
        env.insert("deal", {"title": "D", "company": missing})
    assert pointers(failure) == {"/company"}
    with pytest.raises(ValidationFailed) as failure:
        env.insert("deal", {"title": "D", "company": "not-an-id"})
    assert pointers(failure) == {"/company"}
    deal = env.insert("deal", {"title": "D"})
    with pytest.raises(ValidationFailed) as failure, env.engine.begin() as conn:
        env.repo.update(conn, "deal", deal["id"], {"company": missing})
    assert pointers(failure) == {"/company"}


def test_update_changes_fields_and_bumps_the_version(env: Env) -> None:
    created = env.insert("company", {"name": "A", "employees": 1}, actor="u1")
    with env.engine.begin() as conn:
        updated = env.repo.update(
            conn, "company", created["id"],
            {"employees": "2", "revenue": "10", "tags": ["b"]},
            expected_version=1, actor="u2",
        )
    assert updated == env.get("company", created["id"])
    assert updated["version"] == 2
    assert updated["employees"] == 2
    assert updated["revenue"] == Money(Decimal("10.00"), "USD")
    assert updated["tags"] == ("b",)
    assert updated["name"] == "A" and updated["code"] == created["code"]
    assert (updated["created_by"], updated["updated_by"]) == ("u1", "u2")
    assert updated["updated_at"] >= created["updated_at"]
    assert updated["created_at"] == created["created_at"]


def test_update_refuses_what_insert_refuses_and_emptying_a_required_field(env: Env) -> None:
    created = env.insert("company", {"name": "A"})
    with pytest.raises(ValidationFailed) as failure, env.engine.begin() as conn:
        env.repo.update(conn, "company", created["id"], {
            "name": None, "code": "C-9", "owner": "me", "nope": 1, "employees": "many",
            "score": 3,
        })
    assert pointers(failure) == {"/name", "/code", "/owner", "/nope", "/employees", "/score"}
    assert env.get("company", created["id"]) == created


def test_update_can_reassign_the_owner(env: Env) -> None:
    created = env.insert("company", {"name": "A"}, actor="u1")
    with env.engine.begin() as conn:
        updated = env.repo.update(conn, "company", created["id"], {}, owner="u9")
    assert (updated["owner"], updated["version"]) == ("u9", 2)


def test_update_with_a_stale_version_is_refused(env: Env) -> None:
    created = env.insert("company", {"name": "A"})
    with env.engine.begin() as conn:
        env.repo.update(conn, "company", created["id"], {"name": "B"}, expected_version=1)
    with pytest.raises(StaleRecord) as failure, env.engine.begin() as conn:
        env.repo.update(conn, "company", created["id"], {"name": "C"}, expected_version=1)
    assert failure.value.status == 412
    with pytest.raises(StaleRecord), env.engine.begin() as conn:
        env.repo.update(conn, "company", created["id"], {}, expected_version=1)
    stored = env.get("company", created["id"])
    assert stored is not None and (stored["name"], stored["version"]) == ("B", 2)


def test_update_or_delete_of_a_missing_record_is_not_found(env: Env) -> None:
    missing = "0190b7a4-0000-7000-8000-000000000000"
    with pytest.raises(NotFound), env.engine.begin() as conn:
        env.repo.update(conn, "company", missing, {"name": "X"})
    with pytest.raises(NotFound), env.engine.begin() as conn:
        env.repo.update(conn, "company", missing, {"name": "X"}, expected_version=1)
    with pytest.raises(NotFound), env.engine.begin() as conn:
        env.repo.delete(conn, "company", missing)


def test_of_two_updates_from_the_same_version_exactly_one_wins(env: Env) -> None:
    created = env.insert("company", {"name": "A"})
    barrier = threading.Barrier(2)
    outcomes: dict[str, object] = {}

    def attempt(name: str) -> None:
        try:
            with env.engine.begin() as conn:
                barrier.wait()
                env.repo.update(conn, "company", created["id"], {"name": name},
                                expected_version=1)
            outcomes[name] = "won"
        except StaleRecord as exc:
            outcomes[name] = exc

    threads = [threading.Thread(target=attempt, args=(n,)) for n in ("left", "right")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [name for name, outcome in outcomes.items() if outcome == "won"]
    losers = [o for o in outcomes.values() if isinstance(o, StaleRecord)]
    assert len(winners) == 1 and len(losers) == 1
    stored = env.get("company", created["id"])
    assert stored is not None and (stored["name"], stored["version"]) == (winners[0], 2)


def test_unique_values_conflict_naming_the_field(env: Env) -> None:
    env.insert("company", {"name": "A", "tax_id": "T-1"})
    with pytest.raises(Conflict) as failure:
        env.insert("company", {"name": "B", "tax_id": "T-1"})
    assert pointers(failure) == {"/tax_id"}
    assert failure.value.status == 409
    other = env.insert("company", {"name": "B", "tax_id": "T-2"})
    with pytest.raises(Conflict) as failure, env.engine.begin() as conn:
        env.repo.update(conn, "company", other["id"], {"tax_id": "T-1"})
    assert pointers(failure) == {"/tax_id"}
    with pytest.raises(Conflict), env.engine.begin() as conn:
        env.repo.insert_many(conn, "company", [{"name": "C", "tax_id": "T-3"},
                                               {"name": "D", "tax_id": "T-3"}])


def test_auto_numbers_count_up_from_start_and_survive_rollbacks(env: Env) -> None:
    first = env.insert("company", {"name": "A"})
    with pytest.raises(RuntimeError), env.engine.begin() as conn:
        env.repo.insert(conn, "company", {"name": "rolled back"})
        raise RuntimeError("abort the unit of work")
    with env.engine.begin() as conn:
        batch = env.repo.insert_many(conn, "company", [{"name": "B"}, {"name": "C"}])
    last = env.insert("company", {"name": "D"})
    assert [r["code"] for r in (first, *batch, last)] == ["C-0007", "C-0008", "C-0009",
                                                          "C-0010"]
    with env.engine.connect() as conn:
        counter = conn.execute(sa.select(sequences.c.next_value).where(
            sequences.c.entity == "company", sequences.c.field == "code")).scalar_one()
    assert counter == 11


def test_insert_many_validates_every_row_and_writes_all_or_nothing(env: Env) -> None:
    parent = env.insert("company", {"name": "P"})
    with pytest.raises(ValidationFailed) as failure, env.engine.begin() as conn:
        env.repo.insert_many(conn, "company", [
            {"name": "ok", "parent": parent["id"]},
            {"employees": "x"},
            {"name": "B", "parent": "0190b7a4-0000-7000-8000-000000000000"},
        ])
    assert pointers(failure) == {"/1/name", "/1/employees", "/2/parent"}
    with env.engine.begin() as conn:
        created = env.repo.insert_many(conn, "company", [
            {"name": "X", "parent": parent["id"]}, {"name": "Y", "employees": 3}
        ], actor="importer")
        assert env.repo.insert_many(conn, "company", []) == []
    assert [env.get("company", r["id"]) for r in created] == created
    assert {r["created_by"] for r in created} == {"importer"}
    assert len({r["id"] for r in created}) == 2


def test_delete_applies_restrict_cascade_and_set_null(env: Env) -> None:
    company = env.insert("company", {"name": "A"})
    child = env.insert("company", {"name": "Child", "parent": company["id"]})
    deal = env.insert("deal", {"title": "D", "company": company["id"]})
    deal_task = env.insert("task", {"subject": "call", "deal": deal["id"]})
    company_task = env.insert("task", {"subject": "visit", "company": company["id"]})
    contact = env.insert("contact", {"name": "C", "company": company["id"]})

    with pytest.raises(Conflict) as failure, env.engine.begin() as conn:
        env.repo.delete(conn, "company", company["id"])
    assert "contact" in failure.value.message
    assert env.get("deal", deal["id"]) is not None, "nothing was deleted"

    with env.engine.begin() as conn:
        env.repo.delete(conn, "contact", contact["id"])
        env.repo.delete(conn, "company", company["id"], expected_version=1, actor="u5")

    assert env.get("company", company["id"]) is None
    assert env.get("deal", deal["id"]) is None, "cascade"
    assert env.get("task", deal_task["id"]) is None, "cascade of a cascade"
    orphan = env.get("task", company_task["id"])
    assert orphan is not None and orphan["company"] is None, "set_null"
    assert (orphan["version"], orphan["updated_by"]) == (2, "u5")
    sibling = env.get("company", child["id"])
    assert sibling is not None and sibling["parent"] is None and sibling["version"] == 2


def test_delete_refused_when_a_cascaded_record_is_restricted(env: Env) -> None:
    company = env.insert("company", {"name": "A"})
    deal = env.insert("deal", {"title": "D", "company": company["id"]})
    task = env.insert("task", {"subject": "call", "deal": deal["id"]})
    invoice = env.insert("invoice", {"deal": deal["id"]})
    with pytest.raises(Conflict) as failure, env.engine.begin() as conn:
        env.repo.delete(conn, "company", company["id"])
    assert "invoice" in failure.value.message
    assert [d.source for d in failure.value.errors] == ["invoice"]
    for name, record in (("company", company), ("deal", deal), ("task", task)):
        assert env.get(name, record["id"]) == record, "nothing was deleted"
    with env.engine.begin() as conn:
        env.repo.delete(conn, "invoice", invoice["id"])
        env.repo.delete(conn, "company", company["id"])
    assert env.get("deal", deal["id"]) is None


def test_delete_with_a_stale_version_is_refused(env: Env) -> None:
    created = env.insert("company", {"name": "A"})
    with env.engine.begin() as conn:
        env.repo.update(conn, "company", created["id"], {"name": "B"})
    with pytest.raises(StaleRecord), env.engine.begin() as conn:
        env.repo.delete(conn, "company", created["id"], expected_version=1)
    assert env.get("company", created["id"]) is not None


def test_a_bad_expected_version_is_a_validation_error(env: Env) -> None:
    created = env.insert("company", {"name": "A"})
    with pytest.raises(ValidationFailed) as failure, env.engine.begin() as conn:
        env.repo.update(conn, "company", created["id"], {}, expected_version="1")  # type: ignore[arg-type]
    assert pointers(failure) == {"/version"}


def _companies(count: int, prefix: str, parent: str) -> list[dict[str, Any]]:
    return [{**FULL_COMPANY, "name": f"{prefix} {n}", "tax_id": f"{prefix}-{n}",
             "parent": parent, "employees": n, "tags": ["a", "b"] if n % 2 else None,
             "data": {"n": n, "odd": bool(n % 2)} if n % 5 else None, "revenue": None if n % 3 else
             {"amount": f"{n}.5", "currency": "EUR"}} for n in range(count)]


def _stored(env: Env, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    ignored = ("id", "code", "name", "tax_id", "created_at", "updated_at")
    with env.engine.connect() as conn:
        rows = [env.repo.get(conn, "company", r["id"]) for r in records]
    return [{k: v for k, v in row.items() if k not in ignored} for row in rows if row]


def test_a_copy_insert_stores_exactly_what_executemany_stores(env: Env) -> None:
    """Imports write batches with COPY into a staging table and INSERT ... SELECT on
    PostgreSQL (`bulk_copy=True`); every field type must be stored as the plain INSERT would."""
    from metacrm.storage.copy_insert import COPY_MIN_ROWS, copy_applies

    parent = env.insert("company", {"name": "Parent"})
    count = COPY_MIN_ROWS + 10
    with env.engine.begin() as conn:
        rows = _companies(count, "P", parent["id"])
        assert copy_applies(conn, rows) == (env.engine.dialect.name == "postgresql")
        plain = env.repo.insert_many(conn, "company", rows, actor="u1")
    with env.engine.begin() as conn:  # two batches in one transaction: the stage empties
        copied = env.repo.insert_many(conn, "company", _companies(count, "C", parent["id"]),
                                      actor="u1", bulk_copy=True)
        copied += env.repo.insert_many(conn, "company", _companies(count, "D", parent["id"]),
                                       actor="u1", bulk_copy=True)
    assert _stored(env, copied) == _stored(env, plain) * 2
    with env.engine.connect() as conn:
        assert [env.repo.get(conn, "company", r["id"]) for r in copied] == copied
        total = conn.execute(sa.select(sa.func.count()).select_from(
            env.tables.tables["company"])).scalar_one()
    assert total == 1 + 3 * count


def test_a_copy_insert_refuses_a_taken_unique_value_like_executemany(env: Env) -> None:
    from metacrm.storage.copy_insert import COPY_MIN_ROWS

    parent = env.insert("company", {"name": "Parent", "tax_id": "X-7"})
    rows = _companies(COPY_MIN_ROWS + 5, "X", parent["id"])
    for bulk_copy in (False, True):
        with pytest.raises(Conflict) as failure, env.engine.begin() as conn:
            env.repo.insert_many(conn, "company", rows, bulk_copy=bulk_copy)
        assert pointers(failure) == {"/tax_id"}
    with env.engine.begin() as conn:  # a refused batch in a savepoint; the next one writes
        with pytest.raises(Conflict), conn.begin_nested():
            env.repo.insert_many(conn, "company", rows, bulk_copy=True)
        written = env.repo.insert_many(conn, "company", rows[8:], bulk_copy=True)
    assert len(written) == len(rows) - 8
    assert env.get("company", written[0]["id"]) == written[0]
