"""Row scopes: which records of an entity one operation may touch, for one subject.

A role grants each operation on an entity one scope — `none`, `own` (the record's owner is
the user), `team` (the owner is a member of the user's teams or their sub-teams, or the user)
or `all` — narrowed by the role's `rules` (criteria trees; a record must match every rule of
that role). A user holding several roles gets the union: a record is in scope when ANY
granting role's scope and rules admit it. `AccessScope` is that union as data; it turns
into a SQL condition for reads (lists, includes, counts) and into a Python predicate for
checks on one record (get, update, delete, explain). The criteria interpreters behind both
are proven to agree, so a record passes one exactly when it passes the other.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from metacrm.access.subject import AccessSubject
from metacrm.criteria.context import CriteriaContext
from metacrm.criteria.predicate import compile_predicate
from metacrm.criteria.sql import compile_sql
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef

SCOPES = ("none", "own", "team", "all")
OPERATIONS = ("read", "create", "update", "delete", "export", "import")
RANK = {scope: rank for rank, scope in enumerate(SCOPES)}

Record = Mapping[str, Any]
RecordCheck = Callable[[Record], bool]


@dataclass(frozen=True, slots=True)
class Grant:
    """One role's grant of an operation: its scope (never `none`) and its rules."""

    role: str
    scope: str
    rules: tuple[Any, ...] = ()
    admin: bool = False
    """Granted by the role's `admin` flag: `all`, no rules, whatever the role lists."""

    @property
    def unrestricted(self) -> bool:
        return self.scope == "all" and not self.rules


@dataclass(frozen=True, slots=True)
class AccessScope:
    """The union of a subject's grants of one operation on one entity."""

    entity: str
    operation: str
    grants: tuple[Grant, ...]

    @property
    def allowed(self) -> bool:
        """Some role grants the operation on at least some records."""
        return bool(self.grants)

    @property
    def widest(self) -> str:
        """The widest scope of any grant (`none` when nothing is granted)."""
        return max((g.scope for g in self.grants), key=RANK.__getitem__, default="none")

    @property
    def unrestricted(self) -> bool:
        """Some grant covers every record (`all` without rules): no condition needed."""
        return any(grant.unrestricted for grant in self.grants)

    @property
    def only_own(self) -> bool:
        """Every grant is an `own` grant: the subject may only touch records they own."""
        return self.allowed and all(grant.scope == "own" for grant in self.grants)

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(grant.role for grant in self.grants)


# --- SQL ------------------------------------------------------------------------------------


def owner_condition(
    scope: str, table: sa.Table, subject: AccessSubject
) -> sa.ColumnElement[bool] | None:
    """The owner part of a grant as SQL (None: no owner restriction)."""
    if scope == "all":
        return None
    if subject.user_id is None:
        return sa.false()
    if scope == "own":
        return table.c.owner == subject.user_id
    return table.c.owner.in_(list(subject.owners_in_team()))


def scope_condition(
    access: AccessScope,
    entity: EntityDef,
    table: sa.Table,
    registry: FieldTypeRegistry,
    subject: AccessSubject,
    context: CriteriaContext,
) -> sa.ColumnElement[bool] | None:
    """The records in scope as a WHERE condition; None when every record is."""
    if not access.allowed:
        return sa.false()
    if access.unrestricted:
        return None
    alternatives: list[sa.ColumnElement[bool]] = []
    for grant in access.grants:
        parts = [compile_sql(rule, entity, table, registry, context) for rule in grant.rules]
        owner = owner_condition(grant.scope, table, subject)
        if owner is not None:
            parts.insert(0, owner)
        alternatives.append(sa.and_(*parts))
    return alternatives[0] if len(alternatives) == 1 else sa.or_(*alternatives)


# --- Python -----------------------------------------------------------------------------------


def owner_matches(scope: str, record: Record, subject: AccessSubject) -> bool:
    """Whether the record's owner satisfies the owner part of a grant."""
    if scope == "all":
        return True
    owner = record.get("owner")
    if subject.user_id is None or owner is None:
        return False
    if scope == "own":
        return bool(owner == subject.user_id)
    return owner in subject.owners_in_team()


@dataclass(frozen=True, slots=True)
class GrantCheck:
    """How one record fares against one grant (for explanations)."""

    grant: Grant
    owner_matches: bool
    failed_rule: int | None
    """Index of the first rule the record does not match (None: it matches all)."""

    @property
    def inside(self) -> bool:
        return self.owner_matches and self.failed_rule is None


def check_grant(
    grant: Grant,
    record: Record,
    entity: EntityDef,
    registry: FieldTypeRegistry,
    subject: AccessSubject,
    context: CriteriaContext,
) -> GrantCheck:
    failed = None
    for index, rule in enumerate(grant.rules):
        if not compile_predicate(rule, entity, registry, context)(record):
            failed = index
            break
    return GrantCheck(grant, owner_matches(grant.scope, record, subject), failed)


def scope_check(
    access: AccessScope,
    entity: EntityDef,
    registry: FieldTypeRegistry,
    subject: AccessSubject,
    context: CriteriaContext,
) -> RecordCheck:
    """The records in scope as a predicate over one record (normalised Python values)."""
    if not access.allowed:
        return lambda _record: False
    if access.unrestricted:
        return lambda _record: True
    checks: list[tuple[str, list[RecordCheck]]] = [
        (grant.scope,
         [compile_predicate(rule, entity, registry, context) for rule in grant.rules])
        for grant in access.grants
    ]

    def inside(record: Record) -> bool:
        return any(
            owner_matches(scope, record, subject) and all(rule(record) for rule in rules)
            for scope, rules in checks
        )

    return inside
