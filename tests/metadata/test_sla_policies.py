"""`sla_policy` documents compile to frozen definitions; mistakes point at the property."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from metacrm.fieldtypes import default_registry
from metacrm.kernel.errors import MetadataInvalid
from metacrm.metadata.compiler import compile_model
from metacrm.metadata.documents import Document
from metacrm.metadata.loader import load_documents
from metacrm.settings import DEFAULT_METADATA_PATH

SHIPPED = [d for d in load_documents([DEFAULT_METADATA_PATH])
           if d.pack in ("contacts", "service")]
POLICY = next(d for d in SHIPPED if d.kind == "sla_policy")


def compiled_with(changes: dict[str, Any]) -> Any:
    body = copy.deepcopy(dict(POLICY.body)) | changes
    documents = [d for d in SHIPPED if d is not POLICY]
    documents.append(Document.from_body(body, source="policy.json", pack="service"))
    return compile_model(documents, default_registry())


def test_the_shipped_policy_picks_the_most_specific_target() -> None:
    policy = compile_model(SHIPPED, default_registry()).sla_policies["standard_support"]

    assert policy.calendar == "support_hours" and policy.pause_states == ("pending_customer",)
    assert policy.target("first_response", "high", "gold").minutes == 240  # type: ignore[union-attr]
    assert policy.target("first_response", "urgent", None).minutes == 60  # type: ignore[union-attr]
    assert policy.target("first_response", "low", "gold").minutes == 240  # type: ignore[union-attr]
    assert policy.target("first_response", "low", None).minutes == 480  # type: ignore[union-attr]
    assert policy.milestone("first_response").escalation[0].after_minutes == 120


@pytest.mark.parametrize(("changes", "pointer", "message"), [
    ({"calendar": "nights"}, "/calendar", "unknown business_calendar 'nights'"),
    ({"pause_states": ["waiting"]}, "/pause_states/0", "not a state of the ticket pipeline"),
    ({"targets": [{"metric": "resolution", "priority": "meh", "minutes": 5}]},
     "/targets/0/priority", "'meh' is not a ticket priority"),
    ({"targets": [{"metric": "resolution", "minutes": 5}, {"metric": "resolution",
                                                           "minutes": 6}]},
     "/targets/1", "another target covers the same metric"),
    ({"milestones": {"resolution": {"on_breach": [{"type": "reassign"}]}}},
     "/milestones/resolution/on_breach/0", "reassign needs a queue"),
    ({"applies_when": {"field": "colour", "op": "eq", "value": "red"}},
     "/applies_when", "unknown field 'colour'"),
])
def test_mistakes_are_reported_at_their_pointer(changes: dict[str, Any], pointer: str,
                                                message: str) -> None:
    with pytest.raises(MetadataInvalid) as caught:
        compiled_with(changes)

    details = [(e.pointer, e.message) for e in caught.value.errors]
    assert any(p.startswith(pointer) and message in m for p, m in details), details
