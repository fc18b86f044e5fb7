"""How a file's columns become an entity's fields: the mapping, its checks, suggestions.

A mapping is JSON (saved per entity under a name, or given as a file):

    {"columns": {"Account": "name", "Sector": "industry", "Agent": "owner", "Notes": null},
     "values": {"industry": {"technolgy": "software"}},
     "references": {"company": {"by": "name", "create_missing": false}},
     "owner": {"by": "name"},
     "locale": "en", "date_format": "%m/%d/%Y", "timezone": "UTC"}

`columns`: column -> field (`owner` is the record's owner; null or left out: not imported).
`values`: per field, file value -> stored value (picklists, multi-picklists, states,
booleans); a picklist also takes its values and labels (en/ru) as they are.
`references`: per reference field, the field of the referenced entity a cell names
(default: its title field) and whether a missing record is created (with that value).
`owner.by`: `username`, `email` or `name` (default: any of them).
`locale`: how numbers and dates are written (`en`: 1,234.5 and 12/31/2024; `ru`:
1 234,5 and 31.12.2024; ISO dates always work); `date_format` overrides the date form;
`timezone`: the zone of datetimes without an offset.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import EntityDef

OWNER = "owner"
LOCALES = ("en", "ru")
OWNER_KEYS = ("username", "email", "name")
MAPPING_KEYS = ("columns", "values", "references", "owner", "locale", "date_format",
                "timezone")
NOT_IMPORTABLE = frozenset({"auto_number"})
"""Field types an import never writes (the engine numbers records itself)."""
_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True)
class ReferenceRule:
    by: str | None = None
    """The referenced entity's field a cell names (None: its title field)."""
    create_missing: bool = False


@dataclass(frozen=True)
class ImportMapping:
    """A checked mapping for one entity (see the module's docstring)."""

    columns: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    values: Mapping[str, Mapping[str, Any]] = field(default_factory=lambda: _EMPTY)
    references: Mapping[str, ReferenceRule] = field(default_factory=lambda: _EMPTY)
    owner_by: str | None = None
    locale: str = "en"
    date_format: str | None = None
    timezone: str = "UTC"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"columns": dict(self.columns)}
        if self.values:
            body["values"] = {name: dict(v) for name, v in self.values.items()}
        if self.references:
            body["references"] = {
                name: {"by": rule.by, "create_missing": rule.create_missing}
                for name, rule in self.references.items()}
        if self.owner_by:
            body["owner"] = {"by": self.owner_by}
        body["locale"] = self.locale
        if self.date_format:
            body["date_format"] = self.date_format
        body["timezone"] = self.timezone
        return body

    def fields(self) -> tuple[str, ...]:
        return tuple(self.columns.values())


def _object(raw: Any, pointer: str, errors: list[ErrorDetail]) -> Mapping[str, Any]:
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        errors.append(ErrorDetail("must be an object", pointer))
        return {}
    return raw


def parse_mapping(raw: Any, entity: EntityDef, columns: Sequence[str] | None = None,
                  ) -> ImportMapping:
    """Check a mapping against the entity (as the importer may know it) and, when given,
    the file's columns; ValidationFailed names every problem with a pointer."""
    errors: list[ErrorDetail] = []
    body = _object(raw, "/mapping", errors)
    errors.extend(ErrorDetail(f"unknown key {key!r}; expected {', '.join(MAPPING_KEYS)}",
                              f"/mapping/{key}") for key in body if key not in MAPPING_KEYS)
    mapped: dict[str, str] = {}
    targets: dict[str, str] = {}
    for column, target in _object(body.get("columns"), "/mapping/columns", errors).items():
        pointer = f"/mapping/columns/{column}"
        if target is None or target == "":
            continue
        if not isinstance(target, str):
            errors.append(ErrorDetail("must be a field name or null", pointer))
            continue
        if columns is not None and column not in columns:
            errors.append(ErrorDetail(f"the file has no column {column!r}"
                                      + _close(column, columns), pointer))
        fdef = entity.field(target)
        if target != OWNER and fdef is None:
            errors.append(ErrorDetail(f"{entity.name!r} has no field {target!r}"
                                      + _close(target, entity.field_names), pointer))
            continue
        if fdef is not None and (fdef.type in NOT_IMPORTABLE or fdef.read_only):
            errors.append(ErrorDetail(f"field {target!r} is filled by the engine", pointer))
            continue
        if target in targets:
            errors.append(ErrorDetail(
                f"field {target!r} is already filled from column {targets[target]!r}",
                pointer))
            continue
        targets[target] = column
        mapped[column] = target
    values: dict[str, Mapping[str, Any]] = {}
    for name, table in _object(body.get("values"), "/mapping/values", errors).items():
        if name != OWNER and entity.field(name) is None:
            errors.append(ErrorDetail(f"{entity.name!r} has no field {name!r}",
                                      f"/mapping/values/{name}"))
        elif not isinstance(table, Mapping):
            errors.append(ErrorDetail("must be an object of file value -> value",
                                      f"/mapping/values/{name}"))
        else:
            values[name] = MappingProxyType(dict(table))
    references: dict[str, ReferenceRule] = {}
    for name, rule in _object(body.get("references"), "/mapping/references",
                              errors).items():
        pointer = f"/mapping/references/{name}"
        fdef = entity.field(name)
        if fdef is None or fdef.type != "reference":
            errors.append(ErrorDetail(f"{name!r} is not a reference field", pointer))
            continue
        rule_body = _object(rule, pointer, errors)
        by, create = rule_body.get("by"), rule_body.get("create_missing", False)
        if by is not None and not isinstance(by, str):
            errors.append(ErrorDetail("must be a field name", f"{pointer}/by"))
            by = None
        if not isinstance(create, bool):
            errors.append(ErrorDetail("must be true or false", f"{pointer}/create_missing"))
            create = False
        references[name] = ReferenceRule(by, create)
    owner = _object(body.get("owner"), "/mapping/owner", errors)
    owner_by = owner.get("by")
    if owner_by is not None and owner_by not in OWNER_KEYS:
        errors.append(ErrorDetail(f"must be one of {', '.join(OWNER_KEYS)}",
                                  "/mapping/owner/by"))
    locale = body.get("locale", "en")
    if locale not in LOCALES:
        errors.append(ErrorDetail(f"must be one of {', '.join(LOCALES)}", "/mapping/locale"))
    date_format = body.get("date_format")
    if date_format is not None and (not isinstance(date_format, str)
                                    or not re.search(r"%[dmyYbB]", date_format)):
        errors.append(ErrorDetail("must be a strftime date format such as %d.%m.%Y",
                                  "/mapping/date_format"))
    timezone = body.get("timezone", "UTC")
    try:
        ZoneInfo(str(timezone))
    except (ZoneInfoNotFoundError, ValueError):
        errors.append(ErrorDetail("must be an IANA time zone such as Europe/Moscow",
                                  "/mapping/timezone"))
    if not mapped and not errors:
        errors.append(ErrorDetail("no column is mapped to a field", "/mapping/columns"))
    if errors:
        raise ValidationFailed("invalid import mapping", errors)
    return ImportMapping(
        columns=MappingProxyType(mapped), values=MappingProxyType(values),
        references=MappingProxyType(references), owner_by=owner_by,
        locale=str(locale), date_format=date_format, timezone=str(timezone))


def _close(name: str, known: Sequence[str]) -> str:
    found = difflib.get_close_matches(name, list(known), n=1)
    return f"; did you mean {found[0]!r}?" if found else ""


def _key(text: str) -> str:
    """A column name or label compared loosely: case, spaces, `_`, `-` and `.` ignored."""
    return re.sub(r"[\s_\-.]+", "", text.casefold())


OWNER_WORDS = ("owner", "ответственный", "владелец", "assigned to", "sales agent")


def suggest_mapping(entity: EntityDef, columns: Sequence[str]) -> dict[str, Any]:
    """A mapping proposal: each column whose name matches a field's name or its English or
    Russian label (loosely, then by similarity) goes to that field; the rest are left out."""
    candidates: dict[str, str] = {}
    for fdef in entity.fields:
        if fdef.type in NOT_IMPORTABLE or fdef.read_only:
            continue
        for text in (fdef.name, *fdef.label.values()):
            candidates.setdefault(_key(text), fdef.name)
    for word in OWNER_WORDS:
        candidates.setdefault(_key(word), OWNER)
    proposal: dict[str, str | None] = {}
    used: set[str] = set()
    for column in columns:
        key = _key(column)
        target = candidates.get(key)
        if target is None:
            close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.8)
            target = candidates[close[0]] if close else None
        if target is not None and target in used:
            target = None
        if target is not None:
            used.add(target)
        proposal[column] = target
    return {"columns": proposal}
