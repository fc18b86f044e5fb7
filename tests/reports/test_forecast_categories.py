"""Forecast categories of pipeline states: explicit, or derived from category and
probability."""

from __future__ import annotations

from types import MappingProxyType

import pytest

from metacrm.metadata.model import StateDef
from metacrm.reports.pipeline_reports import forecast_category

LABEL = MappingProxyType({"en": "s"})


@pytest.mark.parametrize(("category", "probability", "explicit", "expected"), [
    ("won", 100, None, "closed"),
    ("lost", 0, None, None),
    ("open", 75, None, "commit"),
    ("open", 70, None, "commit"),
    ("open", 50, None, "best_case"),
    ("open", 10, None, "pipeline"),
    ("open", None, None, "pipeline"),
    ("open", 10, "commit", "commit"),
    ("open", 90, "omitted", None),
])
def test_forecast_category(category: str, probability: int | None, explicit: str | None,
                           expected: str | None) -> None:
    state = StateDef("s", LABEL, category=category, probability=probability,
                     forecast_category=explicit)

    assert forecast_category(state) == expected
