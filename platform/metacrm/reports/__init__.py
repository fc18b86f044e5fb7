"""The report engine: report documents -> one SQL statement through the access layer ->
`{"columns", "rows", "totals"}` (docs/reports.md)."""
