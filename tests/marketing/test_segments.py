"""Segments: saved criteria resolved as the caller may see them, counted, frozen."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from mkt_harness import Marketing

from metacrm.kernel.errors import Conflict, Forbidden, NotFound, ValidationFailed


def _tag() -> str:
    return f"t{uuid.uuid4().hex[:10]}"


def _persons(mkt: Marketing, tag: str, specs: list[dict[str, Any]]) -> list[str]:
    return [mkt.create("person", job_title=tag, **spec)["id"] for spec in specs]


def _segment(mkt: Marketing, tag: str, criteria: Any) -> str:
    return mkt.create("segment", name=f"Segment {tag}", entity="person",
                      criteria=criteria)["id"]


def test_a_dynamic_segment_resolves_its_criteria_now(mkt: Marketing) -> None:
    tag = _tag()
    ann, boris = _persons(mkt, tag, [
        {"first_name": "Ann", "last_name": "Lee", "email": f"ann.{tag}@example.com",
         "preferred_language": "en"},
        {"first_name": "Борис", "last_name": "Иванов", "email": f"boris.{tag}@example.ru",
         "preferred_language": "ru"}])
    _persons(mkt, "someone else", [{"last_name": "Other"}])
    segment = _segment(mkt, tag, criteria={"field": "job_title", "op": "eq", "value": tag})
    segments = mkt.services.marketing.segments

    members = list(segments.resolve(segment, actor=mkt.admin))

    assert [(m.record_id, m.entity, m.email, m.name, m.language) for m in members] == sorted([
        (ann, "person", f"ann.{tag}@example.com", "Ann Lee", "en"),
        (boris, "person", f"boris.{tag}@example.ru", "Борис Иванов", "ru")])
    assert members[0].values["job_title"] == tag
    assert segments.count(segment, actor=mkt.admin) == 2
    late = _persons(mkt, tag, [{"last_name": "Late"}])[0]
    assert late in set(segments.member_ids(segment, actor=mkt.admin))
    assert segments.count(segment, actor=mkt.admin) == 3


def test_resolution_keeps_to_the_callers_scope_and_field_security(mkt: Marketing) -> None:
    tag = _tag()
    mine, _theirs = _persons(mkt, tag, [
        {"last_name": "Mine", "email": f"mine.{tag}@example.com", "owner": "4"},
        {"last_name": "Theirs", "email": f"theirs.{tag}@example.com"}])
    segment = _segment(mkt, tag, criteria={"field": "job_title", "op": "eq", "value": tag})
    segments = mkt.services.marketing.segments

    members = list(segments.resolve(segment, actor=mkt.own_reader))

    assert [(m.record_id, m.email) for m in members] == [(mine, None)]
    assert "email" not in members[0].values
    assert segments.count(segment, actor=mkt.own_reader) == 1
    with pytest.raises(Forbidden):
        list(segments.resolve(segment, actor=mkt.outsider))
    by_email = _segment(mkt, tag, criteria={"field": "email", "op": "contains",
                                            "value": tag})
    assert segments.count(by_email, actor=mkt.admin) == 2
    with pytest.raises(ValidationFailed) as refused:  # a hidden field is an unknown one
        segments.count(by_email, actor=mkt.own_reader)
    assert refused.value.errors[0].pointer.startswith("/criteria")


def test_freezing_keeps_the_members_of_that_moment(mkt: Marketing) -> None:
    tag = _tag()
    first, second = _persons(mkt, tag, [{"last_name": "First"}, {"last_name": "Second"}])
    segment = _segment(mkt, tag, criteria={"field": "job_title", "op": "eq", "value": tag})
    segments = mkt.services.marketing.segments

    frozen = segments.freeze(segment, actor=mkt.admin)

    assert (frozen["segment_type"], frozen["member_count"]) == ("static", 2)
    assert frozen["frozen_at"] is not None
    _persons(mkt, tag, [{"last_name": "Too late"}])
    assert set(segments.member_ids(segment, actor=mkt.admin)) == {first, second}
    mkt.services.records.delete(mkt.admin, "person", second)
    assert [m.record_id for m in segments.resolve(segment, actor=mkt.admin)] == [first]
    assert segments.count(segment, actor=mkt.admin) == 1
    assert segments.count(segment, actor=mkt.own_reader) == 0  # not their persons
    with pytest.raises(Conflict):
        segments.freeze(segment, actor=mkt.admin)


def test_preview_counts_unsaved_criteria_and_refuses_bad_ones(mkt: Marketing) -> None:
    tag = _tag()
    _persons(mkt, tag, [{"last_name": "A"}, {"last_name": "B"}, {"last_name": "C"}])
    segments = mkt.services.marketing.segments

    assert segments.preview("person", {"field": "job_title", "op": "eq", "value": tag},
                            actor=mkt.admin) == 3
    with pytest.raises(ValidationFailed) as entity:
        segments.preview("deal", None, actor=mkt.admin)
    assert entity.value.errors[0].pointer == "/entity"
    with pytest.raises(ValidationFailed) as field:
        segments.preview("person", {"field": "shoe_size", "op": "eq", "value": 1},
                         actor=mkt.admin)
    assert field.value.errors[0].pointer.startswith("/criteria")
    with pytest.raises(NotFound):
        segments.count("0190d0c8-0000-7000-8000-000000000000", actor=mkt.admin)
