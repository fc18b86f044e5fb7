"""How one run of a report is filtered and bucketed: period, owner, team, time zone."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from typing import Any
from zoneinfo import ZoneInfo


@dataclass(frozen=True, slots=True)
class RunOptions:
    """`period` [start, end) in the user's dates; `owners` restricts to records owned by
    these users (an owner or a team's members); buckets in `time_zone`, fiscal years from
    month `fiscal_start`."""

    time_zone: str = "UTC"
    fiscal_start: int = 1
    period: tuple[date, date] | None = None
    owners: tuple[str, ...] | None = None

    def bound(self, day: date, *, is_datetime: bool) -> str:
        """A period bound as a criteria value: the date, or its midnight in the zone."""
        if not is_datetime:
            return day.isoformat()
        return datetime.combine(day, time(), ZoneInfo(self.time_zone)).isoformat()

    def criteria(self, date_field: str, *, is_datetime: bool) -> Any:
        """The run's filters as one criteria tree over the entity (None: no filter)."""
        parts: list[Any] = []
        if self.period is not None:
            start, end = (self.bound(d, is_datetime=is_datetime) for d in self.period)
            parts.append({"field": date_field, "op": "gte", "value": start})
            parts.append({"field": date_field, "op": "lt", "value": end})
        if self.owners is not None:
            parts.append({"field": "owner", "op": "in", "value": list(self.owners)}
                         if self.owners else {"field": "id", "op": "is_null", "value": True})
        if not parts:
            return None
        return parts[0] if len(parts) == 1 else {"and": parts}
