"""Designer: the roles × entities permission matrix, and per role and entity the field
security, row rules and allowed transitions.

Saving builds the changed role documents only (a role the admin did not touch stays as it
is) and shows the preview. Admin roles may do everything: they are shown as "all (admin)"
and cannot be edited here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, render_template, request
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response as BaseResponse

from metacrm.kernel.errors import NotFound, ValidationFailed
from metacrm.metadata.model import (
    CompiledModel,
    EntityDef,
    EntityPermission,
    PipelineDef,
    RoleDef,
)
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services
from metacrm.web.designer.changes import live_body, preview_change
from metacrm.web.designer.criteria_form import criteria_form, field_choices, read_criteria
from metacrm.web.designer.form_rows import choice_list
from metacrm.web.i18n import t

web_permissions = screen_blueprint("web_designer_permissions", __name__,
                                   url_prefix="/app/admin")

OPERATIONS = ("read", "create", "update", "delete", "export", "import")
SCOPES = ("none", "own", "team", "all")
FIELD_ACCESS = ("visible", "read_only", "hidden")
RULES_PREFIX = "rules"
Page = str | tuple[str, int] | BaseResponse


def live_model() -> CompiledModel:
    return services().metadata.live().model


def operation_labels() -> dict[str, str]:
    return {"read": t("Read"), "create": t("Create"), "update": t("Update"),
            "delete": t("Delete"), "export": t("Export"), "import": t("Import")}


def scope_labels() -> dict[str, str]:
    return {"none": t("none"), "own": t("own"), "team": t("team"), "all": t("all")}


@web_permissions.route("/permissions", methods=["GET", "POST"])
@admin_required
def matrix() -> Page:
    model = live_model()
    if request.method == "POST":
        return _save_matrix(request.form, model)
    return render_template(
        "metacrm/designer/permissions.html", model=model,
        roles=sorted(model.roles.values(), key=lambda r: (r.admin, r.name)),
        entities=sorted(model.entities.values(), key=lambda e: e.name),
        operations=operation_labels(), scopes=scope_labels())


def _as_shown(posted: Mapping[str, str | None], permission: EntityPermission | None) -> bool:
    """Whether the posted scopes are what the role has for an entity its document does not
    name: none at all, or the rights a `role_grant` adds (those stay in the grant)."""
    def scope(op: str) -> str:
        if permission is None:
            return "none"
        return str(permission.import_ if op == "import" else getattr(permission, op))
    return all(value == scope(op) for op, value in posted.items())


def _save_matrix(form: MultiDict[str, str], model: CompiledModel) -> Page:
    changed = []
    for role in sorted(model.roles.values(), key=lambda r: r.name):
        if role.admin:
            continue
        body = live_body("role", role.name)
        if body is None:
            continue
        entities: dict[str, Any] = dict(body.get("entities") or {})
        for entity in model.entities:
            posted = {op: form.get(f"perm-{role.name}-{entity}-{op}") for op in OPERATIONS}
            posted = {op: value for op, value in posted.items() if value is not None}
            if not posted:
                continue
            current = dict(entities.get(entity) or {})
            if entity not in entities and _as_shown(posted, role.entities.get(entity)):
                continue  # nothing granted, or what a pack's role grant gives: unchanged
            current.update(posted)
            entities[entity] = current
        if entities != (body.get("entities") or {}):
            changed.append({**body, "entities": entities})
    if not changed:
        flash(t("Nothing changed."), "info")
        return redirect("/app/admin/permissions")
    names = ", ".join(str(body["name"]) for body in changed)
    return preview_change(changed, title=t("Permissions of %(roles)s", roles=names),
                          back_url="/app/admin/permissions",
                          done_url="/app/admin/permissions")


@web_permissions.route("/permissions/<role_name>/<entity_name>", methods=["GET", "POST"])
@admin_required
def detail(role_name: str, entity_name: str) -> Page:
    model = live_model()
    role = model.roles.get(role_name)
    entity = model.entity(entity_name)
    if role is None or entity is None:
        raise NotFound(t("There is no such role or entity."))
    pipelines = [p for p in sorted(model.pipelines.values(), key=lambda p: p.name)
                 if p.entity == entity.name]
    if request.method == "POST":
        if role.admin:
            raise ValidationFailed(t("Administrator roles may do everything; there is "
                                     "nothing to edit."), [])
        body = live_body("role", role.name)
        if body is None:
            raise NotFound(t("There is no such role or entity."))
        new_body = read_detail(request.form, body, entity, pipelines)
        url = f"/app/admin/permissions/{role.name}/{entity.name}"
        return preview_change([new_body], title=t("Permissions of %(roles)s", roles=role.name),
                              back_url=url, done_url=url)
    return _detail_page(role, entity, pipelines)


def read_detail(form: MultiDict[str, str], body: Mapping[str, Any], entity: EntityDef,
                pipelines: list[PipelineDef]) -> dict[str, Any]:
    """The role document with the entity's permission and the pipelines' transition grants
    as posted."""
    new_body = dict(body)
    entities = dict(body.get("entities") or {})
    permission: dict[str, Any] = {
        key: value for key, value in dict(entities.get(entity.name) or {}).items()
        if key not in ("rules", "fields")}
    for op in OPERATIONS:
        if form.get(f"scope-{op}") is not None:
            permission[op] = form.get(f"scope-{op}")
    tree = read_criteria(form, RULES_PREFIX, entity)
    if tree is not None:
        permission["rules"] = list(tree["and"]) if _is_and(tree) else [tree]
    fields = {f.name: form.get(f"field-{f.name}") for f in entity.fields}
    security = {name: value for name, value in fields.items()
                if value and value != "visible"}
    if security:
        permission["fields"] = security
    entities[entity.name] = permission
    new_body["entities"] = entities
    transitions = dict(body.get("transitions") or {})
    for pipeline in pipelines:
        if form.get(f"transitions-{pipeline.name}-all"):
            transitions[pipeline.name] = "*"
            continue
        chosen = choice_list(form.getlist(f"transitions-{pipeline.name}"))
        if chosen:
            transitions[pipeline.name] = chosen
        else:
            transitions.pop(pipeline.name, None)
    if transitions:
        new_body["transitions"] = transitions
    else:
        new_body.pop("transitions", None)
    return new_body


def _is_and(tree: Any) -> bool:
    return isinstance(tree, Mapping) and set(tree) == {"and"} and isinstance(tree["and"], list)


def _detail_page(role: RoleDef, entity: EntityDef, pipelines: list[PipelineDef]) -> str:
    permission = role.entities.get(entity.name)
    rules = list(permission.rules) if permission else []
    tree = None if not rules else rules[0] if len(rules) == 1 else {"and": rules}
    return render_template(
        "metacrm/designer/permission_detail.html", role=role, entity=entity,
        permission=permission, pipelines=pipelines,
        rules=criteria_form(RULES_PREFIX, tree, field_choices(entity, services().registry)),
        operations=operation_labels(), scopes=scope_labels(),
        access_labels={"visible": t("visible"), "read_only": t("read only"),
                       "hidden": t("hidden")})
