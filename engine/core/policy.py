"""What the core asks of a method: who may start, steer and stop its processes, and which
of their data people never see.

The runtime knows BPMN, not the Seven-Step Method. The method layer hands it a
:class:`StepPolicy` (``engine.method.policy.SevenStepPolicy``, wired in ``engine.wiring``);
the runtime calls it at the points named here and otherwise runs any diagram alike.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from collections.abc import Mapping
from typing import Any, Protocol

from sqlalchemy.orm import Session

from engine.core.forms import Offer
from engine.core.models import Instance, User


@dataclass
class NewInstance:
    """What a policy decided for a project about to start.

    ``columns`` are the instance row's own values (``title``, ``town_id``, ``community_id``,
    ``organization_id``, ``catalog_item_id``, ``social_work``); ``variables`` are the
    workflow's start data.
    """

    columns: dict[str, Any]
    variables: dict[str, Any] = field(default_factory=dict[str, Any])


class StepPolicy(Protocol):
    """The method's rules at the core's decision points. Each check raises an
    :mod:`engine.errors` error (ValidationError, ForbiddenError) and changes nothing."""

    #: Variables never shown to people (e.g. single ballots); left out of what is read.
    hidden_variables: tuple[str, ...]

    #: What a form field marked ``"x-choices": NAME`` offers: ``{NAME: offer}``, see
    #: :func:`engine.core.forms.with_choices` (e.g. the people who may sit on a panel).
    form_choices: Mapping[str, Offer]

    def new_instance(self, session: Session, user: User, project: dict[str, Any]) -> NewInstance:
        """Check a start request and say what the instance and its start data are."""
        ...

    def check_message(self, session: Session, user: User, instance: Instance, name: str) -> None:
        """``user`` may send message ``name`` to ``instance``."""
        ...

    def check_terminate(self, session: Session, user: User, instance: Instance) -> None:
        """``user`` may stop ``instance`` before its end."""
        ...

    def job_result_problem(self, session: Session, job: Any, result: dict[str, Any],
                           now: datetime | None = None) -> str | None:
        """Why a worker's ``result`` for ``job`` contradicts the recorded facts, or None
        (``now``: the runtime's clock)."""
        ...

    def check_form(self, session: Session, instance_id: int, form_key: str | None,
                   data: dict[str, Any]) -> dict[str, list[str]]:
        """Field errors of form data that passed its schema (empty: it may be submitted)."""
        ...
