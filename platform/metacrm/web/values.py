"""How a field's value reads on a screen: labels for choices and states, titles for
references, names for users, dates, numbers and money in the user's language.

Every screen (list, record page, kanban card, timeline) shows values through
`ValueDisplay.text`/`html`, so a value reads the same everywhere. Values arrive in their
JSON form (as the records service returns them).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import sqlalchemy as sa
from markupsafe import Markup, escape

from metacrm.access.subject import AccessSubject
from metacrm.identity.fab_directory import user_listings
from metacrm.kernel.errors import Forbidden, NotFound
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef, PipelineDef
from metacrm.metadata.titles import render_title
from metacrm.web.context import services, web_subject
from metacrm.web.i18n import format_date, format_datetime, format_money, format_number, label, t

Included = Mapping[str, Mapping[str, Mapping[str, Any]]]
USER_FIELDS = ("owner", "created_by", "updated_by")


RecordFetch = Callable[[str, Sequence[str]], Mapping[str, Mapping[str, Any]]]
"""Reads records of an entity by id (as the viewer may: unreadable ones are left out)."""

FETCH_BATCH = 500
"""Ids per query when reading referenced records (the records service's page limit)."""

TITLE_DEPTH = 3
"""How many references deep a title follows (a title naming a record whose title names
another record...); deeper placeholders stay empty, so a cycle of titles ends."""


def record_reader(subject: AccessSubject) -> RecordFetch:
    """Reads records by id as `subject` may (records service: scope and field security);
    an entity the subject may not read yields nothing."""
    def fetch(entity: str, ids: Sequence[str]) -> Mapping[str, Mapping[str, Any]]:
        found: dict[str, Mapping[str, Any]] = {}
        wanted = list(ids)
        for start in range(0, len(wanted), FETCH_BATCH):
            chunk = wanted[start:start + FETCH_BATCH]
            try:
                page = services().records.list(
                    subject, entity, limit=len(chunk),
                    criteria={"field": "id", "op": "in", "value": chunk})
            except (Forbidden, NotFound):
                return found
            found.update((str(r["id"]), r) for r in page.records)
        return found

    return fetch


def state_pipeline(model: CompiledModel, field: FieldDef) -> PipelineDef | None:
    name = field.option("pipeline")
    return model.pipelines.get(str(name)) if name else None


def record_title(entity: EntityDef, record: Mapping[str, Any]) -> str:
    """One record's title as the signed-in user sees it (for a page naming a single record;
    a page of records shares one `ValueDisplay`, which reads referenced titles in bulk)."""
    display = ValueDisplay(services().records.runtime().model,
                           fetch=record_reader(web_subject()))
    return display.title(entity, record)


class ValueDisplay:
    """Turns JSON values into text for one page: knows the model, the included referenced
    records and the names of the users the page mentions."""

    def __init__(self, model: CompiledModel, included: Included | None = None,
                 users: Mapping[str, str] | None = None,
                 fetch: RecordFetch | None = None) -> None:
        self.model = model
        self.included = included or {}
        self.users = dict(users or {})
        self.fetch = fetch
        """Reads referenced records a title needs that `included` lacks; None: none read."""
        self._records: dict[tuple[str, str], Mapping[str, Any] | None] = {}

    # --- titles ----------------------------------------------------------------------------

    def title(self, entity: EntityDef, record: Mapping[str, Any], depth: int = 0) -> str:
        """The record's title from its entity's template, values formatted as on screen and
        reference placeholders replaced by the referenced record's title; else its id."""
        def value_text(name: str) -> str:
            field = entity.field(name)
            value = record.get(name)
            if field is None or value is None:
                return ""
            if field.type == "reference":
                return self._reference_title(field, str(value), depth + 1,
                                             top=depth == 0) or ""
            return self.field_text(field, value)

        return render_title(entity.title, value_text) or str(record.get("id", ""))

    def prefetch(self, entity: EntityDef, records: Iterable[Mapping[str, Any]],
                 fields: Iterable[str] = (), depth: int = 0) -> None:
        """Read, in one query per referenced entity, the records that the titles of
        `records` and their `fields` (references, regarding links) name, so a page of
        titles costs a few queries instead of one per row."""
        if self.fetch is None or depth >= TITLE_DEPTH:
            return
        rows = list(records)
        wanted: dict[str, set[str]] = {}
        for name in dict.fromkeys((*entity.title_field_names, *fields)):
            field = entity.field(name)
            for row in rows:
                value = row.get(name)
                if field is None or value is None:
                    continue
                if field.type == "reference" and field.target_entity:
                    wanted.setdefault(field.target_entity, set()).add(str(value))
                elif field.type == "regarding" and isinstance(value, Mapping):
                    wanted.setdefault(str(value.get("entity")), set()).add(str(value.get("id")))
        for target_name, id_set in wanted.items():
            target = self.model.entity(target_name)
            ids = sorted(i for i in id_set if (target_name, i) not in self._records)
            if target is None or not ids:
                continue
            found = self.fetch(target_name, ids)
            for record_id in ids:
                self._records[(target_name, record_id)] = found.get(record_id)
            self.prefetch(target, list(found.values()), depth=depth + 1)

    def _reference_title(self, field: FieldDef, value: str, depth: int,
                         top: bool = False) -> str | None:
        """The title of the record `field` points at; None when it cannot be read."""
        target = self.model.entity(str(field.target_entity))
        if target is None or depth > TITLE_DEPTH:
            return None
        found = self.included.get(field.name, {}).get(value) if top else None
        if found is None:
            found = self._referenced(target.name, value)
        return self.title(target, found, depth) if found is not None else None

    def link_title(self, entity: str, record_id: str, depth: int = 1) -> str | None:
        """The title of a record of `entity` (a regarding link); None when unreadable."""
        target = self.model.entity(entity)
        found = self._referenced(entity, record_id) if target is not None else None
        return self.title(target, found, depth) if target and found is not None else None

    def _referenced(self, entity: str, record_id: str) -> Mapping[str, Any] | None:
        key = (entity, record_id)
        if key not in self._records and self.fetch is not None:
            self._records[key] = self.fetch(entity, [record_id]).get(record_id)
        return self._records.get(key)

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
            title = self._reference_title(field, str(value), 1, top=True)
            return str(value) if title is None else title
        if kind == "regarding" and isinstance(value, Mapping):
            title = self.link_title(str(value.get("entity")), str(value.get("id")))
            return str(value.get("id")) if title is None else title
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
        if field.type == "reference" and self._reference_title(
                field, str(value), 1, top=True) is not None:
            return Markup('<a href="/app/r/{0}/{1}">{2}</a>').format(
                field.target_entity, value, text)
        if field.type == "regarding" and isinstance(value, Mapping) and self.link_title(
                str(value.get("entity")), str(value.get("id"))) is not None:
            return Markup('<a href="/app/r/{0}/{1}">{2}</a>').format(
                value.get("entity"), value.get("id"), text)
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
