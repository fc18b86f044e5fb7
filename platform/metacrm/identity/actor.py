"""The caller as services see it: a plain value, free of Flask and Flask-AppBuilder."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Actor:
    """An authenticated user: id (text, as record tables store user ids), login name,
    role names and whether one of those roles is an admin role in the live metadata."""

    user_id: str
    username: str
    roles: tuple[str, ...]
    is_admin: bool

    def has_role(self, name: str) -> bool:
        return name in self.roles
