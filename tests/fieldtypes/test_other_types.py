"""Boolean, dates, choices, references, users, states, auto-numbers and JSON."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any, ClassVar

import pytest

from metacrm.fieldtypes import FieldTypeRegistry, FieldValueError
from metacrm.fieldtypes.regarding import RecordLink
from metacrm.fieldtypes.special import fiscal_year, format_auto_number
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]

CHOICES = [{"value": "hot"}, {"value": "warm"}, {"value": "cold"}]


@pytest.fixture
def normalize(registry: FieldTypeRegistry, make_field: MakeField) -> Callable[..., Any]:
    def run(doc: dict[str, Any], value: Any) -> Any:
        fdef = make_field(doc)
        return registry.get(fdef.type).normalize(fdef, value)

    return run


def option_names(registry: FieldTypeRegistry, fdef: FieldDef) -> list[str]:
    return [name for name, _ in registry.option_errors(fdef)]


class TestBoolean:
    @pytest.mark.parametrize(
        ("given", "expected"),
        [(True, True), (False, False), (1, True), (0, False), ("Yes", True), ("false", False)],
    )
    def test_accepts_yes_and_no(self, normalize: Any, given: Any, expected: bool) -> None:
        assert normalize({"type": "boolean"}, given) is expected

    @pytest.mark.parametrize("bad", [2, "maybe", 1.5, []])
    def test_refuses_anything_else(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError, match="must be true or false"):
            normalize({"type": "boolean"}, bad)


class TestDate:
    def test_reads_iso_dates(self, normalize: Any) -> None:
        assert normalize({"type": "date"}, "2024-02-29") == date(2024, 2, 29)

    @pytest.mark.parametrize("bad", ["2023-02-29", "29.02.2024", "2024-02-29T10:00:00Z", 20240229])
    def test_refuses_what_is_not_a_day(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError, match="must be a date in the form YYYY-MM-DD"):
            normalize({"type": "date"}, bad)

    def test_refuses_a_datetime(self, normalize: Any) -> None:
        with pytest.raises(FieldValueError, match="without a time"):
            normalize({"type": "date"}, datetime(2024, 1, 1, tzinfo=UTC))

    def test_today_default(self, registry: FieldTypeRegistry, make_field: MakeField) -> None:
        fdef = make_field({"type": "date", "default": "$today"})
        assert registry.option_errors(fdef) == []
        assert registry.get("date").default(fdef) in (
            datetime.now(UTC).date(),
            (datetime.now(UTC) - timedelta(minutes=1)).date(),
        )


class TestDateTime:
    def test_offsets_are_converted_to_utc(self, normalize: Any) -> None:
        value = normalize({"type": "datetime"}, "2024-05-01T12:30:00+03:00")
        assert value == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
        assert value.utcoffset() == timedelta(0)

    def test_accepts_z_and_lower_case_rfc3339(self, normalize: Any) -> None:
        expected = datetime(2024, 5, 1, 9, 30, 0, 123000, tzinfo=UTC)
        assert normalize({"type": "datetime"}, "2024-05-01T09:30:00.123Z") == expected
        assert normalize({"type": "datetime"}, "2024-05-01t09:30:00.123z") == expected

    def test_naive_input_is_refused(self, normalize: Any) -> None:
        with pytest.raises(FieldValueError, match="must include a time zone offset"):
            normalize({"type": "datetime"}, "2024-05-01T09:30:00")
        with pytest.raises(FieldValueError, match="must include a time zone offset"):
            normalize({"type": "datetime"}, datetime(2024, 5, 1, 9, 30))

    @pytest.mark.parametrize("bad", ["2024-05-01", "yesterday", 1714550000, date(2024, 5, 1)])
    def test_refuses_what_is_not_a_moment(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError, match="must be a date and time"):
            normalize({"type": "datetime"}, bad)

    def test_refuses_moments_outside_the_calendar(self, normalize: Any) -> None:
        with pytest.raises(FieldValueError, match="outside the supported range"):
            normalize({"type": "datetime"}, "0001-01-01T00:30:00+01:00")

    def test_json_is_rfc3339_utc_with_z(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({"type": "datetime"})
        moment = datetime(2024, 5, 1, 12, 0, tzinfo=timezone(timedelta(hours=3)))
        assert registry.get("datetime").to_json(fdef, moment) == "2024-05-01T09:00:00Z"

    def test_now_default(self, registry: FieldTypeRegistry, make_field: MakeField) -> None:
        fdef = make_field({"type": "datetime", "default": "$now"})
        before = datetime.now(UTC)
        value = registry.get("datetime").default(fdef)
        assert before <= value <= datetime.now(UTC)


class TestPicklist:
    def test_accepts_declared_values_only(self, normalize: Any) -> None:
        doc = {"type": "picklist", "choices": CHOICES}
        assert normalize(doc, "warm") == "warm"
        with pytest.raises(FieldValueError, match="must be one of: hot, warm, cold"):
            normalize(doc, "Warm")

    @pytest.mark.parametrize(
        "choices",
        [
            [],
            [{"value": "a"}, {"value": "A"}],
            [{"value": "a;b"}],
            [{"value": " a"}],
            [{"value": "x" * 65}],
        ],
    )
    def test_bad_choices_are_option_errors(
        self, registry: FieldTypeRegistry, make_field: MakeField, choices: list[Any]
    ) -> None:
        assert option_names(registry, make_field({"type": "picklist", "choices": choices})) == [
            "choices"
        ]

    def test_default_must_be_a_choice(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({"type": "picklist", "choices": CHOICES, "default": "boiling"})
        assert option_names(registry, fdef) == ["default"]


class TestMultiPicklist:
    DOC: dict[str, Any] = {"type": "multi_picklist", "name": "tags", "choices": CHOICES}  # noqa: RUF012

    def test_values_come_in_declared_order_once(self, normalize: Any) -> None:
        assert normalize(self.DOC, ["cold", "hot", "cold"]) == ("hot", "cold")

    def test_empty_selection_is_no_value(self, normalize: Any) -> None:
        assert normalize(self.DOC, []) is None

    @pytest.mark.parametrize("bad", ["hot", ["boiling"], [1], {"hot": True}])
    def test_refuses_unknown_values(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError):
            normalize(self.DOC, bad)

    def test_storage_is_delimited_text(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef, multi = make_field(self.DOC), registry.get("multi_picklist")
        assert multi.to_storage(fdef, ("hot", "cold")) == {"tags": ";hot;cold;"}
        assert multi.from_storage(fdef, {"tags": ";cold;hot;"}) == ("hot", "cold")
        assert multi.to_storage(fdef, None) == {"tags": None}
        assert multi.from_storage(fdef, {"tags": None}) is None

    def test_values_of_removed_choices_are_still_read(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field(self.DOC)
        assert registry.get("multi_picklist").from_storage(fdef, {"tags": ";gone;hot;"}) == (
            "hot",
            "gone",
        )

    def test_criteria_contains_takes_one_choice(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field(self.DOC)
        assert registry.coerce(fdef, "warm") == "warm"
        with pytest.raises(ValueError, match="must be one of"):
            registry.coerce(fdef, "boiling")


class TestReference:
    def test_ids_are_canonical_uuids(self, normalize: Any) -> None:
        doc = {"type": "reference", "entity": "company"}
        value = normalize(doc, "0190F5A8-1C2B-7D3E-8F40-123456789ABC")
        assert value == "0190f5a8-1c2b-7d3e-8f40-123456789abc"
        with pytest.raises(FieldValueError, match="is not a valid record id"):
            normalize(doc, "42")

    @pytest.mark.parametrize(
        ("on_delete", "sql"),
        [(None, "SET NULL"), ("restrict", "RESTRICT"), ("cascade", "CASCADE")],
    )
    def test_column_has_a_foreign_key(
        self, registry: FieldTypeRegistry, make_field: MakeField, on_delete: str | None, sql: str
    ) -> None:
        doc: dict[str, Any] = {"type": "reference", "name": "company", "entity": "company"}
        if on_delete:
            doc["on_delete"] = on_delete
        (column,) = registry.get("reference").columns(make_field(doc))
        assert (column.name, column.foreign_key, column.ondelete) == (
            "company",
            "crm_company.id",
            sql,
        )

    @pytest.mark.parametrize(
        ("options", "option"),
        [
            ({}, "entity"),
            ({"entity": "Company"}, "entity"),
            ({"entity": "company", "on_delete": "nothing"}, "on_delete"),
        ],
    )
    def test_options_are_checked(
        self,
        registry: FieldTypeRegistry,
        make_field: MakeField,
        options: dict[str, Any],
        option: str,
    ) -> None:
        assert option_names(registry, make_field({"type": "reference", **options})) == [option]


class TestRegarding:
    DOC: ClassVar[dict[str, Any]] = {"type": "regarding", "entities": ["lead", "company"]}
    ID = "0190f5a8-1c2b-7d3e-8f40-123456789abc"

    def test_a_link_names_an_allowed_entity_and_a_record_id(self, normalize: Any) -> None:
        assert normalize(self.DOC, {"entity": "lead", "id": self.ID.upper()}) == RecordLink(
            "lead", self.ID)
        assert normalize(self.DOC, f"company:{self.ID}") == RecordLink("company", self.ID)
        with pytest.raises(FieldValueError, match="entity must be one of: lead, company"):
            normalize(self.DOC, {"entity": "deal", "id": self.ID})
        with pytest.raises(FieldValueError, match="is not a valid record id"):
            normalize(self.DOC, {"entity": "lead", "id": "42"})
        with pytest.raises(FieldValueError, match="unknown keys"):
            normalize(self.DOC, {"entity": "lead", "id": self.ID, "title": "x"})
        with pytest.raises(FieldValueError, match=re.escape('must be {"entity"')):
            normalize(self.DOC, self.ID)

    def test_criteria_compare_the_id(self, registry: FieldTypeRegistry,
                                     make_field: MakeField) -> None:
        fdef = make_field(self.DOC)
        field_type = registry.get("regarding")
        assert field_type.coerce_operand(fdef, self.ID) == self.ID
        assert field_type.criteria_value(fdef, RecordLink("lead", self.ID)) == self.ID

    @pytest.mark.parametrize(("options", "option"), [
        ({}, "entities"), ({"entities": []}, "entities"), ({"entities": ["Lead"]}, "entities"),
        ({"entities": ["lead", "lead"]}, "entities"),
        ({"entities": ["lead"], "on_delete": "nothing"}, "on_delete"),
    ])
    def test_options_are_checked(self, registry: FieldTypeRegistry, make_field: MakeField,
                                 options: dict[str, Any], option: str) -> None:
        assert option_names(registry, make_field({"type": "regarding", **options})) == [option]


class TestUserAndState:
    def test_user_ids_are_trimmed_text(self, normalize: Any) -> None:
        assert normalize({"type": "user"}, " u-17 ") == "u-17"
        with pytest.raises(FieldValueError, match="must not be empty"):
            normalize({"type": "user"}, "  ")
        with pytest.raises(FieldValueError, match="at most 64 characters"):
            normalize({"type": "user"}, "u" * 65)

    def test_state_needs_its_pipeline(
        self, registry: FieldTypeRegistry, make_field: MakeField, normalize: Any
    ) -> None:
        assert option_names(registry, make_field({"type": "state"})) == ["pipeline"]
        assert option_names(registry, make_field({"type": "state", "pipeline": "sales"})) == []
        assert normalize({"type": "state", "pipeline": "sales"}, "qualified") == "qualified"


class TestAutoNumber:
    def test_format_pads_to_the_digits(self, make_field: MakeField) -> None:
        fdef = make_field({"type": "auto_number", "prefix": "INV-", "digits": 5})
        assert format_auto_number(fdef, 42) == "INV-00042"
        assert format_auto_number(fdef, 1234567) == "INV-1234567"
        assert format_auto_number(make_field({"type": "auto_number"}), 7) == "000007"

    def test_numbers_per_fiscal_year_carry_the_year(self, make_field: MakeField) -> None:
        yearly = make_field({"type": "auto_number", "prefix": "INV-{year}-", "digits": 4,
                             "per": "fiscal_year"})
        assert fiscal_year(yearly, datetime(2026, 1, 1, tzinfo=UTC)) == 2026
        assert format_auto_number(yearly, 1, 2026) == "INV-2026-0001"
        april = make_field({"type": "auto_number", "prefix": "FY{year}/", "per": "fiscal_year",
                            "fiscal_year_start": 4})
        assert fiscal_year(april, datetime(2027, 3, 31, tzinfo=UTC)) == 2026
        assert fiscal_year(april, datetime(2027, 4, 1, tzinfo=UTC)) == 2027
        assert fiscal_year(make_field({"type": "auto_number"}),
                           datetime(2027, 4, 1, tzinfo=UTC)) is None

    def test_a_year_in_the_prefix_needs_numbering_per_year(
            self, registry: FieldTypeRegistry, make_field: MakeField) -> None:
        assert option_names(registry, make_field(
            {"type": "auto_number", "prefix": "INV-{year}-"})) == ["prefix"]
        assert option_names(registry, make_field(
            {"type": "auto_number", "per": "month", "fiscal_year_start": 13})) == [
            "per", "fiscal_year_start"]

    def test_clients_cannot_set_it(self, registry: FieldTypeRegistry) -> None:
        assert registry.get("auto_number").settable is False

    @pytest.mark.parametrize(
        ("options", "option"),
        [
            ({"digits": 0}, "digits"),
            ({"digits": 13}, "digits"),
            ({"prefix": "x" * 21}, "prefix"),
            ({"start": -1}, "start"),
            ({"default": "INV-1"}, "default"),
        ],
    )
    def test_options_are_checked(
        self,
        registry: FieldTypeRegistry,
        make_field: MakeField,
        options: dict[str, Any],
        option: str,
    ) -> None:
        assert option_names(registry, make_field({"type": "auto_number", **options})) == [option]


class TestJson:
    def test_keeps_json_and_copies_it(self, normalize: Any) -> None:
        given = {"a": [1, 2.5, "x", None, True], "b": {"c": ()}}
        value = normalize({"type": "json"}, given)
        assert value == {"a": [1, 2.5, "x", None, True], "b": {"c": []}}
        value["a"].append(3)
        assert given["a"] == [1, 2.5, "x", None, True]

    @pytest.mark.parametrize("bad", [float("nan"), {1: "a"}, {"when": date(2024, 1, 1)}])
    def test_refuses_what_json_cannot_hold(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError):
            normalize({"type": "json"}, bad)

    def test_supports_only_is_null(self, registry: FieldTypeRegistry) -> None:
        assert registry.operators("json") == {"is_null"}
