"""`ctx.records`: records as the pack's service account sees them.

Every call goes through the core's records service and its access layer, acting as the
subject `pack:<name>` with the single role `pack_<name>` generated from the pack's
`permissions`: an entity the pack did not ask for answers 403, a record outside the granted
scope 404, exactly as for a user. Values are in the API's JSON form.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True, slots=True)
class RecordList:
    """One page of records and the cursor of the next one (None: this was the last)."""

    records: Sequence[Mapping[str, Any]]
    next_cursor: str | None = None
    count: int | None = None


@dataclass(frozen=True, slots=True)
class Caller:
    """Who made a request or is looking at a page: a user of the instance."""

    user_id: str | None
    username: str
    roles: tuple[str, ...] = field(default_factory=tuple)


class Records(Protocol):
    """List, read, create, change and delete records (criteria: the API's condition trees,
    e.g. `{"field": "country", "op": "eq", "value": "DE"}`)."""

    def list(
        self, entity: str, *, where: Mapping[str, Any] | None = None,
        sort: Sequence[str] = (), limit: int = 50, cursor: str | None = None,
        fields: Sequence[str] | None = None,
    ) -> RecordList:
        """One page of the records the pack may read that match `where`."""
        ...

    def get(self, entity: str, record_id: str) -> Mapping[str, Any]:
        """One record; NotFound (404) when missing or outside the pack's read scope."""
        ...

    def create(self, entity: str, values: Mapping[str, Any]) -> Mapping[str, Any]:
        """Create a record; returns it as stored."""
        ...

    def update(
        self, entity: str, record_id: str, changes: Mapping[str, Any], *,
        expected_version: int | None = None,
    ) -> Mapping[str, Any]:
        """Change fields; with `expected_version`, 412 when the record changed since."""
        ...

    def delete(self, entity: str, record_id: str) -> None:
        """Delete a record (its references' `on_delete` rules apply)."""
        ...


__all__ = ["Caller", "RecordList", "Records"]
