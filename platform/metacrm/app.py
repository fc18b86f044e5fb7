"""The web composition root: `create_app(settings)` builds the Flask app.

It builds the process's `Services` (`metacrm.composition`; from `Settings`, and reads
nothing else from the environment): one SQLAlchemy engine (shared by the services and
Flask-AppBuilder), the metadata service, the records service and the installed features.
On top it sets up Flask-AppBuilder for users, roles, login pages and JWT login, rate limits
(Redis when METACRM_REDIS_URL is set, process memory otherwise), security headers (and
proxy headers when trusted: web.security_headers) and the API blueprints.

Production: `gunicorn 'metacrm.app:create_app()'` (docs/operations.md).
"""

from __future__ import annotations

from contextlib import ExitStack
from typing import Any

from flask import Flask, Response, g
from limits import parse_many

from metacrm.api import RUNTIME_KEY, WebRuntime
from metacrm.api.extension_routes import ext_api
from metacrm.api.json_provider import OrjsonProvider
from metacrm.api.problems import problem_response, register_problem_handlers
from metacrm.api.registration import register_api
from metacrm.api.tokens import tokens_api
from metacrm.composition import Services, build_services
from metacrm.identity.bridge import fab_config, initial_admin_role, install_identity
from metacrm.identity.current import rate_limit_key
from metacrm.identity.login_guard import LoginThrottled
from metacrm.services.metadata.service import MetadataService
from metacrm.settings import Settings
from metacrm.web import register_web
from metacrm.web.fab_theme import INDEX_VIEW
from metacrm.web.security_headers import https_config, install_security_headers

MAX_REQUEST_BYTES = 16 * 1024 * 1024
"""Larger request bodies answer 413 (a bulk write of 1,000 records fits with room to spare)."""


def create_app(settings: Settings | None = None, **overrides: Any) -> Flask:
    """Build the metacrm web app; `overrides` are Flask config values applied last."""
    settings = settings or Settings.from_env()
    _check_rate_limit(settings.rate_limit)
    services = build_services(settings)
    try:
        return _build(services, overrides)
    except BaseException:
        services.close()
        raise


def _build(services: Services, overrides: dict[str, Any]) -> Flask:
    settings, metadata, engine = services.settings, services.metadata, services.engine
    app = Flask("metacrm", instance_path=str(settings.instance_path.resolve()))
    app.json = OrjsonProvider(app)
    app.config.update(
        fab_config(
            secret_key=settings.effective_secret_key(),
            admin_role=initial_admin_role(metadata),
        )
    )
    app.config["FAB_INDEX_VIEW"] = INDEX_VIEW  # `/` opens the CRM's screens
    app.config.update(_rate_limit_config(settings))
    app.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES
    app.config.update(https_config(settings.https))
    app.config.update(overrides)
    app.extensions[RUNTIME_KEY] = WebRuntime(
        settings, services.registry, engine, metadata, services.records, services.teams,
        services)

    install_security_headers(app, trusted_proxies=settings.trusted_proxies)
    register_problem_handlers(app)
    _refresh_packs_per_request(app, services)
    _pin_metadata_per_request(app, metadata)
    install_identity(app, engine, metadata)
    app.register_error_handler(LoginThrottled, _login_throttled)
    app.register_blueprint(tokens_api)
    register_api(app)
    app.register_blueprint(ext_api)
    register_web(app)
    return app


def _refresh_packs_per_request(app: Flask, services: Services) -> None:
    """Each request first catches up with pack changes other processes made (an install,
    an upgrade, new settings): one generation read when nothing changed."""

    @app.before_request
    def _refresh() -> None:
        services.packs.refresh()


def _pin_metadata_per_request(app: Flask, metadata: MetadataService) -> None:
    """Each request works on one metadata version, checked once at its start.

    Registered before Flask-AppBuilder and the rate limiter install their own hooks, so
    authentication and limits already see the pinned version.
    """

    @app.before_request
    def _pin() -> None:
        pins = ExitStack()
        pins.enter_context(metadata.pinned())
        g.metacrm_metadata_pin = pins

    @app.teardown_request
    def _unpin(_error: BaseException | None) -> None:
        pins = g.pop("metacrm_metadata_pin", None)
        if pins is not None:
            pins.close()


def _login_throttled(error: LoginThrottled) -> Response:
    """429 with Retry-After for a login attempt made while it must wait (the screens'
    login page answers with its own form instead)."""
    return problem_response(429, error.message, title=error.title,
                            headers={"Retry-After": str(error.retry_after)})


def dispose_app(app: Flask) -> None:
    """Release the database connections of an app built by `create_app` (CLI commands and
    tests build an app for one job; a served app lives as long as its process)."""
    runtime: WebRuntime = app.extensions[RUNTIME_KEY]
    runtime.services.close()


def _rate_limit_config(settings: Settings) -> dict[str, Any]:
    """Flask-Limiter settings: one budget per token, user or anonymous client address for
    the whole app (static files exempt), counted in Redis or in this process's memory
    (also while Redis is unreachable)."""
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_APPLICATION": settings.rate_limit,
        "RATELIMIT_KEY_FUNC": rate_limit_key,
        "RATELIMIT_STORAGE_URI": settings.redis_url or "memory://",
        "RATELIMIT_KEY_PREFIX": "metacrm",
        "RATELIMIT_HEADERS_ENABLED": True,
        # Redis down must not take the API down: count in this process's memory meanwhile
        # (same limits), and never answer 500 for a counter that could not be reached.
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
    }


def _check_rate_limit(value: str) -> None:
    try:
        parse_many(value)
    except ValueError as exc:
        raise ValueError(
            f"METACRM_RATE_LIMIT {value!r} is not a rate limit such as '600 per minute': {exc}"
        ) from None


__all__ = ["create_app", "dispose_app"]
