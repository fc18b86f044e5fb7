"""A/B split and winner; the per-mailbox rate allowance."""

from __future__ import annotations

from metacrm.marketing.mailings.ab_split import REST, VariantResult, assign, winner
from metacrm.marketing.mailings.rate_limit import allowance


def test_the_sample_is_about_the_asked_share_split_in_two_and_stable() -> None:
    emails = [f"p{i}@example.org" for i in range(4000)]
    first = [assign("mailing-1", email, 20) for email in emails]
    assert first == [assign("mailing-1", email.upper(), 20) for email in emails]
    sample = [v for v in first if v != REST]
    assert 700 <= len(sample) <= 900
    assert 300 <= sample.count("a") <= 500
    assert first != [assign("mailing-2", email, 20) for email in emails]


def test_without_a_test_everyone_gets_subject_a() -> None:
    assert {assign("m", f"p{i}@x.org", None) for i in range(100)} == {"a"}
    assert {assign("m", f"p{i}@x.org", 0) for i in range(100)} == {"a"}


def test_winner_by_opens_or_clicks_and_a_on_a_tie() -> None:
    a, b = VariantResult(100, 30, 2), VariantResult(100, 20, 9)
    assert winner(a, b, "opens") == "a"
    assert winner(a, b, "clicks") == "b"
    assert winner(VariantResult(0, 0, 0), VariantResult(0, 0, 0)) == "a"


def test_allowance_keeps_each_minute_within_the_mailbox_limit() -> None:
    assert allowance(10, 0, 50) == 10
    assert allowance(10, 7, 50) == 3
    assert allowance(10, 12, 50) == 0
    assert allowance(100, 0, 50) == 50
    assert allowance(None, 10_000, 50) == 50
