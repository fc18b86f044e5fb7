"""Explanations for admins: why a user may or may not do something with an entity.

`explain` answers, for one subject and entity (and optionally one record), per operation:
allowed or not, the widest scope, which roles grant it with which scope and rules, and —
for a record — whether the record is inside each role's scope and, if not, whether the owner
or which rule kept it out; per field: visible, hidden or read-only and which roles decide.
It is the access rules in words, computed by the same code that enforces them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from metacrm.access.field_security import granting, read_deciders
from metacrm.access.scope import OPERATIONS, check_grant
from metacrm.access.subject import AccessSubject
from metacrm.criteria.context import CriteriaContext
from metacrm.metadata.model import EntityDef

if TYPE_CHECKING:
    from metacrm.access.policy import AccessPolicy

OWNER_WORDS = {
    "own": "the record's owner is the user",
    "team": "the record's owner is the user or a member of the user's teams or sub-teams",
    "all": "any owner",
}


def explain(
    policy: AccessPolicy,
    subject: AccessSubject,
    entity: str,
    record: Mapping[str, Any] | None,
    context: CriteriaContext,
) -> dict[str, Any]:
    definition = policy.entity(entity)
    admins = policy.admin_roles(subject)
    return {
        "subject": subject.to_json(),
        "entity": entity,
        "record_id": None if record is None else record.get("id"),
        "admin_roles": list(admins),
        "roles": _roles(policy, subject, entity),
        "operations": {
            operation: _operation(policy, subject, definition, operation, record, context)
            for operation in OPERATIONS
        },
        "fields": _fields(policy, subject, definition, admins),
    }


def _roles(policy: AccessPolicy, subject: AccessSubject, entity: str) -> list[dict[str, Any]]:
    described = []
    for name in sorted(set(subject.roles)):
        role = policy.model.roles.get(name)
        if role is None:
            note = "unknown role: not in the live metadata, grants nothing"
        elif role.admin:
            note = "admin role: all on every entity, every field"
        elif entity in role.entities:
            note = f"lists {entity!r}"
        else:
            note = f"does not list {entity!r}: none on every operation"
        described.append({"role": name, "known": role is not None,
                          "admin": bool(role and role.admin), "note": note})
    return described


def _operation(
    policy: AccessPolicy,
    subject: AccessSubject,
    entity: EntityDef,
    operation: str,
    record: Mapping[str, Any] | None,
    context: CriteriaContext,
) -> dict[str, Any]:
    scope = policy.scope(subject, entity.name, operation)
    grants = []
    inside_any = False
    for grant in scope.grants:
        described: dict[str, Any] = {
            "role": grant.role,
            "scope": grant.scope,
            "owner": OWNER_WORDS[grant.scope],
            "rules": list(grant.rules),
            "admin": grant.admin,
        }
        if record is not None:
            check = check_grant(grant, record, entity, policy.registry, subject, context)
            inside_any = inside_any or check.inside
            described["record"] = {
                "inside": check.inside,
                "owner_matches": check.owner_matches,
                "failed_rule": None if check.failed_rule is None else {
                    "index": check.failed_rule, "rule": grant.rules[check.failed_rule]},
            }
        grants.append(described)
    if not scope.allowed:
        reason = f"no role of the user grants {operation} on {entity.name!r}"
    elif record is None:
        reason = (f"granted by {', '.join(scope.roles)}; the widest scope is {scope.widest}")
    elif inside_any:
        reason = "the record is inside the scope of at least one granting role"
    else:
        reason = "the record is outside the scope of every granting role"
    return {
        "allowed": scope.allowed if record is None else inside_any,
        "scope": scope.widest,
        "granted_by": list(scope.roles),
        "grants": grants,
        "record_inside": None if record is None else inside_any,
        "reason": reason,
    }


def _fields(
    policy: AccessPolicy, subject: AccessSubject, entity: EntityDef, admins: tuple[str, ...]
) -> dict[str, dict[str, Any]]:
    access = policy.field_access(subject, entity.name)
    permissions = policy.permissions(subject, entity.name)
    deciders = read_deciders(permissions)
    updaters = granting(permissions, "update")
    result: dict[str, dict[str, Any]] = {}
    for fdef in entity.fields:
        name = fdef.name
        if admins:
            result[name] = {"access": "visible", "decided_by": list(admins),
                            "reason": "admin role: every field is visible and writable"}
        elif name in access.hidden:
            roles = [role for role, _p in deciders]
            result[name] = {
                "access": "hidden", "decided_by": roles,
                "reason": ("hidden by every role that may read the entity" if roles
                           else "no role of the user grants anything on the entity"),
            }
        elif name in access.read_only:
            roles = [role for role, _p in updaters]
            result[name] = {
                "access": "read_only", "decided_by": roles,
                "reason": ("read-only or hidden for every role that may update the entity"
                           if roles else "no role of the user may update the entity"),
            }
        else:
            readers = [role for role, p in deciders if p.fields.get(name) != "hidden"]
            writers = [role for role, p in updaters
                       if p.fields.get(name) not in ("hidden", "read_only")]
            result[name] = {
                "access": "visible", "decided_by": sorted(set(readers) | set(writers)),
                "reason": f"visible through {', '.join(readers)}; writable through "
                          f"{', '.join(writers)}",
            }
        if result[name]["access"] == "visible" and (fdef.read_only or fdef.type == "auto_number"):
            result[name]["note"] = "the field itself is read-only in the entity's metadata"
    return result
