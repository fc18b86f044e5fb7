"""Whether a lookup default may be taken: a price list's validity dates, flag and currency.

A deal or quote line takes its unit price from its parent's price list (`default_lookup`).
Serious CRMs never price from a list that does not apply: Dynamics refuses a price list
outside its validity dates, Salesforce a price book in another currency than the
opportunity. `default_lookup.valid` declares the same here, and `check_validity` refuses
the save (422, naming the field) when a line would take its price from a list that is
inactive, not valid on the document's date, or in another currency than the document's
other lines — so a rep sees why no price came and either types one or picks a current list.
A price typed in by the caller is never checked: an explicit price always wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa

from metacrm.access.system_records import SystemRecords
from metacrm.fieldtypes.money import Money
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.metadata.model import CompiledModel, EntityDef, FieldDef, LookupValidity

Load = Callable[[str, Any], Mapping[str, Any] | None]


def check_validity(
    conn: sa.Connection, system: SystemRecords, model: CompiledModel, definition: EntityDef,
    fdef: FieldDef, valid: LookupValidity, record: Mapping[str, Any], load: Load,
    now: datetime,
) -> tuple[Mapping[str, Any], str] | None:
    """The governing record (the price list) and how messages name it when it applies,
    None when this record names none; raises `ValidationFailed` naming `fdef` when it
    does not apply."""
    governing, label, via = _governing(model, definition, valid, record, load)
    if governing is None:
        return None
    title = _title(label, governing)
    pointer = f"/{fdef.name}"
    if valid.active is not None and governing.get(valid.active) is False:
        raise _refused(pointer, f"{title} is not active; type the {fdef.name} or choose an "
                                "active one")
    on = _date(path_value(definition, record, valid.on, load)) if valid.on else None
    on = on or now.astimezone(UTC).date()
    start = _date(governing.get(valid.valid_from)) if valid.valid_from else None
    end = _date(governing.get(valid.valid_to)) if valid.valid_to else None
    if (start is not None and on < start) or (end is not None and on > end):
        span = f"{start.isoformat() if start else '…'} – {end.isoformat() if end else '…'}"
        raise _refused(pointer, f"{title} is valid {span}, not on {on.isoformat()}; type "
                                f"the {fdef.name} or choose a list valid then")
    if valid.currency is not None:
        _check_siblings(conn, system, definition, fdef, via, record,
                        str(governing.get(valid.currency) or ""), title)
    return governing, title


def check_found_currency(fdef: FieldDef, valid: LookupValidity,
                         governing: tuple[Mapping[str, Any], str], found: Any) -> None:
    """The price found must be in the list's currency (an item priced in another currency
    than its list is a mistake in the list, not a price to sell at)."""
    record, title = governing
    if valid.currency is None or not isinstance(found, Money):
        return
    currency = str(record.get(valid.currency) or "")
    if currency and found.currency != currency:
        raise _refused(f"/{fdef.name}", f"{title} is in {currency} but its price for "
                                        f"this product is in {found.currency}; type the "
                                        f"{fdef.name} or correct the list")


def _check_siblings(conn: sa.Connection, system: SystemRecords, definition: EntityDef,
                    fdef: FieldDef, via: str | None, record: Mapping[str, Any],
                    currency: str, title: str) -> None:
    """The other records sharing the parent (the quote's other lines) are in `currency`."""
    parent = record.get(via) if via else None
    if parent is None or not currency:
        return
    conditions: list[Any] = [
        {"field": via, "op": "eq", "value": str(parent)},
        {"field": fdef.name, "op": "is_null", "value": False}]
    if record.get("id") is not None:
        conditions.append({"field": "id", "op": "ne", "value": str(record["id"])})
    page = system.query(conn, definition.name, criteria={"and": conditions}, limit=1)
    other = page.records[0].get(fdef.name) if page.records else None
    if isinstance(other, Money) and other.currency != currency:
        raise _refused(f"/{fdef.name}", f"{title} is in {currency} but the other lines are "
                                        f"in {other.currency}; type the {fdef.name} or "
                                        "choose a list in that currency")


def _governing(model: CompiledModel, definition: EntityDef, valid: LookupValidity,
               record: Mapping[str, Any], load: Load
               ) -> tuple[Mapping[str, Any] | None, str, str | None]:
    """The record `valid.record` points at (loaded), its entity's label, and the parent
    reference the path goes through (`quote` for `quote.price_list`; None when direct)."""
    ref, dot, attr = valid.record.partition(".")
    holder = definition.field(ref)
    target_id = path_value(definition, record, valid.record, load)
    if target_id is None or holder is None:
        return None, "", None
    reference: FieldDef | None = holder
    if dot:
        parent_def = model.entities.get(holder.target_entity or "")
        reference = parent_def.field(attr) if parent_def is not None else None
    target = model.entities.get(reference.target_entity or "") if reference else None
    if target is None:
        return None, "", None
    return load(target.name, target_id), target.label.get("en", target.name), \
        ref if dot else None


def path_value(definition: EntityDef, record: Mapping[str, Any], path: str,
               load: Load) -> Any:
    """The value at `path` of `record`: `field`, or one hop `ref.field`."""
    ref, _dot, attr = path.partition(".")
    value = record.get(ref)
    if not attr or value is None:
        return value
    fdef = definition.field(ref)
    loaded = load(fdef.target_entity or "", value) if fdef is not None else None
    return None if loaded is None else loaded.get(attr)


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, str) and value:
        try:
            return date.fromisoformat(value[:10])
        except ValueError:
            return None
    return None


def _title(label: str, governing: Mapping[str, Any]) -> str:
    name = governing.get("name")
    return f"the {label.lower()} '{name}'" if name else f"the {label.lower()}"


def _refused(pointer: str, message: str) -> ValidationFailed:
    return ValidationFailed("no default from the governing record",
                            [ErrorDetail(message, pointer)])
