"""The `file` field type: one or many uploaded files held by a field of a record.

The files themselves are attachments of the record (`metacrm.files`), tagged with the
field's name; the field's column holds how many there are, kept by the file service as
files are uploaded to the field (`POST …/attachments` with the form part `field`) or
removed. Clients cannot write the count: only a `FileCount` the file service makes passes
`normalize`. Options: `multiple` (default false: one file), `max_size` (bytes, at most the
instance's upload limit), `accept` (content types such as `application/pdf` or `image/*`,
matched against the type sniffed from the bytes).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import fields as ma_fields
from sqlalchemy import Integer

from metacrm.fieldtypes.base import ORDERED_OPERATORS, ColumnSpec, FieldType, FieldValueError
from metacrm.fieldtypes.common import FieldTypeField, OptionErrors, int_option
from metacrm.metadata.model import FieldDef

MEDIA_TYPE = re.compile(r"^[a-z0-9][a-z0-9.+-]*/(\*|[a-z0-9][a-z0-9.+-]*)$")
MAX_ACCEPT = 50


class FileCount(int):
    """How many files a file field holds, as only the file service states it."""


class FileType(FieldType):
    name = "file"
    operators = ORDERED_OPERATORS
    option_names = frozenset({"multiple", "max_size", "accept"})

    def columns(self, field: FieldDef) -> list[ColumnSpec]:
        return [ColumnSpec(field.name, Integer())]

    def normalize(self, field: FieldDef, value: Any) -> int:
        if isinstance(value, FileCount):
            return int(value)
        raise FieldValueError("holds uploaded files: upload them to the record's "
                              f"attachments with the form part field={field.name}")

    def coerce_operand(self, field: FieldDef, value: Any) -> Any:
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise FieldValueError("must be a number of files")
        return value

    def default(self, field: FieldDef) -> None:
        return None

    def option_errors(self, field: FieldDef) -> OptionErrors:
        errors: OptionErrors = []
        multiple = field.option("multiple")
        if multiple is not None and not isinstance(multiple, bool):
            errors.append(("multiple", "must be true or false"))
        int_option(field, "max_size", None, 1, 10 ** 12, errors)
        accept = field.option("accept")
        if accept is not None and (
                not isinstance(accept, list | tuple) or not 0 < len(accept) <= MAX_ACCEPT
                or not all(isinstance(a, str) and MEDIA_TYPE.match(a) for a in accept)):
            errors.append(("accept", "must list content types such as 'application/pdf' "
                                     "or 'image/*'"))
        if field.default is not None:
            errors.append(("default", "file fields hold uploaded files, not a default"))
        return errors

    def value_schema(self, field: FieldDef) -> dict[str, Any]:
        return {"type": "integer", "minimum": 0, "readOnly": True,
                "description": "How many files the field holds (upload them to the record's "
                               "attachments with the form part `field`)."}

    def marshmallow_field(self, field: FieldDef) -> ma_fields.Field[Any]:
        return FieldTypeField(self, field, dump_only=True)
