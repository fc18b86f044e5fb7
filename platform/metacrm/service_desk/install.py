"""`install(services)`: the service desk in a process — ticket saves keep their SLA clocks,
the scheduler fires milestones (`service_desk.sla`, each tick), resolved tickets' customers
get a satisfaction survey (`service_desk.surveys` consumer), an agent's email from a ticket
is its first response (`first_response`), a customer's reply moves it (`replies`)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.service_desk.clocks import SlaClocks
from metacrm.service_desk.first_response import FirstResponse
from metacrm.service_desk.milestones import JOB_NAME, MilestoneJob
from metacrm.service_desk.replies import CustomerReplies
from metacrm.service_desk.saves import TicketSaves
from metacrm.service_desk.survey_consumer import SurveyConsumer
from metacrm.service_desk.surveys import Surveys

if TYPE_CHECKING:
    from metacrm.composition import Services

def install(services: Services) -> None:
    services.records.computed = TicketSaves(services.records, services.records.computed,
                                           clock=lambda: services.clock())
    services.periodic[JOB_NAME] = MilestoneJob(services.records, services.teams)
    services.service_desk = SlaClocks(services.records, lambda: services.clock())
    surveys = Surveys(services.records, services.settings.effective_secret_key(),
                      services.settings.public_url, lambda: services.mail,
                      lambda: services.clock())
    services.surveys = surveys
    services.consumers.register(SurveyConsumer(services.records, lambda: surveys))
    services.ticket_replies = CustomerReplies(services.records, services.transitions)
    email = getattr(services, "email", None)  # installed before, unless left out
    if email is not None:
        email.outbound.on_queued.append(
            FirstResponse(services.records, lambda: services.clock()).queued)
