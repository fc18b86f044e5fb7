"""A regarding link on the screens: chosen with an entity select and a lookup, shown as the
linked record's title (a link), checked on save, and listed on the linked record's page."""

from __future__ import annotations

import re
from pathlib import Path

from screen_harness import Browser, entity, field, open_screens

import metacrm.web.record_form
import metacrm.web.record_page  # noqa: F401
from web_harness import role

ALL = {"read": "all", "create": "all", "update": "all", "delete": "all"}
COMPANY = entity("company", field("name", required=True), title_field="name")
DEAL = entity("deal", field("title", required=True), title_field="title")
TASK = entity("task", field("subject", required=True),
              field("regarding", "regarding", entities=["company", "deal"]),
              title_field="subject")
REP = role("rep", entities={"company": ALL, "task": ALL})
DOCUMENTS = (COMPANY, DEAL, TASK, REP)


def created(browser: Browser, entity_name: str, data: dict[str, str]) -> str:
    response = browser.post(f"/app/r/{entity_name}/new", data)
    assert response.status_code == 302, response.get_data(as_text=True)[:2000]
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def test_a_task_regarding_a_company_links_both_ways(isolated_database_url: str,
                                                    tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        rita = screens.user("rita", "rep")
        form = rita.text("/app/r/task/new")
        select = form.split('name="regarding.entity"', 1)[1].split("</select>", 1)[0]
        # only the entities she may read are offered, by their labels
        assert re.findall(r'value="(\w+)"', select) == ["company"] and ">Company<" in select
        assert 'data-lookup="/app/lookup/company"' in form
        acme = created(rita, "company", {"name": "Acme"})

        task = created(rita, "task", {"subject": "Call Acme", "regarding.entity": "company",
                                      "regarding.id": acme})

        page = rita.text(f"/app/r/task/{task}")
        assert f'<a href="/app/r/company/{acme}">Acme</a>' in page
        assert "regarding_entity" not in page and acme not in page.replace(
            f"/app/r/company/{acme}", "")
        related = rita.text(f"/app/r/company/{acme}").split(
            'data-related="task.regarding"', 1)[1].split("</section>", 1)[0]
        assert "Call Acme" in related
        edit = rita.text(f"/app/r/task/{task}/edit")
        assert 'data-lookup-title="Acme"' in edit


def test_a_link_to_a_record_the_user_cannot_read_is_refused_beside_the_field(
        isolated_database_url: str, tmp_path: Path) -> None:
    with open_screens(isolated_database_url, tmp_path, *DOCUMENTS) as screens:
        boss = screens.user("bea", "boss")
        deal = created(boss, "deal", {"title": "Secret deal"})
        rita = screens.user("rita", "rep")

        response = rita.post("/app/r/task/new", {"subject": "Peek", "regarding.entity": "deal",
                                                  "regarding.id": deal})

        assert response.status_code == 422
        page = response.get_data(as_text=True)
        error = page.split('id="e-regarding"', 1)[1].split("</", 1)[0]
        assert "does not exist" in error
        assert "Secret deal" not in page


def test_the_designer_reads_the_linked_entities_as_names() -> None:
    from metacrm.web.designer.entity_forms import OptionInput, option_value

    assert option_value(OptionInput("entities", "names"), " Lead, deal ,", "regarding") == [
        "lead", "deal"]
