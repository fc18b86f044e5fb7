"""What a form shows for each field: its widget, label, constraints and choices.

One `Widget` per field the subject may see, built from the compiled entity, the subject's
field security and the field type's JSON Schema (the same schema the API validates
payloads with, `api.openapi_schemas.EntitySchemas`). The HTML constraints it carries —
`required`, `maxlength`, `min`/`max`/`step`, `type=email|url|date…` — let the browser catch
mistakes before a round trip; the records service still validates everything.

Read-only fields (read-only for the subject, `read_only` in metadata, values the engine
assigns: state and auto-number) get no input at all: they are shown as text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field as dc_field
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.field_security import FieldAccess
from metacrm.api.openapi_filters import NO_NUL, NON_BLANK
from metacrm.api.openapi_schemas import EntitySchemas
from metacrm.fieldtypes.regarding import allowed_entities
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.identity.fab_directory import user_listings
from metacrm.metadata.model import EntityDef, FieldDef
from metacrm.web.i18n import label, local_datetime

ENGINE_TYPES = frozenset({"state", "auto_number", "file"})
"""Types whose values only the engine sets: read-only on every form (files are uploaded in
the record page's Attachments panel)."""
WIDGETS = frozenset({
    "text", "textarea", "email", "phone", "url", "integer", "decimal", "percent", "money",
    "boolean", "date", "datetime", "picklist", "multi_picklist", "reference", "regarding",
    "user", "state", "auto_number", "json",
})
MAX_USERS = 500

FormValue = str | list[str] | dict[str, str]
"""A field's value as form inputs hold it: text, chosen values, or the two parts of money
(amount, currency) and of a regarding link (entity, id)."""


@dataclass(frozen=True)
class Widget:
    """One field on a form."""

    field: FieldDef
    label: str
    kind: str
    """The widget macro (`widgets.html`): the field type, `text` for unknown types."""
    required: bool
    read_only: bool
    attrs: Mapping[str, Any] = dc_field(default_factory=dict)
    """HTML constraints of the input (maxlength, min, max, step, pattern)."""
    choices: tuple[tuple[str, str], ...] = ()
    """(value, label) of picklists and user selects; currency codes of money fields; the
    entities a regarding link may point at."""
    default_currency: str = ""
    help: str = ""

    @property
    def name(self) -> str:
        return self.field.name

    @property
    def target(self) -> str:
        return str(self.field.target_entity or "")


def active_users(engine: sa.Engine) -> tuple[tuple[str, str], ...]:
    """(id, name) of the active users, for user fields' selects."""
    with engine.connect() as conn:
        return tuple((u.id, u.name) for u in user_listings(conn, active_only=True,
                                                           limit=MAX_USERS))


def build_widgets(entity: EntityDef, access: FieldAccess, registry: FieldTypeRegistry, *,
                  creating: bool, users: tuple[tuple[str, str], ...] = (),
                  link_targets: Mapping[str, str] | None = None) -> dict[str, Widget]:
    """The widgets of `entity`'s visible fields (pass the entity as `visible_entity` gives
    it, so hidden fields never get one). `link_targets`: label of each entity the user may
    read, offered by regarding links (all their entities, by name, when not given)."""
    schemas = EntitySchemas(entity, registry)
    locked = access.read_only_on_create if creating else access.read_only
    found = {}
    for fdef in entity.fields:
        if not access.visible(fdef.name):
            continue
        known = registry.has_type(fdef.type)
        read_only = (fdef.name in locked or fdef.type in ENGINE_TYPES
                     or not known or not schemas.writable(fdef))
        schema = schemas.input_value(fdef) if known else {}
        required = (not read_only and fdef.type != "boolean"
                    and (schemas.required_on_create(fdef) if creating else fdef.required))
        found[fdef.name] = Widget(
            field=fdef, label=label(fdef.label, fdef.name),
            kind=widget_kind(fdef, registry),
            required=required, read_only=read_only,
            attrs=_constraints(fdef, schema, registry),
            choices=_choices(fdef, registry, users, link_targets),
            default_currency=_default_currency(fdef),
            help=label(fdef.help),
        )
    return found


def widget_kind(fdef: FieldDef, registry: FieldTypeRegistry) -> str:
    """The widget of a field: its type's own, or for a type the screens do not know by
    name (an extension pack's) the built-in widget it asks for, else a text input."""
    if fdef.type in WIDGETS:
        return fdef.type
    if registry.has_type(fdef.type):
        wanted = registry.get(fdef.type).form_widget
        if wanted in WIDGETS:
            return str(wanted)
    return "text"


BROWSER_NEEDLESS_PATTERNS = frozenset({"\\S", NON_BLANK, NO_NUL})
"""Patterns the API states that a form needs not repeat: `required` refuses an empty value,
the server explains a blank one beside the field, and no keyboard types NUL."""


def _constraints(fdef: FieldDef, schema: Mapping[str, Any], registry: FieldTypeRegistry
                 ) -> dict[str, Any]:
    """HTML attributes from the value's JSON Schema (and numeric options it leaves out)."""
    attrs: dict[str, Any] = {}
    kind = widget_kind(fdef, registry)
    if kind in ("text", "textarea", "email", "url", "phone") and "maxLength" in schema:
        attrs["maxlength"] = schema["maxLength"]
    if kind == "text" and isinstance(schema.get("pattern"), str) and \
            schema["pattern"] not in BROWSER_NEEDLESS_PATTERNS:
        attrs["pattern"] = schema["pattern"].removeprefix("^").removesuffix("$")
    if kind == "integer":
        attrs["step"] = 1
        for key, html in (("minimum", "min"), ("maximum", "max")):
            if key in schema:
                attrs[html] = schema[key]
    if kind in ("decimal", "percent", "money"):
        scale = _scale(fdef, registry)
        attrs["step"] = "1" if scale == 0 else "0." + "0" * (scale - 1) + "1"
        for key in ("min", "max"):
            bound = fdef.option(key)
            if isinstance(bound, int | float | str) and not isinstance(bound, bool):
                attrs[key] = bound
    return attrs


def _scale(fdef: FieldDef, registry: FieldTypeRegistry) -> int:
    scale = getattr(registry.get(fdef.type), "scale", None)
    return int(scale(fdef)) if callable(scale) else 2


def _choices(fdef: FieldDef, registry: FieldTypeRegistry,
             users: tuple[tuple[str, str], ...], link_targets: Mapping[str, str] | None
             ) -> tuple[tuple[str, str], ...]:
    if fdef.type == "regarding":
        return tuple((name, name if link_targets is None else link_targets[name])
                     for name in allowed_entities(fdef)
                     if link_targets is None or name in link_targets)
    if fdef.type in ("picklist", "multi_picklist"):
        return tuple((c.value, label(c.label, c.value)) for c in fdef.choices)
    if fdef.type == "user":
        return users
    if fdef.type == "money":
        allowed = getattr(registry.get("money"), "allowed_currencies", None)
        codes = allowed(fdef) if callable(allowed) else None
        default = _default_currency(fdef)
        listed = tuple(codes) if codes else tuple(dict.fromkeys(
            code for code in (default, "USD", "EUR", "RUB", "GBP") if code))
        return tuple((code, code) for code in listed)
    return ()


def _default_currency(fdef: FieldDef) -> str:
    code = fdef.option("currency")
    return code if isinstance(code, str) else ""


# --- values between records and inputs -----------------------------------------------------


def form_value(fdef: FieldDef, value: Any) -> FormValue:
    """A field's JSON value (as the records service returns it) as its inputs hold it."""
    if value is None:
        if fdef.type == "regarding":
            return {"entity": "", "id": ""}
        return {"amount": "", "currency": ""} if fdef.type == "money" else (
            [] if fdef.type == "multi_picklist" else "")
    kind = fdef.type
    if kind == "regarding" and isinstance(value, Mapping):
        return {"entity": str(value.get("entity") or ""), "id": str(value.get("id") or "")}
    if kind == "money" and isinstance(value, Mapping):
        return {"amount": str(value.get("amount") or ""),
                "currency": str(value.get("currency") or "")}
    if kind == "multi_picklist":
        return [str(item) for item in value] if isinstance(value, list | tuple) else []
    if kind == "boolean":
        return "true" if value else ""
    if kind == "datetime":
        return local_input(str(value))
    if kind == "json":
        return json.dumps(value, ensure_ascii=False, indent=2)
    return str(value)


def local_input(text: str) -> str:
    """RFC 3339 (`2024-05-31T14:30:00.5Z`) -> a datetime-local input's value in the user's
    time zone (`2024-05-31T17:30:00` in Europe/Moscow); text that is no date-time as it is."""
    try:
        return local_datetime(datetime.fromisoformat(text)).strftime("%Y-%m-%dT%H:%M:%S")
    except (ValueError, OverflowError):
        return text


def record_form_values(widgets: Mapping[str, Widget], record: Mapping[str, Any]
                       ) -> dict[str, FormValue]:
    return {name: form_value(w.field, record.get(name)) for name, w in widgets.items()}


def default_form_values(widgets: Mapping[str, Widget]) -> dict[str, FormValue]:
    """A new record's inputs: the fields' defaults where they are plain values."""
    values: dict[str, FormValue] = {}
    for name, widget in widgets.items():
        default = widget.field.default
        if isinstance(default, str) and default.startswith("$"):
            default = None  # $today / $now: the engine fills them in
        value = form_value(widget.field, default)
        if widget.kind == "money" and isinstance(value, dict) and not value["currency"]:
            value = {**value, "currency": widget.default_currency}
        values[name] = value
    return values
