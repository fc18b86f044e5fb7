"""A/B tests of a mailing's subject: which recipients are in the sample, which variant
each gets, and which variant won.

The split is a pure function of the mailing id and the recipient's address (SHA-256), so
a resumed or re-run send puts everyone where they were — no table of assignments is
needed for it to be stable, and the recipient row records the variant anyway. Within the
sample, variants alternate by the next bit of the same hash (about half each).

The winner is the variant with the higher rate (opens or clicks per message sent); a tie,
or a sample with nothing sent, keeps subject A — the one written first, which the
marketer treats as the default.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Literal

Variant = Literal["a", "b"]
REST = "rest"


def _hash(mailing_id: str, email: str) -> int:
    digest = hashlib.sha256(f"{mailing_id}\0{email.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big")


def assign(mailing_id: str, email: str, sample_percent: int | None) -> str:
    """`a` or `b` for a recipient in the test sample, `rest` for one who waits for the
    winner; without a test (`sample_percent` None or 0) everyone gets `a`."""
    if not sample_percent:
        return "a"
    value = _hash(mailing_id, email)
    if value % 10000 >= sample_percent * 100:
        return REST
    return "a" if (value >> 20) % 2 == 0 else "b"


@dataclass(frozen=True)
class VariantResult:
    sent: int
    opened: int
    clicked: int

    def rate(self, metric: str) -> float:
        if self.sent == 0:
            return 0.0
        return (self.clicked if metric == "clicks" else self.opened) / self.sent


def winner(a: VariantResult, b: VariantResult, metric: str = "opens") -> Variant:
    """The variant with the higher open (or click) rate; A on a tie."""
    return "b" if b.rate(metric) > a.rate(metric) else "a"
