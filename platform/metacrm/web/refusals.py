"""A refused action in the user's words, for the places a script shows it in one line (the
inline editor of a list cell, the board's message area).

Screens hide what the user may not do (`services.records.actions`), so a refusal here is a
race — the record was locked, reassigned or changed meanwhile — or a forged request. The
services' messages are English developer text pointing at JSON; users get a translated
sentence by the kind of refusal instead. Field validation (422) keeps its per-field details,
which are shown beside the field.
"""

from __future__ import annotations

from metacrm.kernel.errors import Conflict, Forbidden, MetacrmError, NotFound, StaleRecord
from metacrm.services.transitions.pipeline_states import RecordLocked
from metacrm.web.i18n import t

TRANSITION_POINTER = "/name"
"""Where the transition service points a refusal of the transition itself (its roles)."""


def refusal_text(error: MetacrmError) -> str:
    """One translated sentence saying why the action was refused."""
    if isinstance(error, RecordLocked):
        return t("This record is in a locked state: it can no longer be edited, only moved on.")
    if isinstance(error, Forbidden):
        if any(detail.pointer == TRANSITION_POINTER for detail in error.errors):
            return t("Your roles may not take this step.")
        return t("Your roles do not let you change this record.")
    if isinstance(error, StaleRecord):
        return t("Someone changed this record meanwhile; reload the page and try again.")
    if isinstance(error, NotFound):
        return t("The record does not exist or you cannot see it.")
    if isinstance(error, Conflict):
        return t("Not possible with the record as it is now; reload the page and try again.")
    return t("The change was refused.")
