"""Text-like field types: what a user's input becomes, and what is refused with which reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import String, Text

from metacrm.fieldtypes import FieldTypeRegistry, FieldValueError
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]


def normalize(
    registry: FieldTypeRegistry, make_field: MakeField, doc: dict[str, Any], value: Any
) -> Any:
    fdef = make_field(doc)
    return registry.get(fdef.type).normalize(fdef, value)


class TestText:
    def test_trims_surrounding_whitespace(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        assert normalize(registry, make_field, {"type": "text"}, "  Acme Ltd \n") == "Acme Ltd"

    @pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
    def test_blank_input_is_no_value(
        self, registry: FieldTypeRegistry, make_field: MakeField, blank: str
    ) -> None:
        assert normalize(registry, make_field, {"type": "text"}, blank) is None

    def test_keeps_non_ascii_text(self, registry: FieldTypeRegistry, make_field: MakeField) -> None:
        assert normalize(registry, make_field, {"type": "text"}, "Жёлтый 50%_") == "Жёлтый 50%_"

    def test_refuses_text_longer_than_max_length(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        with pytest.raises(FieldValueError, match="must be at most 5 characters"):
            normalize(registry, make_field, {"type": "text", "max_length": 5}, "abcdef")

    def test_default_max_length_is_255(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({"type": "text"})
        (column,) = registry.get("text").columns(fdef)
        assert isinstance(column.type, String) and column.type.length == 255
        with pytest.raises(FieldValueError, match="at most 255"):
            registry.get("text").normalize(fdef, "x" * 256)

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            (42, "must be a string"),
            (["a"], "must be a string"),
            ("a\x00b", "NUL"),
            ("\ud800", "not valid Unicode"),
        ],
    )
    def test_refuses_what_no_database_stores(
        self, registry: FieldTypeRegistry, make_field: MakeField, value: Any, reason: str
    ) -> None:
        with pytest.raises(FieldValueError, match=reason):
            normalize(registry, make_field, {"type": "text"}, value)

    @pytest.mark.parametrize("max_length", [0, 10001, "20", True])
    def test_max_length_option_is_checked(
        self, registry: FieldTypeRegistry, make_field: MakeField, max_length: Any
    ) -> None:
        errors = registry.option_errors(make_field({"type": "text", "max_length": max_length}))
        assert errors == [("max_length", "must be an integer from 1 to 10000")]

    def test_unknown_option_is_reported_by_name(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        errors = registry.option_errors(make_field({"type": "text", "precision": 3}))
        assert [name for name, _ in errors] == ["precision"]

    def test_default_must_fit(self, registry: FieldTypeRegistry, make_field: MakeField) -> None:
        fdef = make_field({"type": "text", "max_length": 3, "default": "long"})
        assert registry.option_errors(fdef) == [
            ("default", "default value must be at most 3 characters")
        ]


class TestTextarea:
    def test_keeps_lines_and_indentation(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        text = "  line one\n\n    line two  "
        assert normalize(registry, make_field, {"type": "textarea"}, text) == text

    def test_is_unbounded_unless_max_length_is_set(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        (column,) = registry.get("textarea").columns(make_field({"type": "textarea"}))
        assert isinstance(column.type, Text)
        assert getattr(column.type, "length", None) is None
        assert normalize(registry, make_field, {"type": "textarea"}, "x" * 50000) == "x" * 50000
        with pytest.raises(FieldValueError, match="at most 10"):
            normalize(registry, make_field, {"type": "textarea", "max_length": 10}, "x" * 11)


class TestEmail:
    def test_lowercases_the_domain_but_not_the_local_part(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        email = normalize(registry, make_field, {"type": "email"}, " Ivan.Petrov@Example.COM ")
        assert email == "Ivan.Petrov@example.com"

    def test_keeps_international_domains_readable(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        assert normalize(registry, make_field, {"type": "email"}, "info@Пример.РФ") == (
            "info@пример.рф"
        )

    @pytest.mark.parametrize(
        "bad", ["ivan", "ivan@", "@example.com", "a b@example.com", "ivan@example..com"]
    )
    def test_refuses_invalid_addresses(
        self, registry: FieldTypeRegistry, make_field: MakeField, bad: str
    ) -> None:
        with pytest.raises(FieldValueError, match="is not a valid email address"):
            normalize(registry, make_field, {"type": "email"}, bad)


class TestPhone:
    @pytest.mark.parametrize(
        ("written", "e164"),
        [
            ("+7 (912) 345-67-89", "+79123456789"),
            ("+1 415-555-0132", "+14155550132"),
            ("+44 20 7946 0958", "+442079460958"),
        ],
    )
    def test_international_numbers_become_e164(
        self, registry: FieldTypeRegistry, make_field: MakeField, written: str, e164: str
    ) -> None:
        assert normalize(registry, make_field, {"type": "phone"}, written) == e164

    def test_national_numbers_use_the_default_region(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        doc = {"type": "phone", "default_region": "RU"}
        assert normalize(registry, make_field, doc, "8 (912) 345-67-89") == "+79123456789"

    def test_national_number_without_region_is_refused(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        with pytest.raises(FieldValueError, match=r"must start with \+ and the country code"):
            normalize(registry, make_field, {"type": "phone"}, "912 345 67 89")

    @pytest.mark.parametrize("bad", ["+7 123", "+1 000 000 0000", "+call me", "+"])
    def test_refuses_numbers_that_cannot_exist(
        self, registry: FieldTypeRegistry, make_field: MakeField, bad: str
    ) -> None:
        with pytest.raises(FieldValueError, match="is not a valid phone number"):
            normalize(registry, make_field, {"type": "phone"}, bad)

    @pytest.mark.parametrize("region", ["XX", "ru", 7])
    def test_default_region_option_is_checked(
        self, registry: FieldTypeRegistry, make_field: MakeField, region: Any
    ) -> None:
        errors = registry.option_errors(make_field({"type": "phone", "default_region": region}))
        assert [name for name, _ in errors] == ["default_region"]


class TestUrl:
    def test_lowercases_scheme_and_host_only(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        url = normalize(registry, make_field, {"type": "url"}, "HTTPS://Example.COM/Path?Q=A")
        assert url == "https://example.com/Path?Q=A"

    @pytest.mark.parametrize(
        ("bad", "reason"),
        [
            ("example.com", "must start with http:// or https://"),
            ("ftp://example.com", "must start with http:// or https://"),
            ("https://", "must name a host"),
            ("https://exa mple.com", "must not contain spaces"),
            ('https://example.com/"onmouseover="x', 'must not contain ", < or >'),
            ("https://example.com/<script>", 'must not contain ", < or >'),
            ("http://example.com:99999", "is not a valid URL"),
        ],
    )
    def test_refuses_what_is_not_a_web_address(
        self, registry: FieldTypeRegistry, make_field: MakeField, bad: str, reason: str
    ) -> None:
        with pytest.raises(FieldValueError, match=reason):
            normalize(registry, make_field, {"type": "url"}, bad)
