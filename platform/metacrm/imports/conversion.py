"""One row of text into field values, as the records API takes them.

The converter knows the mapping and the entity; it turns each mapped cell into the JSON
value the field type accepts (numbers and dates read in the mapping's locale, picklist
and state values matched by value, label or the mapping's value table), and leaves
references, user fields and the owner as the text the file gave: `lookups` resolves
those a batch at a time. Problems are collected per cell — a row with any problem is not
written, and its reasons go to the error file. A blank cell sets nothing (a create keeps
the field's default; an update keeps the stored value).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import ZoneInfo

from metacrm.imports.mapping import OWNER, ImportMapping
from metacrm.imports.readers import SourceRow
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef

TRUE_WORDS = frozenset({"true", "yes", "y", "1", "x", "да", "д", "истина", "on"})
FALSE_WORDS = frozenset({"false", "no", "n", "0", "нет", "н", "ложь", "off"})
DATE_FORMATS = {"en": ("%m/%d/%Y", "%m/%d/%y", "%d %b %Y", "%b %d, %Y"),
                "ru": ("%d.%m.%Y", "%d.%m.%y", "%d/%m/%Y")}
TIME_SUFFIXES = (" %H:%M:%S", " %H:%M", "")
CURRENCY = re.compile(r"^\s*([A-Za-z]{3})?\s*([^A-Za-z]*?)\s*([A-Za-z]{3})?\s*$")
SPACES = re.compile(r"[\s\u00a0\u202f']")
LOOKED_UP = frozenset({"reference", "user"})
"""Field types whose cell text is resolved by `lookups` (a batch at a time)."""


@dataclass
class ConvertedRow:
    """A row's values (field -> API input), the texts still to resolve, its problems."""

    number: int
    source: dict[str, str]
    values: dict[str, Any] = field(default_factory=dict)
    states: dict[str, str] = field(default_factory=dict)
    """State fields: set by the import as the engine (a migration keeps a deal's stage)."""
    lookups: dict[str, str] = field(default_factory=dict)
    """Reference and user fields (and `owner`): the text naming the record or user."""
    errors: list[tuple[str, str]] = field(default_factory=list)
    """(column, reason)."""

    @property
    def failed(self) -> bool:
        return bool(self.errors)

    def reason(self) -> str:
        return "; ".join(f"{column}: {message}" if column else message
                         for column, message in self.errors)


class ConversionError(ValueError):
    """A cell that cannot become a value of its field."""


class RowConverter:
    """Converts rows of one file for one entity with one mapping."""

    def __init__(self, model: CompiledModel, entity: EntityDef, mapping: ImportMapping,
                 ) -> None:
        self.entity = entity
        self.mapping = mapping
        self.zone = ZoneInfo(mapping.timezone)
        self._fields: dict[str, FieldDef | None] = {
            column: entity.field(name) for column, name in mapping.columns.items()}
        self._states: dict[str, Mapping[str, str]] = {}
        for fdef in entity.fields:
            pipeline = model.pipelines.get(str(fdef.option("pipeline", "")))
            if fdef.type == "state" and pipeline is not None:
                self._states[fdef.name] = _matcher(
                    (state.name, state.label) for state in pipeline.states)
        self._folded = {name: {str(k).strip().casefold(): v for k, v in table.items()}
                        for name, table in mapping.values.items()}
        self._choices = {
            fdef.name: _matcher((c.value, c.label) for c in fdef.choices)
            for fdef in entity.fields if fdef.choices}

    def convert(self, row: SourceRow) -> ConvertedRow:
        result = ConvertedRow(row.number, row.cells)
        for column, name in self.mapping.columns.items():
            text = row.cells.get(column, "")
            table = self.mapping.values.get(name)
            if table is not None and text in table:
                mapped = table[text]
                if mapped is None:
                    continue
                text = str(mapped)
            elif table is not None and (
                    folded := self._folded[name].get(text.strip().casefold())) is not None:
                text = str(folded)
            text = text.strip()
            if not text:
                continue
            fdef = self._fields[column]
            if fdef is None:  # the owner
                result.lookups[OWNER] = text
                continue
            try:
                if fdef.type in LOOKED_UP:
                    result.lookups[fdef.name] = text
                elif fdef.type == "state":
                    result.states[fdef.name] = self._state(fdef, text)
                else:
                    result.values[fdef.name] = self.value(fdef, text)
            except ConversionError as exc:
                result.errors.append((column, str(exc)))
        return result

    # --- one cell ------------------------------------------------------------------------

    def value(self, fdef: FieldDef, text: str) -> Any:
        kind = fdef.type
        if kind == "integer":
            number = self.number(text)
            if number != number.to_integral_value():
                raise ConversionError(f"{text!r} is not a whole number")
            return int(number)
        if kind in ("decimal", "percent"):
            return str(self.number(text.rstrip("%").strip()))
        if kind == "money":
            return self.money(text)
        if kind == "boolean":
            folded = text.casefold()
            if folded in TRUE_WORDS:
                return True
            if folded in FALSE_WORDS:
                return False
            raise ConversionError(f"{text!r} is not yes or no")
        if kind == "date":
            return self.parse_date(text).isoformat()
        if kind == "datetime":
            return self.parse_datetime(text).isoformat()
        if kind == "picklist":
            return self._choice(fdef, text)
        if kind == "multi_picklist":
            return [self._choice(fdef, part.strip())
                    for part in re.split(r"[;,]", text) if part.strip()]
        if kind == "json":
            try:
                return json.loads(text)
            except ValueError as exc:
                raise ConversionError(f"not JSON: {exc}") from exc
        if kind == "regarding":
            raise ConversionError("links to records of several entities are not imported")
        return text

    def number(self, text: str) -> Decimal:
        """A number as the locale writes it (`1,234.5` / `1 234,5`); `.` always works as
        the decimal point when the text has no other separator."""
        cleaned = SPACES.sub("", text)
        if self.mapping.locale == "ru":
            cleaned = cleaned.replace(",", ".")
        else:
            cleaned = cleaned.replace(",", "")
        if not re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", cleaned):
            raise ConversionError(f"{text!r} is not a number")
        try:
            return Decimal(cleaned)
        except InvalidOperation as exc:
            raise ConversionError(f"{text!r} is not a number") from exc

    def money(self, text: str) -> Any:
        """`1234.50`, `USD 1234.50` or `1 234,50 RUB`: the amount, with a currency when the
        text names one."""
        match = CURRENCY.match(text)
        if match is None or (match.group(1) and match.group(3)):
            raise ConversionError(f"{text!r} is not an amount of money")
        amount = str(self.number(match.group(2).strip("$€₽ ")))
        code = match.group(1) or match.group(3)
        return {"amount": amount, "currency": code.upper()} if code else amount

    def parse_date(self, text: str) -> date:
        formats = ((self.mapping.date_format,) if self.mapping.date_format
                   else DATE_FORMATS[self.mapping.locale])
        try:
            return date.fromisoformat(text)
        except ValueError:
            pass
        for form in formats:
            try:
                return datetime.strptime(text, form).date()
            except ValueError:
                continue
        raise ConversionError(f"{text!r} is not a date (expected {formats[0]} or "
                              "YYYY-MM-DD)")

    def parse_datetime(self, text: str) -> datetime:
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            moment = self._local_datetime(text)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment

    def _local_datetime(self, text: str) -> datetime:
        formats = ((self.mapping.date_format,) if self.mapping.date_format
                   else DATE_FORMATS[self.mapping.locale])
        for form in formats:
            for suffix in TIME_SUFFIXES:
                try:
                    return datetime.strptime(text, form + suffix)
                except ValueError:
                    continue
        raise ConversionError(f"{text!r} is not a date and time")

    def _choice(self, fdef: FieldDef, text: str) -> str:
        found = self._choices.get(fdef.name, {}).get(text.casefold())
        if found is None:
            allowed = ", ".join(fdef.choice_values)
            raise ConversionError(f"{text!r} is not a value of {fdef.name!r} ({allowed}); "
                                  "map it in the mapping's values")
        return found

    def _state(self, fdef: FieldDef, text: str) -> str:
        states = self._states.get(fdef.name, {})
        found = states.get(text.casefold())
        if found is None:
            raise ConversionError(f"{text!r} is not a state of {fdef.name!r} "
                                  f"({', '.join(sorted(set(states.values())))}); map it in "
                                  "the mapping's values")
        return found


def _matcher(items: Any) -> dict[str, str]:
    """Case-folded value and labels (every language) -> value."""
    found: dict[str, str] = {}
    for value, labels in items:
        for text in (value, *labels.values()):
            found.setdefault(str(text).casefold(), value)
    return found
