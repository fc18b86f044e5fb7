"""Fixtures of the migration tests: the field type registry and a migrator on `engine`."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from migration_helpers import Migrator

from metacrm.fieldtypes import FieldTypeRegistry, default_registry


@pytest.fixture
def registry() -> FieldTypeRegistry:
    return default_registry()


@pytest.fixture
def migrator(engine: sa.Engine, registry: FieldTypeRegistry) -> Migrator:
    return Migrator(engine, registry)
