"""`create_record`: create a record (a task, a follow-up...) for the record the trigger runs for.

```
{"entity": "task",
 "values": {"subject": {"template": "Call {{ record.last_name }}"}, "priority": "high"},
 "link": "lead",                                   # a reference field of the new record
 "due_in": {"business_days": 2, "field": "due_date", "country": "US"},
                                                   # or {"business_hours": 4, "field": "due_at"}
 "owner": "record_owner"}                          # or a user id
```

`link` sets a reference field of the new record (which must reference the trigger's entity)
to the triggering record. `due_in` sets a date (or datetime) field to today plus `days`
calendar days or `business_days` business days, or a datetime field to now plus
`business_hours` business hours. Business time counts in the business calendar named by
`calendar`, else in the calendar of the new record's owner's team (`business_calendar`
documents), else Mon–Fri 09:00–18:00 UTC without `country`'s public holidays when given.
`owner`: `record_owner` gives the new record the triggering record's owner, a user id gives
it that user; left out, the new record also gets the triggering record's owner
(when it has one), so the follow-up lands with whoever owns the work.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from metacrm.automation.actions import ActionContext
from metacrm.automation.builtin_actions.support import (
    ActionSupport,
    is_name,
    param_errors,
    record_id,
)
from metacrm.automation.builtin_actions.values import OWNER, ValueForms
from metacrm.automation.business_calendars import (
    calendar_of_teams,
    default_calendar,
    runtime_calendar,
)
from metacrm.automation.business_days import (
    MAX_BUSINESS_DAYS,
    add_business_days,
    supported_country,
)
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import BusinessCalendarDef, CompiledModel, EntityDef

RECORD_OWNER = "record_owner"
DUE_KEYS = ("business_days", "business_hours", "days", "field", "country", "calendar")
COUNTS = ("business_days", "business_hours", "days")
MAX_BUSINESS_HOURS = 100_000
ENGINE_SET = frozenset({"auto_number", "state"})


def _due_errors(due: Any, target: EntityDef, model: CompiledModel) -> list[ErrorDetail]:
    if not isinstance(due, Mapping):
        return [ErrorDetail('must be an object such as {"business_days": 2, '
                            '"field": "due_date"}', "/due_in")]
    errors = [ErrorDetail(f"unknown key; known: {', '.join(DUE_KEYS)}", f"/due_in/{key}")
              for key in due if key not in DUE_KEYS]
    counts = [key for key in COUNTS if key in due]
    if len(counts) != 1:
        errors.append(ErrorDetail("give exactly one of business_days, business_hours and days",
                                  "/due_in"))
    for key in counts:
        errors += _count_errors(key, due[key])
    field = target.field(due["field"]) if is_name(due.get("field")) else None
    if field is None or field.type not in ("date", "datetime"):
        errors.append(ErrorDetail(f"must name a date or datetime field of {target.name}",
                                  "/due_in/field"))
    elif "business_hours" in due and field.type != "datetime":
        errors.append(ErrorDetail("business hours need a datetime field", "/due_in/field"))
    country = due.get("country")
    if country is not None and (not isinstance(country, str) or not supported_country(country)):
        errors.append(ErrorDetail("must be a country code with a holiday calendar, e.g. US",
                                  "/due_in/country"))
    elif country is not None and "days" in due:
        errors.append(ErrorDetail("a country only applies to business days and hours",
                                  "/due_in/country"))
    calendar = due.get("calendar")
    if calendar is not None and (not isinstance(calendar, str)
                                 or calendar not in model.calendars):
        errors.append(ErrorDetail("must name a business_calendar; known: "
                                  + (", ".join(sorted(model.calendars)) or "none"),
                                  "/due_in/calendar"))
    elif calendar is not None and "days" in due:
        errors.append(ErrorDetail("a calendar only applies to business days and hours",
                                  "/due_in/calendar"))
    return errors


def _count_errors(key: str, number: Any) -> list[ErrorDetail]:
    if key == "business_hours":
        if isinstance(number, bool) or not isinstance(number, int | float) or \
                not 0 <= number <= MAX_BUSINESS_HOURS:
            return [ErrorDetail(f"must be a number from 0 to {MAX_BUSINESS_HOURS}",
                                f"/due_in/{key}")]
        return []
    if isinstance(number, bool) or not isinstance(number, int) or \
            abs(number) > MAX_BUSINESS_DAYS:
        return [ErrorDetail(
            f"must be a whole number from -{MAX_BUSINESS_DAYS} to {MAX_BUSINESS_DAYS}",
            f"/due_in/{key}")]
    return []


def _link_errors(link: Any, target: EntityDef, source: EntityDef) -> list[ErrorDetail]:
    field = target.field(link) if is_name(link) else None
    if field is None or field.type != "reference" or field.target_entity != source.name:
        return [ErrorDetail(f"must name a reference field of {target.name} that refers to "
                            f"{source.name}", "/link")]
    return []


def due_value(due: Mapping[str, Any], target: EntityDef, now: datetime,
              calendar: BusinessCalendarDef | None = None) -> Any:
    """The JSON value of the due field: now plus the days or business time asked for,
    business time in `calendar` when given (else Mon–Fri 09:00–18:00 UTC without the
    rule's country's holidays)."""
    field = target.field(due["field"])
    is_datetime = field is not None and field.type == "datetime"
    if "business_hours" in due:
        hours = (runtime_calendar(calendar) if calendar is not None
                 else default_calendar(due.get("country")))
        return datetime_to_json(hours.add(now, timedelta(hours=due["business_hours"])))
    if "business_days" in due and calendar is not None:
        working = runtime_calendar(calendar)
        if is_datetime:
            return datetime_to_json(working.add_days_at(now, due["business_days"]))
        local_today = now.astimezone(working.zone).date()
        return working.add_days(local_today, due["business_days"]).isoformat()
    today = now.astimezone(UTC).date()
    day: date
    if "business_days" in due:
        day = add_business_days(today, due["business_days"], due.get("country"))
    else:
        day = today + timedelta(days=due["days"])
    if is_datetime:
        return datetime_to_json(datetime.combine(day, now.astimezone(UTC).timetz()))
    return day.isoformat()


class CreateRecord:
    """The `create_record` action."""

    name = "create_record"

    def __init__(self, support: ActionSupport) -> None:
        self.support = support
        self.values = ValueForms(support)

    def check(
        self, params: Mapping[str, Any], entity: EntityDef, model: CompiledModel
    ) -> list[ErrorDetail]:
        errors = param_errors(params, required=("entity",),
                              optional=("values", "link", "due_in", "owner"))
        if not isinstance(params, Mapping):
            return errors
        name = params.get("entity")
        target = model.entity(name) if isinstance(name, str) else None
        if target is None:
            if "entity" in params:
                errors.append(ErrorDetail(f"unknown entity {name!r}", "/entity"))
            return errors
        values = params.get("values", {})
        errors += self.values.check(values, source=entity, target=target, pointer="/values")
        given = set(values) if isinstance(values, Mapping) else set()
        if "link" in params:
            errors += _link_errors(params["link"], target, entity)
            given.add(params["link"])
        if "due_in" in params:
            errors += _due_errors(params["due_in"], target, model)
            if isinstance(params["due_in"], Mapping):
                given.add(params["due_in"].get("field"))
        owner = params.get("owner")
        if "owner" in params and not (isinstance(owner, str) and owner.strip()
                                       and len(owner) <= 64):
            errors.append(ErrorDetail(f"must be {RECORD_OWNER!r} or a user id", "/owner"))
        if "owner" in params and OWNER in given:
            errors.append(ErrorDetail("give the owner once: here or as /values/owner",
                                      "/owner"))
        errors += [
            ErrorDetail(f"{target.name} field {f.name!r} is required and gets no value here",
                        "/values")
            for f in target.fields
            if f.required and f.default is None and f.type not in ENGINE_SET
            and f.name not in given
        ]
        return errors

    def run(self, context: ActionContext, params: Mapping[str, Any]) -> dict[str, Any]:
        target = self.support.entity(params["entity"])
        payload = self.values.resolve(params.get("values", {}), target=target,
                                      variables=self.support.variables(context),
                                      pointer="/values")
        if "link" in params:
            payload[params["link"]] = record_id(context)
        owner = params.get("owner", RECORD_OWNER)
        if OWNER not in payload:
            owner_id = context.record.get(OWNER) if owner == RECORD_OWNER else owner
            if owner_id:
                payload[OWNER] = owner_id
        if "due_in" in params:
            due = params["due_in"]
            payload[due["field"]] = due_value(due, target, self.support.now(context),
                                              self._calendar(context, due, payload))
        if context.dry_run:
            self.values.validate(payload, target=target, pointer="/values")
            return {"would_create": {"entity": target.name, "values": payload}}
        created = self.support.services.records.create_in(
            context.conn, context.subject, target.name, payload)
        return {"created": {"entity": target.name, "id": created["id"],
                            "owner": created.get(OWNER)}}

    def _calendar(self, context: ActionContext, due: Mapping[str, Any],
                  payload: Mapping[str, Any]) -> BusinessCalendarDef | None:
        """The calendar `due` names, else the one of the new record's owner's team."""
        model = self.support.runtime().model
        if "days" in due:
            return None
        if due.get("calendar"):
            return model.calendars.get(due["calendar"])
        owner = payload.get(OWNER)
        if not model.calendars or not isinstance(owner, str):
            return None
        teams = self.support.services.records.teams.direct_teams_of(context.conn, owner)
        return calendar_of_teams(model, teams)
