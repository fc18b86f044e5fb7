"""Field-level security: which fields a subject may see and which they may write.

Roles mark fields `hidden` or `read_only` per entity. With several roles the most generous
role wins, field by field:

* a field is **hidden** when every role that grants `read` on the entity hides it (when no
  role grants `read`, the roles granting any operation decide, so that a create-only role
  can still fill in its fields);
* a field is **read-only** for updates when every role that grants `update` marks it hidden
  or read-only (and for creates when every role that grants `create` does).

Admin roles see and write every field. Hidden fields never leave the access layer: they are
stripped from every record, cannot be filtered or sorted on (answered exactly like an unknown
field, so their existence does not leak) and cannot be written. Writes of hidden or read-only
fields are refused with 403 pointing at the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from metacrm.criteria.tree import criteria_fields
from metacrm.metadata.model import (
    CompiledModel,
    EntityDef,
    EntityPermission,
    FieldDef,
    FormulaDef,
    RollupDef,
)

RolePermission = tuple[str, EntityPermission]
"""A role name and what it grants on one entity."""


@dataclass(frozen=True, slots=True)
class FieldAccess:
    """The subject's field security on one entity."""

    hidden: frozenset[str]
    read_only: frozenset[str]
    """Fields the subject may not change in an update (hidden fields included)."""
    read_only_on_create: frozenset[str] = frozenset()
    """Fields the subject may not give a value when creating (hidden fields included)."""

    def visible(self, name: str) -> bool:
        return name not in self.hidden

    def refused(self, name: str, operation: str) -> bool:
        """Whether writing `name` in a `create` or `update` is refused."""
        locked = self.read_only_on_create if operation == "create" else self.read_only
        return name in self.hidden or name in locked


FULL_ACCESS = FieldAccess(frozenset(), frozenset(), frozenset())


def granting(permissions: Sequence[RolePermission], operation: str) -> list[RolePermission]:
    """The roles whose scope for `operation` is not `none`."""
    return [(role, p) for role, p in permissions if p.scope_of(operation) != "none"]


def read_deciders(permissions: Sequence[RolePermission]) -> list[RolePermission]:
    """The roles that decide visibility: those granting `read`, else those granting anything."""
    readers = granting(permissions, "read")
    if readers:
        return readers
    return [(role, p) for role, p in permissions
            if any(p.scope_of(op) != "none"
                   for op in ("create", "update", "delete", "export", "import"))]


def _all_mark(deciders: Sequence[RolePermission], name: str, marks: tuple[str, ...]) -> bool:
    return all(p.fields.get(name) in marks for _role, p in deciders)


def field_access(entity: EntityDef, permissions: Sequence[RolePermission]) -> FieldAccess:
    """Field security of a non-admin subject whose roles grant `permissions` on `entity`."""
    names = entity.field_names
    deciders = read_deciders(permissions)
    hidden = frozenset(n for n in names if _all_mark(deciders, n, ("hidden",)))
    locks = ("hidden", "read_only")
    updaters = granting(permissions, "update")
    creators = granting(permissions, "create")
    read_only = frozenset(n for n in names if _all_mark(updaters, n, locks)) | hidden
    on_create = frozenset(n for n in names if _all_mark(creators, n, locks)) | hidden
    return FieldAccess(hidden, read_only, on_create)


def computed_inputs(model: CompiledModel, entity: EntityDef, fdef: FieldDef
                    ) -> list[tuple[str, str]]:
    """(entity, field) pairs a computed field reads; empty for other fields."""
    computed = fdef.computed
    if isinstance(computed, FormulaDef):
        inputs = [(entity.name, name) for name in computed.names if entity.has_field(name)]
        for ref, attr in computed.paths:
            target = (entity.field(ref) or fdef).target_entity
            inputs.append((entity.name, ref))
            if target is not None:
                inputs.append((target, attr))
        return inputs
    if isinstance(computed, RollupDef):
        child = model.entities.get(computed.entity)
        names = [computed.via, *([computed.field] if computed.field else [])]
        names.extend(criteria_fields(computed.filter))
        return [(computed.entity, name) for name in names
                if child is not None and child.has_field(name)]
    return []


def with_computed_hidden(access: FieldAccess, hidden: frozenset[str]) -> FieldAccess:
    """`access` with the computed fields in `hidden` hidden (and so unwritable) too."""
    if hidden <= access.hidden:
        return access
    return FieldAccess(access.hidden | hidden, access.read_only | hidden,
                       access.read_only_on_create | hidden)
