"""`GET /api/v1/records/<entity>/export?format=csv|xlsx`: the records the caller may read and
export, with the list's `filter[...]`, `q`, `sort` and `fields` parameters; display values
(`raw=1`: JSON values, ids first). CSV is streamed as it is read; XLSX is written to a
temporary file row by row and then sent in chunks — constant memory either way
(services.export.rows, services.export.files)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator

from flask import Blueprint, Response, request, stream_with_context

from metacrm.api import API_PREFIX
from metacrm.api.context import api_services, request_subject, visible_entity
from metacrm.api.request_parsing import parse_list_args
from metacrm.kernel.errors import ErrorDetail, ValidationFailed
from metacrm.services.export.files import CSV_MIMETYPE, XLSX_MIMETYPE, csv_lines, write_xlsx
from metacrm.services.export.rows import RecordExport, plan_export

exports_api = Blueprint("metacrm_exports", __name__, url_prefix=f"{API_PREFIX}/records")

FORMATS = ("csv", "xlsx")
EXPORT_PARAMETERS = frozenset({"format", "raw"})
CHUNK = 64 * 1024


@exports_api.get("/<entity>/export")
def export_records(entity: str) -> Response:
    _, subject = request_subject()
    definition = visible_entity(subject, entity)
    pairs = request.args.items(multi=True)
    own = {name: value for name, value in pairs if name in EXPORT_PARAMETERS}
    file_format, raw = _options(own)
    query = parse_list_args([(n, v) for n, v in request.args.items(multi=True)
                             if n not in EXPORT_PARAMETERS and n not in ("limit", "cursor")],
                            definition, api_services().registry)
    export = plan_export(api_services().records, subject, entity, criteria=query.criteria,
                         q=query.q, sort=query.sort, fields=query.fields, raw=raw)
    name = f"{entity}.{file_format}"
    headers = {"Content-Disposition": f'attachment; filename="{name}"',
               "Cache-Control": "no-store"}
    if file_format == "csv":
        body = stream_with_context(_utf8(csv_lines(export.headers, export.rows)))
        return Response(body, mimetype=CSV_MIMETYPE, headers=headers)
    return Response(stream_with_context(_xlsx_chunks(export)), mimetype=XLSX_MIMETYPE,
                    headers=headers)


def _options(own: dict[str, str]) -> tuple[str, bool]:
    file_format = own.get("format", "csv")
    errors = []
    if file_format not in FORMATS:
        errors.append(ErrorDetail(f"must be one of {', '.join(FORMATS)}", "/format"))
    raw = own.get("raw", "0")
    if raw not in ("0", "1", "true", "false"):
        errors.append(ErrorDetail("must be 1 or 0", "/raw"))
    if errors:
        raise ValidationFailed("invalid export", errors)
    return file_format, raw in ("1", "true")


def _utf8(lines: Iterator[str]) -> Iterator[bytes]:
    yield "\ufeff".encode()  # a BOM, so spreadsheet programs read UTF-8
    for line in lines:
        yield line.encode()


def _xlsx_chunks(export: RecordExport) -> Iterator[bytes]:
    with tempfile.TemporaryFile() as spool:
        write_xlsx(spool, export.entity.name, export.headers, export.rows)
        spool.seek(0)
        while chunk := spool.read(CHUNK):
            yield chunk
