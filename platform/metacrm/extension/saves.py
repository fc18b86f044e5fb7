"""Interceptors: pack code that runs before a record is saved, inside the save's transaction.

Every create and update of a record — from the API, a screen, an automation action, a
conversion, a bulk write — passes through the interceptors registered for its entity, in
ascending `order` (ties: the order the packs were loaded). Each one sees the record as it
would be saved (`PendingSave.record`, JSON form, including what earlier interceptors set)
and may return values to set — written with engine rights, so read-only fields may be
filled — or raise `Refused(message, pointer)` to refuse the save (422, nothing written).
They run BEFORE the commit; a refusal rolls the whole command back.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from metacrm.extension.records import Caller


class SaveReader(Protocol):
    """Reads inside the save's own transaction, as the pack's service account (so a record
    created earlier in the same command is visible)."""

    def get(self, entity: str, record_id: str) -> Mapping[str, Any]:
        """One record in JSON form; NotFound (404) outside the pack's read scope."""
        ...


@dataclass(frozen=True)
class PendingSave:
    """A save about to happen."""

    entity: str
    operation: Literal["create", "update"]
    record: Mapping[str, Any]
    """The record as it would be stored: the current values with the changes applied (JSON
    form; values that do not validate are passed as given and refused after you)."""
    changes: Mapping[str, Any]
    """The fields being written by this save and their new values."""
    previous: Mapping[str, Any] | None
    """The stored record before the change (None on create)."""
    caller: Caller | None
    """Who saves (None: the engine itself)."""
    reader: SaveReader

    def changed(self, name: str) -> bool:
        """Whether this save writes field `name`."""
        return name in self.changes


Interceptor = Callable[[PendingSave], Mapping[str, Any] | None]
"""Returns the values to set (or None for none); raises `Refused` to refuse the save."""

__all__ = ["Interceptor", "PendingSave", "SaveReader"]
