"""The access policy: role metadata interpreted at runtime, for one compiled model.

Built once per metadata version (the records service caches it with the repository). Every
answer depends only on the subject's role names, so scopes and field security are cached
per role set; SQL conditions and predicates depend on the subject's id and teams too and are
built per request from the cached grants.

Admin: a role document with `"admin": true` grants `all` on every operation of every entity,
sees and writes every field — whatever else it lists. Nothing else is implicit: a role that
does not list an entity grants `none` on it, and a role name unknown to the metadata grants
nothing.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from metacrm.access import explain as explaining
from metacrm.access.field_security import (
    FULL_ACCESS,
    FieldAccess,
    RolePermission,
    computed_inputs,
    field_access,
    with_computed_hidden,
)
from metacrm.access.scope import (
    OPERATIONS,
    AccessScope,
    Grant,
    RecordCheck,
    scope_check,
    scope_condition,
)
from metacrm.access.subject import AccessSubject
from metacrm.criteria.context import CriteriaContext
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.kernel.errors import ErrorDetail, NotFound
from metacrm.metadata.model import CompiledModel, EntityDef

CACHE_LIMIT = 4096

RoleKey = tuple[str, ...]


def role_key(subject: AccessSubject) -> RoleKey:
    return tuple(sorted(set(subject.roles)))


class AccessPolicy:
    """Scopes, field security and explanations for the subjects of one compiled model."""

    def __init__(self, model: CompiledModel, registry: FieldTypeRegistry) -> None:
        self.model = model
        self.registry = registry
        self._lock = threading.Lock()
        self._scopes: dict[tuple[RoleKey, str, str], AccessScope] = {}
        self._fields: dict[tuple[RoleKey, str], FieldAccess] = {}
        self._visible: dict[tuple[RoleKey, str], EntityDef] = {}

    # --- roles ---------------------------------------------------------------------------

    def entity(self, name: str) -> EntityDef:
        entity = self.model.entity(name) if isinstance(name, str) else None
        if entity is None:
            raise NotFound(f"unknown entity {name!r}", [ErrorDetail("no such entity", "")])
        return entity

    def admin_roles(self, subject: AccessSubject) -> tuple[str, ...]:
        """The subject's roles that are admin roles in this model."""
        return tuple(
            name for name in role_key(subject)
            if (role := self.model.roles.get(name)) is not None and role.admin
        )

    def is_admin(self, subject: AccessSubject) -> bool:
        return bool(self.admin_roles(subject))

    def permissions(self, subject: AccessSubject, entity: str) -> list[RolePermission]:
        """What each of the subject's (known, non-admin) roles lists for `entity`."""
        found: list[RolePermission] = []
        for name in role_key(subject):
            role = self.model.roles.get(name)
            if role is not None and entity in role.entities:
                found.append((name, role.entities[entity]))
        return found

    # --- scopes and fields ---------------------------------------------------------------

    def scope(self, subject: AccessSubject, entity: str, operation: str) -> AccessScope:
        """The subject's grants of `operation` on `entity` (cached per role set)."""
        if operation not in OPERATIONS:
            raise ValueError(f"unknown operation {operation!r}")
        self.entity(entity)
        key = (role_key(subject), entity, operation)
        cached = self._scopes.get(key)
        if cached is not None:
            return cached
        admins = self.admin_roles(subject)
        if admins:
            grants: tuple[Grant, ...] = tuple(Grant(name, "all", (), admin=True)
                                              for name in admins)
        else:
            grants = tuple(
                Grant(name, permission.scope_of(operation), tuple(permission.rules))
                for name, permission in self.permissions(subject, entity)
                if permission.scope_of(operation) != "none"
            )
        scope = AccessScope(entity, operation, grants)
        self._remember(self._scopes, key, scope)
        return scope

    def field_access(self, subject: AccessSubject, entity: str) -> FieldAccess:
        """Which fields of `entity` the subject cannot see or write (cached per role set)."""
        definition = self.entity(entity)
        key = (role_key(subject), entity)
        cached = self._fields.get(key)
        if cached is not None:
            return cached
        if self.is_admin(subject):
            access = FULL_ACCESS
        else:
            access = field_access(definition, self.permissions(subject, entity))
            access = with_computed_hidden(access, frozenset(
                f.name for f in definition.fields
                if f.computed is not None and self._hides(subject, entity, f.name)))
        self._remember(self._fields, key, access)
        return access

    def _hides(self, subject: AccessSubject, entity: str, name: str) -> bool:
        """Whether `name` is hidden from the (non-admin) subject: by their roles, or as a
        computed field reading something hidden or of an entity they may not read. Follows
        computed fields only, which the compiler keeps free of circles."""
        definition = self.entity(entity)
        if not self.scope(subject, entity, "read").allowed:
            return True
        if name in field_access(definition, self.permissions(subject, entity)).hidden:
            return True
        fdef = definition.field(name)
        if fdef is None or fdef.computed is None:
            return False
        return any(self._hides(subject, target, input_name)
                   for target, input_name in computed_inputs(self.model, definition, fdef))

    def visible_entity(self, subject: AccessSubject, entity: str) -> EntityDef:
        """The entity as the subject may know it: hidden fields removed. Criteria from the
        subject are checked against it, so naming a hidden field is an unknown field."""
        definition = self.entity(entity)
        hidden = self.field_access(subject, entity).hidden
        if not hidden:
            return definition
        key = (role_key(subject), entity)
        cached = self._visible.get(key)
        if cached is not None:
            return cached
        visible = dataclasses.replace(
            definition,
            fields=tuple(f for f in definition.fields if f.name not in hidden),
            search_fields=tuple(n for n in definition.search_fields if n not in hidden),
            indexes=tuple(i for i in definition.indexes if not set(i.fields) & hidden),
        )
        self._remember(self._visible, key, visible)
        return visible

    def _remember(self, cache: dict[Any, Any], key: Any, value: Any) -> None:
        with self._lock:
            if len(cache) >= CACHE_LIMIT:
                cache.clear()
            cache[key] = value

    # --- conditions ----------------------------------------------------------------------

    def condition(
        self, subject: AccessSubject, entity: str, operation: str, table: sa.Table,
        context: CriteriaContext,
    ) -> sa.ColumnElement[bool] | None:
        """The records in the subject's scope as SQL (None: all records)."""
        return scope_condition(self.scope(subject, entity, operation), self.entity(entity),
                               table, self.registry, subject, context)

    def check(
        self, subject: AccessSubject, entity: str, operation: str, context: CriteriaContext
    ) -> RecordCheck:
        """The records in the subject's scope as a predicate over one record."""
        return scope_check(self.scope(subject, entity, operation), self.entity(entity),
                           self.registry, subject, context)

    # --- explanations --------------------------------------------------------------------

    def explain(
        self,
        subject: AccessSubject,
        entity: str,
        record: Mapping[str, Any] | None = None,
        *,
        context: CriteriaContext | None = None,
    ) -> dict[str, Any]:
        """Why the subject may or may not do each operation and see or write each field of
        `entity` (and of `record`, when given): the roles, scopes and rules that decide."""
        return explaining.explain(self, subject, entity, record,
                                  context or subject.criteria_context())
