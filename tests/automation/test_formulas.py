"""Formulas: exact arithmetic on decimals and money, date helpers, coercion to the target
field's type (a 422 naming the field when it does not fit), checks with pointers, and the
sandbox (no `eval`, no Python internals)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from actions_harness import compiled_model

from metacrm.automation.formulas import Formulas
from metacrm.automation.templates import template_variables
from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.model import CompiledModel, EntityDef

NOW = datetime(2024, 5, 3, 22, 15, tzinfo=UTC)  # a Friday
RECORD = {"first_name": "Ann", "last_name": "Lee", "score": 7, "rate": "1.15",
          "amount": {"amount": "1250.50", "currency": "USD"}, "follow_up": "2024-05-31",
          "created_at": "2024-05-01T08:00:00Z", "note": None}


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    return compiled_model()


@pytest.fixture(scope="module")
def lead(model: CompiledModel) -> EntityDef:
    return model.entities["lead"]


@pytest.fixture(scope="module")
def formulas() -> Formulas:
    return Formulas(default_registry())


def value(formulas: Formulas, lead: EntityDef, field: str, text: str) -> Any:
    variables = template_variables(lead, default_registry(), record=RECORD,
                                   previous={"score": 5}, trigger=None, now=NOW)
    target = lead.field(field)
    assert target is not None
    return formulas.value_for(target, text, variables, pointer=f"/values/{field}/formula")


@pytest.mark.parametrize(("field", "text", "expected"), [
    ("commission", "record.amount * 0.1", {"amount": "125.05", "currency": "USD"}),
    ("commission", "0.1 * record.amount + record.amount", {"amount": "1375.55",
                                                           "currency": "USD"}),
    ("commission", "-record.amount", {"amount": "-1250.50", "currency": "USD"}),
    ("commission", "record.amount.amount * 2", {"amount": "2501.00", "currency": "USD"}),
    ("rate", "record.rate * 0.1", "0.12"),  # 0.115 rounded half up to the field's scale
    ("rate", "record.amount / record.amount", "1.00"),
    ("rate", "1 / 3", "0.33"),
    ("score", "record.score * 2.5 + 0.5", 18),
    ("score", "record.score - previous.score", 2),
    ("score", "(record.amount.amount / 100) | round | int", 13),
    ("score", "days_between(record.created_at, record.follow_up)", 30),
    ("note", "record.first_name ~ ' ' ~ record.last_name | upper", "Ann LEE"),
    ("note", "record.rate * 2", "2.30"),
    ("note", "'vip' if record.amount.amount > 1000 else 'regular'", "vip"),
    ("follow_up", "add_business_days(today, 2)", "2024-05-07"),
    ("follow_up", "add_days(record.follow_up, -1)", "2024-05-30"),
    ("follow_up", "now", "2024-05-03"),
    ("note", "none", None),
])
def test_formulas_compute_exact_values_for_the_field(
    formulas: Formulas, lead: EntityDef, field: str, text: str, expected: Any,
) -> None:
    assert value(formulas, lead, field, text) == expected


@pytest.mark.parametrize(("field", "text", "words"), [
    ("score", "record.score / 3", "must be a whole number"),
    ("score", "'many'", "must be a whole number"),
    ("follow_up", "'next week'", "must be a date"),
    ("rate", "record.first_name", "must be a number"),
    ("email", "record.first_name", "not a valid email address"),
])
def test_a_value_that_does_not_fit_is_a_422_naming_the_field(
    formulas: Formulas, lead: EntityDef, field: str, text: str, words: str,
) -> None:
    with pytest.raises(ValidationFailed) as failure:
        value(formulas, lead, field, text)

    (error,) = failure.value.errors
    assert error.pointer == f"/values/{field}/formula"
    assert f"field {field!r}" in error.message and words in error.message


@pytest.mark.parametrize(("text", "words"), [
    ("record.amount > 1000", "TypeError"),  # compare record.amount.amount instead
    ("record.amount + 1 * record.nickname", "there is no field or value 'nickname'"),
    ("record.score / 0", "ZeroDivisionError"),
    ("add_days(record.first_name, 1)", "add_days needs a date"),
])
def test_a_formula_that_fails_is_reported_not_raised(
    formulas: Formulas, lead: EntityDef, text: str, words: str,
) -> None:
    with pytest.raises(ValidationFailed) as failure:
        value(formulas, lead, "note", text)

    assert words in failure.value.errors[0].message


@pytest.mark.parametrize(("text", "words"), [
    ("record.score +", "formula syntax error"),
    ("record.score 2", "unexpected text after the expression"),
    ("{{ record.score }}", "formula syntax error"),
    ("record.nickname * 2", "lead has no field 'nickname'"),
    ("price * 2", "unknown name 'price'"),
    ("", "non-empty expression"),
])
def test_check_finds_mistakes_with_the_pointer(
    formulas: Formulas, lead: EntityDef, text: str, words: str,
) -> None:
    errors = formulas.check(text, "/values/score/formula", lead)

    assert [e.pointer for e in errors] == ["/values/score/formula"]
    assert words in errors[0].message


def test_check_accepts_good_formulas(formulas: Formulas, lead: EntityDef) -> None:
    assert formulas.check("record.amount * 0.1 + add_days(today, 1).day", "/f", lead) == []


UNSAFE = "not allowed in the sandbox"


@pytest.mark.parametrize(("attack", "words"), [
    ("record.__class__", UNSAFE),
    ("record.first_name.__class__.__mro__", UNSAFE),
    ("().__class__.__bases__[0].__subclasses__()", UNSAFE),
    ("range.__globals__", UNSAFE),
    ("cycler.__init__.__globals__.os", UNSAFE),
    ("[].append(1)", UNSAFE),
    ("'{0.__class__}'.format(record)", UNSAFE),
    ("2 ** (10 ** 6)", "exponents are limited"),
    ("'x' * 10 ** 9", "longer than"),
    # issue 11, F6
    ("lipsum(1000000)", "'lipsum' is undefined"),
    ("'a'|center(200000000)", "the width of center is limited"),
    ("range(10**6)|list", "range() gives at most"),
    ("range(10000)|map('string')|join('-' * 100)", "join would make a text longer"),
])
def test_the_sandbox_refuses_python_internals_and_huge_values(
    formulas: Formulas, lead: EntityDef, attack: str, words: str,
) -> None:
    with pytest.raises(ValidationFailed) as failure:
        value(formulas, lead, "note", attack)

    (error,) = failure.value.errors
    assert error.pointer == "/values/note/formula"
    assert words in error.message
