"""Column types that behave the same on SQLite and PostgreSQL.

SQLite has neither an exact decimal nor a time-zone-aware timestamp. SQLAlchemy's `Numeric`
stores floats there (and warns), its `DateTime` forgets the offset. These two decorators
give both databases the semantics the field types promise: decimals never lose a cent and
datetimes always come back as aware UTC values.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime, Dialect
from sqlalchemy.dialects.postgresql import NUMERIC, TIMESTAMP
from sqlalchemy.types import TypeDecorator, TypeEngine


class ExactDecimal(TypeDecorator[Decimal]):
    """An exact decimal with `precision` digits, `scale` of them after the point.

    PostgreSQL: `NUMERIC(precision, scale)`. Elsewhere (SQLite): a 64-bit integer holding
    `value * 10**scale`, so comparison and sorting stay correct (scaling is monotonic) and
    nothing passes through a float. Precision is therefore capped at 18 digits.
    """

    impl = BigInteger
    cache_ok = True

    MAX_PRECISION = 18

    def __init__(self, precision: int, scale: int) -> None:
        if not 1 <= precision <= self.MAX_PRECISION or not 0 <= scale <= precision:
            raise ValueError(f"invalid decimal precision/scale {precision}/{scale}")
        super().__init__()
        self.precision = precision
        self.scale = scale
        self._quantum = Decimal(1).scaleb(-scale)

    def __repr__(self) -> str:
        return f"ExactDecimal({self.precision}, {self.scale})"

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(NUMERIC(self.precision, self.scale))
        return dialect.type_descriptor(BigInteger())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        number = Decimal(value).quantize(self._quantum, rounding=ROUND_HALF_UP)
        if dialect.name == "postgresql":
            return number
        return int(number.scaleb(self.scale))

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        if dialect.name == "postgresql":
            return Decimal(value).quantize(self._quantum)
        return Decimal(int(value)).scaleb(-self.scale).quantize(self._quantum)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        """Literals compared with this column are bound through this type (scaled)."""
        return self

    @property
    def python_type(self) -> type[Decimal]:
        return Decimal


class UTCDateTime(TypeDecorator[datetime]):
    """A point in time, stored in UTC, always returned as an aware UTC `datetime`.

    PostgreSQL: `timestamp with time zone`. SQLite: SQLAlchemy's naive `DATETIME` text,
    holding the UTC wall time (its fixed-width format sorts chronologically). Naive values
    are refused at bind time: a time without a zone is ambiguous.
    """

    impl = DateTime
    cache_ok = True

    def load_dialect_impl(self, dialect: Dialect) -> TypeEngine[Any]:
        if dialect.name == "postgresql":
            return dialect.type_descriptor(TIMESTAMP(timezone=True))
        return dialect.type_descriptor(DateTime())

    def process_bind_param(self, value: Any, dialect: Dialect) -> Any:
        if value is None:
            return None
        if not isinstance(value, datetime):
            raise TypeError(f"UTCDateTime needs a datetime, got {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("UTCDateTime refuses naive datetimes")
        utc = value.astimezone(UTC)
        return utc if dialect.name == "postgresql" else utc.replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        moment: datetime = value
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)

    def coerce_compared_value(self, op: Any, value: Any) -> TypeEngine[Any]:
        return self

    @property
    def python_type(self) -> type[datetime]:
        return datetime


__all__ = ["ExactDecimal", "UTCDateTime"]
