"""Imports (issue 14): CSV and XLSX files into records, one engine behind the API, the CLI
and (next) the import wizard.

* `readers` — a file's columns and rows, streamed (CSV of any delimiter and encoding, XLSX);
* `mapping` — which column fills which field, value mappings, references, locale; suggested
  from column names and field labels (en/ru); saved per entity under a name;
* `conversion` — one row of text into field values, as the records API would take them;
* `lookups` — references, owners and keys resolved a batch at a time;
* `writer` — one batch in one transaction: creates, updates, whole-record audit, events,
  the per-row ledger; failing rows are left out and recorded, never half-written;
* `ledger` — the import rows (`metacrm_imports`, `metacrm_import_rows`): progress, the
  error file, revert;
* `service` — start (idempotent per file), run as a background job (resumable from the
  last committed batch), dry run, revert, status;
* `duplicates` — the seam where duplicate rules check every row (a no-op until they exist).
"""

FEATURE = "imports"
