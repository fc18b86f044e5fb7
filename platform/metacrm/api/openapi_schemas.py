"""JSON Schemas of the records API, derived from one compiled entity (for `api.openapi`).

Per entity `<name>`, components named `<name>.record` (what responses carry), `<name>.create`
and `<name>.patch` (request bodies), `<name>.filter` (a criteria tree over its fields),
`<name>.query`, `<name>.page`, `<name>.single`, `<name>.bulk_create`, `<name>.bulk_update`
and `<name>.list`. Field value schemas come from the field types (`FieldType.value_schema`),
so money and decimals are strings and datetimes RFC 3339, exactly as the API sends them.
"""

from __future__ import annotations

import copy
from typing import Any

from metacrm.api.openapi_filters import NO_NUL, NON_BLANK, criteria_schema
from metacrm.api.request_parsing import (
    MAX_CURSOR_LENGTH,
    MAX_LIMIT,
    MAX_Q_LENGTH,
    MAX_SORT_KEYS,
    includable_names,
    selectable_names,
    sortable_names,
)
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.metadata.model import EntityDef, FieldDef

Schema = dict[str, Any]

MAX_BULK = 1000
OWNER: Schema = {"type": "string", "minLength": 1, "maxLength": 64, "pattern": NON_BLANK,
                 "description": "User id of the owner; default: the caller."}
SCHEMAS = "#/components/schemas/"


def ref(name: str) -> Schema:
    return {"$ref": SCHEMAS + name}


def nullable(schema: Schema) -> Schema:
    """`schema` that also accepts JSON null."""
    if not schema:
        return schema  # {} accepts everything already
    kind = schema.get("type")
    if isinstance(kind, str):
        widened = {**schema, "type": [kind, "null"]}
        if "enum" in schema:
            widened["enum"] = [*schema["enum"], None]
        return widened
    return {"anyOf": [schema, {"type": "null"}]}


def english(labels: Any) -> str | None:
    if not labels:
        return None
    text = labels.get("en") or next(iter(labels.values()), None)
    return str(text) if text else None


def _described(schema: Schema, title: str | None, description: str | None) -> Schema:
    described = dict(schema)
    if title:
        described["title"] = title
    if description:
        described["description"] = description
    return described


# --- shared components --------------------------------------------------------------------


def shared_schemas() -> dict[str, Schema]:
    """Components every document has: problems, page metadata, included records."""
    return {
        "Problem": {
            "type": "object",
            "description": "RFC 9457 problem details; `errors` point (JSON Pointer) at what is "
                           "wrong in the request.",
            "required": ["type", "title", "status"],
            "properties": {
                "type": {"type": "string"},
                "title": {"type": "string"},
                "status": {"type": "integer", "minimum": 100, "maximum": 599},
                "detail": {"type": "string"},
                "instance": {"type": "string"},
                "errors": ref("ErrorList"),
                "duplicates": {
                    "type": "array", "items": ref("DuplicateMatch"),
                    "description": "409 of a duplicate rule: the matching records the "
                                   "caller may read."},
                "hidden_duplicates": {
                    "type": "integer", "minimum": 0,
                    "description": "409 of a duplicate rule: matches the caller may not "
                                   "read (\"a duplicate exists that you cannot see\")."},
            },
        },
        "ErrorList": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["pointer", "message"],
                "properties": {
                    "pointer": {"type": "string"},
                    "message": {"type": "string"},
                    "source": {"type": "string"},
                },
            },
        },
        "PageMeta": {
            "type": "object",
            "required": ["count", "count_is_estimate", "next_cursor"],
            "properties": {
                "count": {"type": "integer", "minimum": 0,
                          "description": "Records matching the filter: exact up to 1,000, "
                                         "an estimate beyond (then count_is_estimate)."},
                "count_is_estimate": {"type": "boolean"},
                "next_cursor": {"type": ["string", "null"],
                                "description": "Pass as `cursor` for the next page; null on "
                                               "the last page."},
            },
            "additionalProperties": False,
        },
        "IncludedRecords": {
            "type": "object",
            "description": "Referenced records asked for with `include`: reference field "
                           "name -> record id -> record (only records the caller may read).",
            "additionalProperties": {
                "type": "object",
                "additionalProperties": {"type": "object"},
            },
        },
        "HistoryEntry": {
            "type": "object",
            "description": "One audit entry: who changed which field when, old and new value.",
            "required": ["at", "action"],
            "properties": {
                "id": {"type": ["string", "integer"]},
                "event_id": {"type": ["string", "null"],
                             "description": "The outbox event of the change."},
                "at": {"type": "string", "format": "date-time"},
                "actor": {"type": ["string", "null"]},
                "action": {"type": "string"},
                "field": {"type": ["string", "null"]},
                "old": {},
                "new": {},
            },
        },
    }


def system_properties() -> dict[str, Schema]:
    """The system columns every record carries; all read-only."""
    user = {"type": ["string", "null"], "readOnly": True}
    moment = {"type": "string", "format": "date-time", "readOnly": True}
    return {
        "id": {"type": "string", "readOnly": True, "description": "Record id (UUIDv7)."},
        "created_at": moment,
        "created_by": {**user, "description": "User id of the creator."},
        "updated_at": moment,
        "updated_by": {**user, "description": "User id of the last writer."},
        "owner": {"type": ["string", "null"],
                  "description": "User id of the owner (the `own` scope); may be set on "
                                 "create and changed by update."},
        "version": {"type": "integer", "minimum": 1, "readOnly": True,
                    "description": "Optimistic lock; the record's ETag carries it."},
    }


# --- one entity ---------------------------------------------------------------------------


class EntitySchemas:
    """The component schemas of one entity."""

    def __init__(self, entity: EntityDef, registry: FieldTypeRegistry) -> None:
        self.entity = entity
        self.registry = registry
        self.name = entity.name

    def components(self) -> dict[str, Schema]:
        name = self.name
        return {
            f"{name}.record": self.record(),
            f"{name}.create": self.create(),
            f"{name}.patch": self.patch(),
            f"{name}.filter": self.filter(),
            f"{name}.query": self.query(),
            f"{name}.page": self.page(),
            f"{name}.single": self.single(),
            f"{name}.list": _envelope({"type": "array", "items": ref(f"{name}.record")}),
            f"{name}.bulk_create": self.bulk_create(),
            f"{name}.bulk_update": self.bulk_update(),
        }

    def value(self, field: FieldDef) -> Schema:
        schema = copy.deepcopy(self.registry.get(field.type).value_schema(field))
        return _described(schema, english(field.label), english(field.help))

    def input_value(self, field: FieldDef) -> Schema:
        """A value a client may write: null clears an optional field; a required text
        needs a non-blank value (blank text means no value)."""
        value = self.value(field)
        if value.get("type") == "string" and "pattern" not in value and "enum" not in value:
            # no text column can hold NUL; blank text is no value, so a required one is not
            value = ({**value, "minLength": 1, "pattern": NON_BLANK} if field.required
                     else {**value, "pattern": NO_NUL})
        if value.get("uniqueItems"):
            # a choice listed twice is taken once (the record shows each choice once)
            value = {key: item for key, item in value.items() if key != "uniqueItems"}
        return value if field.required else nullable(value)

    def writable(self, field: FieldDef) -> bool:
        return not field.read_only and self.registry.get(field.type).settable

    def record(self) -> Schema:
        properties = system_properties()
        for field in self.entity.fields:
            schema = nullable(self.value(field))
            if not self.writable(field):
                schema["readOnly"] = True
            properties[field.name] = schema
        return _described(
            {"type": "object", "required": ["id"], "properties": properties,
             "additionalProperties": False},
            english(self.entity.label), english(self.entity.description),
        )

    def required_on_create(self, field: FieldDef) -> bool:
        """Required fields without a default must be in a create payload (a state field
        defaults to its pipeline's initial state)."""
        return field.required and field.default is None and field.type != "state"

    def create(self) -> Schema:
        properties: dict[str, Schema] = {"owner": OWNER}
        required: list[str] = []
        for field in self.entity.fields:
            if not self.writable(field):
                continue
            if self.required_on_create(field):
                required.append(field.name)
            properties[field.name] = self.input_value(field)
        schema: Schema = {"type": "object", "properties": properties,
                          "additionalProperties": False}
        if required:
            schema["required"] = required
        return schema

    def patch(self) -> Schema:
        properties = {"owner": OWNER}
        properties.update({
            field.name: self.input_value(field)
            for field in self.entity.fields if self.writable(field)
        })
        return {"type": "object", "properties": properties, "additionalProperties": False,
                "description": "The fields to change; fields left out keep their value."}

    def filter(self) -> Schema:
        return criteria_schema(self.entity, self.registry, ref(f"{self.name}.filter"))

    def query(self) -> Schema:
        properties: dict[str, Schema] = {
            "filter": nullable(ref(f"{self.name}.filter")),
            "sort": nullable(self.sort_items()),
            "fields": nullable(self.fields_items()),
            "limit": {"type": ["integer", "null"], "minimum": 1, "maximum": MAX_LIMIT,
                      "default": 50},
            "cursor": {"type": ["string", "null"], "minLength": 1,
                       "maxLength": MAX_CURSOR_LENGTH},
            "q": {"type": ["string", "null"], "maxLength": MAX_Q_LENGTH},
        }
        include = self.include_items()
        if include is not None:
            properties["include"] = nullable(include)
        return {"type": "object", "properties": properties, "additionalProperties": False}

    def sort_items(self) -> Schema:
        names = sortable_names(self.entity, self.registry)
        # a field is sorted on once: not both `name` and `-name`
        once = [{"not": {"allOf": [{"contains": {"const": name}},
                                   {"contains": {"const": f"-{name}"}}]}} for name in names]
        return {"type": "array", "maxItems": MAX_SORT_KEYS, "uniqueItems": True,
                "items": {"type": "string",
                          "enum": [*names, *(f"-{name}" for name in names)]},
                **({"allOf": once} if once else {})}

    def fields_items(self) -> Schema:
        return {"type": "array", "minItems": 1, "uniqueItems": True,
                "items": {"type": "string", "enum": list(selectable_names(self.entity))}}

    def include_items(self) -> Schema | None:
        names = includable_names(self.entity)
        if not names:
            return None
        return {"type": "array", "uniqueItems": True,
                "items": {"type": "string", "enum": list(names)}}

    def page(self) -> Schema:
        return {
            "type": "object",
            "required": ["data", "meta"],
            "properties": {
                "data": {"type": "array", "items": ref(f"{self.name}.record")},
                "meta": ref("PageMeta"),
                "included": ref("IncludedRecords"),
            },
            "additionalProperties": False,
        }

    def single(self) -> Schema:
        schema = _envelope(ref(f"{self.name}.record"))
        schema["properties"]["included"] = ref("IncludedRecords")
        schema["properties"]["meta"] = {
            "type": "object",
            "description": "After a create or update that a warn duplicate rule matched: "
                           "`duplicates`, the matching records the caller may read.",
            "properties": {"duplicates": {"type": "array", "items": ref("DuplicateMatch")}},
        }
        return schema

    def bulk_create(self) -> Schema:
        return {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {"type": "array", "minItems": 1, "maxItems": MAX_BULK,
                                       "items": ref(f"{self.name}.create")}},
            "additionalProperties": False,
        }

    def bulk_update(self) -> Schema:
        item = {
            "type": "object",
            "required": ["id", "changes"],
            "properties": {
                "id": {"type": "string", "minLength": 1},
                "version": {"type": "integer", "minimum": 1,
                            "description": "When given, the update fails (412) unless the "
                                           "record is still at this version."},
                "changes": ref(f"{self.name}.patch"),
            },
            "additionalProperties": False,
        }
        return {
            "type": "object",
            "required": ["records"],
            "properties": {"records": {"type": "array", "minItems": 1, "maxItems": MAX_BULK,
                                       "items": item}},
            "additionalProperties": False,
        }


def _envelope(data: Schema) -> Schema:
    return {"type": "object", "required": ["data"], "properties": {"data": data},
            "additionalProperties": False}
