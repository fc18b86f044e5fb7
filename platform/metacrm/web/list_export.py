"""A list as CSV: the id, every field the user may see, and the owner and timestamps.

Values are written in their JSON form (ISO dates, plain decimals, picklist values, ids of
referenced records and users), so the file reads back into an import unchanged. Text that a
spreadsheet would run as a formula (`=`, `+`, `-`, `@` first) gets a leading apostrophe.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from typing import Any

from metacrm.metadata.model import EntityDef
from metacrm.services.record_export import ExportRows

TRAILING_COLUMNS = ("owner", "created_at", "updated_at")
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
NUMERIC_TYPES = frozenset({"integer", "decimal", "percent", "money", "date", "datetime",
                           "auto_number"})


def csv_text(entity: EntityDef, rows: ExportRows) -> str:
    columns = ("id", *rows.fields, *TRAILING_COLUMNS)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(columns)
    for record in rows.records:
        writer.writerow([_cell(entity, name, record.get(name)) for name in columns])
    return out.getvalue()


def _cell(entity: EntityDef, name: str, value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        text = "; ".join(str(item) for item in value)
    elif isinstance(value, Mapping):
        if set(value) <= {"amount", "currency"}:  # money
            text = " ".join(str(value[k]) for k in ("amount", "currency") if value.get(k))
        else:
            text = json.dumps(value, ensure_ascii=False)
    else:
        text = str(value)
    fdef = entity.field(name)
    numeric = fdef is not None and fdef.type in NUMERIC_TYPES
    if not numeric and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
