"""Variables: who `$user` is, what `$today` minus a month means, and where time runs out."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from metacrm.criteria.casefold import fold_case, sql_lower
from metacrm.criteria.context import CriteriaContext, Variable, parse_variable, resolve

NOW = datetime(2024, 3, 31, 22, 15, 30, tzinfo=UTC)
CONTEXT = CriteriaContext(user_id="u-1", team_ids=("t-1", "t-2"), now=NOW)


def test_user_and_team() -> None:
    assert resolve(Variable("$user"), "user", CONTEXT) == "u-1"
    assert resolve(Variable("$team"), "user", CONTEXT) == ("t-1", "t-2")
    assert resolve(Variable("$user"), "user", CriteriaContext(now=NOW)) is None


def test_now_is_converted_to_utc_and_defaults_to_the_current_time() -> None:
    moscow = CriteriaContext(now=datetime(2024, 1, 1, 3, 0, tzinfo=timezone(timedelta(hours=3))))
    assert moscow.now == datetime(2024, 1, 1, 0, 0, tzinfo=UTC)
    before = datetime.now(UTC)
    assert before <= CriteriaContext().now <= datetime.now(UTC)
    with pytest.raises(ValueError, match="aware"):
        CriteriaContext(now=datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("value", "field_type", "expected"),
    [
        ("$now", "datetime", NOW),
        ("$now", "date", date(2024, 3, 31)),
        ("$today", "date", date(2024, 3, 31)),
        ("$today", "datetime", datetime(2024, 3, 31, tzinfo=UTC)),
        ({"$today": {"days": -7}}, "date", date(2024, 3, 24)),
        ({"$today": {"weeks": 1}}, "date", date(2024, 4, 7)),
        ({"$today": {"months": -1}}, "date", date(2024, 2, 29)),
        ({"$today": {"months": 11}}, "date", date(2025, 2, 28)),
        ({"$today": {"months": -15}}, "date", date(2022, 12, 31)),
        ({"$now": {"hours": 2}}, "datetime", NOW + timedelta(hours=2)),
        ({"$now": {"hours": 2}}, "date", date(2024, 4, 1)),
        ({"$now": {"minutes": -30, "days": 1}}, "datetime", NOW + timedelta(days=1, minutes=-30)),
        ({"$today": {}}, "date", date(2024, 3, 31)),
    ],
)
def test_relative_dates(value: object, field_type: str, expected: object) -> None:
    variable = parse_variable(value)
    assert isinstance(variable, Variable)
    assert resolve(variable, field_type, CONTEXT) == expected


@pytest.mark.parametrize(
    ("value", "field_type", "expected"),
    [
        ({"$today": {"months": 1_000_000}}, "date", date.max),
        ({"$today": {"days": -1_000_000}}, "date", date.min),
        ({"$now": {"weeks": 1_000_000}}, "datetime", datetime.max.replace(tzinfo=UTC)),
        (
            {"$now": {"minutes": -1_000_000, "months": -1_000_000}},
            "datetime",
            datetime.min.replace(tzinfo=UTC),
        ),
    ],
)
def test_offsets_beyond_the_calendar_clamp_to_its_ends(
    value: object, field_type: str, expected: object
) -> None:
    variable = parse_variable(value)
    assert isinstance(variable, Variable)
    assert resolve(variable, field_type, CONTEXT) == expected


@pytest.mark.parametrize("value", ["$user2", "user", "$USER", {"$now": 1, "x": 2}, {"a": 1}, 5])
def test_other_values_are_not_variables(value: object) -> None:
    assert parse_variable(value) is None


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ЖУК Äpfel", "жук äpfel"),
        ("ΟΔΟΣ", "οδοσ"),
        ("İstanbul", "istanbul"),
        ("ẞ", "ß"),
        ("ǅ", "ǆ"),
        ("50%_OFF", "50%_off"),
    ],
)
def test_case_folding_matches_the_databases(text: str, folded: str) -> None:
    """PostgreSQL lowers character by character (no final sigma, İ -> i); so do we."""
    assert fold_case(text) == folded
    assert sql_lower(text) == folded
    assert sql_lower(None) is None
