"""The audit log in words: each entry as a sentence with links to what it concerns (the
version and its diff with the one before, the project, the person)."""
import re
from dataclasses import dataclass, field

from flask import url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext

from engine.core import versions
from engine.core.deployments import get_definition

from .i18n import ROLE_LABELS

ACTION_LABELS = {
    "deploy": lazy_gettext("Deployed a process version"),
    "migrate": lazy_gettext("Moved a project to another version"),
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
}


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


def describe(session, entry) -> Line:
    """The entry in words."""
    details = dict(entry.details or {})
    line = Line(entry, action_label(entry.action), entry.target)
    deployed = re.fullmatch(r"(\S+) v(\d+)", entry.target or "")
    moved = re.fullmatch(r"instance (\d+)", entry.target or "")
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
    elif (entry.target or "").startswith("user "):
        line.sentence = _("User %(name)s", name=entry.target[5:])
    if "role" in details:
        details["role"] = str(ROLE_LABELS.get(details["role"], details["role"]))
    for key, value in details.items():
        if value in (None, "", [], {}):
            continue
        if isinstance(value, dict):
            value = "，".join(f"{k}: {v}" for k, v in value.items())
        elif isinstance(value, list):
            value = "、".join(map(str, value))
        line.facts.append((FACT_LABELS.get(key, key), value))
    return line


FACT_LABELS = {
    "role": lazy_gettext("Role"), "scope": lazy_gettext("Scope"), "name": lazy_gettext("Name"),
    "display_name": lazy_gettext("Display name"), "year": lazy_gettext("Year"), "items": lazy_gettext("Items"),
    "total_fen": lazy_gettext("Amount (fen)"), "reason": lazy_gettext("Reason"), "address": lazy_gettext("Address"),
    "organization": lazy_gettext("Organization"),
}
