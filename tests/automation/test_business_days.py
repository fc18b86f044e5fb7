"""Business days skip weekends, and a country's public holidays when one is named."""

from __future__ import annotations

from datetime import date

import pytest

from metacrm.automation.business_days import (
    UnknownCountry,
    add_business_days,
    is_business_day,
)

FRIDAY = date(2024, 5, 3)


@pytest.mark.parametrize(("start", "days", "expected"), [
    (FRIDAY, 1, date(2024, 5, 6)),
    (FRIDAY, 2, date(2024, 5, 7)),
    (FRIDAY, 5, date(2024, 5, 10)),
    (FRIDAY, 6, date(2024, 5, 13)),
    (date(2024, 5, 4), 1, date(2024, 5, 6)),  # from a Saturday
    (date(2024, 5, 5), 0, date(2024, 5, 5)),
    (date(2024, 5, 6), -1, FRIDAY),
    (date(2024, 5, 6), -6, date(2024, 4, 26)),
])
def test_weekends_are_skipped(start: date, days: int, expected: date) -> None:
    assert add_business_days(start, days) == expected


def test_a_countrys_public_holidays_are_skipped() -> None:
    wednesday_before_july_4th = date(2024, 7, 3)

    assert add_business_days(wednesday_before_july_4th, 1) == date(2024, 7, 4)
    assert add_business_days(wednesday_before_july_4th, 1, "US") == date(2024, 7, 5)
    assert add_business_days(date(2024, 12, 30), 2, "RU") > date(2025, 1, 8)
    assert not is_business_day(date(2024, 7, 4), "US") and is_business_day(date(2024, 7, 4))


def test_unknown_countries_and_fractions_are_refused() -> None:
    with pytest.raises(UnknownCountry):
        add_business_days(FRIDAY, 1, "XX")
    with pytest.raises(TypeError):
        add_business_days(FRIDAY, 1.5)  # type: ignore[arg-type]
