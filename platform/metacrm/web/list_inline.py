"""Inline edit of a list cell: the typed text of a simple field -> the JSON value the
records service takes. Only the shape is decided here (empty means no value, a checkbox
sends true/false); the field type validates the value itself, like any update."""

from __future__ import annotations

from typing import Any

from metacrm.metadata.model import FieldDef
from metacrm.web.i18n import t
from metacrm.web.list_columns import EDITORS

TRUE_WORDS = frozenset({"true", "1", "on", "yes"})
FALSE_WORDS = frozenset({"false", "0", "off", "no", ""})


class InlineValueError(ValueError):
    """The text cannot be a value of the field (answered 422 beside the cell)."""


def inline_value(field: FieldDef, text: str) -> Any:
    if field.type not in EDITORS:
        raise InlineValueError(t("This field cannot be changed here."))
    if field.type == "boolean":
        word = text.strip().lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise InlineValueError(t("Must be yes or no."))
    if not text.strip():
        return None
    if field.type in ("integer", "decimal", "percent", "date", "picklist"):
        return text.strip()
    return text
