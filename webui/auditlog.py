"""The audit log in words: each entry as a sentence with links to what it concerns (the
version and its diff with the one before, the project, the person)."""
import re
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from engine.core import versions
from engine.core.deployments import get_definition

from .i18n import REGISTRATION_LABELS, ROLE_LABELS, TOPIC_LABELS
from .presenters import field_label

ACTION_LABELS = {
    "deploy": lazy_gettext("Deployed a process version"),
    "migrate": lazy_gettext("Moved a project to another version"),
    "migration_failed": lazy_gettext("Moving projects to another version stopped after failures"),
    "migration_resumed": lazy_gettext("Resumed moving projects to another version"),
    "incident_retry": lazy_gettext("Retried a failed job"),
    "user_create": lazy_gettext("Created a user"), "user_rename": lazy_gettext("Renamed a user"),
    "user_deactivate": lazy_gettext("Deactivated a user"),
    "role_grant": lazy_gettext("Granted a role"), "role_revoke": lazy_gettext("Revoked a role"),
    "affiliation_add": lazy_gettext("Added an affiliation"), "affiliation_end": lazy_gettext("Ended an affiliation"),
    "budget_set": lazy_gettext("Set a budget"),
    "catalog_item_add": lazy_gettext("Added a catalog item"), "catalog_item_edit": lazy_gettext("Changed a catalog item"),
    "catalog_item_retire": lazy_gettext("Retired a catalog item"),
    "catalog_item_remove": lazy_gettext("Removed a catalog item"), "catalog_approve": lazy_gettext("Approved a catalog"),
    "organization_register": lazy_gettext("Registered an organization"),
    "organization_update": lazy_gettext("Changed an organization"),
    "organization_branch_add": lazy_gettext("Added a branch"),
    "organization_branch_remove": lazy_gettext("Removed a branch"),
    "worker_credential_create": lazy_gettext("Created an external program's key"),
    "worker_credential_rotate": lazy_gettext("Renewed an external program's key"),
    "worker_credential_revoke": lazy_gettext("Revoked an external program's key"),
}
AFFILIATION_KINDS = {"employment": lazy_gettext("Employment"), "membership": lazy_gettext("Membership")}


@dataclass
class Line:
    """One entry as shown: ``sentence`` and ``links`` ``[(text, url)]``; ``facts`` the
    remaining details as ``[(label, value)]``."""

    entry: object
    label: str
    sentence: str
    links: list = field(default_factory=list)
    facts: list = field(default_factory=list)


def action_label(action: str) -> str:
    return str(ACTION_LABELS.get(action, action))


def describe(session, entry, places) -> Line:
    """The entry in words; ``places``: the names of towns (by id), communities and
    organizations (by id and by code), as :func:`engine.queries.listings.place_names` gives them."""
    details = dict(entry.details or {})
    target = entry.target or ""
    line = Line(entry, action_label(entry.action), target)
    deployed = re.fullmatch(r"(\S+) v(\d+)", target)
    moved = re.fullmatch(r"instance (\d+)", target)
    budget = re.fullmatch(r"budget:(\d+):(\d+)", target)
    in_community = re.fullmatch(r"([^/\s]+)/(\S+)", target)
    retried = re.fullmatch(r"(job|timer):(\d+)", target)
    if entry.action == "deploy" and deployed:
        key, version = deployed.group(1), int(deployed.group(2))
        ids = versions.version_ids(session, key)
        name = get_definition(session, ids[version]).name if version in ids else key
        line.sentence = _("%(process)s, version %(v)s", process=name, v=version)
        if version in ids:
            line.links.append((_("Open the version"), url_for("admin.definition", definition_id=ids[version])))
        if version - 1 in ids and version in ids:
            line.links.append((_("What changed from version %(v)s", v=version - 1),
                               url_for("admin.diff", old=ids[version - 1], new=ids[version])))
        details.pop("hash", None)
        details.pop("file", None)
    elif entry.action == "migrate" and moved:
        instance_id = int(moved.group(1))
        line.sentence = _("Project #%(id)s “%(title)s” from version %(old)s to version %(new)s", id=instance_id,
                          title=details.pop("title", ""), old=details.pop("from_version", "?"),
                          new=details.get("to_version", "?"))
        line.links.append((_("Open the project"), url_for("instances.show", instance_id=instance_id)))
        ids = versions.version_ids(session, details.get("process", ""))
        old, new = entry.details.get("from_version"), details.pop("to_version", None)
        if old in ids and new in ids:
            line.links.append((_("What changed"), url_for("admin.diff", old=ids[old], new=ids[new])))
        details.pop("process", None)
        notes = details.pop("notes", None) or []
        if notes:
            line.facts.append((_("Notes"), "；".join(map(str, notes))))
    elif target.startswith("user "):
        line.sentence = _("User %(name)s", name=target[5:])
    elif entry.action == "budget_set" and budget:
        line.sentence = _("Budget of %(town)s for %(year)s", town=places.get(("town", int(budget.group(1))), "?"),
                          year=budget.group(2))
    elif entry.action.startswith("catalog_") and in_community:
        community = places.get(("community", in_community.group(1)), in_community.group(1))
        line.sentence = (_("Catalog of %(community)s for %(year)s", community=community, year=in_community.group(2))
                         if entry.action == "catalog_approve" else
                         _("%(community)s, item %(code)s", community=community, code=in_community.group(2)))
    elif entry.action.startswith("organization_"):
        line.sentence = places.get(("organization", target), target)
    elif target.startswith("worker "):
        line.sentence = _("External program “%(name)s”", name=target[7:])
    elif retried:
        number = int(retried.group(2))
        line.sentence = _("Job #%(id)s", id=number) if retried.group(1) == "job" else _("Timer #%(id)s", id=number)
    if "scope_type" in details:  # a role's scope by its name
        scope_type, scope_id = details.pop("scope_type"), details.pop("scope_id", None)
        details["scope"] = places.get((scope_type, scope_id), "")
    for key, value in details.items():
        if value in (None, "", [], {}):
            continue
        value = fact_value(key, value, places)
        if isinstance(value, dict):
            value = "，".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "、".join(map(str, value))
        line.facts.append((FACT_LABELS.get(key, key), value))
    return line


def fact_value(key, value, places):
    """A detail's value in words: roles, topics, service fields and statuses by their labels,
    towns, organizations and projects by name or number, yes and no."""
    if key == "role":
        return str(ROLE_LABELS.get(value, value))
    if key in ("topic", "topics"):
        return [str(TOPIC_LABELS.get(t, t)) for t in value] if isinstance(value, list) else str(TOPIC_LABELS.get(value, value))
    if key in ("service_field", "service_fields"):
        return [field_label(f) for f in value] if isinstance(value, list) else field_label(value)
    if key == "status":
        return str(REGISTRATION_LABELS.get(value, value))
    if key == "kind":
        return str(AFFILIATION_KINDS.get(value, value))
    if key == "town_id":
        return places.get(("town", value), value)
    if key == "organization_id":
        return places.get(("organization", value), value)
    if key == "instance":
        return f"#{value}"
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return value


FACT_LABELS = {
    "role": lazy_gettext("Role"), "scope": lazy_gettext("Scope"), "name": lazy_gettext("Name"),
    "display_name": lazy_gettext("Display name"), "year": lazy_gettext("Year"), "items": lazy_gettext("Items"),
    "total_fen": lazy_gettext("Amount (fen)"), "reason": lazy_gettext("Reason"), "address": lazy_gettext("Address"),
    "organization": lazy_gettext("Organization"), "organization_id": lazy_gettext("Organization"),
    "old": lazy_gettext("Before (yuan)"), "new": lazy_gettext("After (yuan)"), "note": lazy_gettext("Note"),
    "topic": lazy_gettext("Task type"), "topics": lazy_gettext("Task types"), "error": lazy_gettext("Error"),
    "retries": lazy_gettext("Retries left"), "instance": lazy_gettext("Project"), "element": lazy_gettext("Diagram element"),
    "name_en": lazy_gettext("English name"), "service_field": lazy_gettext("Service field"),
    "service_fields": lazy_gettext("Service fields"), "social_work": lazy_gettext("Social-work project"),
    "description": lazy_gettext("Description"), "credit_code": lazy_gettext("Unified social credit code"),
    "status": lazy_gettext("Registration status"), "max_concurrent_projects": lazy_gettext("Projects at once"),
    "town_id": lazy_gettext("Town"), "kind": lazy_gettext("Relation"), "starts_on": lazy_gettext("From"),
    "ends_on": lazy_gettext("Until"),
}
