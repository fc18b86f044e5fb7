"""A user changes their own password (the profile page).

The current password is checked behind the login guard, like a login: guessing it from a
session left open is throttled exactly as guessing it at the login page is, and a wrong
guess counts as a failed login of that account. FAB's `auth_user_db` is not used for this:
it would also count a login (`login_count`, `last_login`) that did not happen.

The new password is hashed and stored by Flask-AppBuilder's security manager
(`reset_password`, its configured hash method). The flush listener of
`identity.revocation` sees the change and ends every other session of the user and every
JWT issued before, in the same transaction; the session making the change stays.
"""

from __future__ import annotations

from typing import Any

from flask import request
from flask_appbuilder.security.utils import is_null_password
from werkzeug.security import check_password_hash

from metacrm.identity.users import MIN_PASSWORD_LENGTH

__all__ = ["MIN_PASSWORD_LENGTH", "change_password", "current_password_matches"]


def current_password_matches(security_manager: Any, user_id: int, password: str) -> bool:
    """Whether `password` is the user's password. Raises LoginThrottled (429) while the
    account must wait after failed attempts from this address; the outcome is counted."""
    user = security_manager.get_user_by_id(user_id)
    if user is None:
        return False
    account = str(user.username)
    address = request.remote_addr or ""
    guard = security_manager.login_guard
    guard.check(account, address)
    matches = (not is_null_password(password)
               and bool(check_password_hash(str(user.password), password)))
    if matches:
        guard.succeeded(account, address)
    else:
        guard.failed(account, address)
    return matches


def change_password(security_manager: Any, user_id: int, new_password: str) -> None:
    """Store `new_password` for the user, hashed by Flask-AppBuilder (commits). The caller
    has checked the current password and the new one's length."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    before = str(security_manager.get_user_by_id(user_id).password)
    security_manager.reset_password(user_id, new_password)
    # FAB's update_user logs a failed commit and rolls back instead of raising
    if str(security_manager.get_user_by_id(user_id).password) == before:
        raise RuntimeError(f"the password of user {user_id} could not be stored")
