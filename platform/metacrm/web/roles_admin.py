"""Roles admin, `/app/admin/roles` (administrators only): the roles people can be given, how
many users hold each; create a role, rename it (its display name in English and Russian),
delete it — refused while users hold it, unless they are moved to another role.

A role is a metadata document (`kind: role`): creating, renaming and deleting one applies a
new metadata version, and FAB's role table follows at once (`identity.roles.sync_roles`
creates the row; a deleted role's row goes after its holders have moved). What a role may
do is edited in the designer's permission matrix (`/app/admin/permissions`), never as
Flask-AppBuilder permission strings. Packs' service roles (`pack_<pack>`) are not listed.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from flask import flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from metacrm.identity import accounts
from metacrm.identity.bridge import identity_state
from metacrm.identity.roles import SERVICE_ROLE_PREFIX, admin_roles
from metacrm.kernel.errors import MetacrmError, MetadataInvalid, NotFound
from metacrm.metadata.model import CompiledModel
from metacrm.services.metadata.admin import MetadataAdmin
from metacrm.web.blueprints import screen_blueprint
from metacrm.web.context import admin_required, services, web_actor
from metacrm.web.i18n import label, t, tn

web_roles = screen_blueprint("web_roles", __name__, url_prefix="/app/admin/roles")

LIST_PAGE = "web_roles.roles_page"
ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,39}$")
LABEL_MAX = 200


def _model() -> CompiledModel:
    return services().metadata.live().model


def _admin() -> MetadataAdmin:
    return MetadataAdmin(services().metadata)


def _author() -> str | None:
    actor = web_actor()
    return actor.username if actor else None


def _synced() -> None:
    """Make FAB's role table follow the metadata version just applied (this process)."""
    identity_state().admin_roles()


def _page(*, errors: Mapping[str, str] | None = None, values: Mapping[str, str] | None = None,
          status: int = 200) -> tuple[str, int]:
    model = _model()
    appbuilder = identity_state().appbuilder
    names = accounts.assignable_roles(model)
    only_admin = admin_roles(model)[0] if len(admin_roles(model)) == 1 else None
    rows = [{"name": name, "role": model.roles[name],
             "label": label(model.roles[name].label, name),
             "holders": accounts.role_holders(appbuilder, name),
             "deletable": name != only_admin} for name in names]
    return render_template(
        "metacrm/roles.html", rows=rows, choices=[(row["name"], row["label"]) for row in rows],
        errors=errors or {}, values=values or {}), status


@web_roles.get("")
@admin_required
def roles_page() -> tuple[str, int]:
    return _page()


def read_labels(prefix: str = "") -> tuple[dict[str, str], dict[str, str]]:
    """The posted English and Russian display names, and what is wrong with them."""
    found = {lang: (request.form.get(f"{prefix}label_{lang}") or "").strip()
             for lang in ("en", "ru")}
    errors = {f"label_{lang}": t("Required.") for lang, text in found.items() if not text}
    errors.update({f"label_{lang}": t("At most 200 characters.")
                   for lang, text in found.items() if len(text) > LABEL_MAX})
    return found, errors


@web_roles.post("")
@admin_required
def create() -> tuple[str, int] | BaseResponse:
    name = (request.form.get("name") or "").strip()
    labels, errors = read_labels()
    model = _model()
    if not ROLE_NAME.match(name):
        errors["name"] = t("Lower-case letters, digits and “_”, starting with a letter; "
                           "at most 40 characters.")
    elif name.startswith(SERVICE_ROLE_PREFIX):
        errors["name"] = t("Names starting with “pack_” are kept for packs.")
    elif name in model.roles:
        errors["name"] = t("A role of this name exists already.")
    if not errors:
        body = {"kind": "role", "name": name, "version": 1, "label": labels, "entities": {}}
        try:
            _admin().put("role", name, body, author=_author(), comment=f"create role {name}")
        except MetacrmError as error:
            errors["_form"] = _messages(error)
    if errors:
        return _page(errors=errors, values=request.form.to_dict(), status=422)
    _synced()
    flash(t("Role “%(name)s” created. Set what it may do in the permission matrix.",
            name=label(labels, name)), "success")
    return redirect(url_for(LIST_PAGE))


@web_roles.post("/<name>/label")
@admin_required
def rename(name: str) -> tuple[str, int] | BaseResponse:
    body = _role_body(name)
    labels, errors = read_labels()
    if errors:
        flash(" ".join(sorted(set(errors.values()))), "error")
        return redirect(url_for(LIST_PAGE))
    body["label"] = {**dict(body.get("label") or {}), **labels}
    try:
        _admin().put("role", name, body, author=_author(), comment=f"rename role {name}")
    except MetacrmError as error:
        flash(_messages(error), "error")
    else:
        flash(t("Role “%(name)s” renamed.", name=label(labels, name)), "success")
    return redirect(url_for(LIST_PAGE))


@web_roles.post("/<name>/delete")
@admin_required
def delete(name: str) -> BaseResponse:
    _role_body(name)
    model = _model()
    appbuilder = identity_state().appbuilder
    target = request.form.get("reassign") or ""
    holders = accounts.role_holders(appbuilder, name)
    refusal = _delete_refusal(model, name, target, holders)
    if refusal:
        flash(refusal, "error")
        return redirect(url_for(LIST_PAGE))
    if holders:
        accounts.move_role_holders(appbuilder, name, target)
    try:
        _admin().delete("role", name, author=_author(), comment=f"delete role {name}")
    except MetacrmError as error:
        flash(_messages(error), "error")
        return redirect(url_for(LIST_PAGE))
    _synced()
    accounts.delete_role_row(appbuilder, name)
    flash(t("Role “%(name)s” deleted.", name=label(model.roles[name].label, name)), "success")
    return redirect(url_for(LIST_PAGE))


def _delete_refusal(model: CompiledModel, name: str, target: str,
                    holders: list[str]) -> str | None:
    """Why the role cannot go (None: it can): held without a role to move its users to,
    the only admin role, or still named by other metadata."""
    if admin_roles(model) == (name,):
        return t("This is the only administrator role; it cannot be deleted.")
    if holders and not target:
        return tn("%(count)s user holds this role: choose a role to move them to.",
                  "%(count)s users hold this role: choose a role to move them to.",
                  len(holders))
    if holders and (target == name or target not in accounts.assignable_roles(model)):
        return t("There is no such role.")
    admin = _admin()
    _, documents = admin.live_documents()
    kept = [d for d in documents if (d.kind, d.name) != ("role", name)]
    try:
        services().metadata.plan(kept)
    except MetadataInvalid as error:
        return t("Other metadata names this role: %(details)s",
                 details=_messages(error))
    return None


def _role_body(name: str) -> dict[str, Any]:
    model = _model()
    if name not in accounts.assignable_roles(model):
        raise NotFound(t("There is no such role."))
    _, document = _admin().document("role", name)
    body: dict[str, Any] = dict(document.body)
    return body


def _messages(error: MetacrmError) -> str:
    details = "; ".join(str(detail) for detail in error.errors[:5])
    return details or error.message
