"""Date buckets for reports: the first day of the day / week / month / quarter / year a date
falls in, in a time zone, with fiscal years starting in a chosen month.

One definition, three forms: `bucket_start` (Python), the SQL expression on PostgreSQL
(`date_trunc` on the local time, shifted by the fiscal start) and, on SQLite, the same Python
function registered as `metacrm_bucket(value, unit, zone, fiscal_start)` (engine.py). Weeks
start on Monday (ISO 8601). A quarter or year bucket is named by its first day: with a fiscal
year starting in April, 2026-04-01 opens fiscal Q1 of the year "FY2026".
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa

UNITS = ("day", "week", "month", "quarter", "year")
SQLITE_FUNCTION = "metacrm_bucket"


def valid_zone(name: str) -> bool:
    """Whether `name` is an IANA time zone this process knows."""
    if not name or len(name) > 64 or "\x00" in name:
        return False
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _shift_months(day: date, months: int) -> date:
    """The first of the month `months` after `day`'s month."""
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def bucket_start(day: date, unit: str, fiscal_start: int = 1) -> date:
    """The first day of the `unit` containing `day` (fiscal quarters/years when
    `fiscal_start` is not January)."""
    if unit == "day":
        return day
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    shifted = _shift_months(day, -(fiscal_start - 1))
    first = 1 if unit == "year" else (shifted.month - 1) // 3 * 3 + 1
    return _shift_months(date(shifted.year, first, 1), fiscal_start - 1)


def bucket_name(start: date, unit: str, fiscal_start: int = 1) -> str:
    """How a bucket reads: `2026-03-02` (day, week), `2026-03`, `2026-Q1`, `2026`; fiscal
    periods are named after the calendar year they start in, `FY2026-Q1`, `FY2026`."""
    if unit in ("day", "week"):
        return start.isoformat()
    if unit == "month":
        return f"{start.year:04d}-{start.month:02d}"
    prefix = "FY" if fiscal_start != 1 else ""
    if unit == "year":
        return f"{prefix}{start.year:04d}"
    fiscal_first = date(start.year if start.month >= fiscal_start else start.year - 1,
                        fiscal_start, 1)
    quarter = ((start.year - fiscal_first.year) * 12 + start.month - fiscal_start) // 3 + 1
    return f"{prefix}{fiscal_first.year:04d}-Q{quarter}"


def sqlite_bucket(value: str | None, unit: str, zone: str, fiscal_start: int) -> str | None:
    """SQLite's `metacrm_bucket`: a stored date ('YYYY-MM-DD') or UTC datetime (naive
    text) -> the ISO first day of its bucket."""
    if value is None:
        return None
    text = str(value)
    if len(text) > 10:
        moment = datetime.fromisoformat(text).replace(tzinfo=UTC).astimezone(ZoneInfo(zone))
        day = moment.date()
    else:
        day = date.fromisoformat(text)
    return bucket_start(day, unit, int(fiscal_start)).isoformat()


def bucket_expression(
    column: sa.ColumnElement[object], unit: str, *, dialect: str, zone: str,
    fiscal_start: int, is_datetime: bool,
) -> sa.ColumnElement[object]:
    """SQL for the bucket's first day of `column` (a date on PostgreSQL, ISO text on
    SQLite: `bucket_value` reads both)."""
    if unit not in UNITS or not 1 <= fiscal_start <= 12:
        raise ValueError(f"unknown bucket {unit!r} / fiscal start {fiscal_start!r}")
    if dialect != "postgresql":
        return sa.func.metacrm_bucket(column, unit, zone, fiscal_start)
    local: sa.ColumnElement[object] = (
        sa.func.timezone(zone, column) if is_datetime else sa.cast(column, sa.DateTime()))
    shift = fiscal_start - 1 if unit in ("quarter", "year") else 0
    if shift:
        months: sa.ColumnElement[object] = sa.literal_column(f"interval '{shift} months'")
        truncated = sa.func.date_trunc(unit, local - months) + months
    else:
        truncated = sa.func.date_trunc(unit, local)
    return sa.cast(truncated, sa.Date())


def bucket_value(value: object) -> date | None:
    """A bucket as the database returned it, as a `date`."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])
