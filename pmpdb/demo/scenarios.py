"""Demo people crafted to trip each clinical alert (issue 8), so an end-to-end test can find every alert.

Each scenario is a few courses of fills dated back from the dataset's end, so the alert holds in a default
(12-month) query and its "current" figures are live. The ground truth records the scenario, the PMIX alert codes a
correct PMP raises for that person (no more, no fewer) and their peak MME/day under CDC 2022 factors.

======================  =====================================================================  ========  =========
scenario                fills (days before the end)                                             alerts    peak MME
======================  =====================================================================  ========  =========
mme                     oxycodone 30 mg, 120 tablets / 30 days at 89, 59, 29; one prescriber    05        180
                        and pharmacy (30 × 4 × 1.5)
mpe                     hydrocodone/APAP 10 mg, 20 tablets / 5 days at 70, 60 … 20: six fills,   03        40
                        each from another prescriber at another pharmacy
opioid-benzodiazepine   oxycodone 5 mg 60 / 30 days and alprazolam 0.5 mg 60 / 30 days, both    04        15
                        at 40 and 10: 41 days on both
======================  =====================================================================  ========  =========
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

MIN_PEOPLE: Final = 20  # smaller datasets have no crafted people
MIN_DAYS: Final = 100  # nor do windows too short for a 90-day scenario


@dataclass(frozen=True, slots=True)
class Course:
    ndc: str
    quantity: int
    days_supply: int
    days_before_end: tuple[int, ...]
    rotate: bool = False  # each fill from the next prescriber at the next pharmacy


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    alerts: tuple[str, ...]  # PMIXPatientAlertCatCode, in SearchHistoryResponse.alerts order
    peak_mme: float
    courses: tuple[Course, ...]

    @property
    def providers(self) -> int:
        """Distinct pharmacies (and prescribers) the scenario needs."""
        return max((len(c.days_before_end) if c.rotate else 1) for c in self.courses)


SCENARIOS: Final = (
    Scenario("mme", ("05",), 180.0, (Course("00406853001", 120, 30, (89, 59, 29)),)),
    Scenario("mpe", ("03",), 40.0, (Course("00406012501", 20, 5, (70, 60, 50, 40, 30, 20), rotate=True),)),
    Scenario(
        "opioid-benzodiazepine",
        ("04",),
        15.0,
        (Course("00406055201", 60, 30, (40, 10)), Course("00009005501", 60, 30, (40, 10))),
    ),
)


def assign(candidates: Sequence[str], *, people: int, days: int) -> dict[str, Scenario]:
    """Person id → scenario: the last of ``candidates`` (ordinary people: no twin, showcase or planted shopper),
    one per scenario, when the dataset is large and long enough."""
    if people < MIN_PEOPLE or days < MIN_DAYS or len(candidates) < len(SCENARIOS):
        return {}
    chosen = list(candidates[-len(SCENARIOS) :])
    return dict(zip(chosen, SCENARIOS, strict=True))
