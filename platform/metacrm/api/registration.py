"""`register_api(app)`: the records, metadata, access and documentation blueprints.

Called by the app factory after identity and the problem handlers are installed.
"""

from __future__ import annotations

from flask import Flask

from metacrm.api.access import access_api
from metacrm.api.attachments import attachments_api
from metacrm.api.automation import automation_api
from metacrm.api.calendar import calendar_api
from metacrm.api.conversion import conversion_api
from metacrm.api.dashboards import dashboards_api
from metacrm.api.docs import docs_api
from metacrm.api.documents import documents_api
from metacrm.api.duplicates import duplicates_api
from metacrm.api.exports import exports_api
from metacrm.api.imports import imports_api
from metacrm.api.knowledge import knowledge_api
from metacrm.api.mailing_links import mailing_links_api
from metacrm.api.mailings import mailings_api
from metacrm.api.marketing import marketing_api
from metacrm.api.mass_print import mass_print_api
from metacrm.api.merges import merges_api
from metacrm.api.messages import messages_api
from metacrm.api.meta import meta_api
from metacrm.api.notifications import notifications_api
from metacrm.api.records import records_api
from metacrm.api.reports import reports_api
from metacrm.api.search import search_api
from metacrm.api.service_desk import service_desk_api
from metacrm.api.telephony import telephony_api
from metacrm.api.timeline import timeline_api
from metacrm.api.transitions import transitions_api
from metacrm.api.webhooks import webhooks_api


def register_api(app: Flask) -> None:
    """Register the blueprints of the generated API on `app` (built by `create_app`)."""
    for blueprint in (duplicates_api, merges_api, exports_api, records_api, meta_api, access_api,
                      docs_api, transitions_api, conversion_api, webhooks_api):
        app.register_blueprint(blueprint)
    app.register_blueprint(automation_api)
    app.register_blueprint(notifications_api)
    app.register_blueprint(search_api)
    app.register_blueprint(timeline_api)
    app.register_blueprint(service_desk_api)
    app.register_blueprint(calendar_api)
    app.register_blueprint(knowledge_api)
    app.register_blueprint(marketing_api)
    app.register_blueprint(reports_api)
    app.register_blueprint(dashboards_api)
    app.register_blueprint(imports_api)
    app.register_blueprint(attachments_api)
    app.register_blueprint(documents_api)
    app.register_blueprint(messages_api)
    app.register_blueprint(telephony_api)
    app.register_blueprint(mass_print_api)
    app.register_blueprint(mailings_api)
    app.register_blueprint(mailing_links_api)
