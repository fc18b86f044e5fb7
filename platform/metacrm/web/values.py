"""How a field's value reads on a screen: labels for choices and states, titles for
references, names for users, dates, numbers and money in the user's language.

Every screen (list, record page, kanban card, timeline) shows values through
`ValueDisplay.text`/`html`, so a value reads the same everywhere. Values arrive in their
JSON form (as the records service returns them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from metacrm.identity.fab_directory import user_listings
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef, PipelineDef
from metacrm.web.context import services
from metacrm.web.i18n import format_date, format_datetime, format_money, format_number, label, t

Included = Mapping[str, Mapping[str, Mapping[str, Any]]]
USER_FIELDS = ("owner", "created_by", "updated_by")


def record_title(entity: EntityDef, record: Mapping[str, Any]) -> str:
    """What a record is called on screens: its title field, else its id."""
    if entity.title_field:
        value = record.get(entity.title_field)
        if value not in (None, ""):
            return str(value)
    return str(record.get("id", ""))


def state_pipeline(model: CompiledModel, field: FieldDef) -> PipelineDef | None:
    name = field.option("pipeline")
    return model.pipelines.get(str(name)) if name else None


class ValueDisplay:
    """Turns JSON values into text for one page: knows the model, the included referenced
    records and the names of the users the page mentions."""

    def __init__(self, model: CompiledModel, included: Included | None = None,
                 users: Mapping[str, str] | None = None) -> None:
        self.model = model
        self.included = included or {}
        self.users = dict(users or {})

    @staticmethod
    def user_ids(entity: EntityDef, records: Iterable[Mapping[str, Any]]) -> set[str]:
        names = [*USER_FIELDS, *(f.name for f in entity.fields if f.type == "user")]
        return {str(record[name]) for record in records for name in names
                if record.get(name) is not None}

    def load_users(self, engine: sa.Engine, ids: set[str]) -> None:
        missing = ids - set(self.users)
        if missing:
            with engine.connect() as conn:
                self.users.update((u.id, u.name) for u in user_listings(conn, ids=missing))

    def text(self, entity: EntityDef, name: str, record: Mapping[str, Any]) -> str:
        value = record.get(name)
        if name in USER_FIELDS:
            return self.users.get(str(value), str(value)) if value is not None else ""
        if name in ("created_at", "updated_at"):
            return format_datetime(_datetime(value))
        field = entity.field(name)
        if field is None or value is None:
            return "" if value is None else str(value)
        return self.field_text(field, value)

    def field_text(self, field: FieldDef, value: Any) -> str:
        kind = field.type
        if kind in ("picklist",):
            return _choice_label(field, value)
        if kind == "multi_picklist":
            return ", ".join(_choice_label(field, item) for item in value or ())
        if kind == "boolean":
            return t("Yes") if value else t("No")
        if kind == "date":
            return format_date(_date(value))
        if kind == "datetime":
            return format_datetime(_datetime(value))
        if kind in ("integer", "decimal"):
            return format_number(_number(value))
        if kind == "percent":
            number = _number(value)
            return "" if number is None else f"{format_number(number)} %"
        if kind == "money":
            if isinstance(value, Mapping):
                return format_money(value.get("amount"), value.get("currency"))
            return str(value)
        if kind == "state":
            pipeline = state_pipeline(self.model, field)
            state = pipeline and next((s for s in pipeline.states if s.name == value), None)
            return label(state.label, str(value)) if state else str(value)
        if kind == "reference":
            target = self.model.entity(str(field.target_entity))
            found = self.included.get(field.name, {}).get(str(value))
            return record_title(target, found) if target and found else str(value)
        if kind == "user":
            return self.users.get(str(value), str(value))
        if kind == "json":
            return _json_text(value)
        return _extension_text(field, value)

    def html(self, entity: EntityDef, name: str, record: Mapping[str, Any]) -> Markup:
        """The value as HTML: links for emails, phones, urls and references, a coloured chip
        for states; everything else escaped text."""
        value = record.get(name)
        text = self.text(entity, name, record)
        field = entity.field(name)
        if field is None or value in (None, "") or not text:
            return escape(text)
        if field.type == "email":
            return Markup('<a href="mailto:{0}">{0}</a>').format(value)
        if field.type == "phone":
            return Markup('<a href="tel:{0}">{0}</a>').format(value)
        if field.type == "url" and str(value).startswith(("http://", "https://")):
            return Markup('<a href="{0}" rel="noopener noreferrer" target="_blank">{0}</a>'
                          ).format(value)
        if field.type == "reference" and field.name in self.included:
            found = self.included[field.name].get(str(value))
            if found is not None:
                return Markup('<a href="/app/r/{0}/{1}">{2}</a>').format(
                    field.target_entity, value, text)
        if field.type == "state":
            pipeline = state_pipeline(self.model, field)
            state = pipeline and next((s for s in pipeline.states if s.name == value), None)
            color = state.color if state and state.color else "#9e9e9e"
            return Markup('<span class="chip" style="--chip: {0}">{1}</span>').format(
                color, text)
        return escape(text)


def _extension_text(field: FieldDef, value: Any) -> str:
    """A value of a type the screens do not know by name: its type's display text (an
    extension pack's `display`), else the value as text."""
    registry = services().registry
    if registry.has_type(field.type):
        shown = registry.get(field.type).display_text(field, value)
        if shown is not None:
            return shown
    return str(value)


def _choice_label(field: FieldDef, value: Any) -> str:
    for choice in field.choices:
        if choice.value == value:
            return label(choice.label, choice.value)
    return str(value)


def _date(value: Any) -> date | None:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _datetime(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not value:
        return None
    try:
        return datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        return None


def _number(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _json_text(value: Any) -> str:
    import json

    return json.dumps(value, ensure_ascii=False)[:200]
