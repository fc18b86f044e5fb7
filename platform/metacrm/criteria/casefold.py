"""Case folding for case-insensitive criteria (`contains`, `starts_with`), equal everywhere.

The Python predicate, SQLite and PostgreSQL must agree on what "case-insensitive" means, or a
trigger condition and a list filter would disagree about the same record. PostgreSQL's
`ILIKE` lowers both sides character by character with the C library's simple case mapping
(`towlower`), so it does not apply context rules: "ΟΣ" lowers to "οσ" (Python's `str.lower`
gives "ος", final sigma) and "İ" lowers to "i" (Python gives "i̇", two characters).
`fold_case` lowers the same way, and SQLite connections must use it as their `lower()`
(SQLite's own lowers ASCII only).

Checked against PostgreSQL 15 with lc_ctype C.UTF-8 (glibc 2.36, Unicode 14; Python 3.11 is
also Unicode 14): identical for every code point up to U+2FFFF. A database whose C library
has a different Unicode version may differ on characters added in between.
"""

from __future__ import annotations


def _fold_char(char: str) -> str:
    lowered = char.lower()
    # Only U+0130 has a multi-character lower case; its simple mapping is the first one.
    return lowered if len(lowered) == 1 else lowered[0]


def fold_case(text: str) -> str:
    """Lower-case `text` character by character, exactly as the databases do."""
    if text.isascii():
        return text.lower()
    return "".join(_fold_char(char) for char in text)


SQLiteValue = str | bytes | int | float | None


def sql_lower(value: SQLiteValue) -> SQLiteValue:
    """`lower()` for SQLite connections (`create_function("lower", 1, sql_lower)`)."""
    return fold_case(value) if isinstance(value, str) else value
