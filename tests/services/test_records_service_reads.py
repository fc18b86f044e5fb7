"""Reads at the records service: counts, pages, fields, includes, history, explanations,
and the per-version runtime."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa
from records_world import DOCUMENTS, World, documents, field

from metacrm.kernel.errors import Forbidden, NotFound, ValidationFailed


@pytest.fixture
def world(engine: sa.Engine) -> Iterator[World]:
    yield World(engine)


def test_counts_are_exact_up_to_a_thousand_then_a_flagged_estimate(world: World) -> None:
    admin, rep = world.admin, world.subject("rep1")
    world.records.bulk_create(admin, "deal", [{"title": f"A{i}", "region": "eu"}
                                              for i in range(1000)])
    eu = {"field": "region", "op": "eq", "value": "eu"}
    exact = world.records.list(admin, "deal", criteria=eu, limit=5)
    assert (exact.count, exact.count_is_estimate) == (1000, False)
    world.records.bulk_create(rep, "deal", [{"title": f"R{i}", "region": r}
                                            for i, r in enumerate(("eu", "us", "us"))])
    for criteria in (None, eu):  # unfiltered and filtered: 1,003 and 1,001 records
        page = world.records.list(admin, "deal", criteria=criteria, limit=5)
        assert page.count_is_estimate and page.count >= 1001
    assert world.records.list(admin, "deal", limit=5, q="R").count == 3
    rep_page = world.records.list(rep, "deal")  # the scope counts too
    assert (rep_page.count, rep_page.count_is_estimate) == (3, False)


def test_a_page_counts_all_matches_even_when_it_is_empty(world: World) -> None:
    """The count rides along with the page's rows; an empty page still gets it right."""
    admin = world.admin
    assert world.records.list(admin, "deal").count == 0
    made = world.records.bulk_create(admin, "deal", [{"title": f"T{i}", "amount": str(i)}
                                                     for i in range(3)])
    first = world.records.list(admin, "deal", sort=["amount"], limit=2)
    assert (len(first.records), first.count, first.next_cursor is not None) == (2, 3, True)
    world.records.delete(admin, "deal", made[2]["id"])  # the next page is now empty
    after = world.records.list(admin, "deal", sort=["amount"], limit=2,
                               cursor=first.next_cursor)
    assert (after.records, after.count, after.count_is_estimate) == ([], 2, False)


def test_pages_walk_the_scope_with_cursors(world: World) -> None:
    admin, lead = world.admin, world.subject("lead")
    for owner in ("rep1", "rep2", "rep3", "lead"):
        world.records.bulk_create(admin, "deal", [
            {"title": f"{owner}-{i}", "amount": str(i), "owner": owner} for i in range(4)])
    seen: list[str] = []
    cursor = None
    while True:
        page = world.records.list(lead, "deal", sort=["-amount"], limit=5, cursor=cursor)
        seen.extend(r["title"] for r in page.records)
        assert page.count == 12
        cursor = page.next_cursor
        if cursor is None:
            break
    assert sorted(seen) == sorted(f"{o}-{i}" for o in ("rep1", "rep2", "lead")
                                  for i in range(4))
    assert len(seen) == len(set(seen))


def test_fields_limit_the_output_and_include_fetches_its_reference(world: World) -> None:
    admin = world.admin
    company = world.records.create(admin, "company", {"name": "Acme", "region": "eu"})
    world.records.create(admin, "deal", {"title": "T", "company": company["id"]})
    page = world.records.list(admin, "deal", fields=["title"], include=["company"])
    (record,) = page.records
    assert set(record) == {"id", "created_at", "created_by", "updated_at", "updated_by",
                           "owner", "version", "title", "company"}
    assert page.included == {"company": {company["id"]: world.records.get(
        admin, "company", company["id"])}}
    with pytest.raises(ValidationFailed) as refused:
        world.records.list(admin, "deal", include=["title", "nope"])
    assert [e.pointer for e in refused.value.errors] == ["/include/0", "/include/1"]


def test_search_needs_visible_search_fields(engine: sa.Engine) -> None:
    bodies = [dict(body) for body in DOCUMENTS]
    bodies[0] = {**bodies[0], "search_fields": []}
    world = World(engine, bodies)
    with pytest.raises(ValidationFailed) as refused:
        world.records.list(world.admin, "company", q="acme")
    assert [e.pointer for e in refused.value.errors] == ["/q"]
    assert world.records.list(world.admin, "company", q="  ").count == 0


def test_history_hides_hidden_fields_and_deleted_records_from_scoped_readers(
    world: World,
) -> None:
    admin, rep = world.admin, world.subject("rep1")
    deal = world.records.create(rep, "deal", {"title": "H"})
    world.records.update(admin, "deal", deal["id"], {"margin": "3", "title": "H2"})
    rep_fields = [(e["action"], e["field"]) for e in world.records.history(rep, "deal",
                                                                            deal["id"])]
    admin_fields = [(e["action"], e["field"]) for e in world.records.history(admin, "deal",
                                                                              deal["id"])]
    assert ("updated", "margin") in admin_fields
    assert rep_fields == [f for f in admin_fields if f[1] != "margin"]
    assert world.records.history(rep, "deal", deal["id"])[0]["actor"] == "admin"
    world.records.delete(rep, "deal", deal["id"])
    with pytest.raises(NotFound):
        world.records.history(rep, "deal", deal["id"])
    assert world.records.history(admin, "deal", deal["id"])[0]["action"] == "deleted"


def test_explain_is_for_admins_and_names_the_deciding_role_and_rule(world: World) -> None:
    admin, auditor = world.admin, world.subject("auditor")
    us_deal = world.records.create(admin, "deal", {"title": "U", "region": "us"})
    with pytest.raises(Forbidden):
        world.records.explain(auditor, "deal", caller=world.subject("lead"))
    why = world.records.explain(auditor, "deal", us_deal["id"], caller=admin)
    read = why["operations"]["read"]
    assert (read["allowed"], read["scope"], read["granted_by"]) == (False, "all", ["auditor"])
    assert read["grants"][0]["record"]["failed_rule"] == {
        "index": 0, "rule": {"field": "region", "op": "eq", "value": "eu"}}
    assert why["operations"]["update"]["allowed"] is False
    with pytest.raises(NotFound):
        world.records.explain(auditor, "deal", "00000000-0000-7000-8000-000000000000")


def test_a_new_metadata_version_is_picked_up_without_a_restart(world: World) -> None:
    admin = world.admin
    first = world.records.runtime()
    assert world.records.runtime() is first  # built once per version
    world.records.create(admin, "deal", {"title": "Before"})
    bodies = [dict(body) for body in DOCUMENTS]
    deal = next(i for i, b in enumerate(bodies) if b["name"] == "deal")
    bodies[deal] = {**bodies[deal], "fields": [*bodies[deal]["fields"],
                                               field("priority", "integer")]}
    world.metadata.apply(documents(bodies))
    created = world.records.create(admin, "deal", {"title": "After", "priority": 2})
    assert created["priority"] == 2
    assert world.records.runtime() is not first


def test_postgres_estimates_big_counts_with_the_planner(postgres_engine: sa.Engine) -> None:
    world = World(postgres_engine)
    for _batch in range(2):
        world.records.bulk_create(world.admin, "deal", [
            {"title": f"A{i}", "region": "eu" if i % 4 else "us"} for i in range(1000)])
    with postgres_engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE crm_deal")
    unfiltered = world.records.list(world.admin, "deal", limit=1)
    eu = world.records.list(world.admin, "deal", limit=1,
                            criteria={"field": "region", "op": "eq", "value": "eu"})
    assert unfiltered.count_is_estimate and 1800 <= unfiltered.count <= 2200
    assert eu.count_is_estimate and 1350 <= eu.count <= 1650


def test_postgres_asks_the_planner_once_per_query_and_values(
        postgres_engine: sa.Engine) -> None:
    """Paging through a big list, or a second viewer of it, reuses the estimate; another
    filter value gets its own."""
    world = World(postgres_engine)
    for _batch in range(4):
        world.records.bulk_create(world.admin, "deal", [
            {"title": f"A{i}", "region": "eu" if i % 3 else "us"} for i in range(1000)])
    with postgres_engine.begin() as conn:
        conn.exec_driver_sql("ANALYZE crm_deal")
    explained: list[str] = []

    def note(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.startswith("EXPLAIN"):
            explained.append(statement)

    def count(region: str, cursor: str | None = None) -> tuple[int, str | None]:
        page = world.records.list(world.admin, "deal", limit=2, cursor=cursor,
                                  criteria={"field": "region", "op": "eq", "value": region})
        assert page.count_is_estimate
        return page.count, page.next_cursor

    sa.event.listen(postgres_engine, "before_cursor_execute", note)
    try:
        eu, next_page = count("eu")
        assert count("eu", next_page)[0] == eu and count("eu")[0] == eu
        assert len(explained) == 1
        us, _ = count("us")
        assert len(explained) == 2 and us < eu
    finally:
        sa.event.remove(postgres_engine, "before_cursor_execute", note)


def test_ids_and_searches_no_database_can_hold_are_answered_not_crashed(world: World) -> None:
    admin = world.admin
    for record_id in ("\x00abc", "x" * 37, 42):
        for call in (world.records.get, world.records.history, world.records.delete):
            with pytest.raises(NotFound):
                call(admin, "deal", record_id)  # type: ignore[operator]
        with pytest.raises(NotFound):
            world.records.update(admin, "deal", record_id, {"title": "x"})  # type: ignore[arg-type]
    with pytest.raises(ValidationFailed) as refused:
        world.records.list(admin, "deal", q="a\x00b")
    assert [e.pointer for e in refused.value.errors] == ["/q"]
    with pytest.raises(ValidationFailed):
        world.records.create(admin, "deal", {"title": "x", "owner": "u\x00"})
