"""Designer forms → metadata documents: an entity, a field, its type options and choices.

The parsing is lenient on purpose: what the admin typed goes into the document as it is
(a name with capitals, "abc" as a maximum length, a picklist without choices), and the
metadata compiler reports it on the preview page, with the same wording the metadata API
uses. Only what a form cannot express (blank optional inputs) is left out of the document.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from metacrm.web.i18n import LANGUAGES

CHOICE_TYPES = frozenset({"picklist", "multi_picklist"})
FLAGS = ("required", "unique", "indexed")
"""Checkbox options every field type has."""


@dataclass(frozen=True)
class OptionInput:
    """One type option the field form offers; `parse` says how its text becomes JSON:
    "int", "number" (an integer for integer fields, else a decimal string), "text",
    "upper" (a code), "list" (comma-separated codes), "names" (comma-separated entity
    names), "flag" (true/false), "entity", "on_delete", "pipeline" (chosen from a list)."""

    name: str
    parse: str


OPTION_INPUTS: tuple[OptionInput, ...] = (
    OptionInput("max_length", "int"),
    OptionInput("precision", "int"),
    OptionInput("scale", "int"),
    OptionInput("min", "number"),
    OptionInput("max", "number"),
    OptionInput("currency", "upper"),
    OptionInput("currencies", "list"),
    OptionInput("default_region", "upper"),
    OptionInput("entity", "entity"),
    OptionInput("entities", "names"),
    OptionInput("on_delete", "on_delete"),
    OptionInput("pipeline", "pipeline"),
    OptionInput("prefix", "text"),
    OptionInput("digits", "int"),
    OptionInput("start", "int"),
    OptionInput("multiple", "flag"),
    OptionInput("max_size", "int"),
    OptionInput("accept", "names"),
)
OPTION_NAMES = frozenset(option.name for option in OPTION_INPUTS)
ON_DELETE = ("set_null", "restrict", "cascade")


def labels_from(form: Mapping[str, str], prefix: str,
                previous: Mapping[str, str] | None = None) -> dict[str, str]:
    """`{"en": …, "ru": …}` from inputs `<prefix>_en`, `<prefix>_ru`; other languages of
    `previous` are kept. A blank translation falls back to English (labels need both)."""
    result = dict(previous or {})
    for code in LANGUAGES:
        result[code] = (form.get(f"{prefix}_{code}") or "").strip()
    english = result.get("en", "")
    for code in LANGUAGES:
        if not result[code]:
            result[code] = english
    return result


def option_value(option: OptionInput, text: str, field_type: str) -> Any:
    """The JSON value of one option input (a string the compiler will refuse if it is not
    a number where a number is needed)."""
    text = text.strip()
    if option.parse == "int" or (option.parse == "number" and field_type == "integer"):
        return _integer(text)
    if option.parse == "number":
        return text
    if option.parse == "upper":
        return text.upper()
    if option.parse == "flag":
        return text.lower() in ("true", "yes", "1", "on", "да")
    if option.parse == "list":
        return [item.strip().upper() for item in text.split(",") if item.strip()]
    if option.parse == "names":
        return [item.strip().lower() for item in text.split(",") if item.strip()]
    return text


def _integer(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text


def parse_choices(text: str) -> list[dict[str, Any]]:
    """Choices from lines "value|English|Русский" (labels default to the value/English)."""
    choices: list[dict[str, Any]] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        value, *names = [part.strip() for part in line.split("|")]
        english = names[0] if names and names[0] else value
        russian = names[1] if len(names) > 1 and names[1] else english
        choices.append({"value": value, "label": {"en": english, "ru": russian}})
    return choices


def choices_text(choices: Iterable[Mapping[str, Any]]) -> str:
    """The textarea form of a field's choices (the inverse of `parse_choices`)."""
    lines = []
    for choice in choices:
        names = choice.get("label") or {}
        lines.append("|".join([str(choice.get("value", "")), names.get("en", ""),
                               names.get("ru", "")]))
    return "\n".join(lines)


def field_body(form: Mapping[str, str], *, option_names: frozenset[str],
               previous: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The field definition the form describes.

    `option_names`: the options the chosen type accepts (from the field type registry).
    Editing starts from `previous`, so keys the form does not show (help, default, an
    extension type's own options) survive while they still apply to the type.
    """
    body: dict[str, Any] = dict(previous or {})
    if previous is None:
        body["name"] = (form.get("name") or "").strip()
    field_type = (form.get("type") or "").strip()
    body["type"] = field_type
    body["label"] = labels_from(form, "label", (previous or {}).get("label"))
    for flag in FLAGS:
        body.pop(flag, None)
        if form.get(flag):
            body[flag] = True
    if field_type in COMPUTED_TYPES and (previous or {}).get("type") == field_type:
        return body  # a computed field's definition is edited in its document; labels here
    for key in list(body):
        if key in OPTION_NAMES or (key not in _COMMON_KEYS and key not in option_names):
            body.pop(key)  # options of another type, or ones the form sets again below
    for option in OPTION_INPUTS:
        if option.name in option_names:
            text = form.get(option.name) or ""
            if text.strip():
                body[option.name] = option_value(option, text, field_type)
    if field_type in CHOICE_TYPES:
        body["choices"] = parse_choices(form.get("choices") or "")
    return body


_COMMON_KEYS = frozenset({"name", "type", "label", "help", "default", "read_only",
                          "default_lookup", *FLAGS})
COMPUTED_TYPES = frozenset({"formula", "rollup"})
"""Computed fields: the designer changes their labels and flags and keeps the rest."""


def field_form_values(body: Mapping[str, Any]) -> dict[str, str]:
    """What the field form's inputs show for an existing field definition."""
    values: dict[str, str] = {"name": str(body.get("name", "")),
                              "type": str(body.get("type", ""))}
    for code in LANGUAGES:
        values[f"label_{code}"] = str((body.get("label") or {}).get(code, ""))
    for flag in FLAGS:
        values[flag] = "on" if body.get(flag) else ""
    for option in OPTION_INPUTS:
        value = body.get(option.name)
        if isinstance(value, list):
            values[option.name] = ", ".join(str(item) for item in value)
        elif value is not None:
            values[option.name] = str(value)
    values["choices"] = choices_text(body.get("choices") or ())
    return values


def new_entity_bodies(form: Mapping[str, str]) -> tuple[dict[str, Any], dict[str, Any],
                                                        dict[str, Any]]:
    """A new entity with its first field, and a simple form view and list view of it."""
    name = (form.get("name") or "").strip()
    label = labels_from(form, "label")
    plural = labels_from(form, "plural")
    if not plural.get("en"):
        plural = dict(label)
    first: dict[str, Any] = {
        "name": (form.get("field_name") or "").strip(),
        "type": (form.get("field_type") or "text").strip(),
        "label": labels_from(form, "field_label"),
    }
    if form.get("field_required"):
        first["required"] = True
    entity: dict[str, Any] = {
        "kind": "entity", "name": name, "version": 1, "label": label,
        "plural_label": plural, "fields": [first], "title_field": first["name"],
    }
    group = (form.get("group") or "").strip()
    if group:
        entity["group"] = group
    if first["type"] in ("text", "email", "phone", "url"):
        entity["search_fields"] = [first["name"]]
    form_view = {
        "kind": "view", "name": f"{name}_form", "version": 1, "label": dict(label),
        "entity": name, "type": "form",
        "sections": [{"label": dict(label), "fields": [first["name"]], "columns": 2}],
    }
    list_view = {
        "kind": "view", "name": f"{name}_list", "version": 1, "label": dict(plural),
        "entity": name, "type": "list", "columns": [first["name"], "created_at"],
    }
    return entity, form_view, list_view


def entity_labels_changed(body: Mapping[str, Any], form: Mapping[str, str]) -> dict[str, Any]:
    """The entity document with the labels, title field and search fields of the form."""
    changed = dict(body)
    changed["label"] = labels_from(form, "label", body.get("label"))
    changed["plural_label"] = labels_from(form, "plural", body.get("plural_label"))
    title = (form.get("title_field") or "").strip()
    if title:
        changed["title_field"] = title
    else:
        changed.pop("title_field", None)
    if "title" in form:
        template = (form.get("title") or "").strip()
        if template:
            changed["title"] = template
        else:
            changed.pop("title", None)
    if "group" in form:
        group = (form.get("group") or "").strip()
        if group:
            changed["group"] = group
        else:
            changed.pop("group", None)
    return changed


def types_offering(option: str, option_names: Mapping[str, frozenset[str]]) -> list[str]:
    """The field types whose definitions take `option` (shown beside its input)."""
    return sorted(name for name, names in option_names.items() if option in names)


def field_names(body: Mapping[str, Any]) -> list[str]:
    return [str(item.get("name")) for item in body.get("fields") or ()
            if isinstance(item, Mapping)]


def find_field(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    for item in body.get("fields") or ():
        if isinstance(item, dict) and item.get("name") == name:
            return item
    return None


def replace_field(body: Mapping[str, Any], name: str,
                  new: Mapping[str, Any] | None) -> dict[str, Any]:
    """The entity with field `name` replaced by `new` (removed when None), and without the
    removed field in its title, search fields, indexes and reminders."""
    changed = dict(body)
    fields: list[Any] = []
    for item in body.get("fields") or ():
        if isinstance(item, Mapping) and item.get("name") == name:
            if new is not None:
                fields.append(dict(new))
        else:
            fields.append(item)
    changed["fields"] = fields
    if new is None:
        if changed.get("title_field") == name:
            changed.pop("title_field")
        if "search_fields" in changed:
            changed["search_fields"] = [f for f in changed["search_fields"] if f != name]
            if not changed["search_fields"]:
                changed.pop("search_fields")
        if "indexes" in changed:
            indexes = [{**index, "fields": [f for f in index.get("fields", ()) if f != name]}
                       for index in changed["indexes"]]
            changed["indexes"] = [index for index in indexes if index["fields"]]
            if not changed["indexes"]:
                changed.pop("indexes")
        if "reminders" in changed:
            changed["reminders"] = _reminders_without(changed["reminders"], name)
            if not changed["reminders"]:
                changed.pop("reminders")
    return changed


def _reminders_without(reminders: Any, name: str) -> list[Any]:
    """The reminders left when field `name` goes: those counting from it go, and it is no
    longer a recipient (a reminder left with nobody to tell goes too). A reminder whose
    `unless` names it stays, so the compiler says where the condition needs changing."""
    kept = []
    for reminder in reminders:
        if reminder.get("field") == name:
            continue
        to = reminder.get("to")
        recipients = [item for item in (to if isinstance(to, list) else [to]) if item != name]
        if not recipients:
            continue
        kept.append({**reminder, "to": recipients if isinstance(to, list) else recipients[0]})
    return kept
