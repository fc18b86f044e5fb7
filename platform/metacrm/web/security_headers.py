"""Security headers on every response, HTTPS-only cookies and trusted proxy headers.

* **Content-Security-Policy** (pages): scripts and style sheets from this origin only, plus
  inline `<script>`/`<style>` elements that carry the response's nonce (`csp_nonce()` in
  templates — also the hook Flask-AppBuilder's templates call). No `unsafe-inline` for
  scripts, no `on*=` handlers or `javascript:` URLs anywhere (tests/web/
  test_security_headers.py checks the templates). Style *attributes* stay allowed
  (`style-src-attr 'unsafe-inline'`): Flask-AppBuilder's pages and data-driven colours use
  them, and an attribute can neither run script nor hold the selectors CSS exfiltration
  needs. Pages may not be framed (`frame-ancestors 'none'`), forms post only here.
  Other responses (JSON, files) get `default-src 'none'`; a view that sets its own policy
  (Swagger UI, api/docs.py) keeps it.
* **X-Content-Type-Options: nosniff**, **Referrer-Policy: same-origin**, **X-Frame-Options:
  DENY** (browsers without CSP level 2) on everything.
* **HTTPS** (`Settings.https`, or a request that arrived over HTTPS — through a trusted
  proxy's `X-Forwarded-Proto`): `Strict-Transport-Security` and `Secure` cookies.
* **Trusted proxies** (`Settings.trusted_proxies` = n): werkzeug's ProxyFix takes the
  client address, scheme, host and port from the last n proxies' `X-Forwarded-*` headers;
  with 0 those headers are ignored, since any client could send them.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from werkzeug.middleware.proxy_fix import ProxyFix

HSTS = "max-age=31536000; includeSubDomains"

_NONCE = "metacrm_csp_nonce"


def csp_nonce() -> str:
    """This response's nonce for inline `<script>`/`<style>` elements (one per request)."""
    nonce: str | None = g.get(_NONCE)
    if nonce is None:
        nonce = secrets.token_urlsafe(18)
        setattr(g, _NONCE, nonce)
    return nonce


def page_policy(nonce: str) -> str:
    """The Content-Security-Policy of an HTML page."""
    return (
        "default-src 'self'; "
        f"script-src 'self' 'nonce-{nonce}'; "
        f"style-src 'self' 'nonce-{nonce}'; "
        "style-src-attr 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"
"""The Content-Security-Policy of anything that is not a page (JSON, files)."""


def served_over_https() -> bool:
    """Whether this request's cookies must be `Secure` and HSTS sent."""
    return bool(current_app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure


class HttpsAwareSessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, `Secure` also when the request came over HTTPS
    (through a trusted proxy) though METACRM_HTTPS is not set."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return served_over_https()


def https_config(https: bool) -> dict[str, bool]:
    """Flask settings for `Settings.https` (applied before the factory's overrides)."""
    return {"SESSION_COOKIE_SECURE": https, "REMEMBER_COOKIE_SECURE": https}


def install_security_headers(app: Flask, *, trusted_proxies: int) -> None:
    """Set up the headers, cookies and proxy handling described above on `app`.

    Call before any other `after_request` hook is registered: hooks run in reverse order,
    so this one runs last and also covers responses another hook replaced (the problem
    documents made of Flask-AppBuilder's JSON errors)."""
    if trusted_proxies:
        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=trusted_proxies, x_proto=trusted_proxies,
            x_host=trusted_proxies, x_port=trusted_proxies)
    app.session_interface = HttpsAwareSessionInterface()
    app.jinja_env.globals["csp_nonce"] = csp_nonce
    app.after_request(_add_headers)


def _add_headers(response: Response) -> Response:
    headers = response.headers
    if "Content-Security-Policy" not in headers:
        html = response.mimetype == "text/html"
        headers["Content-Security-Policy"] = page_policy(csp_nonce()) if html else OTHER_POLICY
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("X-Frame-Options", "DENY")
    if served_over_https():
        headers.setdefault("Strict-Transport-Security", HSTS)
    return response
