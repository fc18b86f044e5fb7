"""Numbers, dates, money and amounts in words as a document's language writes them.

The filters of document templates (`{{ record.amount | money }}`,
`{{ record.amount | in_words }}`, `{{ record.issued_on | date }}`...) format with the CLDR
data of Babel for the template's `language`; amounts in words come from `num2words`, called
with the amount as a `Decimal` (given an `int` it would read the number as cents).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal, format_percent
from num2words import num2words

from metacrm.fieldtypes.money import Money

LANGUAGES = ("en", "ru")
DATE_FORMATS = ("short", "medium", "long", "full")
CURRENCY_WORDS = {"RUB", "USD", "EUR", "GBP", "UAH", "KZT", "BYN", "CNY", "JPY", "PLN",
                  "CHF", "SEK", "NOK", "DKK", "CZK", "TRY", "INR", "CAD", "AUD"}


def _decimal(value: Any) -> Decimal:
    if isinstance(value, Money):
        return value.amount
    if isinstance(value, bool):
        raise ValueError("a yes/no value is not a number")
    if isinstance(value, float):
        return Decimal(repr(value))
    try:
        return Decimal(value)
    except (InvalidOperation, TypeError):
        raise ValueError(f"{value!r} is not a number") from None


def number(value: Any, language: str, digits: int | None = None) -> str:
    if value is None:
        return ""
    amount = _decimal(value)
    if digits is None:
        return format_decimal(amount, locale=language)
    if not isinstance(digits, int) or not 0 <= digits <= 10:
        raise ValueError("digits must be a whole number from 0 to 10")
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(amount, format=pattern, locale=language, decimal_quantization=True)


def money(value: Any, language: str, currency: str | None = None) -> str:
    if value is None:
        return ""
    code = currency or (value.currency if isinstance(value, Money) else None)
    if not code:
        raise ValueError("money needs a currency: a money field's value, or money('RUB')")
    return format_currency(_decimal(value), code, locale=language)


def percent(value: Any, language: str) -> str:
    """A fraction as a percentage (0.2 -> 20 %); percent fields hold 20 for 20 %."""
    if value is None:
        return ""
    return format_percent(_decimal(value), locale=language)


def date_text(value: Any, language: str, style: str = "medium") -> str:
    if value is None:
        return ""
    if style not in DATE_FORMATS:
        raise ValueError(f"the date format must be one of {', '.join(DATE_FORMATS)}")
    if isinstance(value, datetime):
        return str(format_datetime(value, format=style, locale=language))
    if isinstance(value, date):
        return str(format_date(value, format=style, locale=language))
    raise ValueError(f"{value!r} is not a date")


def in_words(value: Any, language: str, currency: str | None = None) -> str:
    """An amount in words: a money value with its currency's units ("одна тысяча рублей,
    пятьдесят копеек"); a number as a cardinal number (its fraction, if any, as decimals)."""
    if value is None:
        return ""
    code = currency or (value.currency if isinstance(value, Money) else None)
    amount = _decimal(value)
    if code:
        if code not in CURRENCY_WORDS:
            raise ValueError(f"amounts in {code} cannot be spelt out")
        cents = amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
        return str(num2words(cents, lang=language, to="currency", currency=code))
    return str(num2words(amount, lang=language))


def capitalise(text: str) -> str:
    return text[:1].upper() + text[1:] if text else text


def filters(language: str) -> dict[str, Callable[..., str]]:
    """The document filters for `language`."""
    if language not in LANGUAGES:
        raise ValueError(f"unknown document language {language!r}")
    return {
        "number": lambda value, digits=None: number(value, language, digits),
        "money": lambda value, currency=None: money(value, language, currency),
        "percent": lambda value: percent(value, language),
        "date": lambda value, style="medium": date_text(value, language, style),
        "in_words": lambda value, currency=None: in_words(value, language, currency),
        "capitalise": capitalise,
    }
