"""Designer: duplicate rules — an admin designs a rule, sees what it would find in the
existing records before applying it, applies it, and saves are then checked by it."""

from __future__ import annotations

import json
import re
from pathlib import Path

from screen_harness import Browser, Screens, entity, field, labels, open_screens
from test_designer_pipelines import previewed_documents

import metacrm.web.designer.duplicate_rules  # noqa: F401  (makes the blueprint first)
from metacrm.metadata.model import EntityDef
from metacrm.services.duplicates.rule_preview import (
    PreviewCondition,
    preview_rule,
    similarity,
    trigrams,
)
from web_harness import bearer, role

PERSON = entity("person", field("name", required=True), field("email", "email"),
                field("phone", "phone", default_region="US"), field("age", "integer"),
                title_field="name")
CLERK = role("clerk", entities={"person": {"read": "all", "create": "all",
                                           "update": "all"}})
PEOPLE = [
    {"name": "Anna Ivanova", "email": "anna@example.com", "phone": "(415) 555-2671"},
    {"name": "Анна Иванова", "email": "ANNA@example.com ", "phone": "+1 415 555 2671"},
    {"name": "Boris Petrov", "email": "boris@example.com"},
    {"name": "Boris Petrow", "email": "bp@example.com"},
    {"name": "Clara Zetkin", "email": "clara@example.com"},
]


def new_rule_form(**changes: str) -> dict[str, str]:
    form = {"entity": "person", "name": "person_twins", "label_en": "Person twins",
            "label_ru": "Двойники", "rule_action": "block", "operator": "or",
            "on_create": "yes", "on_update": "yes", "action": "preview",
            "condition-0-field": "email", "condition-0-normalise": "email",
            "condition-0-match": "exact", "condition-0-position": "0",
            "condition-1-field": "", "condition-1-position": "1"}
    form.update(changes)
    return form


def create_people(screens: Screens) -> dict[str, str]:
    token = bearer(screens.web.login("root"))
    ids = {}
    for person in PEOPLE:
        response = screens.web.client.post("/api/v1/records/person", json=person,
                                           headers=token)
        assert response.status_code == 201, response.get_json()
        ids[person["name"]] = response.get_json()["data"]["id"]
    return ids


def shown_groups(page: str, ids: dict[str, str]) -> set[frozenset[str]]:
    """The groups of the match preview, as sets of the people's names."""
    names = {record_id: name for name, record_id in ids.items()}
    groups = re.findall(r"<ul class=\"panel\" data-duplicate-group>(.*?)</ul>", page, re.S)
    return {frozenset(names[i] for i in re.findall(r'data-record="([^"]+)"', group))
            for group in groups}


def test_show_the_matches_lists_what_the_rule_as_typed_finds(isolated_database_url: str,
                                                             tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, PERSON, CLERK) as screens:
        screens.web.create_user("root", "boss")
        ids = create_people(screens)
        admin = screens.sign_in("root")
        assert 'href="/app/admin/duplicate-rules"' in admin.text("/app/admin/")
        editor = admin.text("/app/admin/duplicate-rules/new?entity=person")
        assert "data-duplicate-rule-editor" in editor and 'data-action="show-matches"' in editor
        assert 'value="age"' not in editor  # only text-like fields can be compared

        by_email = admin.post("/app/admin/duplicate-rules/new",
                              new_rule_form(action="matches"))
        page = by_email.get_data(as_text=True)
        assert by_email.status_code == 200, page[:2000]
        assert shown_groups(page, ids) == {frozenset({"Anna Ivanova", "Анна Иванова"})}
        assert "5 records compared." in page

        fuzzy_names = new_rule_form(**{
            "action": "matches", "condition-0-field": "name",
            "condition-0-normalise": "transliterate", "condition-0-match": "fuzzy",
            "condition-0-threshold": "0.5"})
        page = admin.post("/app/admin/duplicate-rules/new", fuzzy_names).get_data(as_text=True)
        assert shown_groups(page, ids) == {frozenset({"Anna Ivanova", "Анна Иванова"}),
                                           frozenset({"Boris Petrov", "Boris Petrow"})}

        both = new_rule_form(**{
            "action": "matches", "operator": "and",
            "condition-1-field": "name", "condition-1-normalise": "case_spaces"})
        page = admin.post("/app/admin/duplicate-rules/new", both).get_data(as_text=True)
        assert shown_groups(page, ids) == set()  # same email, but names differ as typed
        assert "data-duplicate-preview-empty" in page


def test_an_applied_rule_lists_edits_and_blocks_saves(isolated_database_url: str,
                                                      tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, PERSON, CLERK) as screens:
        screens.web.create_user("root", "boss")
        create_people(screens)
        admin = screens.sign_in("root")
        response = admin.post("/app/admin/duplicate-rules/new", new_rule_form())
        page = response.get_data(as_text=True)
        assert response.status_code == 200, page[:3000]
        documents, version = previewed_documents(page)
        assert documents == [{
            "kind": "duplicate_rule", "version": 1, "name": "person_twins",
            "entity": "person", "label": {"en": "Person twins", "ru": "Двойники"},
            "action": "block", "operator": "or",
            "conditions": [{"field": "email", "normalise": ["email"]}]}]
        apply = admin.post("/app/admin/changes/apply", {
            "documents": json.dumps(documents), "expected_version": str(version),
            "done_url": "/app/admin/duplicate-rules/person_twins"})
        assert apply.status_code == 302, apply.get_data(as_text=True)[:2000]

        listed = admin.text("/app/admin/duplicate-rules")
        assert 'data-duplicate-rule="person_twins"' in listed
        editor = admin.text("/app/admin/duplicate-rules/person_twins")
        assert 'data-duplicate-condition="email"' in editor

        screens.web.create_user("cleo", "clerk")
        refused = screens.web.client.post(
            "/api/v1/records/person", json={"name": "Copy", "email": "Boris@Example.com"},
            headers=bearer(screens.web.login("cleo")))
        assert refused.status_code == 409, refused.get_json()

        edited = admin.post("/app/admin/duplicate-rules/person_twins", {
            "label_en": "Person twins", "label_ru": "Двойники", "rule_action": "warn",
            "operator": "or", "on_create": "yes", "action": "preview",
            "condition-0-field": "email", "condition-0-normalise": "email",
            "condition-0-position": "0"})
        documents, _ = previewed_documents(edited.get_data(as_text=True))
        assert documents[0]["action"] == "warn" and documents[0]["on"] == ["create"]


def test_mistakes_are_pointed_at_and_nothing_is_planned(isolated_database_url: str,
                                                        tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, PERSON, CLERK) as screens:
        screens.web.create_user("root", "boss")
        admin = screens.sign_in("root")
        empty = admin.post("/app/admin/duplicate-rules/new",
                           new_rule_form(**{"condition-0-field": ""}))
        assert empty.status_code == 422
        assert "Choose at least one field to compare." in empty.get_data(as_text=True)
        bad = admin.post("/app/admin/duplicate-rules/new", new_rule_form(**{
            "condition-0-match": "fuzzy", "condition-0-threshold": "7"}))
        page = bad.get_data(as_text=True)
        assert bad.status_code == 422
        assert "The least similarity is a number above 0, at most 1." in page
        assert 'data-duplicate-condition="name"' not in page  # nothing planned
        assert "data-change-plan" not in page
        assert admin.get("/app/admin/duplicate-rules/nope").status_code == 404
        assert admin.get("/app/admin/duplicate-rules/new?entity=nope").status_code == 404


def test_only_admins_reach_the_rule_designer(isolated_database_url: str,
                                            tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, PERSON, CLERK) as screens:
        screens.web.create_user("cleo", "clerk")
        clerk: Browser = screens.sign_in("cleo")
        for path in ("/app/admin/duplicate-rules",
                     "/app/admin/duplicate-rules/new?entity=person"):
            assert clerk.get(path).status_code == 403, path
        forged = clerk.post("/app/admin/duplicate-rules/new",
                            new_rule_form(action="matches"))
        assert forged.status_code == 403
        assert screens.anonymous().get("/app/admin/duplicate-rules").status_code == 302


def test_the_rule_designer_speaks_russian(isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, PERSON, CLERK) as screens:
        screens.web.create_user("root", "boss")
        admin = screens.sign_in("root")
        admin.client.set_cookie("metacrm_language", "ru")
        page = admin.text("/app/admin/duplicate-rules/new?entity=person")
        assert "Показать совпадения" in page and "При совпадении" in page
        assert "Правила дубликатов" in admin.text("/app/admin/duplicate-rules")


def test_trigram_similarity_is_pg_trgms() -> None:
    """The preview's similarity is PostgreSQL's: per word, padded, shared / all."""
    assert trigrams("Hello") == {"  h", " he", "hel", "ell", "llo", "lo "}
    assert round(similarity(trigrams("hello"), trigrams("hallo")), 4) == 0.3333
    assert similarity(trigrams("word"), trigrams("word")) == 1.0
    assert similarity(trigrams(""), trigrams("x")) == 0.0
    records = [{"id": "1", "name": "acme"}, {"id": "2", "name": "acme"},
               {"id": "3", "name": "acmf"}]
    person = EntityDef("x", labels("X"), labels("X"), "x", ())
    found = preview_rule(person, [PreviewCondition("name", ("case_spaces",))], "or", records)
    assert [group.ids for group in found.groups] == [("1", "2")]
