"""The pipeline runner: the stages in DESIGN §1 order, each enabled or visibly turned off (/readyz says which)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from gateway.backend import SearchBackend
from gateway.pipeline.context import RequestContext
from gateway.settings import Settings

if TYPE_CHECKING:
    from gateway.interstate.outbound import Interstate


class Stage(Protocol):
    @property
    def name(self) -> str: ...

    async def __call__(self, ctx: RequestContext) -> None:
        """Do the stage's work on ``ctx``; raise ``PmpError`` to refuse the request."""
        ...


class PipelineConfigurationError(ValueError):
    """The settings ask for a stage that this build does not have."""


@dataclass(slots=True, frozen=True)
class DisabledStage:
    """A stage whose implementation has not landed. It checks nothing and says so — in /readyz and in the
    request's notes — so nobody mistakes it for a check that passed."""

    name: str
    owner: str  # the issue that builds it

    @property
    def state(self) -> str:
        return f"disabled: not built yet ({self.owner})"

    async def __call__(self, ctx: RequestContext) -> None:
        ctx.notes[self.name] = "disabled"


class Pipeline:
    def __init__(self, stages: Sequence[Stage]) -> None:
        self.stages = tuple(stages)
        self._active = tuple(s for s in self.stages if not isinstance(s, DisabledStage))

    async def run(self, ctx: RequestContext) -> None:
        for stage in self._active:
            await stage(ctx)

    def describe(self) -> dict[str, str]:
        """Stage → state, in order (for /readyz)."""
        return {s.name: getattr(s, "state", "enabled") for s in self.stages}


@dataclass(slots=True, frozen=True)
class TurnedOff(DisabledStage):
    """A built stage the settings turned off (local experiments; serve then stays on loopback)."""

    @property
    def state(self) -> str:
        return f"disabled: turned off in settings ({self.owner})"


def _built(settings: Settings, name: str, stage: Stage | None) -> Stage:
    if not getattr(settings, name):
        return TurnedOff(name, f"PMP_{name.upper()}=false")
    if stage is None:
        raise PipelineConfigurationError(f"pipeline stage {name!r} is enabled but was not given its dependencies")
    return stage


def build_pipeline(
    settings: Settings,
    backend: SearchBackend,
    *,
    authenticate: Stage | None = None,
    identify: Stage | None = None,
    suspension: Stage | None = None,
    rate_limit: Stage | None = None,
    audit: Stage | None = None,
    partner_policy: Stage | None = None,  # gateway.pipeline.partner_policy (needs the registry)
    interstate: Interstate | None = None,  # the outbound exchange; None: this state's records only
) -> Pipeline:
    """The DESIGN §1 order. Refuses settings that enable a stage this build does not have, or one whose
    dependencies (token verifier, registry) were not given."""
    from gateway.pipeline.alerts import CLINICAL_ROLES, Alerts
    from gateway.pipeline.authorize import Authorize
    from gateway.pipeline.fanout import FanOut
    from gateway.pipeline.issued_to import IssuedTo
    from gateway.pipeline.minimum_necessary import MinimumNecessary
    from gateway.pipeline.search import Search

    return Pipeline(
        [
            _built(settings, "authenticate", authenticate),
            partner_policy or DisabledStage("partner_policy", "no partner directory given"),
            _built(settings, "identify", identify),
            IssuedTo(),
            _built(settings, "suspension", suspension),
            _built(settings, "rate_limit", rate_limit),
            Authorize(),
            Search(backend) if interstate is None else FanOut(Search(backend), interstate),
            MinimumNecessary(),
            Alerts(CLINICAL_ROLES if settings.alerts else frozenset()),  # off: indicators withheld from everyone
            _built(settings, "audit", audit),
        ]
    )
