"""Integer, decimal, percent and money: exact values, clear refusals, options checked."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, ClassVar

import pytest

from metacrm.fieldtypes import FieldTypeRegistry, FieldValueError
from metacrm.fieldtypes.money import Money
from metacrm.metadata.model import FieldDef

MakeField = Callable[[dict[str, Any]], FieldDef]


@pytest.fixture
def normalize(registry: FieldTypeRegistry, make_field: MakeField) -> Callable[..., Any]:
    def run(doc: dict[str, Any], value: Any) -> Any:
        fdef = make_field(doc)
        return registry.get(fdef.type).normalize(fdef, value)

    return run


class TestInteger:
    @pytest.mark.parametrize(("given", "expected"), [(42, 42), ("-7", -7), (" 12 ", 12), (3.0, 3)])
    def test_accepts_whole_numbers(self, normalize: Any, given: Any, expected: int) -> None:
        assert normalize({"type": "integer"}, given) == expected

    @pytest.mark.parametrize("bad", [True, 2.5, "2.5", "12abc", "", "²", "+-5", None, [1]])
    def test_refuses_what_is_not_a_whole_number(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError, match="must be a whole number"):
            normalize({"type": "integer"}, bad)

    def test_holds_64_bits_and_no_more(self, normalize: Any) -> None:
        assert normalize({"type": "integer"}, 2**63 - 1) == 2**63 - 1
        assert normalize({"type": "integer"}, -(2**63)) == -(2**63)
        with pytest.raises(FieldValueError, match="too large"):
            normalize({"type": "integer"}, 2**63)

    def test_min_and_max_are_enforced(self, normalize: Any) -> None:
        doc = {"type": "integer", "min": 1, "max": 10}
        assert normalize(doc, 10) == 10
        with pytest.raises(FieldValueError, match="must be at least 1"):
            normalize(doc, 0)
        with pytest.raises(FieldValueError, match="must be at most 10"):
            normalize(doc, 11)

    def test_criteria_may_compare_outside_min_and_max(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({"type": "integer", "min": 0})
        assert registry.coerce(fdef, -5) == -5

    def test_min_greater_than_max_is_an_option_error(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        errors = registry.option_errors(make_field({"type": "integer", "min": 5, "max": 1}))
        assert errors == [("max", "must not be less than min")]


class TestDecimal:
    def test_rounds_half_up_to_the_scale(self, normalize: Any) -> None:
        doc = {"type": "decimal", "precision": 10, "scale": 2}
        assert normalize(doc, "12.345") == Decimal("12.35")
        assert normalize(doc, "-12.345") == Decimal("-12.35")
        assert normalize(doc, 7) == Decimal("7.00")

    def test_floats_keep_their_written_value(self, normalize: Any) -> None:
        assert normalize({"type": "decimal", "scale": 2}, 0.1) == Decimal("0.10")

    def test_refuses_more_digits_than_fit(self, normalize: Any) -> None:
        doc = {"type": "decimal", "precision": 5, "scale": 2}
        assert normalize(doc, "999.99") == Decimal("999.99")
        with pytest.raises(FieldValueError, match="at most 3 digits before the point"):
            normalize(doc, "1000")
        with pytest.raises(FieldValueError, match="at most 3 digits before the point"):
            normalize(doc, "999.995")  # rounds up to 1000.00
        with pytest.raises(FieldValueError, match="at most 3 digits before the point"):
            normalize(doc, "1e400000000")

    def test_eighteen_digits_are_exact(self, normalize: Any) -> None:
        value = normalize({"type": "decimal", "precision": 18, "scale": 2}, "9999999999999999.99")
        assert value == Decimal("9999999999999999.99")

    @pytest.mark.parametrize("bad", ["abc", "NaN", "Infinity", float("nan"), True, [], "1,5"])
    def test_refuses_what_is_not_a_number(self, normalize: Any, bad: Any) -> None:
        with pytest.raises(FieldValueError, match="number"):
            normalize({"type": "decimal"}, bad)

    def test_negative_zero_is_zero(
        self, normalize: Any, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({"type": "decimal"})
        assert registry.get("decimal").to_json(fdef, normalize({"type": "decimal"}, "-0.001")) == (
            "0.00"
        )

    def test_json_is_a_string_so_no_client_rounds_it(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({"type": "decimal", "scale": 3})
        assert registry.get("decimal").to_json(
            fdef, Decimal("1E+2").quantize(Decimal("0.001"))
        ) == ("100.000")

    @pytest.mark.parametrize(
        ("options", "option", "reason"),
        [
            ({"precision": 19}, "precision", "must be an integer from 1 to 18"),
            ({"precision": 0}, "precision", "must be an integer from 1 to 18"),
            ({"precision": 4, "scale": 5}, "scale", "must not be greater than precision"),
            ({"scale": -1}, "scale", "must be an integer from 0 to 18"),
            ({"min": "abc"}, "min", "must be a number such as 12.50"),
            ({"min": 5, "max": 1}, "max", "must not be less than min"),
            (
                {"precision": 3, "scale": 0, "max": 5000},
                "max",
                "must have at most 3 digits before the point",
            ),
        ],
    )
    def test_options_are_checked(
        self,
        registry: FieldTypeRegistry,
        make_field: MakeField,
        options: dict[str, Any],
        option: str,
        reason: str,
    ) -> None:
        errors = registry.option_errors(make_field({"type": "decimal", **options}))
        assert (option, reason) in errors

    def test_bounds_apply_to_values(self, normalize: Any) -> None:
        doc = {"type": "decimal", "min": "0.50", "max": 100}
        with pytest.raises(FieldValueError, match=r"must be at least 0\.50"):
            normalize(doc, "0.49")
        with pytest.raises(FieldValueError, match="must be at most 100"):
            normalize(doc, "100.01")


class TestPercent:
    def test_is_a_number_of_percent(self, normalize: Any) -> None:
        assert normalize({"type": "percent"}, "12.5") == Decimal("12.50")
        assert normalize({"type": "percent", "scale": 0}, 33.4) == Decimal(33)

    def test_precision_is_not_an_option(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        errors = registry.option_errors(make_field({"type": "percent", "precision": 5}))
        assert [name for name, _ in errors] == ["precision"]


class TestMoney:
    DOC: ClassVar[dict[str, Any]] = {
        "type": "money",
        "currency": "USD",
        "currencies": ["USD", "EUR"],
    }

    def test_takes_an_amount_and_a_currency(self, normalize: Any) -> None:
        assert normalize(self.DOC, {"amount": "12.5", "currency": "eur"}) == Money(
            Decimal("12.50"), "EUR"
        )

    def test_bare_amounts_get_the_default_currency(self, normalize: Any) -> None:
        assert normalize(self.DOC, "99.999") == Money(Decimal("100.00"), "USD")
        assert normalize(self.DOC, {"amount": 3}) == Money(Decimal("3.00"), "USD")

    def test_without_a_default_currency_one_is_required(self, normalize: Any) -> None:
        with pytest.raises(FieldValueError, match="needs a currency code"):
            normalize({"type": "money"}, "10")

    @pytest.mark.parametrize(
        ("value", "reason"),
        [
            ({"amount": "1", "currency": "RUB"}, "currency must be one of: USD, EUR"),
            ({"amount": "1", "currency": "US"}, "three-letter ISO 4217 code"),
            ({"amount": "1", "currency": 840}, "three-letter ISO 4217 code"),
            ({"currency": "USD"}, "needs an amount"),
            ({"amount": "1", "cur": "USD"}, "unknown keys"),
            ({"amount": "x", "currency": "USD"}, "must be a number"),
        ],
    )
    def test_refuses_bad_money(self, normalize: Any, value: Any, reason: str) -> None:
        with pytest.raises(FieldValueError, match=reason):
            normalize(self.DOC, value)

    def test_json_keeps_the_amount_exact(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field(self.DOC)
        value = Money(Decimal("12.50"), "USD")
        assert registry.get("money").to_json(fdef, value) == {"amount": "12.50", "currency": "USD"}

    def test_criteria_compare_the_amount(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field(self.DOC)
        money = registry.get("money")
        assert money.criteria_value(fdef, Money(Decimal("5.00"), "EUR")) == Decimal("5.00")
        assert registry.coerce(fdef, "5") == Decimal("5.00")
        assert registry.coerce(fdef, {"amount": "5", "currency": "EUR"}) == Decimal("5.00")

    def test_stores_amount_and_currency_in_two_columns(
        self, registry: FieldTypeRegistry, make_field: MakeField
    ) -> None:
        fdef = make_field({**self.DOC, "name": "price"})
        money = registry.get("money")
        assert [c.name for c in money.columns(fdef)] == ["price", "price_currency"]
        stored = money.to_storage(fdef, Money(Decimal("1.25"), "EUR"))
        assert stored == {"price": Decimal("1.25"), "price_currency": "EUR"}
        assert money.from_storage(fdef, stored) == Money(Decimal("1.25"), "EUR")
        assert money.to_storage(fdef, None) == {"price": None, "price_currency": None}
        assert money.from_storage(fdef, {"price": None, "price_currency": None}) is None

    @pytest.mark.parametrize(
        ("options", "option"),
        [
            ({"currency": "usd"}, "currency"),
            ({"currency": "DOLLAR"}, "currency"),
            ({"currencies": []}, "currencies"),
            ({"currencies": ["USD", "USD"]}, "currencies"),
            ({"currencies": ["USD", "eu"]}, "currencies"),
            ({"currency": "RUB", "currencies": ["USD"]}, "currency"),
            ({"precision": 4, "scale": 6}, "scale"),
        ],
    )
    def test_options_are_checked(
        self,
        registry: FieldTypeRegistry,
        make_field: MakeField,
        options: dict[str, Any],
        option: str,
    ) -> None:
        errors = registry.option_errors(make_field({"type": "money", **options}))
        assert [name for name, _ in errors] == [option]
