"""Templates: what they see of a record, plain text vs HTML, checks with pointers, the
compile cache, and the sandbox: no way into Python's insides, no huge values — every refusal
is a clear ValidationFailed, never a crash."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from actions_harness import compiled_model

from metacrm.automation.templates import Templates, template_variables
from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import ValidationFailed
from metacrm.metadata.model import CompiledModel, TriggerDef

NOW = datetime(2024, 5, 3, 22, 15, tzinfo=UTC)
RECORD = {"id": "4f6c1c51-3f7a-4a53-9c55-4b1b1f0a1d2e", "first_name": "Ann",
          "last_name": "Lee", "email": None, "amount": {"amount": "1250.50", "currency": "USD"},
          "score": 7, "follow_up": "2024-05-31", "owner": "17",
          "created_at": "2024-05-01T08:00:00Z"}


@pytest.fixture(scope="module")
def model() -> CompiledModel:
    return compiled_model()


@pytest.fixture
def variables(model: CompiledModel) -> dict[str, Any]:
    trigger = TriggerDef(name="hot", label={"en": "Hot lead", "ru": "Горячий"}, entity="lead",
                         event="field_changed", actions=())
    return template_variables(model.entities["lead"], default_registry(), record=RECORD,
                              previous={"score": 3}, trigger=trigger, now=NOW)


def render(variables: dict[str, Any], text: str, **options: Any) -> str:
    return Templates().render(text, variables, pointer="/body", **options)


def test_templates_see_the_record_in_readable_form(variables: dict[str, Any]) -> None:
    text = ("{{ record.first_name }} {{ record['last_name'] }}: {{ record.amount }}, "
            "score {{ previous.score }} -> {{ record.score }}, due {{ record.follow_up }}, "
            "email [{{ record.email }}], by {{ trigger.name }} ({{ trigger.label }}) "
            "on {{ today }} ({{ record.created_at.year }}); "
            "{{ record.amount.amount * 2 }} {{ record.amount.currency }}")

    assert render(variables, text) == (
        "Ann Lee: 1250.50 USD, score 3 -> 7, due 2024-05-31, email [], by hot (Hot lead) "
        "on 2024-05-03 (2024); 2501.00 USD")


def test_dates_can_be_formatted_and_shifted(variables: dict[str, Any]) -> None:
    text = ("{{ record.follow_up.strftime('%d.%m.%Y') }} / {{ add_days(today, 3) }} / "
            "{{ add_business_days(today, 1) }} / {{ days_between(today, record.follow_up) }}")

    assert render(variables, text) == "31.05.2024 / 2024-05-06 / 2024-05-06 / 28"


def test_plain_text_is_left_alone_and_html_is_escaped(model: CompiledModel) -> None:
    variables = template_variables(model.entities["lead"], default_registry(),
                                   record={"first_name": "<b>Tom & Jerry</b>"}, previous={},
                                   trigger=None, now=NOW)

    assert render(variables, "{{ record.first_name }}") == "<b>Tom & Jerry</b>"
    assert render(variables, "<p>{{ record.first_name }}</p>", html=True) == (
        "<p>&lt;b&gt;Tom &amp; Jerry&lt;/b&gt;</p>")


def test_a_missing_value_at_run_time_is_reported_with_the_pointer(
    variables: dict[str, Any],
) -> None:
    with pytest.raises(ValidationFailed) as failure:
        render(variables, "Hi {{ record.nickname }}")

    assert failure.value.errors[0].pointer == "/body"
    assert "nickname" in failure.value.errors[0].message


@pytest.mark.parametrize(("text", "words"), [
    ("Hello {{ record.first_name", "template syntax error on line 1"),
    ("{% if record.score %}open", "template syntax error"),
    ("{{ record.nickname }}", "lead has no field 'nickname'"),
    ("{{ previous['nickname'] }}", "lead has no field 'nickname'"),
    ("{{ customer.name }}", "unknown name 'customer'"),
    ("{{ trigger.owner }}", "trigger has no 'owner'"),
])
def test_check_finds_mistakes_before_anything_runs(
    model: CompiledModel, text: str, words: str,
) -> None:
    errors = Templates().check(text, "/subject", model.entities["lead"])

    assert [e.pointer for e in errors] == ["/subject"]
    assert words in errors[0].message


def test_check_accepts_good_templates_and_refuses_non_text(model: CompiledModel) -> None:
    lead = model.entities["lead"]
    templates = Templates()

    assert templates.check("{{ record.id }} {{ record.owner }} {{ record.last_name | upper }}"
                           "{% for x in [1, 2] %}{{ x }}{% endfor %}", "/body", lead) == []
    assert templates.check(42, "/body", lead)[0].message == "must be a template text"


def test_a_template_is_compiled_once_per_metadata_version() -> None:
    templates = Templates()

    first = templates.compiled("Hi {{ record.first_name }}", version=1)
    assert templates.compiled("Hi {{ record.first_name }}", version=1) is first
    assert templates.compiled("Hi {{ record.first_name }}", version=2) is not first


UNSAFE = "not allowed in the sandbox"


@pytest.mark.parametrize(("attack", "words"), [
    ("{{ record.__class__ }}", UNSAFE),
    ("{{ record.first_name.__class__.__mro__[1].__subclasses__() }}", UNSAFE),
    ("{{ ''.__class__.mro() }}", UNSAFE),
    ("{{ record|attr('__class__') }}", UNSAFE),
    ("{{ '{0.__class__}'.format(record) }}", UNSAFE),
    ("{{ cycler.__init__.__globals__ }}", UNSAFE),
    ("{{ range.__globals__['os'] }}", UNSAFE),
    ("{{ add_days.__globals__ }}", UNSAFE),
    ("{{ now.replace.__self__ }}", UNSAFE),
    ("{{ [1].append(2) }}", UNSAFE),
    ("{{ 'x' * 1000000 }}", "longer than"),
    ("{{ 2 ** 100000 }}", "exponents are limited"),
    ("{{ '%s' % record }}", "'%' formatting of text is not available"),
    ("{{ range(10000000) | list }}", "range() gives at most 10000 numbers"),
    ("{% for i in range(10000) %}xxxxxxxxxxx{% endfor %}", "rendered text is longer than"),
    # issue 11, F6: each of these once hung a request and grew memory
    ("{{ lipsum(1000000) }}", "'lipsum' is undefined"),
    ("{{ 'a'|center(200000000) }}", "the width of center is limited to 100000"),
    ("{{ 'a'.rjust(10**9) }}", "the width of rjust() is limited to 100000"),
    ("{{ ('a\n' * 40000)|indent(1000) }}", "indent would make a text longer"),
    ("{{ ('x' * 1000)|wordwrap(1, wrapstring='y' * 1000) }}", "wordwrap would make a text"),
    ("{{ '%999999999s'|format(1) }}", "format widths are limited to 100000"),
    ("{{ '{:>999999999}'.format(1) }}", "format widths are limited to 100000"),
    ("{{ 'a' * 10**9 }}", "'*' would make a value longer than 100000"),
    ("{% set s = 'x' * 1000 %}{{ s|replace('x', s) }}", "replace would make a text longer"),
    ("{% set s = 'x' * 100000 %}{{ s ~ s }}", "'~' would make a text longer"),
    ("{% set s = 'x' * 100000 %}{{ [s, s, s] }}", "printing this value would make a text"),
    ("{% set s = 'x' * 100000 %}{{ [s, s]|join }}", "join would make a text longer"),
    ("{% set l = range(10000)|list %}{% for a in l %}{% for b in l %}{% endfor %}"
     "{% endfor %}", "took longer than 0.5 s and was stopped"),
])
def test_the_sandbox_refuses_with_a_clear_error(
    variables: dict[str, Any], attack: str, words: str,
) -> None:
    with pytest.raises(ValidationFailed) as failure:
        render(variables, attack)

    (error,) = failure.value.errors
    assert error.pointer == "/body"
    assert words in error.message
