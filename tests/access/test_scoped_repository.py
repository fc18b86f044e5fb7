"""The scoped repository: rules with variables, list and get agreeing, write answers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from metacrm.access.policy import AccessPolicy
from metacrm.access.scoped_repository import ScopedRepository
from metacrm.access.subject import AccessSubject
from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import Forbidden, NotFound, ValidationFailed
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.storage.repository import RecordRepository
from metacrm.storage.system_tables import create_system_tables
from metacrm.storage.tables import build_record_tables

LABEL = {"en": "L", "ru": "L"}
TICKET = {
    "kind": "entity", "name": "ticket", "version": 1, "label": LABEL, "plural_label": LABEL,
    "fields": [
        {"name": "subject", "type": "text", "label": LABEL},
        {"name": "assignee", "type": "user", "label": LABEL},
        {"name": "queue", "type": "text", "label": LABEL},
        {"name": "priority", "type": "integer", "label": LABEL, "indexed": True},
    ],
}
MINE = {"field": "assignee", "op": "eq", "value": "$user"}


def role(name: str, ticket: dict[str, Any]) -> dict[str, Any]:
    return {"kind": "role", "name": name, "version": 1, "label": LABEL,
            "entities": {"ticket": ticket}}


ROLES = [
    role("assigned", {"read": "all", "update": "all", "rules": [MINE]}),
    role("queue", {"read": "all", "rules": [{"field": "queue", "op": "in", "value": "$team"}]}),
    role("urgent_own", {"read": "own", "delete": "own",
                        "rules": [{"field": "priority", "op": "gte", "value": 3}]}),
]
TICKETS = [  # subject, owner, assignee, queue, priority
    ("t1", "ann", "bob", "billing", 1),
    ("t2", "ann", "ann", "tech", 5),
    ("t3", "bob", "bob", "tech", 3),
    ("t4", "cat", None, "billing", 4),
    ("t5", "ann", "cat", None, None),
]


class Env:
    def __init__(self, engine: sa.Engine) -> None:
        registry = default_registry()
        documents = [Document.from_body(b, source=f"{b['name']}.json", pack="t")
                     for b in (TICKET, *ROLES)]
        model = compile_model(documents, registry)
        tables = build_record_tables(model, registry)
        self.engine = engine
        self.repository = RecordRepository(model, tables, registry)
        self.policy = AccessPolicy(model, registry)
        with engine.begin() as conn:
            create_system_tables(conn)
            tables.metadata.create_all(conn)
            self.ids = {
                subject: self.repository.insert(conn, "ticket", {
                    "subject": subject, "assignee": assignee, "queue": queue,
                    "priority": priority}, owner=owner)["id"]
                for subject, owner, assignee, queue, priority in TICKETS
            }
        self.names = {record_id: name for name, record_id in self.ids.items()}

    def scoped(self, user: str, *roles: str, teams: tuple[str, ...] = ()) -> ScopedRepository:
        return ScopedRepository(self.repository, self.policy,
                                AccessSubject(user, user, roles, team_ids=teams))

    def listed(self, scoped: ScopedRepository, **query: Any) -> set[str]:
        with self.engine.connect() as conn:
            page = scoped.page(conn, "ticket", limit=500, **query)
        return {self.names[r["id"]] for r in page.records}

    def readable(self, scoped: ScopedRepository) -> set[str]:
        found = set()
        with self.engine.connect() as conn:
            for name, record_id in self.ids.items():
                try:
                    scoped.get(conn, "ticket", record_id)
                except NotFound:
                    continue
                found.add(name)
        return found


@pytest.fixture
def env(engine: sa.Engine) -> Iterator[Env]:
    yield Env(engine)


CASES = [
    (("bob", ("assigned",), ()), {"t1", "t3"}),
    (("ann", ("queue",), ("tech",)), {"t2", "t3"}),
    (("ann", ("queue",), ()), set()),
    (("ann", ("urgent_own",), ()), {"t2"}),
    (("cat", ("urgent_own", "assigned"), ()), {"t4", "t5"}),
    (("ann", ("queue", "urgent_own"), ("billing",)), {"t1", "t2", "t4"}),
]


@pytest.mark.parametrize(("who", "expected"), CASES, ids=[c[0][0] + "+".join(c[0][1])
                                                          for c in CASES])
def test_rules_with_variables_scope_lists_and_single_reads_alike(
    env: Env, who: tuple[str, tuple[str, ...], tuple[str, ...]], expected: set[str]
) -> None:
    user, roles, teams = who
    scoped = env.scoped(user, *roles, teams=teams)
    assert env.listed(scoped) == expected
    assert env.readable(scoped) == expected
    with env.engine.connect() as conn:
        assert scoped.count(conn, "ticket").value == len(expected)
        fetched = scoped.fetch(conn, "ticket", list(env.ids.values()))
    assert {env.names[i] for i in fetched} == expected


def test_user_criteria_and_the_scope_are_both_applied(env: Env) -> None:
    scoped = env.scoped("ann", "queue", "urgent_own", teams=("billing",))
    assert env.listed(scoped, criteria={"field": "priority", "op": "gte", "value": 4}) == {
        "t2", "t4"}
    assert env.listed(scoped, q=None, criteria={"not": {"field": "queue", "op": "eq",
                                                        "value": "billing"}}) == {"t2"}


def test_updates_outside_the_scope_answer_404_or_403(env: Env) -> None:
    bob = env.scoped("bob", "assigned", "queue", teams=("billing",))
    with env.engine.begin() as conn:
        before, after = bob.update(conn, "ticket", env.ids["t1"], {"priority": 2})
        assert (before["priority"], after["priority"], after["updated_by"]) == (1, 2, "bob")
        with pytest.raises(Forbidden):  # readable through the queue, not assigned to bob
            bob.update(conn, "ticket", env.ids["t4"], {"priority": 2})
        with pytest.raises(NotFound):  # neither readable nor assigned
            bob.update(conn, "ticket", env.ids["t2"], {"priority": 2})
        with pytest.raises(Forbidden):  # bob would lose the ticket he may update
            bob.update(conn, "ticket", env.ids["t3"], {"assignee": "ann"})
        with pytest.raises(Forbidden):  # no role grants delete
            bob.delete(conn, "ticket", env.ids["t1"])
        with pytest.raises(Forbidden):  # no role grants create
            bob.insert(conn, "ticket", {"subject": "new"})


def test_criteria_errors_point_into_the_criteria(env: Env) -> None:
    scoped = env.scoped("bob", "assigned")
    with pytest.raises(ValidationFailed) as refused:
        env.listed(scoped, criteria={"and": [{"field": "priority", "op": "gt", "value": "x"}]})
    assert [e.pointer for e in refused.value.errors] == ["/criteria/and/0/value"]
