"""Flask-AppBuilder's own pages give way to the CRM's.

FAB's start page would be an empty FAB index, so `CrmIndexView` sends `/` to the CRM. FAB's
stock user, role, group and permission pages (another layout, roles shown as `[admin]`,
permissions as raw strings) are replaced by the screens' `/app/admin/users` and
`/app/admin/roles`; `redirect_stock_admin_pages` sends every request for them there, and
FAB's "user info" page to the profile page, so there is one place for each. FAB's REST
APIs (`/api/v1/security/…`) and its own-password form are left as they are.
"""

from __future__ import annotations

from flask import redirect, request
from flask_appbuilder import IndexView, expose
from werkzeug.wrappers import Response as BaseResponse

INDEX_VIEW = "metacrm.web.fab_theme.CrmIndexView"
"""The FAB_INDEX_VIEW setting that makes `/` open the CRM."""

USERS_PAGE = "/app/admin/users"
ROLES_PAGE = "/app/admin/roles"
PROFILE_PAGE = "/app/account/profile"

STOCK_PAGES: dict[str, str] = {
    "UserDBModelView": USERS_PAGE,
    "UserStatsChartView": USERS_PAGE,
    "ResetPasswordView": USERS_PAGE,
    "GroupModelView": USERS_PAGE,
    "RegisterUserModelView": USERS_PAGE,
    "RoleModelView": ROLES_PAGE,
    "PermissionModelView": ROLES_PAGE,
    "ViewMenuModelView": ROLES_PAGE,
    "PermissionViewModelView": ROLES_PAGE,
}
"""FAB's page views (their blueprint names) and the CRM page that replaces each."""

OWN_PROFILE_ENDPOINTS = frozenset({"UserDBModelView.userinfo"})


class CrmIndexView(IndexView):  # type: ignore[misc]  # FAB has no type hints
    """`/`: the CRM's start page (which asks anonymous visitors to sign in)."""

    @expose("/")  # type: ignore[untyped-decorator]  # FAB has no type hints
    def index(self) -> BaseResponse:
        return redirect("/app/")


def redirect_stock_admin_pages() -> BaseResponse | None:
    """`before_request` hook: FAB's user and role pages answer with the CRM's (303 after
    a form post, so the browser opens the new page with GET)."""
    target = STOCK_PAGES.get(request.blueprint or "")
    if target is None:
        return None
    if request.endpoint in OWN_PROFILE_ENDPOINTS:
        target = PROFILE_PAGE
    return redirect(target, 302 if request.method in ("GET", "HEAD") else 303)
