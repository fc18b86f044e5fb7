"""Report date buckets: calendar and fiscal periods, weeks from Monday, time zones."""

from __future__ import annotations

from datetime import date

import pytest

from metacrm.storage.date_buckets import bucket_name, bucket_start, sqlite_bucket, valid_zone


@pytest.mark.parametrize(("day", "unit", "fiscal", "start", "name"), [
    (date(2026, 3, 15), "day", 1, date(2026, 3, 15), "2026-03-15"),
    (date(2026, 3, 15), "week", 1, date(2026, 3, 9), "2026-03-09"),  # a Sunday -> Monday
    (date(2026, 3, 15), "month", 1, date(2026, 3, 1), "2026-03"),
    (date(2026, 3, 15), "quarter", 1, date(2026, 1, 1), "2026-Q1"),
    (date(2025, 12, 31), "year", 1, date(2025, 1, 1), "2025"),
    (date(2026, 3, 15), "quarter", 4, date(2026, 1, 1), "FY2025-Q4"),
    (date(2026, 4, 1), "quarter", 4, date(2026, 4, 1), "FY2026-Q1"),
    (date(2026, 3, 31), "year", 4, date(2025, 4, 1), "FY2025"),
    (date(2026, 11, 2), "quarter", 10, date(2026, 10, 1), "FY2026-Q1"),
])
def test_bucket_start_and_name(day: date, unit: str, fiscal: int, start: date,
                               name: str) -> None:
    assert bucket_start(day, unit, fiscal) == start
    assert bucket_name(start, unit, fiscal) == name


def test_sqlite_buckets_datetimes_in_the_time_zone() -> None:
    stored = "2026-03-31 22:30:00.000000"  # UTC, as SQLite holds it

    assert sqlite_bucket(stored, "month", "UTC", 1) == "2026-03-01"
    assert sqlite_bucket(stored, "month", "Europe/Berlin", 1) == "2026-04-01"
    assert sqlite_bucket("2026-03-31", "quarter", "Pacific/Kiritimati", 1) == "2026-01-01"
    assert sqlite_bucket(None, "day", "UTC", 1) is None


def test_only_known_time_zones_are_valid() -> None:
    assert valid_zone("Europe/Berlin")
    assert not valid_zone("Mars/Olympus")
    assert not valid_zone("../../etc/passwd")
    assert not valid_zone("")
