"""Name rules: reserved words and the physical columns a field occupies."""

from __future__ import annotations

from types import MappingProxyType
from typing import Any

import pytest

from metacrm.fieldtypes import FieldTypeRegistry
from metacrm.metadata.compiler.names import SQL_KEYWORDS, field_name_problem, physical_columns
from metacrm.metadata.model import Choice, FieldDef

OPTIONS: dict[str, dict[str, Any]] = {
    "reference": {"entity": "company"},
    "state": {"pipeline": "flow"},
    "money": {"currency": "USD"},
    "regarding": {"entities": ["company", "deal"]},
}


@pytest.mark.parametrize("word", ["select", "from", "where", "order", "group", "user", "table",
                                  "limit", "offset", "default", "check", "column"])
def test_common_sql_keywords_are_reserved(word: str) -> None:
    assert word in SQL_KEYWORDS
    assert field_name_problem(word) == f"'{word}' is an SQL reserved word; choose another name"


def test_ordinary_names_are_free() -> None:
    assert [field_name_problem(n) for n in ("title", "amount", "name", "status")] == [None] * 4


def test_physical_columns_agree_with_the_field_types(registry: FieldTypeRegistry) -> None:
    """The compiler predicts column names without SQLAlchemy; the registry must agree."""
    for field_type in registry:
        fdef = FieldDef(
            "price", field_type.name, MappingProxyType({"en": "P", "ru": "Ц"}),
            options=MappingProxyType(OPTIONS.get(field_type.name, {})),
            choices=(Choice("a", MappingProxyType({"en": "A", "ru": "А"})),),
        )
        expected = tuple(column.name for column in field_type.columns(fdef))
        assert physical_columns(fdef) == expected, field_type.name
