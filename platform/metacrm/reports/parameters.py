"""A run's parameters (the dashboard filters) as `RunOptions`: period, owner, team, zone.

`period`: `this_month`, `last_month`, `this_quarter`, `last_quarter`, `this_year`,
`last_year` (quarters and years fiscal), or `{"from": "2026-01-01", "to": "2026-03-31"}`
(both days included); `owner`: a user id or `"$user"`; `team`: a team name (its members and
the members of its sub-teams); `time_zone`: an IANA zone (default the user's preference,
else UTC). Anything else is refused naming the parameter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.reports.run_options import RunOptions
from metacrm.storage.date_buckets import bucket_start, valid_zone

NAMED_PERIODS = {"this_month": ("month", 0), "last_month": ("month", -1),
                 "this_quarter": ("quarter", 0), "last_quarter": ("quarter", -1),
                 "this_year": ("year", 0), "last_year": ("year", -1)}
MONTHS = {"month": 1, "quarter": 3, "year": 12}
INVALID = "invalid report parameters"
PARAMETERS = frozenset({"period", "owner", "team", "time_zone"})


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def named_period(name: str, today: date, fiscal_start: int) -> tuple[date, date]:
    unit, offset = NAMED_PERIODS[name]
    start = _add_months(bucket_start(today, unit, fiscal_start), offset * MONTHS[unit])
    return start, _add_months(start, MONTHS[unit])


def _day(value: Any, pointer: str, errors: list[ErrorDetail]) -> date | None:
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    errors.append(ErrorDetail("must be a date YYYY-MM-DD", pointer))
    return None


def run_options(
    parameters: Mapping[str, Any], *, user_id: str, default_zone: str | None,
    fiscal_start: int, now: datetime, team_members: Callable[[str], tuple[str, ...] | None],
) -> RunOptions:
    """The options of one run; ValidationFailed (422) naming each bad parameter."""
    errors: list[ErrorDetail] = [ErrorDetail(f"unknown parameter {key!r}", f"/{key}")
                                 for key in parameters if key not in PARAMETERS]
    zone = parameters.get("time_zone", default_zone or "UTC")
    if not isinstance(zone, str) or not valid_zone(zone):
        errors.append(ErrorDetail("must be an IANA time zone such as Europe/Berlin",
                                  "/time_zone"))
        zone = "UTC"
    today = now.astimezone(ZoneInfo(zone)).date()
    period: tuple[date, date] | None = None
    raw = parameters.get("period")
    if isinstance(raw, str) and raw in NAMED_PERIODS:
        period = named_period(raw, today, fiscal_start)
    elif isinstance(raw, Mapping) and set(raw) == {"from", "to"}:
        start, end = _day(raw["from"], "/period/from", errors), _day(raw["to"],
                                                                    "/period/to", errors)
        if start is not None and end is not None:
            if end < start:
                errors.append(ErrorDetail("must not be before from", "/period/to"))
            period = (start, end + timedelta(days=1))
    elif raw is not None:
        errors.append(ErrorDetail(
            "must be one of " + ", ".join(NAMED_PERIODS) + ' or {"from": date, "to": date}',
            "/period"))
    owners: tuple[str, ...] | None = None
    owner = parameters.get("owner")
    if owner is not None:
        if not isinstance(owner, str) or not owner or len(owner) > 255:
            errors.append(ErrorDetail("must be a user id or \"$user\"", "/owner"))
        else:
            owners = (user_id if owner == "$user" else owner,)
    team = parameters.get("team")
    if team is not None:
        members = team_members(team) if isinstance(team, str) and len(team) <= 64 else None
        if members is None:
            errors.append(ErrorDetail("there is no such team", "/team"))
        else:
            owners = members if owners is None else tuple(o for o in owners if o in members)
    if errors:
        raise ValidationFailed(INVALID, errors)
    return RunOptions(zone, fiscal_start, period, owners)
