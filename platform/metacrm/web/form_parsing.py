"""Form posts -> the JSON payload the records service expects, and its errors -> fields.

Browsers send strings; the records service takes JSON values (it validates and normalises
them with the field types). The conversion here is only about shape: an empty input is "no
value" (null), money's two inputs (`<name>.amount`, `<name>.currency`) become one object,
as do a regarding link's (`<name>.entity`, `<name>.id`),
a multi-select a list, a checkbox a boolean, a datetime-local input (the user's time
zone) an RFC 3339 UTC string. Anything else — a number that is not one, an unknown choice —
goes through as typed, for the service to refuse with an error pointing at the field.

Every posted name that is a field of the live entity is passed on, also ones the form did
not offer (hidden or read-only for the subject): the service refuses those with 403, so a
forged post cannot slip a value past field security.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from metacrm.kernel.errors import ErrorDetail, MetacrmError
from metacrm.metadata.model import EntityDef, FieldDef
from metacrm.services.records.validation_rules import RuleViolated
from metacrm.web.form_fields import FormValue
from metacrm.web.i18n import label, t, utc_datetime

VALUES = "/values"
TRUE = "true"


FormData = MultiDict[str, str]
"""What `request.form` is."""


def posted_fields(form: FormData, entity: EntityDef) -> list[FieldDef]:
    """The fields of the (live, whole) entity the post carries a value for."""
    return [fdef for fdef in entity.fields
            if fdef.name in form or f"{fdef.name}.amount" in form
            or f"{fdef.name}.currency" in form or f"{fdef.name}.id" in form]


def submitted_value(form: FormData, fdef: FieldDef) -> FormValue:
    """A field's inputs as posted (kept to show the form again after an error)."""
    name = fdef.name
    if fdef.type == "money":
        return {"amount": str(form.get(f"{name}.amount", "") or ""),
                "currency": str(form.get(f"{name}.currency", "") or "")}
    if fdef.type == "regarding":
        return {"entity": str(form.get(f"{name}.entity", "") or ""),
                "id": str(form.get(f"{name}.id", "") or "")}
    if fdef.type == "multi_picklist":
        return [str(v) for v in form.getlist(name) if v]
    if fdef.type == "boolean":
        return TRUE if TRUE in form.getlist(name) else ""
    values = form.getlist(name)
    return str(values[-1]) if values else ""


def payload_value(fdef: FieldDef, raw: FormValue) -> Any:
    """One field's posted inputs -> its JSON value (None: no value). ValueError with an
    end user's message when the input cannot be read at all (JSON)."""
    kind = fdef.type
    if kind == "money":
        parts = raw if isinstance(raw, Mapping) else {}
        amount = str(parts.get("amount", "")).strip()
        if not amount:
            return None
        currency = str(parts.get("currency", "")).strip()
        return {"amount": amount, **({"currency": currency} if currency else {})}
    if kind == "regarding":
        parts = raw if isinstance(raw, Mapping) else {}
        record_id = str(parts.get("id", "")).strip()
        return {"entity": str(parts.get("entity", "")).strip(), "id": record_id} \
            if record_id else None
    if kind == "multi_picklist":
        chosen = list(raw) if isinstance(raw, list) else ([raw] if raw else [])
        return chosen or None
    if kind == "boolean":
        return raw == TRUE
    text = raw if isinstance(raw, str) else ""
    if kind not in ("textarea", "json"):
        text = text.strip()
    if not text.strip():
        return None
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "datetime":
        return _utc(text)
    if kind == "json":
        try:
            return json.loads(text)
        except ValueError:
            raise ValueError(t("is not valid JSON")) from None
    return text


def _utc(text: str) -> str:
    """A datetime-local value (the user's time zone, maybe without seconds) as RFC 3339
    UTC; a value with an offset is kept, and one that is no date-time is left for the
    records service to explain."""
    if text.endswith(("Z", "z")) or "+" in text[10:] or text[10:].count("-"):
        return text
    try:
        return utc_datetime(datetime.fromisoformat(text)).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError):  # not a date-time, or beyond year 1..9999 in UTC
        return text


@dataclass(frozen=True)
class ParsedForm:
    """A post read for the records service."""

    payload: dict[str, Any]
    submitted: dict[str, FormValue]
    """The inputs as typed, by field name (to show the form again)."""
    errors: list[ErrorDetail]
    """Inputs that could not be read (pointer `/<field>`)."""


def parse_form(form: FormData, entity: EntityDef, *, only: Iterable[str] | None = None
               ) -> ParsedForm:
    """The posted fields of `entity` (all fields of the live entity; `only` limits them)."""
    allowed = None if only is None else set(only)
    payload: dict[str, Any] = {}
    submitted: dict[str, FormValue] = {}
    errors = []
    for fdef in posted_fields(form, entity):
        if allowed is not None and fdef.name not in allowed:
            continue
        raw = submitted_value(form, fdef)
        submitted[fdef.name] = raw
        try:
            payload[fdef.name] = payload_value(fdef, raw)
        except ValueError as problem:
            errors.append(ErrorDetail(str(problem), f"/{fdef.name}"))
    return ParsedForm(payload, submitted, errors)


# --- errors -----------------------------------------------------------------------------


def pointer_field(pointer: str) -> str:
    """The field a JSON pointer of the records or transitions service is about
    (`/amount`, `/amount/currency`, `/values/amount` -> `amount`; `` for the record)."""
    if pointer == VALUES or pointer.startswith(VALUES + "/"):
        pointer = pointer[len(VALUES):]
    first = pointer[1:].split("/")[0] if pointer.startswith("/") else ""
    return first.replace("~1", "/").replace("~0", "~")


def field_errors(error: MetacrmError | None, shown: Iterable[str]
                 ) -> tuple[dict[str, list[str]], list[str]]:
    """The error's details by field for the fields on the form (`shown`), and the others
    as general messages (a field not on the form is not named: it may be hidden)."""
    if error is None:
        return {}, []
    names = set(shown)
    by_field: dict[str, list[str]] = {}
    general: list[str] = []
    for detail in error.errors:
        name = pointer_field(detail.pointer)
        message = _message(error, detail)
        if name in names:
            by_field.setdefault(name, []).append(message)
        elif message not in general:
            general.append(message)
    if not error.errors or not by_field:
        general.insert(0, error.message)
    return by_field, general


def _message(error: MetacrmError, detail: ErrorDetail) -> str:
    """A detail as the user reads it: a validation rule's message in their language."""
    if isinstance(error, RuleViolated) and detail in error.messages:
        return label(error.messages[detail], detail.message)
    return detail.message
