"""Role metadata -> Flask-AppBuilder's role table, by name.

Roles are declared in metadata (`kind: role`); FAB needs a row in `ab_role` to assign one
to a user. `sync_roles` makes FAB's table follow the metadata:

* every metadata role exists in FAB under the same name (created when missing);
* a role with `admin: true` holds every FAB permission (user and role admin pages, FAB's
  security API). The first admin role by name is FAB's AUTH_ROLE_ADMIN, which FAB grants
  the permissions of views it registers later;
* every other role — metadata roles without `admin`, and FAB roles that no metadata
  declares (left over from a removed or renamed role) — holds only the self-service
  permissions (see and edit one's own profile, change one's own password). What such a role
  may do with records is the access layer's business, read from the metadata at runtime;
* FAB's public role (AUTH_ROLE_PUBLIC, `Public`) is left as it is; it is not a metadata
  name (metadata names are lower case);
* the generated roles of packs' service accounts (`pack_<pack>`) are not put into FAB:
  no person can be given one.

Permissions edited by hand on FAB's role pages are therefore overwritten at the next sync:
the metadata is the one place that says who may do what. Roles are never deleted (users may
still hold them). Call inside an application context.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from flask import current_app

from metacrm.metadata.model import CompiledModel

DEFAULT_ADMIN_ROLE = "admin"
"""FAB's admin role name while the metadata declares no admin role (e.g. before `init`)."""

SELF_SERVICE_PERMISSIONS: frozenset[tuple[str, str]] = frozenset(
    {
        ("can_userinfo", "UserDBModelView"),
        ("resetmypassword", "UserDBModelView"),
        ("userinfoedit", "UserDBModelView"),
        ("can_this_form_get", "ResetMyPasswordView"),
        ("can_this_form_post", "ResetMyPasswordView"),
        ("can_this_form_get", "UserInfoEditView"),
        ("can_this_form_post", "UserInfoEditView"),
    }
)
"""(permission, view) pairs every role holds: a user's own profile and password."""


@dataclass(frozen=True)
class RoleSync:
    """What a sync did: roles created in FAB, and the admin roles of the metadata."""

    created: tuple[str, ...]
    admin_roles: tuple[str, ...]


SERVICE_ROLE_PREFIX = "pack_"
"""Roles generated for extension packs' service accounts are named `pack_<pack>`."""


def is_service_role(model: CompiledModel, name: str) -> bool:
    """Whether `name` is the generated role of a pack's service account (shipped by that
    pack as `pack_<pack>`): it is no role for people, so FAB never offers it."""
    role = model.roles.get(name)
    return (role is not None and name.startswith(SERVICE_ROLE_PREFIX)
            and role.pack == name[len(SERVICE_ROLE_PREFIX):])


def admin_roles(model: CompiledModel) -> tuple[str, ...]:
    """Names of the metadata roles with `admin: true`, sorted."""
    return tuple(sorted(name for name, role in model.roles.items() if role.admin))


def fab_admin_role(model: CompiledModel) -> str:
    """The role FAB treats as its admin (AUTH_ROLE_ADMIN): the first admin role by name."""
    names = admin_roles(model)
    return names[0] if names else DEFAULT_ADMIN_ROLE


def sync_roles(appbuilder: Any, model: CompiledModel) -> RoleSync:
    """Create the metadata's roles in FAB and set every role's FAB permissions (see above).

    `appbuilder` is the app's `flask_appbuilder.AppBuilder`. An empty model (no metadata
    applied yet) changes nothing.
    """
    admins = admin_roles(model)
    if not model.roles:
        return RoleSync((), admins)
    sm = appbuilder.sm
    created: list[str] = []
    for name in sorted(model.roles):
        if is_service_role(model, name):
            continue  # a pack's service account, never a person's role
        if sm.find_role(name) is None:
            sm.add_role(name)
            created.append(name)
    if admins:
        current_app.config["AUTH_ROLE_ADMIN"] = admins[0]
    everything = sm.session.query(sm.permissionview_model).all()
    self_service = [pv for pv in everything if _pair(pv) in SELF_SERVICE_PERMISSIONS]
    for role in sm.get_all_roles():
        if role.name == sm.auth_role_public:
            continue
        _set_permissions(role, everything if role.name in admins else self_service)
    sm.session.commit()
    return RoleSync(tuple(created), admins)


def _pair(permission_view: Any) -> tuple[str, str]:
    permission = permission_view.permission
    view = permission_view.view_menu
    return (
        permission.name if permission is not None else "",
        view.name if view is not None else "",
    )


def _set_permissions(role: Any, wanted: Iterable[Any]) -> None:
    target = list(wanted)
    if {pv.id for pv in role.permissions} != {pv.id for pv in target}:
        role.permissions = target
