"""The criteria budget through every API path that accepts criteria (issue 11, F4 and F5).

An `in` of 65,536 values was a 500 (PostgreSQL's bind-parameter limit) and an OR of 60,000
conditions took 26 s; now each is a 422 naming the limit and pointing at the part of the
request that exceeds it, before anything reaches the database.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from api_harness import ADMIN_ROLE, GADGET, Api, labels, open_api, pointers, problem

from metacrm.criteria.tree import MAX_LIST_VALUES, MAX_NODES
from web_harness import role

URL = "/api/v1/records/gadget"
HUGE_IN = {"field": "units", "op": "in", "value": list(range(70_000))}
HUGE_OR = {"or": [{"field": "units", "op": "eq", "value": n} for n in range(20_000)]}


@pytest.fixture
def api(isolated_database_url: str, tmp_path: Path) -> Iterator[Api]:
    with open_api(isolated_database_url, tmp_path, ADMIN_ROLE, role("clerk")) as api:
        api.put_meta(GADGET)
        yield api


def messages(document: dict[str, Any]) -> list[str]:
    return [entry["message"] for entry in document["errors"]]


def test_a_comma_list_of_70000_values_in_the_query_string_is_a_422(api: Api) -> None:
    values = ",".join(str(n) for n in range(70_000))
    document = problem(api.client.get(f"{URL}?filter[units][in]={values}",
                                      headers=api.admin), 422)
    assert pointers(document) == {"/filter/units/in"}
    assert messages(document) == [
        f"has 70000 values; 'in' and 'not_in' take at most {MAX_LIST_VALUES}"]


def test_a_repeated_in_parameter_counts_every_value(api: Api) -> None:
    query = "&".join(f"filter[units][not_in]={n}" for n in range(MAX_LIST_VALUES + 1))
    document = problem(api.client.get(f"{URL}?{query}", headers=api.admin), 422)
    assert pointers(document) == {"/filter/units/not_in"}


def test_an_in_list_at_the_limit_is_served(api: Api) -> None:
    values = ",".join(str(n) for n in range(MAX_LIST_VALUES))
    response = api.client.get(f"{URL}?filter[units][in]={values}", headers=api.admin)
    assert response.status_code == 200, response.get_json()


def test_a_json_body_with_an_in_of_70000_values_is_a_422(api: Api) -> None:
    document = problem(api.client.post(f"{URL}/query", json={"filter": HUGE_IN},
                                       headers=api.admin), 422)
    assert pointers(document) == {"/filter/value"}


def test_a_json_body_with_an_or_of_20000_conditions_is_a_422(api: Api) -> None:
    document = problem(api.client.post(f"{URL}/query", json={"filter": HUGE_OR},
                                       headers=api.admin), 422)
    assert pointers(document) == {"/filter/or"}
    assert messages(document) == [
        f"has 20000 conditions; a condition tree has at most {MAX_NODES} "
        "(and/or/not count too)"]


def test_a_json_filter_parameter_over_the_budget_is_a_422(api: Api) -> None:
    tree = {"or": [{"field": "units", "op": "eq", "value": n} for n in range(MAX_NODES)]}
    compact = json.dumps(tree, separators=(",", ":"))
    document = problem(api.client.get(URL, query_string={"filter": compact},
                                      headers=api.admin), 422)
    assert pointers(document) <= {"/filter", "/filter/or"}


def test_a_view_whose_filter_exceeds_the_budget_is_refused_by_the_metadata_api(
    api: Api,
) -> None:
    view = {"kind": "view", "name": "gadget_list", "version": 1, "label": labels("All"),
            "entity": "gadget", "type": "list", "columns": ["title"], "filter": HUGE_OR}
    document = problem(api.client.put("/api/v1/meta/view/gadget_list", json=view,
                                      headers=api.admin), 422)
    assert "/filter/or" in pointers(document)


def test_a_webhook_filter_over_the_budget_is_refused(api: Api) -> None:
    body = {"url": "https://93.184.216.34/hooks", "entity": "gadget",
            "filter": {"field": "units", "op": "in",
                       "value": list(range(MAX_LIST_VALUES + 1))}}
    document = problem(api.client.post("/api/v1/webhooks", json=body, headers=api.admin), 422)
    assert pointers(document) == {"/filter/value"}


def test_filter_parameters_together_must_fit_one_tree(
    isolated_database_url: str, tmp_path: Path
) -> None:
    """Each `filter[...]` parameter fits the budget, but their conjunction does not."""
    wide = {**GADGET, "fields": [*GADGET["fields"],
                                 *({"name": f"n{i}", "type": "integer", "label": labels("n")}
                                   for i in range(6))]}
    with open_api(isolated_database_url, tmp_path, ADMIN_ROLE, role("clerk")) as api:
        api.put_meta(wide)
        values = ",".join(str(n) for n in range(MAX_LIST_VALUES))
        query = "&".join(f"filter[n{i}][in]={values}" for i in range(6))
        document = problem(api.client.get(f"{URL}?{query}", headers=api.admin), 422)
        assert pointers(document) == {"/filter/n5/in"}
        assert "hold at most" in messages(document)[0]
