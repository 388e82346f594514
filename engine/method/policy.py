"""The Seven-Step Method's rules at the engine's decision points (a ``StepPolicy``).

* A project is started by staff of the applying social organization, for an item of a
  community's service catalog; its town and community follow from the item.
* Only the community committee of the project's community calls a coordination meeting
  (the messages a running project waits for).
* Only the town government stops a project before its end.
* Single ballots and scores, and who cast them, are never shown; the tallies are.
* The evaluation panel is picked from the community's people; those who must stand aside
  (recusal) are not offered.
* The purchase decision's amount follows the vote and its installments add up to it
  (``engine.method.purchase``).
Administrators may do all of these.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from engine.core import access
from engine.core.models import CatalogItem, Community, Instance, Organization, User
from engine.core.forms import Offer
from engine.core.policy import NewInstance
from engine.method import evaluation
from engine.method.results import result_problem
from engine.errors import ForbiddenError, Text, ValidationError
from engine.method.purchase import FORM_RULES

# Variables never shown to people: single ballots, scores and who cast them (the tallies are
# recorded as decisions and shown instead).
SECRET_VARIABLES = ("ballots", "ballot", "vote_record", "votes", "scores")


class SevenStepPolicy:
    """The rules above, for :class:`engine.core.runtime.Runtime`."""

    hidden_variables: tuple[str, ...] = SECRET_VARIABLES
    form_choices: Mapping[str, Offer] = {"panel_candidates": evaluation.panel_choices}

    def job_result_problem(self, session: Session, job: Any, result: dict[str, Any],
                           now: datetime | None = None) -> str | None:
        """A rule topic's result must agree with the fact its rule recorded or with the rule
        run again on what it reads (engine.method.results)."""
        return result_problem(session, job, result, now)

    def new_instance(self, session: Session, user: User, project: dict[str, Any]) -> NewInstance:
        """The project's columns and ``project`` start variable; ``project`` names at least
        ``title``, ``catalog_item_id`` and ``organization_id``."""
        project = dict(project or {})
        errors: dict[str, list[str]] = {}
        if not str(project.get("title", "")).strip():
            errors["title"] = [Text("A project needs a title.")]
        item = session.get(CatalogItem, project.get("catalog_item_id")) if project.get("catalog_item_id") else None
        if item is None:
            errors["catalog_item_id"] = [Text("Choose an item from the community's catalog.")]
        org = session.get(Organization, project.get("organization_id")) if project.get("organization_id") else None
        if org is None:
            errors["organization_id"] = [Text("Choose the organization that applies.")]
        if errors or item is None or org is None:
            raise ValidationError("The project cannot start.", errors=errors)
        if not access.holds_or_admin(session, user, "social_organization", "organization", org.id):
            raise ForbiddenError("Only staff of the applying organization can start its project.")
        community = session.get(Community, item.community_id)
        assert community is not None  # a catalog item's community is a foreign key
        project.update({
            "town_id": community.town_id, "community_id": community.id, "organization_id": org.id,
            "catalog_item_id": item.id, "social_work": bool(item.social_work), "lead": user.username,
            "organization_name": org.name, "community_name": community.name, "item_name": item.name,
            "service_field": item.service_field,
        })
        columns = {"title": project["title"].strip(), "town_id": community.town_id, "community_id": community.id,
                   "organization_id": org.id, "catalog_item_id": item.id, "social_work": bool(item.social_work)}
        return NewInstance(columns, {"project": project})

    def check_message(self, session: Session, user: User, instance: Instance, name: str) -> None:
        """Only the community committee (or an administrator) calls a meeting."""
        if not access.holds_or_admin(session, user, "community_committee", "community", instance.community_id):
            raise ForbiddenError("Only the community committee can call this meeting.")

    def check_terminate(self, session: Session, user: User, instance: Instance) -> None:
        """Only the town government (or an administrator) stops a project."""
        if not access.holds_or_admin(session, user, "town_government", "town", instance.town_id):
            raise ForbiddenError("Only the town government or an administrator can terminate a project.")

    def check_form(self, session: Session, instance_id: int, form_key: str | None,
                   data: dict[str, Any]) -> dict[str, list[str]]:
        """The method's rules for a submitted form (see ``engine.method.purchase``)."""
        rule = FORM_RULES.get(form_key or "")
        return rule(session, instance_id, data) if rule is not None else {}
