"""Flask-AppBuilder's pages (users, roles, their forms) inside the CRM's frame.

FAB serves the user and role admin; its start page would be an empty FAB index, so
`CrmIndexView` sends `/` to the CRM instead, and `ui/templates/appbuilder/navbar.html`
replaces FAB's navigation bar with the CRM's top bar (brand, back to the CRM, sign out).
"""

from __future__ import annotations

from flask import redirect
from flask_appbuilder import IndexView, expose
from werkzeug.wrappers import Response as BaseResponse

INDEX_VIEW = "metacrm.web.fab_theme.CrmIndexView"
"""The FAB_INDEX_VIEW setting that makes `/` open the CRM."""


class CrmIndexView(IndexView):  # type: ignore[misc]  # FAB has no type hints
    """`/`: the CRM's start page (which asks anonymous visitors to sign in)."""

    @expose("/")  # type: ignore[untyped-decorator]  # FAB has no type hints
    def index(self) -> BaseResponse:
        return redirect("/app/")
