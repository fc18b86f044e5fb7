"""The designer's field form for `file` fields: its options become the field definition
and come back into the form unchanged."""

from __future__ import annotations

from metacrm.fieldtypes import default_registry
from metacrm.web.designer.entity_forms import field_body, field_form_values


def test_file_options_round_trip_through_the_field_form() -> None:
    options = default_registry().get("file").option_names
    form = {"name": "scan", "type": "file", "label_en": "Scan", "label_ru": "Скан",
            "multiple": "true", "max_size": "1048576",
            "accept": "application/pdf, Image/*"}
    body = field_body(form, option_names=options)
    assert body["multiple"] is True
    assert body["max_size"] == 1048576
    assert body["accept"] == ["application/pdf", "image/*"]
    again = field_body(field_form_values({**body, "type": "file"}) | {"type": "file"},
                       option_names=options)
    assert {key: again[key] for key in ("multiple", "max_size", "accept")} == \
        {key: body[key] for key in ("multiple", "max_size", "accept")}
    assert field_body({**form, "multiple": "false"}, option_names=options)["multiple"] is False
