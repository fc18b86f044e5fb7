"""The permission matrix of the data paths: duplicates (a record's, the pre-check, the scan),
merge preview, merge and the export API's rows — subjects × records, on the records
service's small CRM (records_world). Each path names exactly the records the subject may
read (others are counted, never named), merges reach exactly the update and delete scopes,
and exports exactly the read AND export scopes; hidden fields never appear."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from records_world import DOCUMENTS, LABEL, ROLES_OF, World
from test_records_service_matrix import DEALS, EXPECTATIONS, IDS, SECRETS, Expect

from metacrm.kernel.errors import Forbidden, NotFound
from metacrm.services.duplicates.review import DuplicateReview
from metacrm.services.export.rows import plan_export
from metacrm.services.records.merge import MergeService

RULE = {"kind": "duplicate_rule", "name": "deal_by_title", "version": 1, "label": LABEL,
        "entity": "deal", "action": "warn",
        "conditions": [{"field": "title", "normalise": ["case_spaces"]}]}


class Seeded:
    def __init__(self, world: World) -> None:
        self.world = world
        self.records = world.records
        admin = world.admin
        self.deal: dict[str, str] = {}
        for index, (title, (owner, region, amount, _company)) in enumerate(DEALS.items()):
            self.deal[title] = self.records.create(admin, "deal", {
                "title": title, "region": region, "amount": amount, "owner": owner,
                "margin": "77.77", "internal_code": f"XCODE-{index}"})["id"]
        # the twin of D1: the admin's own, region-less deal (readable by the admin only)
        self.twin = self.records.create(admin, "deal", {"title": " d1 ", "owner": "admin"})["id"]
        self.title = {record_id: title for title, record_id in self.deal.items()}
        self.title[self.twin] = "twin"

    def subject(self, expect: Expect) -> Any:
        return self.world.subject(expect.user, expect.roles)


@pytest.fixture
def seeded(engine: sa.Engine) -> Iterator[Seeded]:
    yield Seeded(World(engine, [*DOCUMENTS, RULE]))


def readable(expect: Expect) -> set[str]:
    roles = expect.roles or ROLES_OF[expect.user]
    return set(expect.read or ()) | ({"twin"} if "admin" in roles else set())


def assert_no_secret(output: Any, expect: Expect) -> None:
    """Hidden fields' values appear nowhere in `output` (when the subject has them hidden)."""
    if expect.hidden:
        text = json.dumps(output)
        assert not any(secret in text for secret in SECRETS)


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_duplicate_paths_name_exactly_the_readable_records(seeded: Seeded,
                                                           expect: Expect) -> None:
    review = DuplicateReview(seeded.records)
    subject = seeded.subject(expect)
    if expect.read is None:
        for call in (lambda: review.check(subject, "deal", {"title": "D1"}),
                     lambda: review.of_record(subject, "deal", seeded.deal["D1"]),
                     lambda: review.scan(subject, "deal")):
            with pytest.raises(Forbidden):
                call()
        return
    seen = readable(expect)

    checked = review.check(subject, "deal", {"title": "D1"})
    named = {seeded.title[m.id] for m in checked.matches}
    assert named == {"D1", "twin"} & seen
    assert checked.hidden_count == 2 - len(named)
    assert_no_secret(checked.to_json(), expect)

    if "D1" in seen:
        of_d1 = review.of_record(subject, "deal", seeded.deal["D1"])
        assert [seeded.title[m.id] for m in of_d1.matches] == (["twin"] if "twin" in seen
                                                                else [])
        assert of_d1.hidden_count == (0 if "twin" in seen else 1)
    else:
        with pytest.raises(NotFound):
            review.of_record(subject, "deal", seeded.deal["D1"])

    groups = review.scan(subject, "deal")
    assert [sorted(seeded.title[i] for i in g.ids) for g in groups] == (
        [["D1", "twin"]] if {"D1", "twin"} <= seen else [])


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_merge_preview_answers_like_get(seeded: Seeded, expect: Expect) -> None:
    merges = MergeService(seeded.records)
    subject = seeded.subject(expect)
    pair = [seeded.deal["D1"], seeded.deal["D2"]]
    if expect.read is None:
        with pytest.raises(Forbidden):
            merges.preview(subject, "deal", pair)
        return
    if {"D1", "D2"} <= set(expect.read):
        preview = merges.preview(subject, "deal", pair)
        assert [seeded.title[r["id"]] for r in preview["records"]] == ["D1", "D2"]
        assert_no_secret(preview, expect)
        assert ("margin" in preview["fields"]) == (not expect.hidden)
    else:
        with pytest.raises(NotFound):
            merges.preview(subject, "deal", pair)


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_merges_reach_exactly_the_update_and_delete_scopes(seeded: Seeded,
                                                           expect: Expect) -> None:
    merges = MergeService(seeded.records)
    subject = seeded.subject(expect)
    survivor, merged = seeded.deal["D1"], seeded.deal["D1b"]  # both rep1's
    may = (expect.delete is not None and {"D1", "D1b"} <= expect.update
           and "D1b" in expect.delete)
    body = {"ids": [survivor, merged], "survivor": survivor}
    if may:
        result = merges.merge(subject, "deal", body)
        assert result["merged"] == [merged]
        assert_no_secret(result, expect)
        merges.undo(subject, "deal", result["merge"])
        assert seeded.records.get(seeded.world.admin, "deal", merged)["title"] == "D1b"
        return
    with pytest.raises((Forbidden, NotFound)):
        merges.merge(subject, "deal", body)
    assert seeded.records.get(seeded.world.admin, "deal", merged)["title"] == "D1b"


@pytest.mark.parametrize("expect", EXPECTATIONS, ids=IDS)
def test_export_api_rows_are_the_read_and_export_scopes_together(seeded: Seeded,
                                                                 expect: Expect) -> None:
    subject = seeded.subject(expect)
    roles = expect.roles or ROLES_OF[expect.user]
    if "admin" in roles:
        allowed = set(DEALS) | {"twin"}
    elif "lead" in roles:
        allowed = {t for t in expect.read or () if DEALS[t][0] == expect.user}
    else:
        with pytest.raises(Forbidden):
            plan_export(seeded.records, subject, "deal")
        return
    export = plan_export(seeded.records, subject, "deal", raw=True, sort=["amount"])
    rows = list(export.rows)
    assert {seeded.title[str(row[0])] for row in rows} == allowed
    assert_no_secret([[str(cell) for cell in row] for row in rows], expect)
    assert ("margin" in export.headers) == (not expect.hidden)
