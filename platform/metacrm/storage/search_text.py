"""The words of a search: how texts and queries are cut into terms, and stemmed where the
database cannot stem itself.

PostgreSQL stems with its `english` and `russian` text-search configurations; SQLite's
FTS5 has no Russian stemmer, so its index and its queries hold the Snowball stems computed
here (the same algorithms PostgreSQL's configurations use): a Cyrillic word gets its
Russian stem, any other its English one, so «договоров» and «договор», "contracts" and
"contract" meet on one term.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from functools import lru_cache

import snowballstemmer

MAX_TERMS = 8
"""Words of a query beyond this are ignored (each costs an index probe)."""

_WORD = re.compile(r"\w+")
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_ENGLISH = snowballstemmer.stemmer("english")
_RUSSIAN = snowballstemmer.stemmer("russian")

CLOSE_WORDS = 3
"""Most close words a misspelt word stands for in the typo pass."""
CLOSENESS = 0.75
"""difflib's ratio from which a word counts as a misspelling of another."""

SQLITE_FUNCTION = "metacrm_search_text"
"""The SQL function SQLite connections get (`search_document`), used by the index triggers."""


def words(text: str) -> list[str]:
    """The words of `text`, case-folded: runs of letters and digits (punctuation, `@`, `.`,
    `-` separate words, so an e-mail address or a phone number is several words)."""
    return _WORD.findall(text.casefold())


def query_terms(text: str) -> list[str]:
    """The distinct words of a query, in order, at most MAX_TERMS."""
    return list(dict.fromkeys(words(text)))[:MAX_TERMS]


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """The Snowball stem of one case-folded word (Russian for Cyrillic words)."""
    stemmer = _RUSSIAN if _CYRILLIC.search(word) else _ENGLISH
    return str(stemmer.stemWord(word))


def search_document(value: object) -> str | None:
    """What SQLite's search index holds for one field value: its words' stems."""
    if value is None:
        return None
    return " ".join(stem(word) for word in words(str(value)))


def close_words(word: str, candidates: Sequence[str]) -> list[str]:
    """The (at most CLOSE_WORDS) candidates `word` is a likely misspelling of, closest
    first: both databases' typo passes pick from their index's words this way."""
    return difflib.get_close_matches(word, candidates, n=CLOSE_WORDS, cutoff=CLOSENESS)
