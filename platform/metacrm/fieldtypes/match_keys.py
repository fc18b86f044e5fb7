"""Normalisers that turn a field value into a duplicate-match key.

A duplicate rule (`duplicate_rule` metadata) compares records on keys made from their field
values by a chain of these normalisers; the keys are stored in indexed columns of the
entity's table (`storage.tables.match_key_columns`), so a check is an index lookup.

Every normaliser is a pure `str -> str`; a chain ends with `None` when the key is empty
(an empty key never matches anything). The same chain normalises the stored values and the
values a caller checks, so "ACME, Inc." and "acme" meet on the key `acme`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Any

import phonenumbers

MAX_KEY_LENGTH = 200
"""Keys are cut to this many characters (the key column's length)."""

_SPACES = re.compile(r"\s+")
_PUNCTUATION = re.compile(r"[\"'«»“”„`.,;:!?()\[\]{}/\\|&+*#@-]+")

LEGAL_FORMS: frozenset[str] = frozenset({
    # English-speaking and international
    "llc", "l.l.c", "inc", "incorporated", "ltd", "limited", "corp", "corporation", "co",
    "company", "plc", "llp", "lp", "pty", "pte",
    # German, Dutch, French, Italian, Spanish, Nordic
    "gmbh", "ag", "kg", "ug", "bv", "nv", "sa", "sas", "sarl", "srl", "spa", "sl", "ab", "as",
    "oy", "aps",
    # Russian and CIS (both scripts, so the order of normalisers does not matter)
    "ооо", "оао", "зао", "пао", "ао", "нао", "ип", "тоо", "чп", "ooo", "oao", "zao", "pao",
    "ao", "nao", "ip", "too",
})
"""Legal-form words dropped from company names (compared after case folding)."""

_CYRILLIC_TO_LATIN: Mapping[str, str] = MappingProxyType({
    "а": "a", "б": "b", "в": "v", "г": "g", "д": "d", "е": "e", "ё": "e", "ж": "zh",
    "з": "z", "и": "i", "й": "i", "к": "k", "л": "l", "м": "m", "н": "n", "о": "o",
    "п": "p", "р": "r", "с": "s", "т": "t", "у": "u", "ф": "f", "х": "kh", "ц": "ts",
    "ч": "ch", "ш": "sh", "щ": "shch", "ъ": "", "ы": "y", "ь": "", "э": "e", "ю": "iu",
    "я": "ia", "і": "i", "ї": "i", "є": "e", "ґ": "g",
})
"""Cyrillic -> Latin after ICAO Doc 9303 (the transliteration of Russian passports)."""

_LATIN_FOLDS: tuple[tuple[str, str], ...] = (
    # Latin spellings that the Cyrillic letters above have in the wild
    ("yo", "e"), ("yu", "iu"), ("ya", "ia"), ("ju", "iu"), ("ja", "ia"), ("x", "ks"),
    ("w", "v"), ("j", "i"), ("y", "i"), ("q", "k"), ("c", "k"),
)
"""Spelling variants folded after transliteration, so "Yandex" and "Яндекс" share a key."""


def case_and_spaces(text: str) -> str:
    """Case-folded, accents kept, runs of white space as one space, trimmed."""
    return _SPACES.sub(" ", text.casefold()).strip()


def email(text: str) -> str:
    """An address trimmed and case-folded (both parts: mail servers treat them alike)."""
    return text.strip().casefold()


def phone(text: str, region: str | None = None) -> str:
    """E.164 (`+14155552671`) when the number parses, else its digits alone."""
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and phonenumbers.is_possible_number(number):
        return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))
    return "".join(ch for ch in text if ch.isdigit())


def legal_form(text: str) -> str:
    """A company name without punctuation and legal-form words (`"ACME", Inc.` -> `acme`)."""
    words = _PUNCTUATION.sub(" ", case_and_spaces(text)).split()
    kept = [word for word in words if word not in LEGAL_FORMS]
    return " ".join(kept or words)


def transliterate(text: str) -> str:
    """Cyrillic written in Latin letters, accents dropped, common spelling variants folded,
    so a name entered in either script gets one key (`Яндекс`, `Yandex` -> `iandeks`)."""
    folded = case_and_spaces(text)
    latin = "".join(_CYRILLIC_TO_LATIN.get(ch, ch) for ch in folded)
    plain = "".join(ch for ch in unicodedata.normalize("NFKD", latin)
                    if not unicodedata.combining(ch))
    for variant, canonical in _LATIN_FOLDS:
        plain = plain.replace(variant, canonical)
    return plain


Normaliser = Callable[[str], str]

NORMALISERS: Mapping[str, Normaliser] = MappingProxyType({
    "case_spaces": case_and_spaces,
    "email": email,
    "phone": phone,
    "legal_form": legal_form,
    "transliterate": transliterate,
})
"""Every normaliser a duplicate rule may name."""


def match_key(value: Any, normalisers: Iterable[str], *, region: str | None = None
              ) -> str | None:
    """The key of one field value under a chain of normalisers; None when empty.

    Values that are not text (numbers, dates) are keyed by their text form. `region` is
    the default region of a phone field (numbers written without a country code)."""
    if value is None:
        return None
    text = value if isinstance(value, str) else str(value)
    for name in normalisers:
        text = phone(text, region) if name == "phone" else NORMALISERS[name](text)
    text = text.strip()
    return text[:MAX_KEY_LENGTH] or None
