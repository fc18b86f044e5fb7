"""Fixtures of the metadata tests: the real field type registry."""

from __future__ import annotations

import pytest

from metacrm.fieldtypes import FieldTypeRegistry, default_registry


@pytest.fixture(scope="session")
def registry() -> FieldTypeRegistry:
    return default_registry()
