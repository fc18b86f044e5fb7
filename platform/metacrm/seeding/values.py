"""Markers in seed values, resolved when a record is written (see `metacrm.seeding.dataset`).

`{"$ref": "<entity>:<key>"}` — the id of the record seeded earlier under that key;
`{"$user": "<username>"}` — the id of a demo user (for `user` fields);
`{"$date": <days>}` — the day of the load plus `days`, as `YYYY-MM-DD`;
`{"$datetime": {"days": <days>, "at": "HH:MM"}}` — that day at that time, UTC.
Any other object or list is walked; everything else is taken as it is.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from metacrm.kernel.errors import ErrorDetail, ValidationFailed

MARKERS = ("$ref", "$user", "$date", "$datetime")


@dataclass
class SeedContext:
    """What markers resolve against: the day of the load, the demo users' ids and the ids
    of the records seeded so far (by entity and key)."""

    today: date
    user_ids: dict[str, str] = field(default_factory=dict)
    record_ids: dict[tuple[str, str], str] = field(default_factory=dict)

    def resolve(self, value: Any, pointer: str = "") -> Any:
        """`value` with every marker replaced; ValidationFailed at `pointer` otherwise."""
        if isinstance(value, Mapping):
            if len(value) == 1 and next(iter(value)) in MARKERS:
                marker, argument = next(iter(value.items()))
                return self._marker(marker, argument, pointer)
            return {key: self.resolve(item, f"{pointer}/{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [self.resolve(item, f"{pointer}/{index}") for index, item in enumerate(value)]
        return value

    def _marker(self, marker: str, argument: Any, pointer: str) -> str:
        if marker == "$ref":
            entity, _, key = str(argument).partition(":")
            found = self.record_ids.get((entity, key))
            if found is None:
                raise _invalid(f"no {entity!r} record with key {key!r} was seeded before",
                               pointer)
            return found
        if marker == "$user":
            user_id = self.user_ids.get(str(argument))
            if user_id is None:
                raise _invalid(f"there is no demo user {argument!r}", pointer)
            return user_id
        if marker == "$date":
            return self.day(argument, pointer).isoformat()
        if not isinstance(argument, Mapping):
            raise _invalid('must be {"days": <days>, "at": "HH:MM"}', pointer)
        day = self.day(argument.get("days", 0), pointer)
        at = str(argument.get("at", "09:00"))
        return f"{day.isoformat()}T{at}:00Z"

    def day(self, days: Any, pointer: str) -> date:
        if not isinstance(days, int) or isinstance(days, bool):
            raise _invalid("must be a whole number of days from the day of the load", pointer)
        return self.today + timedelta(days=days)


def _invalid(message: str, pointer: str) -> ValidationFailed:
    return ValidationFailed(f"invalid seed value at {pointer}: {message}",
                            [ErrorDetail(message, pointer)])
