"""Plain-text record titles for the API: the entity's title template filled with values as
JSON carries them, references replaced by the referenced record's title.

The screens format titles in the user's language (`web.values.ValueDisplay`); the API has
no language, so values read as stored: text, numbers and states as they are, a choice by its
English label, money as `<amount> <currency>`. Referenced records are read as the
caller may (records service: scope and field security), one query per referenced entity,
one level deep; an unreadable one leaves its placeholder empty, as on the screens.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from metacrm.access.subject import AccessSubject
from metacrm.kernel.errors import Forbidden, NotFound
from metacrm.metadata.model import EntityDef, FieldDef
from metacrm.metadata.titles import render_title
from metacrm.services.records.service import RecordsService

MAX_IDS = 500
"""Referenced ids read per query (the records service's page limit)."""


def _label(labels: Mapping[str, str] | None, fallback: str) -> str:
    if not labels:
        return fallback
    return labels.get("en") or next(iter(labels.values()), "") or fallback


class PlainTitles:
    """Titles of records as one subject may see them (a `global_search.TitleRenderer`)."""

    def __init__(self, records: RecordsService, subject: AccessSubject) -> None:
        self.records = records
        self.subject = subject

    def titles(self, entity: EntityDef, records: Sequence[Mapping[str, Any]]) -> list[str]:
        referenced = self._referenced(entity, records)
        return [self._title(entity, record, referenced) for record in records]

    def _title(self, entity: EntityDef, record: Mapping[str, Any],
               referenced: Mapping[tuple[str, str], str] | None) -> str:
        def value_text(name: str) -> str:
            field = entity.field(name)
            value = record.get(name)
            if field is None or value is None:
                return ""
            if field.type == "reference":
                if referenced is None:
                    return ""
                return referenced.get((str(field.target_entity), str(value)), "")
            return self._text(field, value)

        return render_title(entity.title, value_text) or str(record.get("id", ""))

    def _referenced(self, entity: EntityDef, records: Sequence[Mapping[str, Any]]
                    ) -> dict[tuple[str, str], str]:
        """The titles of the records the titles' reference placeholders name (one level:
        their own references stay empty)."""
        wanted: dict[str, set[str]] = {}
        for name in entity.title_field_names:
            field = entity.field(name)
            if field is None or field.type != "reference" or not field.target_entity:
                continue
            for record in records:
                if record.get(name) is not None:
                    wanted.setdefault(field.target_entity, set()).add(str(record[name]))
        found: dict[tuple[str, str], str] = {}
        for target, ids in wanted.items():
            try:
                visible = self.records.visible_entity(self.subject, target)
                chosen = sorted(ids)[:MAX_IDS]
                page = self.records.list(self.subject, target, limit=len(chosen),
                                         criteria={"field": "id", "op": "in",
                                                   "value": chosen})
            except (Forbidden, NotFound):
                continue
            for row in page.records:
                found[(target, str(row["id"]))] = self._title(visible, row, None)
        return found

    @staticmethod
    def _text(field: FieldDef, value: Any) -> str:
        if field.type in ("picklist", "multi_picklist"):
            labels = {choice.value: _label(choice.label, choice.value)
                      for choice in field.choices}
            values = value if isinstance(value, list) else [value]
            return ", ".join(labels.get(item, str(item)) for item in values)
        if field.type == "money" and isinstance(value, Mapping):
            return " ".join(str(part) for part in (value.get("amount"), value.get("currency"))
                            if part is not None)
        if field.type == "regarding" and isinstance(value, Mapping):
            return str(value.get("id", ""))
        if isinstance(value, bool):
            return "true" if value else "false"
        return str(value)
