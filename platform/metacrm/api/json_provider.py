"""JSON responses serialised by orjson instead of the standard library.

Encoding was the largest single cost of a list page after the query itself: Flask's
default provider (`json.dumps` with sorted keys) took about 0.2 ms for 50 records of 17
fields, orjson a tenth of that (bench/api.py). The output keeps Flask's contract: sorted
keys, compact separators, a trailing newline, and Flask's own conversions for what JSON
has no type for (dates as HTTP dates, decimals and UUIDs as strings, dataclasses, lazy
strings) — those values are handed to the provider's `default` exactly as before. Differences
that no JSON client sees: non-ASCII text is sent as UTF-8 rather than `\\u` escapes.
Parsing request bodies stays with the standard library (its error messages are the ones
the problem documents quote). A value orjson refuses (an integer beyond 64 bits) falls
back to the standard encoder rather than failing the request.
"""

from __future__ import annotations

from typing import Any, cast

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider
from werkzeug.sansio.response import Response as BaseResponse

_PASSTHROUGH = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
"""Dates and dataclasses go to the provider's `default`, as with the standard encoder."""


class OrjsonProvider(DefaultJSONProvider):
    """Flask's default JSON provider, serialising with orjson when it can."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        if kwargs:  # a caller asking for `json.dumps` options gets exactly those
            return super().dumps(obj, **kwargs)
        encoded = self._encoded(obj)
        return super().dumps(obj) if encoded is None else encoded.decode()

    def response(self, *args: Any, **kwargs: Any) -> BaseResponse:
        if (self.compact is None and self._app.debug) or self.compact is False:
            return super().response(*args, **kwargs)  # indented, for people reading it
        obj = self._prepare_response_obj(args, kwargs)
        encoded = self._encoded(obj, orjson.OPT_APPEND_NEWLINE)
        if encoded is None:
            return super().response(*args, **kwargs)
        response_class = cast(type[Response], self._app.response_class)
        return response_class(encoded, mimetype=self.mimetype)

    def _encoded(self, obj: Any, extra: int = 0) -> bytes | None:
        """orjson's bytes, or None when it refuses a value (the standard encoder takes
        over)."""
        try:
            sort = orjson.OPT_SORT_KEYS if self.sort_keys else 0
            return orjson.dumps(obj, default=self.default, option=_PASSTHROUGH | sort | extra)
        except orjson.JSONEncodeError:
            return None
