"""Create users in Flask-AppBuilder's tables with a metadata role (the CLI's `user create`
and `init`'s first admin). Call inside the app's application context.

A user's role must be a role the live metadata declares: a typo would otherwise create a
FAB role nobody's metadata speaks of, and the user could do nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from email_validator import EmailNotValidError, validate_email

from metacrm.identity.roles import admin_roles, is_service_role
from metacrm.kernel.errors import Conflict, ErrorDetail, ValidationFailed
from metacrm.metadata.model import CompiledModel

MIN_PASSWORD_LENGTH = 8
USERNAME = re.compile(r"^[^\s/\\]{1,64}$")
DEFAULT_EMAIL_DOMAIN = "users.metacrm.invalid"
"""Users created without an email get `<name>@users.metacrm.invalid` (FAB needs a unique
email; `.invalid` is reserved, so nothing is ever sent there)."""


@dataclass(frozen=True)
class NewUser:
    id: int
    username: str
    role: str


def create_user(
    appbuilder: Any,
    model: CompiledModel,
    *,
    username: str,
    role: str,
    password: str,
    email: str | None = None,
) -> NewUser:
    """Add an active user with one metadata role; ValidationFailed / Conflict otherwise."""
    _check_role(model, role)
    check_username(username)
    check_password(password)
    address = check_email(email) if email else f"{username.lower()}@{DEFAULT_EMAIL_DOMAIN}"
    sm = appbuilder.sm
    if sm.find_user(username=username) is not None:
        raise Conflict(f"user '{username}' already exists",
                       [ErrorDetail("a user with this name exists", "/username")])
    if sm.find_user(email=address) is not None:
        raise Conflict(f"the email {address} belongs to another user",
                       [ErrorDetail("a user with this email exists", "/email")])
    fab_role = sm.find_role(role) or sm.add_role(role)
    user = sm.add_user(
        username=username,
        first_name=username,
        last_name="",
        email=address,
        role=fab_role,
        password=password,
    )
    if not user:
        raise Conflict(f"user '{username}' could not be created (see the log)")
    created = NewUser(int(user.id), str(user.username), role)
    sm.session.commit()  # end the read of the new row: on SQLite it would hold a lock
    return created


def first_admin_role(model: CompiledModel) -> str:
    """The role `init` gives the first admin: the metadata's first admin role by name."""
    names = admin_roles(model)
    if not names:
        raise ValidationFailed(
            "the metadata declares no admin role (a role with \"admin\": true), so no "
            "admin user can be created",
            [ErrorDetail("no role has admin: true", "/admin")],
        )
    return names[0]


def _check_role(model: CompiledModel, role: str) -> None:
    if is_service_role(model, role):
        message = f"role '{role}' is a pack's service account, not a role for people"
        raise ValidationFailed(message, [ErrorDetail(message, "/role")])
    if role in model.roles:
        return
    known = ", ".join(sorted(model.roles)) or "none (apply the metadata first: metacrm init)"
    raise ValidationFailed(
        f"role '{role}' is not declared in the metadata; known roles: {known}",
        [ErrorDetail(f"unknown role '{role}'", "/role")],
    )


def check_username(username: str) -> None:
    if not USERNAME.match(username):
        raise ValidationFailed(
            "the user name must be 1 to 64 characters without spaces or slashes",
            [ErrorDetail("not a valid user name", "/username")],
        )


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationFailed(
            f"the password must have at least {MIN_PASSWORD_LENGTH} characters",
            [ErrorDetail("too short", "/password")],
        )


def check_email(email: str) -> str:
    try:
        return validate_email(email, check_deliverability=False).normalized
    except EmailNotValidError as exc:
        raise ValidationFailed(
            f"'{email}' is not an email address: {exc}",
            [ErrorDetail(str(exc), "/email")],
        ) from None
