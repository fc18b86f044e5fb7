"""Languages of the screens: message catalogues, labels and number/date/money formats.

Interface strings live in gettext catalogues (`ui/i18n/<language>.po`, read with Babel when
the app starts; no compile step). Templates call `t("Save")` or `t("%(n)s records", n=3)`;
metadata labels (`{"en": …, "ru": …}`) go through `label()`. Formats use Babel's CLDR data.

The language of a request is the user's saved choice, else the `metacrm_language` cookie,
else the browser's Accept-Language, else English. Flask-AppBuilder's own pages follow it
too (`session["locale"]`), so the user admin speaks the same language as the CRM.
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

from babel.dates import format_date as babel_format_date
from babel.dates import format_datetime as babel_format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from flask import g

from metacrm.resources import folder

LANGUAGES: Mapping[str, str] = {"en": "English", "ru": "Русский"}
DEFAULT_LANGUAGE = "en"
LANGUAGE_COOKIE = "metacrm_language"
CATALOG_ROOT = folder("ui") / "i18n"

_LANGUAGE_KEY = "metacrm_language"


@cache
def translations(language: str, root: Path = CATALOG_ROOT) -> gettext.NullTranslations:
    """The compiled catalogue of `language` (English is the source language: no catalogue)."""
    path = root / f"{language}.po"
    if language == DEFAULT_LANGUAGE or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    compiled = io.BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def current_language() -> str:
    """The language of this request (set by the web blueprint's first hook)."""
    language: str = g.get(_LANGUAGE_KEY, DEFAULT_LANGUAGE)
    return language


def use_language(language: str) -> None:
    g.setdefault(_LANGUAGE_KEY, DEFAULT_LANGUAGE)
    setattr(g, _LANGUAGE_KEY, language if language in LANGUAGES else DEFAULT_LANGUAGE)


def t(message: str, **variables: Any) -> str:
    """`message` in the request's language; `%(name)s` placeholders filled from `variables`."""
    text = translations(current_language()).gettext(message)
    return text % variables if variables else text


def tn(singular: str, plural: str, count: int, **variables: Any) -> str:
    """The singular or plural form for `count` (`%(count)s` is filled in)."""
    text = translations(current_language()).ngettext(singular, plural, count)
    return text % {"count": count, **variables}


def label(labels: Mapping[str, str] | None, fallback: str = "") -> str:
    """A metadata label in the request's language, else English, else any, else `fallback`."""
    if not labels:
        return fallback
    return (labels.get(current_language()) or labels.get(DEFAULT_LANGUAGE)
            or next(iter(labels.values()), "") or fallback)


def format_date(value: date | None) -> str:
    return "" if value is None else babel_format_date(value, "medium", locale=current_language())


def format_datetime(value: datetime | None) -> str:
    """A UTC datetime as the user's language writes it (shown in UTC, marked so)."""
    if value is None:
        return ""
    return babel_format_datetime(value, "medium", tzinfo=None, locale=current_language())


def format_number(value: int | Decimal | float | None) -> str:
    return "" if value is None else format_decimal(value, locale=current_language())


def format_money(amount: Decimal | str | None, currency: str | None) -> str:
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    if not currency:
        return format_decimal(value, locale=current_language())
    return format_currency(value, currency, locale=current_language())
