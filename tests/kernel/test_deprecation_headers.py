"""A deprecation is announced with the RFC 9745 / RFC 8594 headers, spelled as the RFCs'
own examples spell them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from metacrm.kernel.deprecation import Deprecation

DOCS = "https://developer.example.com/deprecation"


def test_headers_follow_the_rfc_examples() -> None:
    deprecation = Deprecation(since=datetime(2023, 6, 30, 23, 59, 59, tzinfo=UTC),
                              sunset=datetime(2024, 12, 31, 23, 59, 59, tzinfo=UTC), link=DOCS)
    assert deprecation.headers() == {
        "Deprecation": "@1688169599",  # RFC 9745, section 2.1
        "Sunset": "Tue, 31 Dec 2024 23:59:59 GMT",  # an IMF-fixdate, as in RFC 8594
        "Link": f'<{DOCS}>; rel="deprecation"; type="text/html"',
    }


def test_times_in_other_zones_are_announced_in_utc() -> None:
    moscow = timezone(timedelta(hours=3))
    deprecation = Deprecation(datetime(2027, 1, 1, 3, 0, tzinfo=moscow),
                              datetime(2027, 7, 1, 3, 0, tzinfo=moscow), DOCS)
    assert deprecation.headers()["Sunset"] == "Thu, 01 Jul 2027 00:00:00 GMT"
    assert deprecation.to_json() == {"deprecated_since": "2027-01-01T00:00:00Z",
                                     "sunset": "2027-07-01T00:00:00Z", "link": DOCS}
    assert not deprecation.is_past_sunset(datetime(2027, 6, 30, 23, 59, tzinfo=UTC))
    assert deprecation.is_past_sunset(datetime(2027, 7, 1, tzinfo=UTC))


def test_a_sunset_before_the_deprecation_or_a_naive_date_is_refused() -> None:
    with pytest.raises(ValueError, match="before"):
        Deprecation(datetime(2027, 1, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC), DOCS)
    with pytest.raises(ValueError, match="timezone"):
        Deprecation(datetime(2027, 1, 1), datetime(2028, 1, 1, tzinfo=UTC), DOCS)
