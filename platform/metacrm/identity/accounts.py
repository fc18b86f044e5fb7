"""User administration over Flask-AppBuilder's tables: list, create, edit, (de)activate and
delete people's accounts (the screens' `/app/admin/users`).

Every write goes through FAB's ORM session (its security manager), so the listeners of
`identity.revocation` see it: deactivating a user or taking a role away ends their sessions
in every process at once, a new password ends their other logins. Roles are the live
metadata's roles for people (never a pack's service role, `pack_<pack>`); FAB's role rows
are created by `identity.roles.sync_roles` before anyone can be given one.

The invariants an administrator cannot break, whatever the form says, are checked here:
nobody deactivates or deletes themselves, and the last active holder of an admin role keeps
being one (not deactivated, not deleted, not stripped of the role). A refusal is an
`AccountRefused` naming its `reason`, which the screens translate.

Call inside the app's application context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_appbuilder.security.sqla.models import Role, User, assoc_user_role
from werkzeug.security import generate_password_hash

from metacrm.identity.fab_input import column_lengths
from metacrm.identity.roles import admin_roles, is_service_role
from metacrm.identity.users import (
    DEFAULT_EMAIL_DOMAIN,
    check_email,
    check_password,
    check_username,
)
from metacrm.kernel.errors import Conflict, ErrorDetail, NotFound, ValidationFailed
from metacrm.metadata.model import CompiledModel

LIST_LIMIT = 500
STATUSES = ("all", "active", "inactive")

SELF_DEACTIVATION = "self_deactivation"
SELF_DELETION = "self_deletion"
LAST_ADMIN = "last_admin"
USERNAME_TAKEN = "username_taken"
EMAIL_TAKEN = "email_taken"


class AccountRefused(Conflict):
    """A change the rules above refuse; `reason` is one of the constants of this module."""

    def __init__(self, reason: str, message: str, pointer: str = "") -> None:
        super().__init__(message, [ErrorDetail(message, pointer)])
        self.reason = reason


@dataclass(frozen=True)
class Account:
    """A user as the admin pages show them."""

    id: int
    username: str
    first_name: str
    last_name: str
    email: str
    active: bool
    roles: tuple[str, ...]
    last_login: datetime | None

    @property
    def name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


@dataclass(frozen=True)
class AccountForm:
    """What an administrator sets on an account (password None: unchanged)."""

    username: str
    first_name: str
    last_name: str
    email: str
    roles: tuple[str, ...]
    password: str | None = None
    active: bool = True


def assignable_roles(model: CompiledModel) -> list[str]:
    """The metadata roles people can be given (no pack service roles), by name."""
    return sorted(name for name in model.roles if not is_service_role(model, name))


def _account(user: Any) -> Account:
    return Account(int(user.id), str(user.username), user.first_name or "",
                   user.last_name or "", user.email or "", bool(user.active),
                   tuple(sorted(role.name for role in user.roles)), user.last_login)


def list_accounts(appbuilder: Any, *, search: str | None = None, status: str = "all",
                  limit: int = LIST_LIMIT) -> list[Account]:
    """Accounts by login name; `search` matches login, names and email (ignoring case);
    `status` is all, active or inactive."""
    sm = appbuilder.sm
    query = sm.session.query(User)
    if status == "active":
        query = query.filter(User.active.is_(True))
    elif status == "inactive":
        query = query.filter(sa.or_(User.active.is_(False), User.active.is_(None)))
    if search:
        pattern = f"%{search.lower()}%"
        query = query.filter(sa.or_(*(sa.func.lower(column).like(pattern) for column in (
            User.username, User.first_name, User.last_name, User.email))))
    users = query.order_by(User.username).limit(limit).all()
    found = [_account(user) for user in users]
    sm.session.commit()  # end the read: on SQLite an open transaction holds a lock
    return found


def get_account(appbuilder: Any, user_id: int) -> Account:
    user = _user(appbuilder, user_id)
    found = _account(user)
    appbuilder.sm.session.commit()
    return found


def create_account(appbuilder: Any, model: CompiledModel, form: AccountForm) -> Account:
    """A new active account with the form's roles and password."""
    if form.password is None:
        raise ValidationFailed("a new user needs a password",
                               [ErrorDetail("required", "/password")])
    roles = _checked(appbuilder, model, form, user_id=None)
    check_password(form.password)
    sm = appbuilder.sm
    user = sm.add_user(username=form.username, first_name=form.first_name,
                       last_name=form.last_name, email=_email(form), role=roles,
                       password=form.password)
    if not user:
        raise Conflict(f"user '{form.username}' could not be created (see the log)")
    created = _account(user)
    sm.session.commit()
    return created


def update_account(appbuilder: Any, model: CompiledModel, user_id: int, form: AccountForm,
                   *, acting_user_id: int | None) -> Account:
    """Change the account's names, email, roles, active flag and (when given) password."""
    sm = appbuilder.sm
    user = _user(appbuilder, user_id)
    roles = _checked(appbuilder, model, form, user_id=user_id)
    if form.password is not None:
        check_password(form.password)
    if not form.active and user.active:
        _may_deactivate(appbuilder, model, user, acting_user_id)
    elif form.active and _admin(model, user.roles) and not _admin(model, roles):
        _keep_an_admin(appbuilder, model, user)
    user.username = form.username
    user.first_name = form.first_name
    user.last_name = form.last_name
    user.email = _email(form)
    user.active = form.active
    user.roles = roles
    if form.password is not None:
        user.password = _password_hash(form.password)
    try:
        sm.session.commit()  # the revocation listener ends sessions in this transaction
    except Exception:
        sm.session.rollback()
        raise
    return get_account(appbuilder, user_id)


def set_active(appbuilder: Any, model: CompiledModel, user_id: int, active: bool, *,
               acting_user_id: int | None) -> Account:
    """Activate or deactivate; deactivating ends every session and token of the user."""
    sm = appbuilder.sm
    user = _user(appbuilder, user_id)
    if not active and user.active:
        _may_deactivate(appbuilder, model, user, acting_user_id)
    user.active = active
    sm.session.commit()
    return get_account(appbuilder, user_id)


def delete_account(appbuilder: Any, model: CompiledModel, user_id: int, *,
                   acting_user_id: int | None) -> str:
    """Delete the account (its sessions and API tokens go with it); its login name."""
    sm = appbuilder.sm
    user = _user(appbuilder, user_id)
    if user.id == acting_user_id:
        raise AccountRefused(SELF_DELETION, "you cannot delete your own account")
    if user.active and _admin(model, user.roles):
        _keep_an_admin(appbuilder, model, user)
    username = str(user.username)
    user.active = False
    user.roles = []
    sm.session.flush()  # ends the sessions and moves the epoch (identity.revocation)
    sm.session.delete(user)
    sm.session.commit()
    return username


def role_holders(appbuilder: Any, role: str) -> list[str]:
    """Login names of the users holding `role` directly, sorted."""
    sm = appbuilder.sm
    names = [str(name) for (name,) in sm.session.query(User.username).join(
        assoc_user_role, assoc_user_role.c.user_id == User.id).join(
        Role, Role.id == assoc_user_role.c.role_id).filter(Role.name == role)
        .order_by(User.username)]
    sm.session.commit()
    return names


def move_role_holders(appbuilder: Any, role: str, target: str) -> int:
    """Give every holder of `role` the role `target` instead (their sessions end, as for
    any role taken away); how many users moved."""
    sm = appbuilder.sm
    old = sm.find_role(role)
    new = sm.find_role(target)
    if old is None:
        return 0
    if new is None:
        raise ValidationFailed(f"there is no role '{target}'",
                               [ErrorDetail("unknown role", "/reassign")])
    moved = 0
    for user in sm.session.query(User).filter(User.roles.contains(old)).all():
        user.roles = [r for r in user.roles if r.id != old.id] + (
            [] if any(r.id == new.id for r in user.roles) else [new])
        moved += 1
    sm.session.commit()
    return moved


def delete_role_row(appbuilder: Any, role: str) -> bool:
    """Remove FAB's row of a role nobody holds any more (after its metadata is gone)."""
    sm = appbuilder.sm
    found = sm.find_role(role)
    if found is None:
        return False
    sm.session.delete(found)
    sm.session.commit()
    return True


def _password_hash(password: str) -> str:
    """The hash FAB stores for `password` (its configured method, as `reset_password`)."""
    return generate_password_hash(
        password, method=current_app.config.get("FAB_PASSWORD_HASH_METHOD", "scrypt"),
        salt_length=current_app.config.get("FAB_PASSWORD_HASH_SALT_LENGTH", 16))


def _user(appbuilder: Any, user_id: int) -> Any:
    user = appbuilder.sm.session.get(User, user_id)
    if user is None:
        raise NotFound(f"there is no user {user_id}")
    return user


def _email(form: AccountForm) -> str:
    return form.email or f"{form.username.lower()}@{DEFAULT_EMAIL_DOMAIN}"


def _checked(appbuilder: Any, model: CompiledModel, form: AccountForm,
             user_id: int | None) -> list[Any]:
    """The form's FAB roles, after checking every value (all problems at once)."""
    errors: list[ErrorDetail] = []
    lengths = column_lengths(User)
    too_long = {key for key in ("username", "first_name", "last_name", "email")
                if len(getattr(form, key)) > lengths.get(key, 10**6)}
    errors.extend(ErrorDetail(f"is longer than {lengths[key]} characters", f"/{key}")
                  for key in sorted(too_long))
    for check, key in ((check_username, "username"), (check_email, "email")):
        value = getattr(form, key)
        if key in too_long or (key == "email" and not value):
            continue
        try:
            check(value)
        except ValidationFailed as error:
            errors.extend(error.errors)
    if not form.first_name.strip():
        errors.append(ErrorDetail("required", "/first_name"))
    allowed = set(assignable_roles(model))
    if not form.roles:
        errors.append(ErrorDetail("choose at least one role", "/roles"))
    errors.extend(ErrorDetail(f"unknown role '{name}'", "/roles")
                  for name in form.roles if name not in allowed)
    if errors:
        raise ValidationFailed("the user is not valid", errors)
    sm = appbuilder.sm
    same_name = sm.find_user(username=form.username)
    if same_name is not None and same_name.id != user_id:
        raise AccountRefused(USERNAME_TAKEN, "a user with this name exists", "/username")
    same_email = sm.find_user(email=_email(form))
    if same_email is not None and same_email.id != user_id:
        raise AccountRefused(EMAIL_TAKEN, "a user with this email exists", "/email")
    return [sm.find_role(name) or sm.add_role(name) for name in form.roles]


def _admin(model: CompiledModel, roles: Sequence[Any]) -> bool:
    names = set(admin_roles(model))
    return any(role.name in names for role in roles)


def _may_deactivate(appbuilder: Any, model: CompiledModel, user: Any,
                    acting_user_id: int | None) -> None:
    if user.id == acting_user_id:
        raise AccountRefused(SELF_DEACTIVATION, "you cannot deactivate your own account")
    if _admin(model, user.roles):
        _keep_an_admin(appbuilder, model, user)


def _keep_an_admin(appbuilder: Any, model: CompiledModel, user: Any) -> None:
    """Refuse when `user` is the only active holder of an admin role."""
    names = admin_roles(model)
    others = appbuilder.sm.session.query(User.id).join(
        assoc_user_role, assoc_user_role.c.user_id == User.id).join(
        Role, Role.id == assoc_user_role.c.role_id).filter(
        Role.name.in_(names), User.active.is_(True), User.id != user.id).first()
    if others is None:
        raise AccountRefused(LAST_ADMIN, "this is the last active administrator")
