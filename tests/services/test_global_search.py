"""Global search's pure parts: how a title ranks against the text, and which texts are
searched at all (the searches themselves: tests/api/test_search_api.py and the matrices)."""

from __future__ import annotations

import pytest

from metacrm.kernel.errors import ValidationFailed
from metacrm.services.records.global_search import (
    EXACT,
    OTHER_FIELD,
    PREFIX,
    SUBSTRING,
    check_query,
    rank_of,
)


@pytest.mark.parametrize(("title", "text", "rank"), [
    ("Acme", "aCME", EXACT),
    ("Acme Corp", "acme", PREFIX),
    ("The Acme Shop", "ACME", SUBSTRING),
    ("Zeta", "acme", OTHER_FIELD),  # found through another search field
    ("Ёлка и Ко", "ёЛКА", PREFIX),  # case folded as the quick search folds it
    ("ООО «Ромашка»", "ромашка", SUBSTRING),
])
def test_titles_rank_exact_then_prefix_then_substring(title: str, text: str,
                                                      rank: int) -> None:
    assert rank_of(title, text) == rank
    assert EXACT < PREFIX < SUBSTRING < OTHER_FIELD


@pytest.mark.parametrize("text", ["", "a", "  b  ", "x" * 201, "ab\x00", None, 42])
def test_texts_outside_two_to_two_hundred_characters_are_refused_at_q(text: object) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_query(text)
    assert [error.pointer for error in refused.value.errors] == ["/q"]


def test_the_text_is_trimmed() -> None:
    assert check_query("  ab  ") == "ab"
    assert check_query("x" * 200) == "x" * 200
