"""`create_record`: create a record (a task, a follow-up...) for the record the trigger runs for.

```
{"entity": "task",
 "values": {"subject": {"template": "Call {{ record.last_name }}"}, "priority": "high"},
 "link": "lead",                                   # a reference field of the new record
 "due_in": {"business_days": 2, "field": "due_date", "country": "US"},
 "owner": "record_owner"}                          # or a user id
```

`link` sets a reference field of the new record (which must reference the trigger's entity)
to the triggering record. `due_in` sets a date (or datetime) field to today plus `days`
calendar days or `business_days` business days (Mon–Fri, without `country`'s public holidays
when given). `owner`: `record_owner` gives the new record the triggering record's owner, a
user id gives it that user; left out, the new record also gets the triggering record's owner
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
from metacrm.automation.business_days import (
    MAX_BUSINESS_DAYS,
    add_business_days,
    supported_country,
)
from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.kernel.errors import ErrorDetail
from metacrm.metadata.model import CompiledModel, EntityDef

RECORD_OWNER = "record_owner"
DUE_KEYS = ("business_days", "days", "field", "country")
ENGINE_SET = frozenset({"auto_number", "state"})


def _due_errors(due: Any, target: EntityDef) -> list[ErrorDetail]:
    if not isinstance(due, Mapping):
        return [ErrorDetail('must be an object such as {"business_days": 2, '
                            '"field": "due_date"}', "/due_in")]
    errors = [ErrorDetail(f"unknown key; known: {', '.join(DUE_KEYS)}", f"/due_in/{key}")
              for key in due if key not in DUE_KEYS]
    counts = [key for key in ("business_days", "days") if key in due]
    if len(counts) != 1:
        errors.append(ErrorDetail("give exactly one of business_days and days", "/due_in"))
    for key in counts:
        number = due[key]
        if isinstance(number, bool) or not isinstance(number, int) or \
                abs(number) > MAX_BUSINESS_DAYS:
            errors.append(ErrorDetail(
                f"must be a whole number from -{MAX_BUSINESS_DAYS} to {MAX_BUSINESS_DAYS}",
                f"/due_in/{key}"))
    field = target.field(due["field"]) if is_name(due.get("field")) else None
    if field is None or field.type not in ("date", "datetime"):
        errors.append(ErrorDetail(f"must name a date or datetime field of {target.name}",
                                  "/due_in/field"))
    country = due.get("country")
    if country is not None and (not isinstance(country, str) or not supported_country(country)):
        errors.append(ErrorDetail("must be a country code with a holiday calendar, e.g. US",
                                  "/due_in/country"))
    elif country is not None and "business_days" not in due:
        errors.append(ErrorDetail("a country only applies to business_days",
                                  "/due_in/country"))
    return errors


def _link_errors(link: Any, target: EntityDef, source: EntityDef) -> list[ErrorDetail]:
    field = target.field(link) if is_name(link) else None
    if field is None or field.type != "reference" or field.target_entity != source.name:
        return [ErrorDetail(f"must name a reference field of {target.name} that refers to "
                            f"{source.name}", "/link")]
    return []


def due_value(due: Mapping[str, Any], target: EntityDef, now: datetime) -> Any:
    """The JSON value of the due field: today (UTC) plus the days asked for."""
    today = now.astimezone(UTC).date()
    day: date
    if "business_days" in due:
        day = add_business_days(today, due["business_days"], due.get("country"))
    else:
        day = today + timedelta(days=due["days"])
    field = target.field(due["field"])
    if field is not None and field.type == "datetime":
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
            errors += _due_errors(params["due_in"], target)
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
        if "due_in" in params:
            due = params["due_in"]
            payload[due["field"]] = due_value(due, target, self.support.now(context))
        owner = params.get("owner", RECORD_OWNER)
        if OWNER not in payload:
            owner_id = context.record.get(OWNER) if owner == RECORD_OWNER else owner
            if owner_id:
                payload[OWNER] = owner_id
        if context.dry_run:
            self.values.validate(payload, target=target, pointer="/values")
            return {"would_create": {"entity": target.name, "values": payload}}
        created = self.support.services.records.create_in(
            context.conn, context.subject, target.name, payload)
        return {"created": {"entity": target.name, "id": created["id"],
                            "owner": created.get(OWNER)}}
