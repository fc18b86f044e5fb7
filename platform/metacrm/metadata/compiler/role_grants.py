"""Role grants: one pack adds rights to a role another pack ships.

A pack that depends on another may not name its own entities in the other pack's roles (the
other pack installs without it), so it ships `role_grant` documents instead: the target role,
the rights on its own entities (as a role states them), transitions, and dashboards the role
should also see. The compiler merges every grant into its role (and the dashboards' sharing)
before roles are built, so the rest of the platform sees one role; uninstalling the pack
removes its grants and with them the rights. The role document itself — and so an admin's
customisation of it — is never rewritten: the merge happens at each compilation.

A grant only adds. It may not restate an entity the role already sets rights for in other
words, nor one another grant of the same role sets differently: the error names both
documents, and the admin decides which words stand.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from metacrm.metadata.compiler.context import CompileContext, Reporter, suggestion
from metacrm.metadata.compiler.roles import ACTIONS, IMPORT, build_role, check_role
from metacrm.metadata.documents import Document, plain_json

__all__ = ["apply_role_grants"]


def apply_role_grants(
    grants: list[Document], roles: list[Document], dashboards: list[Document],
    context: CompileContext,
) -> tuple[list[Document], list[Document]]:
    """The role and dashboard documents with every valid grant merged in (grants in name
    order); a grant with any error is reported at its own file and merged nowhere."""
    role_bodies = {role.name: plain_json(role.body) for role in roles}
    own_entities = {role.name: plain_json(role.body.get("entities", {})) for role in roles}
    role_sources = {role.name: role.source for role in roles}
    dashboard_bodies = {board.name: plain_json(board.body) for board in dashboards}
    granted_by: dict[tuple[str, str], Document] = {}
    for grant in grants:
        report = context.reporter(grant.source)
        before = len(context.errors)
        target = str(grant.body.get("role"))
        body = role_bodies.get(target)
        if body is None:
            report.missing(f"unknown role '{target}'" + suggestion(target, role_bodies),
                           "/role")
            continue
        if body.get("admin"):
            report.error(f"role '{target}' ({role_sources[target]}) is an administrator role; "
                         "it may already do everything", "/role")
            continue
        _check_grant(grant, target, context)
        _check_entities(grant, own_entities[target], role_sources[target], granted_by,
                        report)
        _check_dashboards(grant, dashboard_bodies, report)
        if len(context.errors) > before:
            continue
        _merge_into_role(grant, body)
        for name in grant.body.get("dashboards", ()):
            _share(dashboard_bodies[name], target)
        for entity in grant.body.get("entities", {}):
            granted_by[(target, entity)] = grant
    return ([_with_body(role, role_bodies[role.name]) for role in roles],
            [_with_body(board, dashboard_bodies[board.name]) for board in dashboards])


def _check_grant(grant: Document, target: str, context: CompileContext) -> None:
    """The grant's entities, fields, rules, pipelines and transitions checked as a role's
    would be, with the errors at the grant's own pointers."""
    as_role = Document(kind="role", name=target, source=grant.source, pack=grant.pack,
                       body={"entities": grant.body.get("entities", {}),
                             "transitions": grant.body.get("transitions", {})})
    check_role(build_role(as_role), context)


def _check_entities(grant: Document, own: Mapping[str, Any], role_source: str,
                    granted_by: Mapping[tuple[str, str], Document], report: Reporter) -> None:
    """A grant adds entities; it may not restate the role's own ones (the role document as
    written, an admin's changes included) or an earlier grant's in other words."""
    for entity, rights in grant.body.get("entities", {}).items():
        pointer = f"/entities/{_escape(entity)}"
        if entity in own and _normal(own[entity]) != _normal(rights):
            report.error(f"role '{grant.body['role']}' ({role_source}) already sets other "
                         f"rights for '{entity}'; a grant adds rights, it does not change "
                         "them — remove the entity from one of the two documents", pointer)
            continue
        earlier = granted_by.get((str(grant.body["role"]), entity))
        if earlier is not None and _normal(earlier.body["entities"][entity]) != \
                _normal(rights):
            report.error(f"role grant '{earlier.name}' ({earlier.source}) already grants "
                         f"other rights for '{entity}' to role '{grant.body['role']}'",
                         pointer)


def _normal(permission: Any) -> Any:
    """A permission with its defaults spelled out (an absent action is `none`), so the same
    rights written two ways compare equal."""
    if not isinstance(permission, Mapping):
        return plain_json(permission)
    spelled: dict[str, Any] = {action: "none" for action in (*ACTIONS, IMPORT)}
    spelled.update({"rules": [], "fields": {}})
    spelled.update(plain_json(permission))
    return spelled


def _check_dashboards(grant: Document, dashboards: Mapping[str, Any],
                      report: Reporter) -> None:
    for index, name in enumerate(grant.body.get("dashboards", ())):
        if name not in dashboards:
            report.missing(f"unknown dashboard '{name}'" + suggestion(name, dashboards),
                           f"/dashboards/{index}")


def _merge_into_role(grant: Document, role: dict[str, Any]) -> None:
    entities = role.setdefault("entities", {})
    for entity, rights in grant.body.get("entities", {}).items():
        entities.setdefault(entity, plain_json(rights))
    transitions = role.setdefault("transitions", {})
    for pipeline, allowed in grant.body.get("transitions", {}).items():
        current = transitions.get(pipeline, [])
        if current == "*" or allowed == "*":
            transitions[pipeline] = "*"
        else:
            transitions[pipeline] = list(current) + [t for t in allowed if t not in current]


def _share(dashboard: dict[str, Any], role: str) -> None:
    """Add the role to a dashboard's sharing; one shared with everybody stays so."""
    shared = dashboard.get("shared_with")
    if shared is None:
        return
    roles = shared.setdefault("roles", [])
    if role not in roles:
        roles.append(role)


def _with_body(document: Document, body: Mapping[str, Any]) -> Document:
    if body == plain_json(document.body):
        return document
    return Document(kind=document.kind, name=document.name, body=body,
                    source=document.source, pack=document.pack)


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")
