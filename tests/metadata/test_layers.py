"""Admin customisations survive a new baseline: the three-way merge of metadata documents."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from metacrm.metadata.documents import Document
from metacrm.metadata.layers import MISSING, customisations, overlay, rebase


def entity(name: str, *fields: dict[str, Any], pack: str = "sales", **extra: Any) -> Document:
    body = {"kind": "entity", "name": name, "label": {"en": name.title()},
            "fields": list(fields), **extra}
    return Document.from_body(body, source=f"{pack}/{name}.json", pack=pack)


def field(name: str, type_: str = "text", **extra: Any) -> dict[str, Any]:
    return {"name": name, "type": type_, "label": {"en": name}, **extra}


def bodies(documents: tuple[Document, ...]) -> dict[tuple[str, str], Any]:
    return {(d.kind, d.name): d.body for d in documents}


def test_an_admin_field_survives_a_pack_that_adds_its_own_field() -> None:
    base = [entity("deal", field("title"))]
    ours = [entity("deal", field("title"), field("region"))]
    theirs = [entity("deal", field("title"), field("amount", "money"))]
    result = rebase(base, ours, theirs)
    assert result.conflicts == ()
    fields = [f["name"] for f in bodies(result.documents)[("entity", "deal")]["fields"]]
    assert fields == ["title", "region", "amount"]


def test_untouched_documents_follow_the_pack_and_admin_documents_stay() -> None:
    base = [entity("deal", field("title")), entity("memo", field("text"))]
    ours = [entity("deal", field("title")), entity("memo", field("text")),
            entity("visit", field("place"), pack="")]
    theirs = [entity("deal", field("title", required=True))]
    result = rebase(base, ours, theirs)
    found = bodies(result.documents)
    assert found[("entity", "deal")]["fields"][0]["required"] is True
    assert ("entity", "memo") not in found          # the pack dropped it, nobody changed it
    assert ("entity", "visit") in found             # the admin's own entity stays
    assert [c.describe() for c in result.carried] == ["added entity visit"]


def test_both_sides_changing_one_label_is_a_conflict_never_silently_resolved() -> None:
    base = [entity("deal", field("title"))]
    ours = [entity("deal", field("title", label={"en": "Subject"}))]
    theirs = [entity("deal", field("title", label={"en": "Name"}))]
    result = rebase(base, ours, theirs)
    assert len(result.conflicts) == 1
    conflict = result.conflicts[0]
    assert (conflict.kind, conflict.name, conflict.pointer) == ("entity", "deal",
                                                                "/fields/0/label/en")
    assert (conflict.admin, conflict.pack) == ("Subject", "Name")
    assert "Subject" in str(conflict.to_error()) and "Name" in str(conflict.to_error())
    # Until someone chooses, the admin's value stands; the caller refuses to apply.
    assert bodies(result.documents)[("entity", "deal")]["fields"][0]["label"]["en"] == "Subject"
    assert bodies(rebase(base, ours, theirs, take="pack").documents)[
        ("entity", "deal")]["fields"][0]["label"]["en"] == "Name"


def test_a_removed_document_the_pack_changed_is_a_conflict() -> None:
    base = [entity("deal", field("title"))]
    theirs = [entity("deal", field("title"), field("amount"))]
    result = rebase(base, [], theirs)
    assert [(c.pointer, c.admin) for c in result.conflicts] == [("", MISSING)]
    assert rebase(base, [], theirs, take="admin").documents == ()


def test_an_admin_reorder_is_kept_and_new_pack_fields_slot_in() -> None:
    base = [entity("deal", field("a"), field("b"), field("c"))]
    ours = [entity("deal", field("c"), field("a"), field("b"))]
    theirs = [entity("deal", field("a"), field("b"), field("d"), field("c"))]
    result = rebase(base, ours, theirs)
    names = [f["name"] for f in bodies(result.documents)[("entity", "deal")]["fields"]]
    assert names == ["c", "a", "b", "d"]


def test_customisations_name_what_changed() -> None:
    baseline = [entity("deal", field("title")), entity("memo", field("text"))]
    live = [entity("deal", field("title"), field("x")), entity("visit", pack="")]
    assert [c.describe() for c in customisations(baseline, live)] == [
        "changed entity deal (pack sales)", "removed entity memo (pack sales)",
        "added entity visit"]


def test_overlay_replaces_adds_and_removes() -> None:
    live = [entity("deal", field("title")), entity("memo")]
    exported = [entity("deal", field("title"), field("x"), pack=""), entity("visit", pack="")]
    result = overlay(live, exported, removed=[("entity", "memo")])
    assert [(d.name, len(d.body["fields"])) for d in result] == [("deal", 2), ("visit", 0)]


names = st.sampled_from(["a", "b", "c", "d", "e"])
field_sets = st.lists(names, unique=True, max_size=5).map(
    lambda ns: [entity("deal", *(field(n) for n in ns))])


@given(field_sets, field_sets)
def test_no_customisation_means_the_new_baseline_exactly(base: list[Document],
                                                        theirs: list[Document]) -> None:
    result = rebase(base, base, theirs)
    assert result.conflicts == ()
    assert bodies(result.documents) == bodies(tuple(theirs))


@given(field_sets, field_sets)
def test_an_unchanged_baseline_keeps_the_live_documents(base: list[Document],
                                                       ours: list[Document]) -> None:
    result = rebase(base, ours, base)
    assert result.conflicts == ()
    assert bodies(result.documents) == bodies(tuple(ours))
