"""docs/metadata.md documents every schema property of metadata documents and every
registered field type; docs/extensions.md every property of the pack manifest."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from metacrm.fieldtypes import default_registry

ROOT = Path(__file__).resolve().parents[1]
DOC = (ROOT / "docs" / "metadata.md").read_text(encoding="utf-8")
DOC_OF = {"pack.schema.json": "extensions.md", "duplicate_rule.schema.json": "duplicates.md",
          "web_form.schema.json": "marketing.md"}
"""Schemas documented on another page than docs/metadata.md."""
SCHEMAS = sorted((ROOT / "schemas").glob("*.schema.json"))


def property_names(node: Any) -> Iterator[str]:
    """Every key of every `properties` object anywhere in a schema ($defs included)."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "properties" and isinstance(value, dict):
                yield from value
            yield from property_names(value)
    elif isinstance(node, list):
        for item in node:
            yield from property_names(item)


def schema_properties() -> list[tuple[str, str]]:
    return sorted({
        (path.name, name)
        for path in SCHEMAS
        for name in property_names(json.loads(path.read_text(encoding="utf-8")))
    })


def test_there_are_schemas_to_check() -> None:
    assert {p.name for p in SCHEMAS} >= {
        "common.schema.json", "criteria.schema.json", "entity.schema.json",
        "pipeline.schema.json", "role.schema.json", "trigger.schema.json",
        "view.schema.json", "report.schema.json"}
    assert len(schema_properties()) > 50


@pytest.mark.parametrize(("schema", "name"), schema_properties())
def test_every_schema_property_has_an_entry(schema: str, name: str) -> None:
    page = DOC_OF.get(schema, "metadata.md")
    text = (ROOT / "docs" / page).read_text(encoding="utf-8")
    assert f"`{name}`" in text, f"{schema} defines `{name}`, which docs/{page} does not cover"


@pytest.mark.parametrize("type_name", default_registry().names())
def test_every_field_type_has_a_section(type_name: str) -> None:
    heading = re.compile(rf"^### `{re.escape(type_name)}`$", re.MULTILINE)

    assert heading.search(DOC), f"docs/metadata.md has no '### `{type_name}`' section"
