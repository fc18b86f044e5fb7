"""Languages of the screens: message catalogues, labels and number/date/money formats.

Interface strings live in gettext catalogues (`ui/i18n/<language>.po`, read with Babel when
the app starts; no compile step). Templates call `t("Save")` or `t("%(n)s records", n=3)`;
metadata labels (`{"en": …, "ru": …}`) go through `label()`. Formats use Babel's CLDR data.

The language of a request is the user's saved choice, else the `metacrm_language` cookie,
else the browser's Accept-Language, else English. Flask-AppBuilder's own pages follow it
too (`session["locale"]`), so the user admin speaks the same language as the CRM.

Date-times are stored in UTC and shown in the user's time zone (their profile, default
UTC); the profile's date and number formats override the language's (`use_formats`).
"""

from __future__ import annotations

import gettext
import io
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

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

DEFAULT_TIME_ZONE = "UTC"
DATE_FORMATS: Mapping[str, tuple[str, str] | None] = {
    "locale": None,  # the language's medium formats
    "iso": ("yyyy-MM-dd", "yyyy-MM-dd HH:mm:ss"),
    "dmy": ("dd.MM.yyyy", "dd.MM.yyyy HH:mm:ss"),
    "mdy": ("MM/dd/yyyy", "MM/dd/yyyy h:mm:ss a"),
}
"""Date format codes a user may pick -> (date pattern, date-time pattern) in CLDR syntax."""
NUMBER_FORMATS: Mapping[str, str | None] = {
    "locale": None,  # the language's separators
    "point": "en",   # 1,234.5
    "comma": "ru",   # 1 234,5
    "plain": "",     # 1234.5: no grouping, a point
}
"""Number format codes a user may pick -> the CLDR locale whose separators they use."""
EXCLUDED_ZONES = frozenset({"localtime", "Factory"})
"""Names the zone database lists that are no place: the host's own zone, and a dummy."""

_LANGUAGE_KEY = "metacrm_language"
_FORMATS_KEY = "metacrm_formats"


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


@cache
def time_zone_names() -> frozenset[str]:
    """The IANA time zone names a user may pick."""
    return frozenset(available_timezones() - EXCLUDED_ZONES)


def use_formats(time_zone: str | None, date_format: str | None,
                number_format: str | None) -> None:
    """Show this request's date-times in `time_zone`, with the chosen formats (unknown or
    empty values fall back to the defaults: UTC and the language's formats)."""
    zone = time_zone if time_zone in time_zone_names() else DEFAULT_TIME_ZONE
    setattr(g, _FORMATS_KEY, (zone,
                              date_format if date_format in DATE_FORMATS else "locale",
                              number_format if number_format in NUMBER_FORMATS else "locale"))


def _formats() -> tuple[str, str, str]:
    formats: tuple[str, str, str] = g.get(_FORMATS_KEY, (DEFAULT_TIME_ZONE, "locale", "locale"))
    return formats


def current_time_zone() -> str:
    """The IANA name of the zone this request shows date-times in."""
    return _formats()[0]


def current_date_format() -> str:
    return _formats()[1]


def current_number_format() -> str:
    return _formats()[2]


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
    if value is None:
        return ""
    patterns = DATE_FORMATS[current_date_format()]
    return babel_format_date(value, patterns[0] if patterns else "medium",
                             locale=current_language())


def format_datetime(value: datetime | None) -> str:
    """A stored (UTC) date-time in the user's time zone, as their date format writes it."""
    if value is None:
        return ""
    local = local_datetime(value)
    patterns = DATE_FORMATS[current_date_format()]
    return babel_format_datetime(local, patterns[1] if patterns else "medium",
                                 locale=current_language())


def local_datetime(value: datetime) -> datetime:
    """`value` (aware, or naive UTC) in the user's time zone."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(_zone(current_time_zone()))


def utc_datetime(local: datetime) -> datetime:
    """A wall-clock time the user typed (naive, in their zone) as an aware UTC datetime.
    A time a DST change skips or repeats takes its earlier offset (`fold=0`)."""
    return local.replace(tzinfo=_zone(current_time_zone())).astimezone(UTC)


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return ZoneInfo(DEFAULT_TIME_ZONE)


def _number_locale() -> str:
    chosen = NUMBER_FORMATS[current_number_format()]
    return current_language() if chosen is None else chosen or "en"


def _grouping() -> bool:
    return NUMBER_FORMATS[current_number_format()] != ""


def format_number(value: int | Decimal | float | None) -> str:
    if value is None:
        return ""
    return format_decimal(value, locale=_number_locale(), group_separator=_grouping())


def format_money(amount: Decimal | str | None, currency: str | None) -> str:
    if amount is None or amount == "":
        return ""
    value = Decimal(str(amount))
    if not currency:
        return format_number(value)
    return format_currency(value, currency, locale=_number_locale(),
                           group_separator=_grouping())
