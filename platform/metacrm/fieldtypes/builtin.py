"""The built-in field types, registered exactly as an extension pack registers its own."""

from __future__ import annotations

from metacrm.fieldtypes.choice import BooleanType, MultiPicklistType, PicklistType
from metacrm.fieldtypes.files import FileType
from metacrm.fieldtypes.money import Money, MoneyType
from metacrm.fieldtypes.numeric import DecimalType, IntegerType, PercentType
from metacrm.fieldtypes.regarding import RegardingType
from metacrm.fieldtypes.registry import FieldTypeRegistry
from metacrm.fieldtypes.relation import ReferenceType, StateType, UserType
from metacrm.fieldtypes.special import AutoNumberType, JsonType, format_auto_number
from metacrm.fieldtypes.temporal import DateTimeType, DateType
from metacrm.fieldtypes.text import EmailType, PhoneType, TextareaType, TextType, UrlType

BUILTIN_TYPES = (
    TextType,
    TextareaType,
    EmailType,
    PhoneType,
    UrlType,
    IntegerType,
    DecimalType,
    MoneyType,
    PercentType,
    BooleanType,
    DateType,
    DateTimeType,
    PicklistType,
    MultiPicklistType,
    ReferenceType,
    RegardingType,
    UserType,
    StateType,
    AutoNumberType,
    JsonType,
    FileType,
)


def register_builtin_types(registry: FieldTypeRegistry) -> None:
    """Register one instance of every built-in field type."""
    for field_type in BUILTIN_TYPES:
        registry.register(field_type())


__all__ = ["BUILTIN_TYPES", "Money", "format_auto_number", "register_builtin_types"]
