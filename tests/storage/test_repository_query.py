"""Queries through the repository: criteria, sorting, keyset pages and cursors.

The property test pages through random tables (NULLs and duplicates on purpose) with random
sort specs and page sizes and compares the ids with one unpaged ORDER BY.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metacrm.criteria.context import CriteriaContext
from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.storage import keyset
from metacrm.storage.repository import RecordRepository
from metacrm.storage.system_tables import create_system_tables
from metacrm.storage.tables import build_record_tables

LABEL = {"en": "Label", "ru": "Метка"}
CHOICES = [{"value": v, "label": LABEL} for v in ("x", "y", "z")]


def field(name: str, type_name: str, **options: Any) -> dict[str, Any]:
    return {"name": name, "type": type_name, "label": LABEL, **options}


ITEM = {
    "kind": "entity", "name": "item", "version": 1, "label": LABEL, "plural_label": LABEL,
    "fields": [
        field("rank", "integer", indexed=True),
        field("title", "text", indexed=True),
        field("day", "date", indexed=True),
        field("price", "money", currency="USD", indexed=True),
        field("flag", "boolean", indexed=True),
        field("kind", "picklist", choices=CHOICES, indexed=True),
        field("at", "datetime", indexed=True),
        field("owner_user", "user"),
        field("note", "text"),
        field("tags", "multi_picklist", choices=CHOICES, indexed=True),
    ],
}
SORTABLE = ("rank", "title", "day", "price", "flag", "kind", "at", "created_at",
            "updated_at", "id")


class Env:
    def __init__(self, engine: sa.Engine, *, create: bool = True) -> None:
        registry = default_registry()
        documents = [Document.from_body(ITEM, source="item.json", pack="test")]
        self.model = compile_model(documents, registry)
        self.tables = build_record_tables(self.model, registry)
        self.table = self.tables["item"]
        self.repo = RecordRepository(self.model, self.tables, registry)
        self.engine = engine
        if create:
            with engine.begin() as conn:
                create_system_tables(conn)
                self.tables.metadata.create_all(conn)

    def fill(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        with self.engine.begin() as conn:
            conn.execute(sa.delete(self.table))
            return self.repo.insert_many(conn, "item", rows) if rows else []

    def page_through(self, page_size: int, **query: Any) -> list[str]:
        ids: list[str] = []
        cursor = None
        with self.engine.connect() as conn:
            for _ in range(1000):
                page = self.repo.query(conn, "item", limit=page_size, cursor=cursor, **query)
                assert len(page.records) <= page_size
                ids.extend(r["id"] for r in page.records)
                if page.next_cursor is None:
                    return ids
                assert len(page.records) == page_size
                cursor = page.next_cursor
        raise AssertionError("paging did not end")

    def ordered_ids(self, sort: list[str]) -> list[str]:
        """The reference order: one hand-written ORDER BY, NULLs last asc / first desc."""
        order = []
        for spec in sort:
            column = self.table.c[spec.lstrip("-")]
            order.append(column.desc().nulls_first() if spec.startswith("-")
                         else column.asc().nulls_last())
        with self.engine.connect() as conn:
            return list(conn.execute(
                sa.select(self.table.c.id).order_by(*order, self.table.c.id)
            ).scalars())


@pytest.fixture
def env(engine: sa.Engine) -> Iterator[Env]:
    yield Env(engine)


def pointers(exc: pytest.ExceptionInfo[Any]) -> set[str]:
    return {detail.pointer for detail in exc.value.errors}


def test_criteria_select_the_matching_records(env: Env) -> None:
    env.fill([
        {"rank": 1, "title": "Alpha", "owner_user": "u1"},
        {"rank": 2, "title": "beta", "owner_user": "u2"},
        {"rank": 3, "title": "Alphabet", "owner_user": "u1"},
        {"rank": None, "title": "alpine"},
    ])
    criteria = {"and": [{"field": "title", "op": "starts_with", "value": "alp"},
                        {"field": "owner_user", "op": "eq", "value": "$user"}]}
    with env.engine.connect() as conn:
        page = env.repo.query(conn, "item", criteria=criteria, sort=["rank"],
                              context=CriteriaContext(user_id="u1"))
    assert [r["title"] for r in page.records] == ["Alpha", "Alphabet"]
    assert page.next_cursor is None


def test_invalid_criteria_point_into_the_criteria(env: Env) -> None:
    with pytest.raises(ValidationFailed) as failure, env.engine.connect() as conn:
        env.repo.query(conn, "item", criteria={"and": [{"field": "nope", "op": "eq",
                                                        "value": 1}]})
    assert all(p.startswith("/criteria/and/0") for p in pointers(failure))


@pytest.mark.parametrize(
    ("sort", "pointer"),
    [
        (["rank", "tags"], "/sort/1"),  # indexed, but its type cannot be sorted
        (["ghost"], "/sort/0"),
        (["-"], "/sort/0"),
        (["rank", "-rank"], "/sort/1"),
        ([3], "/sort/0"),
    ],
)
def test_sorting_on_what_the_entity_does_not_allow_is_refused(
    env: Env, sort: list[Any], pointer: str
) -> None:
    with pytest.raises(ValidationFailed) as failure, env.engine.connect() as conn:
        env.repo.query(conn, "item", sort=sort)
    assert pointers(failure) == {pointer}


def test_a_field_without_an_index_sorts_only_while_the_table_is_small(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(keyset, "UNINDEXED_SORT_ROWS", 3)
    env.fill([{"note": "b"}, {"note": "c"}, {"note": "a"}])
    with env.engine.connect() as conn:
        small = env.repo.query(conn, "item", sort=["-note"])
    assert [r["note"] for r in small.records] == ["c", "b", "a"]

    env.fill([{"note": str(i)} for i in range(4)])
    big = Env(env.engine, create=False)  # a new process: nothing remembered of the size
    with pytest.raises(ValidationFailed) as failure, env.engine.connect() as conn:
        big.repo.query(conn, "item", sort=["note"])
    assert pointers(failure) == {"/sort/0"}
    assert "any field while it holds at most 3 records" in failure.value.errors[0].message


@pytest.mark.parametrize("limit", [0, 501, "10", True])
def test_limit_must_be_between_1_and_500(env: Env, limit: Any) -> None:
    with pytest.raises(ValidationFailed) as failure, env.engine.connect() as conn:
        env.repo.query(conn, "item", limit=limit)
    assert pointers(failure) == {"/limit"}


def test_nulls_come_last_ascending_and_first_descending(env: Env) -> None:
    env.fill([{"rank": 2}, {"rank": None}, {"rank": 1}])
    with env.engine.connect() as conn:
        up = env.repo.query(conn, "item", sort=["rank"]).records
        down = env.repo.query(conn, "item", sort=["-rank"]).records
    assert [r["rank"] for r in up] == [1, 2, None]
    assert [r["rank"] for r in down] == [None, 2, 1]


def test_fields_limit_what_comes_back(env: Env) -> None:
    created = env.fill([{"rank": i, "title": f"T{i}", "price": str(i)} for i in range(3)])
    with env.engine.connect() as conn:
        first = env.repo.query(conn, "item", fields=["title"], sort=["-price"], limit=2)
        rest = env.repo.query(conn, "item", fields=["title"], sort=["-price"], limit=2,
                              cursor=first.next_cursor)
        with pytest.raises(ValidationFailed) as failure:
            env.repo.query(conn, "item", fields=["title", "nope"])
    assert {frozenset(r) for r in first.records + rest.records} == {frozenset({
        "id", "created_at", "created_by", "updated_at", "updated_by", "owner", "version",
        "title"})}
    assert [r["title"] for r in first.records + rest.records] == ["T2", "T1", "T0"]
    assert rest.next_cursor is None and len(created) == 3
    assert pointers(failure) == {"/fields/1"}


def test_pages_follow_each_other_without_gaps_or_repeats(env: Env) -> None:
    created = env.fill([{"rank": i % 3, "price": {"amount": str(i), "currency": "EUR"}}
                        for i in range(11)])
    ids = env.page_through(4, sort=["rank", "-price"])
    assert sorted(ids) == sorted(r["id"] for r in created)
    assert ids == env.ordered_ids(["rank", "-price"])


def test_a_cursor_that_is_not_ours_is_refused(env: Env) -> None:
    env.fill([{"rank": i} for i in range(3)])
    with env.engine.connect() as conn:
        cursor = env.repo.query(conn, "item", sort=["rank"], limit=1).next_cursor
        assert cursor is not None
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        bad_values: tuple[Any, ...] = (
            "not a number", True, 2**70, {"n": "1"}, {"t": "2024-01-01"}, [],
        )
        forgeries = [dict(payload, v=[value, payload["v"][1]]) for value in bad_values]
        forgeries += [dict(payload, e="other"), dict(payload, f=2), dict(payload, v=[1])]
        forgeries.append(dict(payload, v=[payload["v"][0], "id\x00with NUL"]))
        forged = [base64.urlsafe_b64encode(json.dumps(f).encode()).decode() for f in forgeries]
        for bad in ("garbage!", "", "eyJ4IjogMX0", cursor[:-3], *forged):
            with pytest.raises(ValidationFailed) as failure:
                env.repo.query(conn, "item", sort=["rank"], cursor=bad)
            assert pointers(failure) == {"/cursor"}
        with pytest.raises(ValidationFailed) as failure:
            env.repo.query(conn, "item", sort=["-rank"], cursor=cursor)
        assert pointers(failure) == {"/cursor"}
        # the same cursor still works with its own sort
        assert env.repo.query(conn, "item", sort=["rank"], cursor=cursor).records


def test_a_forged_datetime_cursor_is_refused(env: Env) -> None:
    env.fill([{"at": "2024-01-01T00:00:00Z"}, {"at": "2024-01-02T00:00:00Z"}])
    with env.engine.connect() as conn:
        cursor = env.repo.query(conn, "item", sort=["at"], limit=1).next_cursor
        assert cursor is not None
        payload = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
        naive = dict(payload, v=[{"t": "2024-01-01T00:00:00"}, payload["v"][1]])
        with pytest.raises(ValidationFailed) as failure:
            env.repo.query(conn, "item", sort=["at"],
                           cursor=base64.urlsafe_b64encode(json.dumps(naive).encode()).decode())
    assert pointers(failure) == {"/cursor"}


# --- property: paging == one ORDER BY -------------------------------------------------------

ROW = st.fixed_dictionaries({
    "rank": st.sampled_from([None, 1, 2, 3]),
    "title": st.sampled_from([None, "a", "b", "B"]),
    "day": st.sampled_from([None, date(2024, 1, 1), date(2024, 1, 2)]),
    "price": st.sampled_from([None, "1.50", "-2", {"amount": "1.5", "currency": "EUR"}]),
    "flag": st.sampled_from([None, True, False]),
    "kind": st.sampled_from([None, "x", "z"]),
    "at": st.sampled_from([None, datetime(2024, 1, 1, tzinfo=UTC),
                           datetime(2024, 1, 1, 0, 0, 0, 1, tzinfo=UTC)]),
})
SORT = st.lists(st.sampled_from(SORTABLE), min_size=1, max_size=3, unique=True).flatmap(
    lambda names: st.tuples(*(st.sampled_from([n, f"-{n}"]) for n in names))
)


@settings(max_examples=40, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rows=st.lists(ROW, min_size=2, max_size=30), sort=SORT, page_size=st.integers(1, 5),
       batches=st.integers(1, 3))
def test_paging_yields_exactly_the_unpaged_order(
    env: Env, rows: list[dict[str, Any]], sort: tuple[str, ...], page_size: int,
    batches: int,
) -> None:
    env.fill([])
    # several batches, so created_at has runs of equal values and distinct ones
    for part in range(batches):
        with env.engine.begin() as conn:
            chunk = rows[part::batches]
            if chunk:
                env.repo.insert_many(conn, "item", chunk)
    names = [s.lstrip("-") for s in sort]
    # id is unique: keys after it never matter
    spec = list(sort[: names.index("id") + 1]) if "id" in names else list(sort)
    expected = env.ordered_ids(spec)
    assert env.page_through(page_size, sort=list(sort)) == expected


def test_money_sorts_by_amount_whatever_the_currency(env: Env) -> None:
    env.fill([{"price": {"amount": "3", "currency": "EUR"}}, {"price": "1"},
              {"price": {"amount": "2", "currency": "GBP"}}])
    with env.engine.connect() as conn:
        page = env.repo.query(conn, "item", sort=["price"])
    assert [r["price"].amount for r in page.records] == [Decimal("1.00"), Decimal("2.00"),
                                                        Decimal("3.00")]
