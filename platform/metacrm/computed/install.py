"""`install(services)`: computed fields in every write command of the process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from metacrm.automation.formulas import Formulas
from metacrm.computed.dependents import ComputedDependents
from metacrm.computed.evaluate import Evaluator
from metacrm.computed.saves import ComputedSaves, LookupDefaults

if TYPE_CHECKING:
    from metacrm.composition import Services


def install(services: Services) -> None:
    evaluator = Evaluator(Formulas(services.registry))
    services.records.defaults = LookupDefaults(services.records)
    services.records.computed = ComputedSaves(services.records, evaluator)
    services.records.listeners.insert(0, ComputedDependents(services.records, evaluator))
