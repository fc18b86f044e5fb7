"""An import as people read it: the status document (API, CLI, screens), the error file's
cells, the progress estimate."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from metacrm.fieldtypes.temporal import datetime_to_json
from metacrm.imports import ledger
from metacrm.imports.readers import TableReader

REVERT_DAYS = 30
"""How long after it finished an import can be reverted."""


def estimate_rows(content: bytes, reader: TableReader) -> int | None:
    """Rows in the file for the progress bar: CSV lines (quoted line breaks overcount),
    the worksheet's dimension for XLSX (None when the workbook does not say)."""
    if reader.info.format == "csv":
        return max(content.count(b"\n") - 1 + (0 if content.endswith(b"\n") else 1), 0)
    return reader.dimension_rows()


def safe_cell(value: str) -> str:
    """A cell as written back: text that a spreadsheet would run as a formula is quoted."""
    return "'" + value if value[:1] in ("=", "+", "-", "@") and not _number(value) else value


def _number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def import_json(stored: ledger.StoredImport, *, base_url: str = "/api/v1/imports"
                ) -> dict[str, Any]:
    """An import as the API and the CLI show it."""
    options = stored.options
    total = stored.total_rows
    failed = int(stored.counts.get(ledger.ROW_FAILED, 0))
    dry = bool(options.get("dry_run"))
    summary = stored.summary or {}
    revertible = (stored.status in (ledger.COMPLETED, ledger.FAILED) and not dry
                  and stored.finished_at is not None)
    return {
        "id": stored.id,
        "entity": stored.entity,
        "status": stored.status,
        "mode": options.get("mode"),
        "key": options.get("key", []),
        "dry_run": dry,
        "silent": bool(options.get("silent")),
        "file_name": stored.file_name,
        "file_sha256": stored.file_hash,
        "mapping": options.get("mapping"),
        "counts": {name: int(stored.counts.get(name, 0)) for name in
                   (*ledger.OUTCOMES, "references_created")},
        "progress": {"processed": stored.processed_rows, "total": total,
                     "percent": (100 if stored.status == ledger.COMPLETED else
                                 min(99, stored.processed_rows * 100 // total)
                                 if total else 0)},
        "columns": summary.get("columns", {}),
        "errors": summary.get("errors", []),
        "warnings": summary.get("warnings", []),
        "error": stored.error,
        "error_file": (f"{base_url}/{stored.id}/errors" if failed and not dry else None),
        "created_at": datetime_to_json(stored.created_at),
        "finished_at": (datetime_to_json(stored.finished_at)
                        if stored.finished_at else None),
        "reverted_at": (datetime_to_json(stored.reverted_at)
                        if stored.reverted_at else None),
        "revertible_until": (datetime_to_json(stored.finished_at
                                              + timedelta(days=REVERT_DAYS))
                             if revertible and stored.finished_at else None),
    }
